package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
	"github.com/xmpp-invites/invites/host"
	"github.com/xmpp-invites/invites/plugin"
)

// invites is what xmppd uses of the loaded plugin: its HTTP routes, the ad-hoc
// commands, redemption for registration, and shutdown.
type invites interface {
	adhoc.Executor
	register.Invites
	// Mount routes the plugin's HTTP paths on mux.
	Mount(mux *http.ServeMux)
	// MountOperations routes /metrics, /healthz and /readyz on mux.
	MountOperations(mux *http.ServeMux)
	// Manifest says which paths the plugin serves (the invite page among them or not).
	Manifest() plugin.Manifest
	// Close stops the plugin.
	Close() error
}

var _ invites = (*host.Plugin)(nil)

// hostAPI is the server as the plugin sees it (plugin.HostAPI): which accounts exist,
// and registration (or a password reset) with an invite for the plugin's web page;
// and, for the ad-hoc commands, who is an administrator.
type hostAPI struct {
	domain   string
	admins   []string // canonical bare JIDs
	accounts *accounts.Store
	// reg registers accounts as in-band registration does; set once the plugin is
	// loaded (registration needs it), nil before.
	reg atomic.Pointer[register.Service]
}

var _ plugin.HostAPI = (*hostAPI)(nil)

// role is what the server holds the JID bound to a stream for: administrators are
// configured, every other account of the domain is a user.
func (h *hostAPI) role(_ context.Context, bound jid.JID) (adhoc.Role, error) {
	if bound.Domainpart() != h.domain || bound.Localpart() == "" {
		return adhoc.RoleNone, nil
	}
	bare, err := accounts.Normalize(bound.Bare().String())
	if err != nil {
		return adhoc.RoleNone, nil
	}
	if slices.Contains(h.admins, bare) {
		return adhoc.RoleAdmin, nil
	}
	return adhoc.RoleUser, nil
}

// AccountExists implements plugin.HostAPI.
func (h *hostAPI) AccountExists(ctx context.Context, addr string) (bool, error) {
	ok, err := h.accounts.Exists(ctx, addr)
	if err != nil {
		return false, fmt.Errorf("looking up the account: %w", err)
	}
	return ok, nil
}

// Register implements plugin.HostAPI: it runs in-band registration's flow (check the
// token, reserve the name, redeem the invite, activate the account), so a web
// registration has exactly its guarantees. For a reset invite it runs the flow of an
// in-band reset (derive the password, redeem the invite for the account, replace its
// credentials); r.Username may then be empty.
func (h *hostAPI) Register(ctx context.Context, r plugin.Registration) (string, error) {
	reg := h.reg.Load()
	if reg == nil {
		return "", fmt.Errorf("%w: registration is not ready", plugin.ErrUnavailable)
	}
	if r.Host != h.domain {
		return "", fmt.Errorf("%w: this server does not serve %s", plugin.ErrInviteNotFound, r.Host)
	}
	if r.Username != "" {
		if a, err := jid.New(r.Username, h.domain, ""); err != nil || a.Localpart() == "" {
			return "", plugin.ErrInvalidUsername
		}
	}
	if _, err := scram.PreparePassword(r.Password); err != nil {
		return "", plugin.ErrInvalidPassword
	}
	addr, err := reg.Register(ctx, r.Token, r.Username, r.Password)
	if err != nil {
		return "", registrationError(err, r.Username == "")
	}
	return addr, nil
}

// registrationError maps what in-band registration answers a client onto the
// contract's errors; a given name and the password were checked before, so a name
// refused as unacceptable is another than the invite's, or none at all (noName).
func registrationError(err error, noName bool) error {
	var se stanza.Error
	if !errors.As(err, &se) {
		return err
	}
	text := se.Text[""]
	switch se.Condition {
	case stanza.Conflict:
		return plugin.ErrAccountExists
	case stanza.ItemNotFound:
		return fmt.Errorf("%w: %s", plugin.ErrInviteNotFound, text)
	case stanza.NotAcceptable, stanza.NotAllowed:
		if noName {
			return fmt.Errorf("%w: %s", plugin.ErrInvalidUsername, text)
		}
		return fmt.Errorf("%w: %s", plugin.ErrUsernameNotAllowed, text)
	case stanza.ServiceUnavailable:
		return fmt.Errorf("%w: %s", plugin.ErrUnavailable, text)
	}
	return errors.New(text)
}
