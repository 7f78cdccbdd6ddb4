package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/mail"
	"github.com/xmpp-invites/invites/internal/metrics"
	"github.com/xmpp-invites/invites/internal/notify"
	"github.com/xmpp-invites/invites/internal/outbox"
	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/webhook"
	"github.com/xmpp-invites/invites/plugin"
)

// This file builds the delivery of events (issue 25): the outbox worker and its sinks
// (the webhook endpoints, the host's account states and messages, email, the funnel).

// coreRef hands the core to the sinks, which are built before it (the core asks the
// worker which events it wants); set before the worker runs.
type coreRef struct{ svc *core.Service }

// language returns the language the account jid's client last used, as the server
// reported it at a login; "" when unknown.
func (r *coreRef) language(ctx context.Context, jid string) (string, error) {
	host := jid[strings.LastIndexByte(jid, '@')+1:]
	a, err := r.svc.Account(ctx, core.Actor{Kind: core.ActorHost, Manage: true}, host, jid)
	if err != nil {
		return "", err
	}
	return a.Lang, nil
}

// kindOf returns the kind of the invite id of host, or "" when it is gone.
func (r *coreRef) kindOf(ctx context.Context, host, id string) core.Kind {
	inv, err := r.svc.Invite(ctx, core.Actor{Kind: core.ActorHost, ID: host}, host, id)
	if err != nil {
		return ""
	}
	return inv.Kind
}

// PrepareMail implements mail.Jobs.
func (r *coreRef) PrepareMail(ctx context.Context, inviteID, eventID string) (core.MailJob, error) {
	return r.svc.PrepareMail(ctx, inviteID, eventID)
}

// Invite implements notify.Invites.
func (r *coreRef) Invite(ctx context.Context, by core.Actor, host, id string) (core.Invite, error) {
	return r.svc.Invite(ctx, by, host, id)
}

// noticesOf returns a function giving the notices of a domain: its [[host]] table's
// over the top level's.
func noticesOf(c config.Config) func(string) core.Notices {
	m := make(map[string]core.Notices, len(c.Hosts))
	for _, h := range c.Hosts {
		if d, err := core.NormalizeDomain(h.Domain); err == nil {
			m[d] = h.Notices.Over(c.Notices)
		}
	}
	return func(domain string) core.Notices {
		if n, ok := m[domain]; ok {
			return n
		}
		return c.Notices
	}
}

// withReminders sets each host's RemindBefore from its notices.
func withReminders(c config.Config, hosts []core.HostConfig) {
	notices := noticesOf(c)
	for i := range hosts {
		if d, err := core.NormalizeDomain(hosts[i].Domain); err == nil {
			hosts[i].RemindBefore = time.Duration(notices(d).RemindBefore)
		}
	}
}

// hostCapabilities returns what api can do beyond HostAPI, among the features the host
// announced (nil for what it cannot).
func hostCapabilities(hc plugin.Config, api plugin.HostAPI) (notify.Messenger, notify.AccountAdmin) {
	var (
		m notify.Messenger
		a notify.AccountAdmin
	)
	if x, ok := api.(plugin.Messenger); ok && hc.Has(plugin.FeatureMessages) {
		m = x
	}
	if x, ok := api.(plugin.AccountAdmin); ok && hc.Has(plugin.FeatureAccountStates) {
		a = x
	}
	return m, a
}

// newWorker builds the outbox worker with its sinks: the webhook endpoints (when
// configured), the host (what it can do), email (with an [smtp] relay) and the funnel.
// The sinks reach the core through ref, set before the worker runs.
func newWorker(c config.Config, hc plugin.Config, api plugin.HostAPI, st store.Store, m *metrics.Plugin, ref *coreRef, log *slog.Logger) (*outbox.Worker, error) {
	dir := ""
	if hc.ConfigFile != "" {
		dir = filepath.Dir(hc.ConfigFile)
	}
	var cat *page.Catalog
	if opts, err := c.Page.Options(dir); err == nil {
		if cat, err = page.NewCatalog(opts.Languages, opts.Templates); err != nil {
			cat = nil // the page reports its own config's mistakes
		}
	}
	sinks := []outbox.Sink{outbox.NewFunnelSink(m.Funnel, ref.kindOf)}
	if len(c.Webhooks) > 0 {
		endpoints, err := webhook.Endpoints(c.Webhooks)
		if err != nil {
			return nil, err
		}
		sink, err := webhook.New(webhook.Options{Endpoints: endpoints})
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, sink)
	}
	msg, admin := hostCapabilities(hc, api)
	host, err := notify.New(notify.Options{Messenger: msg, Admin: admin, Invites: ref, Notices: noticesOf(c), Language: ref.language,
		Catalog: cat, SiteName: c.Page.SiteName, Logger: log.With("component", "notify")})
	if err != nil {
		return nil, err
	}
	sinks = append(sinks, host)
	if c.SMTP.Enabled() {
		sink, err := mail.New(mail.Options{Config: c.SMTP, Dir: dir, Jobs: ref, Catalog: cat, SiteName: c.Page.SiteName,
			Logger: log.With("component", "mail")})
		if err != nil {
			return nil, err
		}
		sinks = append(sinks, sink)
	}
	opts := outbox.Options{Store: st, Sinks: sinks, Logger: log.With("component", "delivery"), OnAttempt: m.Delivery}
	return outbox.NewWorker(opts)
}

// outboxWants says which events the core writes to the outbox: those a sink wants.
func outboxWants(w *outbox.Worker) func(core.EventType) bool { return w.Wants }

// delivers reports whether the server delivers events beyond the funnel (webhooks,
// the host, email): the command line then writes every change's events to the outbox.
func delivers(c config.Config, hc plugin.Config, api plugin.HostAPI) bool {
	m, a := hostCapabilities(hc, api)
	return len(c.Webhooks) > 0 || c.SMTP.Enabled() || m != nil || a != nil
}

// countFunnel counts a step of an invite's funnel seen by the plugin itself (a page
// view, a registration started), in the core (written every second) and the metrics.
func (s *Service) countFunnel(svc *core.Service, inv core.Invite, st core.Stage) {
	svc.CountFunnel(inv.ID, st)
	if s.ops != nil {
		s.ops.metrics.Funnel(st, inv.Kind)
	}
}

// Decline revokes the invite of a token for the person it was mailed to (the page's
// "not for me"), on the invite's host if it has the built-in page.
func (p pageInvites) Decline(ctx context.Context, token string) error {
	id := core.TokenID(token)
	if id == "" {
		return page.ErrInviteDead
	}
	rec, err := p.store.Invite(ctx, id)
	if err != nil {
		return pageInviteError(err)
	}
	if !p.hosts[rec.Host] {
		return page.ErrInviteDead
	}
	if _, err := p.core.DeclineInvite(ctx, rec.Host, token); err != nil {
		if errors.Is(err, core.ErrRevoked) || errors.Is(err, core.ErrUsedUp) {
			return fmt.Errorf("%w: %w", page.ErrInviteDead, err)
		}
		return pageInviteError(err)
	}
	return nil
}
