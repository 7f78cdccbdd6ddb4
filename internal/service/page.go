package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/xmpp-invites/invites/internal/clientaddr"
	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/internal/password"
	"github.com/xmpp-invites/invites/plugin"
)

// This file mounts the built-in invite page and web registration (internal/page) for
// the hosts whose landing_page is "builtin": the page reads invites from the core
// (pageInvites) and creates accounts through the host (pageRegistrar, over
// plugin.HostAPI.Register). The errors of each side become the page's in one function
// each, pageInviteError and pageRegisterError.

// newPage returns the handler of plugin.PathInvite and plugin.PathRegister for the
// hosts whose landing page is the built-in one, or nil when no host has it.
// A page setting it cannot use (a client list, template or key file) fails the start.
func (s *Service) newPage(c config.Config, hc plugin.Config, hosts []core.HostConfig, svc *core.Service, st core.Store, api plugin.HostAPI) (http.Handler, error) {
	served := pageHosts(hosts)
	if len(served) == 0 {
		if c.Page.Configured() {
			s.log.Warn("the [page] settings are not used: no host has landing_page = \"builtin\"")
		}
		return nil, nil
	}
	if hc.HTTPBaseURL == "" {
		return nil, errors.New(`landing_page = "builtin" needs the server's public HTTP base URL, which the server did not give the plugin`)
	}
	opts, err := c.Page.Options(c.Dir())
	if err != nil {
		return nil, fmt.Errorf("config: page.%w", err)
	}
	if c.Page.MinPasswordLength != 0 {
		s.log.Warn("page.min_password_length is deprecated: set min_length in the [password] table")
	}
	policy, err := password.New(c.Password)
	if err != nil {
		return nil, fmt.Errorf("config: password.%w", err)
	}
	opts.Password = policy
	opts.BaseURL = hc.HTTPBaseURL
	opts.ClientAddr = clientaddr.NewResolver(c.HTTP.Proxies()).Addr
	opts.Logger = s.log.With("component", "page")
	if api == nil {
		s.log.Warn("the server registers no accounts for the plugin: web registration answers 503")
	}
	inv := pageInvites{core: svc, store: st, hosts: make(map[string]bool, len(served))}
	for _, h := range served {
		inv.hosts[h] = true
	}
	// The funnel's page views and registration forms, and the "not for me" link of
	// mailed invites (delivery.go).
	opts.Shown = func(p page.Invite, which string) {
		st := core.StagePageOpened
		if which == "register" {
			st = core.StageRegistrationStarted
		}
		s.countFunnel(svc, core.Invite{ID: p.ID, Kind: core.Kind(p.Kind)}, st)
	}
	opts.Decline = inv.Decline
	h, err := page.New(inv, pageRegistrar{api: api, core: svc, log: opts.Logger}, opts)
	if err != nil {
		return nil, fmt.Errorf("config: page: %w", err)
	}
	s.log.Info("built-in invite page on", "hosts", served, "url", strings.TrimRight(hc.HTTPBaseURL, "/")+plugin.PathInvite)
	return withClientAddr(h, opts.ClientAddr), nil
}

// pageHosts returns the served hosts whose landing page is the built-in one.
func pageHosts(hosts []core.HostConfig) []string {
	var out []string
	for _, h := range hosts {
		if h.LandingPage == core.LandingBuiltin {
			out = append(out, h.Domain)
		}
	}
	return out
}

// pageInvites is page.Invites over the core, for the hosts in hosts: the page knows
// only the token, and the core keys invites by the token's ID, so the invite's host
// is read by that ID first and the token then checked on it (the same answer for an
// unknown ID, a wrong secret and another host's invite: dead).
type pageInvites struct {
	core  *core.Service
	store core.Store
	hosts map[string]bool // the hosts with the built-in page
}

var _ page.Invites = pageInvites{}

// Invite implements page.Invites.
func (p pageInvites) Invite(ctx context.Context, token string) (page.Invite, error) {
	id := core.TokenID(token)
	if id == "" {
		return page.Invite{}, page.ErrInviteDead
	}
	rec, err := p.store.Invite(ctx, id)
	if err != nil {
		return page.Invite{}, pageInviteError(err)
	}
	if !p.hosts[rec.Host] {
		return page.Invite{}, fmt.Errorf("%w: its host has no built-in page", page.ErrInviteDead)
	}
	inv, err := p.core.CheckInvite(ctx, rec.Host, token)
	if err != nil {
		return page.Invite{}, pageInviteError(err)
	}
	out := page.Invite{
		ID:          inv.ID,
		Host:        inv.Host,
		Kind:        inv.Kind,
		Username:    inv.Username,
		CanRegister: inv.CanRegister(),
		ExpiresAt:   inv.ExpiresAt,
		URI:         inv.URI(token),
		Approval:    inv.Approval,
	}
	if inv.Inviter != "" {
		// The record keeps the inviter's localpart on the invite's host.
		out.Inviter = inv.Inviter + "@" + inv.Host
	}
	return out, nil
}

// pageInviteError maps the core's errors onto the page's.
func pageInviteError(err error) error {
	switch {
	case errors.Is(err, core.ErrInviterInactive):
		return fmt.Errorf("%w: %w", page.ErrInviterInactive, err)
	case errors.Is(err, core.ErrNotFound), errors.Is(err, core.ErrExpired), errors.Is(err, core.ErrUnknownHost):
		return fmt.Errorf("%w: %w", page.ErrInviteDead, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("%w: %w", page.ErrUnavailable, err)
}

// pageRegistrar is page.Registrar over the host's plugin.HostAPI.Register, which has
// in-band registration's guarantees; once the host made the account, the core records
// it (its hold confirmed at once) with the note its holder left for the
// administrators, and says whether it awaits approval.
type pageRegistrar struct {
	api  plugin.HostAPI // nil: the host registers no accounts
	core *core.Service
	log  *slog.Logger
}

var _ page.Registrar = pageRegistrar{}

// Register implements page.Registrar.
func (r pageRegistrar) Register(ctx context.Context, reg page.Registration) (page.Account, error) {
	if r.api == nil {
		return page.Account{}, fmt.Errorf("%w: the server registers no accounts for the plugin", page.ErrUnavailable)
	}
	jid, err := r.api.Register(ctx, plugin.Registration{Host: reg.Host, Token: reg.Token, Username: reg.Username, Password: reg.Password})
	if err != nil {
		return page.Account{}, pageRegisterError(err)
	}
	a, err := r.core.Registered(ctx, reg.Host, jid, reg.Note)
	if err != nil {
		// The account is made: its hold is confirmed later (the server's event, or the
		// sweep); only the note is lost. Its state is the one the invite promised.
		r.log.Warn("the account made on the web page could not be recorded now", "host", reg.Host, "err", err)
		return page.Account{JID: jid, Pending: reg.Approval}, nil
	}
	return page.Account{JID: a.JID, Pending: a.State == core.AccountPending}, nil
}

// pageRegisterError maps the contract's errors onto the page's.
func pageRegisterError(err error) error {
	var to error
	switch {
	case errors.Is(err, core.ErrInviterInactive):
		to = page.ErrInviterInactive
	case errors.Is(err, plugin.ErrAccountExists):
		to = page.ErrNameTaken
	case errors.Is(err, plugin.ErrInvalidUsername):
		to = page.ErrInvalidName
	case errors.Is(err, plugin.ErrInvalidPassword):
		to = page.ErrInvalidPassword
	case errors.Is(err, plugin.ErrInviteNotFound), errors.Is(err, plugin.ErrInviteExpired):
		to = page.ErrInviteDead
	case errors.Is(err, plugin.ErrUsernameNotAllowed):
		to = page.ErrNameNotAllowed
	case errors.Is(err, plugin.ErrUnavailable):
		to = page.ErrUnavailable
	default:
		return err
	}
	return fmt.Errorf("%w: %w", to, err)
}
