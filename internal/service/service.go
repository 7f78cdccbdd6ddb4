package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/commands"
	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/logthrottle"
	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/plugin"
)

// Service is the serving side of plugin.Invites: what runs in the plugin process.
// Configure, once, loads the plugin's config, opens its store, and builds the core,
// the HTTP handlers and the ad-hoc commands over it; until then every call fails as
// unavailable (HTTP: 503).
// It is safe for concurrent use.
type Service struct {
	log *slog.Logger

	mu         sync.RWMutex
	st         *state // nil until configured, and after Close
	configured bool
	ops        *ops // metrics, audit log, webhooks (ops.go); set by Configure
}

// state is what Configure builds; it is never changed once published.
type state struct {
	store     core.Store
	core      *core.Service
	http      http.Handler
	cmds      *commands.Server
	passwords *passwordCheck // CheckPassword (host.go)
	// events acts on the host's events after Notify (host.go); nil: none but the
	// ends of client streams, which Notify itself acts on.
	events EventHandler
	stop   context.CancelFunc
	done   chan struct{} // closed when core.Run has returned
}

// New returns an unconfigured Service logging to logger (nil discards).
// A warning or error repeated within a minute (a store failing every request on a
// full disk) is logged once, then once more at the end of the minute with the count
// of the others.
func New(logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{log: slog.New(logthrottle.New(logger.Handler(), logthrottle.Options{}))}
}

// errNotConfigured fails calls made before Configure.
var errNotConfigured = fmt.Errorf("%w: not configured yet", plugin.ErrUnavailable)

func (s *Service) state() (*state, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.st == nil {
		return nil, errNotConfigured
	}
	return s.st, nil
}

// loadConfig reads the plugin's config as the host names it, resolving a relative
// data_dir against the host's data directory.
func loadConfig(hc plugin.Config) (config.Config, error) {
	var (
		c   config.Config
		err error
	)
	switch {
	case hc.ConfigFile != "" && hc.ConfigTOML != "":
		return config.Config{}, errors.New("both a config file and inline config given")
	case hc.ConfigFile != "":
		c, err = config.ReadFile(hc.ConfigFile)
	default:
		if c, err = config.Parse(hc.ConfigTOML); err != nil {
			err = fmt.Errorf("config: %w", err)
		}
	}
	if err != nil {
		return config.Config{}, err
	}
	if hc.DataDir != "" {
		switch {
		case c.DataDir == "":
			c.DataDir = hc.DataDir
		case !filepath.IsAbs(c.DataDir):
			c.DataDir = filepath.Join(hc.DataDir, c.DataDir)
		}
	}
	if err := c.Normalize(); err != nil {
		return config.Config{}, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// Configure implements plugin.Invites: it loads the config and opens the store.
// It may succeed once per process; a failed Configure may be tried again.
// api may be nil: then no command can check whether an account exists.
func (s *Service) Configure(ctx context.Context, hc plugin.Config, api plugin.HostAPI) (plugin.Manifest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.configured {
		return plugin.Manifest{}, errors.New("already configured: the plugin is configured once per process")
	}
	c, err := loadConfig(hc)
	if err != nil {
		return plugin.Manifest{}, err
	}
	// The server's account states decide whether accounts can wait for approval and be
	// disabled; without them approval is off (said once, here).
	states := hc.Has(plugin.FeatureAccountStates)
	hosts := c.Accounts.Apply(c.HostConfigs(hc.Domains...), states)
	withReminders(c, hosts)
	for _, h := range hosts {
		if h.Approval != core.InvitesNone && !states {
			s.log.Warn("approval is configured but the server cannot hold accounts pending approval: nothing waits for approval",
				"host", h.Domain, "approval", string(h.Approval))
		}
	}
	if len(hc.Domains) > 0 {
		// Recorded so that the key command line accepts these hosts too.
		if err := config.RecordDomains(c.DataDir, hc.Domains); err != nil {
			s.log.Warn("cannot record the host's domains", "err", err)
		}
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return plugin.Manifest{}, fmt.Errorf("data directory: %w", err)
	}
	// The server starts here: a damaged SQLite file is refused now rather than failing
	// requests later (the command line skips this check).
	st, err := store.OpenWith(ctx, c.Address(), store.Options{Logger: s.log.With("component", "store"),
		Durability: c.Durability, IntegrityCheck: true})
	if err != nil {
		if errors.Is(err, core.ErrUnavailable) {
			// The host tries again later; a mistake in the config is the operator's.
			return plugin.Manifest{}, fmt.Errorf("%w: opening the store: %w", plugin.ErrUnavailable, err)
		}
		return plugin.Manifest{}, fmt.Errorf("opening the store: %w", err)
	}
	ops, err := newOps(c, hc, api, hosts, st, s.log)
	if err != nil {
		_ = st.Close()
		return plugin.Manifest{}, err
	}
	copts := core.Options{Store: ops.metrics.TimeStore(st), Hosts: hosts, Logger: s.log.With("component", "core"),
		Retention: time.Duration(c.Retention), BaseURL: hc.HTTPBaseURL, Observer: ops,
		OutboxWants: outboxWants(ops.worker), Mail: c.SMTP.Enabled(),
		HoldTime: time.Duration(c.Accounts.HoldTime), ApprovalTimeout: time.Duration(c.Accounts.ApprovalTimeout)}
	if api != nil {
		// Registrations are held until the server confirms their account (HostEvents),
		// or says it exists when asked.
		copts.Accounts = api
	}
	svc, err := core.NewService(copts)
	if err != nil {
		_ = st.Close()
		return plugin.Manifest{}, err
	}
	ops.core.svc = svc
	if len(hc.Domains) > 0 {
		// In the store too, with the policy applied to each and the base URL of the
		// built-in page, so that the command line of any node knows these hosts and
		// applies the same policy (issues 16, 22); the data directory's file serves
		// this node's alone.
		if err := st.RecordHosts(ctx, recordedHosts(svc, hc.HTTPBaseURL, delivers(c, hc, api), c.SMTP.Enabled())); err != nil {
			s.log.Warn("cannot record the host's domains in the store", "err", err)
		}
	}
	var accounts commands.AccountChecker
	if api != nil {
		accounts = api
	}
	sessions := c.Commands.Sessions()
	sessions.Logger = s.log.With("component", "commands")
	cmds, err := commands.New(svc, accounts, commands.Options{
		Sessions:         sessions,
		AllowUserInvites: c.AllowUserInvites,
		UserQuota:        c.UserQuota.Quota(),
	})
	if err != nil {
		_ = st.Close()
		return plugin.Manifest{}, err
	}
	pg, err := s.newPage(c, hc, hosts, svc, st, api)
	if err != nil {
		_ = st.Close()
		return plugin.Manifest{}, err
	}
	passwords, err := newPasswordCheck(c, hc)
	if err != nil {
		_ = st.Close()
		return plugin.Manifest{}, err
	}
	s.ops = ops
	mux, routes := s.routes(svc, c, pg, accounts)
	// Run outlives this call: it ends with Close.
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	next := &state{store: st, core: svc, http: mux, cmds: cmds, passwords: passwords, events: s.HostEvents, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(next.done)
		var wg sync.WaitGroup
		wg.Go(func() { ops.run(runCtx) })
		svc.Run(runCtx)
		wg.Wait()
	}()
	s.st, s.configured = next, true
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Domain
	}
	slices.Sort(names)
	s.log.Info("invites plugin configured", "hosts", names, "store", describeStore(c.Address()),
		"data_dir", c.DataDir, "http_base_url", hc.HTTPBaseURL, "webhooks", len(c.Webhooks), "email", c.SMTP.Enabled(),
		"host_features", hc.Features)
	return plugin.Manifest{Routes: routes}, nil
}

// recordedHosts describes the hosts svc serves as the command line should apply them
// (see core.Store.RecordHosts): their effective policy, the public HTTP base URL,
// whether changes go to the outbox for delivery, and whether invites can be mailed.
func recordedHosts(svc *core.Service, baseURL string, webhooks, mail bool) []core.RecordedHost {
	var out []core.RecordedHost
	for _, d := range svc.Hosts() {
		h, err := svc.Host(d)
		if err != nil {
			continue
		}
		out = append(out, core.RecordedHost{Domain: h.Domain, BaseURL: baseURL, LandingPage: h.LandingPage,
			DefaultTTL: h.DefaultTTL, MaxTTL: h.MaxTTL, Webhooks: webhooks, Mail: mail, AccountStates: h.AccountStates})
	}
	return out
}

// routes returns the handler of every HTTP path the plugin serves, and those paths for
// the host to route (the Manifest); pg is the built-in page, nil when no host has it;
// accounts, when not nil, tells the HTTP API which accounts exist.
func (s *Service) routes(svc *core.Service, c config.Config, pg http.Handler, accounts commands.AccountChecker) (http.Handler, []plugin.Route) {
	mux := http.NewServeMux()
	mux.Handle(plugin.PathMetrics, s.ops.metricsHandler()) // for the host only: never in routes
	opts := c.HTTP.Options()
	opts.Logger = s.log.With("component", "http")
	opts.BasePath = plugin.PathAPI
	if accounts != nil {
		opts.Accounts = accounts
	}
	api := httpapi.New(s.ops.countAuth(svc), opts)
	// The invite API: creation at the root, the lifecycle below it (/invites_api/
	// invites…); httpapi answers 404 for any other path below it.
	mux.Handle(plugin.PathAPI, api)
	mux.Handle(plugin.PathAPI+"/", api)
	routes := []plugin.Route{{Path: plugin.PathAPI, MaxBodyBytes: opts.MaxBodyBytes},
		{Path: plugin.PathAPI + "/", MaxBodyBytes: opts.MaxBodyBytes}}
	// The built-in landing page and web registration, when a host has landing_page =
	// "builtin" (page.go). plugin.PathMetrics is served here too but never listed:
	// the host fetches it, nobody outside.
	if pg != nil {
		mux.Handle(plugin.PathInvite, pg)
		mux.Handle(plugin.PathRegister, pg)
		routes = append(routes, plugin.Route{Path: plugin.PathInvite, MaxBodyBytes: page.DefaultMaxBodyBytes},
			plugin.Route{Path: plugin.PathRegister, MaxBodyBytes: page.DefaultMaxBodyBytes})
	}
	return mux, routes
}

// ServeHTTP implements plugin.Invites: it serves the plugin's paths; before Configure
// it answers 503.
func (s *Service) ServeHTTP(_ context.Context, w http.ResponseWriter, r *http.Request) error {
	st, err := s.state()
	if err != nil {
		httpapi.WriteError(w, r, &httpapi.Error{Status: http.StatusServiceUnavailable,
			Detail: "the invites service is starting; try again shortly", RetryAfter: time.Second})
		return nil
	}
	st.http.ServeHTTP(w, r)
	return nil
}

// Commands implements plugin.Invites.
func (s *Service) Commands(ctx context.Context, host, requester string, role adhoc.Role) ([]adhoc.Command, error) {
	st, err := s.state()
	if err != nil {
		return nil, err
	}
	return st.cmds.Commands(ctx, host, requester, role)
}

// Execute implements plugin.Invites.
func (s *Service) Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error) {
	st, err := s.state()
	if err != nil {
		return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondServiceUnavailable, Text: "the invites service is starting"}
	}
	return st.cmds.Execute(ctx, host, req)
}

// CheckInvite implements plugin.Invites.
func (s *Service) CheckInvite(ctx context.Context, host, token string) (plugin.Invite, error) {
	st, err := s.state()
	if err != nil {
		return plugin.Invite{}, err
	}
	inv, err := st.core.CheckInvite(ctx, host, token)
	if err != nil {
		return plugin.Invite{}, contractError(err)
	}
	// The host checks a token before an in-band registration (XEP-0445).
	s.countFunnel(st.core, inv, core.StageRegistrationStarted)
	return inviteFromCore(inv), nil
}

// RedeemInvite implements plugin.Invites: it uses the invite for r.Purpose.
func (s *Service) RedeemInvite(ctx context.Context, r plugin.Redemption) (plugin.Invite, error) {
	st, err := s.state()
	if err != nil {
		return plugin.Invite{}, err
	}
	// The client's address, for the audit record: the host's client, or the page's
	// (clientaddr.go).
	remote := plugin.ClientAddr(ctx)
	inv, err := st.core.Redeem(ctx, core.Redemption{Host: r.Host, Token: r.Token, Username: r.Username,
		Purpose: core.Purpose(r.Purpose), Remote: remote})
	if err != nil {
		return plugin.Invite{}, contractError(err)
	}
	return inviteFromCore(inv), nil
}

// contractError maps the core's errors onto the contract's: the one place where they
// meet. The core's reason stays in the text of an invalid name.
func contractError(err error) error {
	switch {
	case errors.Is(err, core.ErrInviterInactive):
		// The text says why, for a host that shows it.
		return fmt.Errorf("%w: %w", plugin.ErrInviteNotFound, core.ErrInviterInactive)
	case errors.Is(err, core.ErrNotFound):
		return plugin.ErrInviteNotFound
	case errors.Is(err, core.ErrExpired):
		return plugin.ErrInviteExpired
	case errors.Is(err, core.ErrForbidden):
		return plugin.ErrUsernameNotAllowed
	case errors.Is(err, core.ErrInvalid):
		return fmt.Errorf("%w: %w", plugin.ErrInvalidUsername, err)
	case errors.Is(err, core.ErrUnavailable):
		// The store is away: the host answers "try again" (service-unavailable).
		return fmt.Errorf("%w: %w", plugin.ErrUnavailable, err)
	}
	return err
}

// inviteFromCore is what the host learns of an invite.
func inviteFromCore(inv core.Invite) plugin.Invite {
	out := plugin.Invite{
		ID:          inv.ID,
		Host:        inv.Host,
		Kind:        string(inv.Kind),
		Username:    inv.Username,
		CanRegister: inv.CanRegister(),
		ExpiresAt:   inv.ExpiresAt,
		Groups:      slices.Clone(inv.Groups),
		Approval:    inv.Approval,
	}
	if inv.Inviter != "" {
		// The record keeps the inviter's localpart on the invite's host.
		out.Inviter = inv.Inviter + "@" + inv.Host
	}
	return out
}

// HostEvents records what the server reports happened (plugin.Event): logins, and
// accounts created, deleted, disabled or enabled by any means, for the accounts the
// plugin keeps track of (core.Service.HostEvents). Events of ended client streams are
// not the core's (the ad-hoc sessions are ended by whoever receives Invites.Notify).
// Events the core cannot use (another host's, naming no account) are skipped. A failure
// means the store could not record them now: it wraps plugin.ErrUnavailable, so that the
// server sends the batch again (events are idempotent). Its shape is the one of the
// handler Invites.Notify hands each batch to, once it has ended the sessions of ended
// streams.
func (s *Service) HostEvents(ctx context.Context, events []plugin.Event) error {
	st, err := s.state()
	if err != nil {
		return err
	}
	if err := st.core.HostEvents(ctx, hostEvents(events)); err != nil {
		return fmt.Errorf("%w: recording the server's events: %w", plugin.ErrUnavailable, err)
	}
	return nil
}

// hostEvents converts the contract's events to the core's.
func hostEvents(events []plugin.Event) []core.HostEvent {
	out := make([]core.HostEvent, 0, len(events))
	for _, e := range events {
		out = append(out, core.HostEvent{ID: e.ID, Type: core.HostEventType(e.Type), Host: e.Host, JID: e.JID, Lang: e.Lang, At: e.At})
	}
	return out
}

// Health implements plugin.Invites: the store must answer a lookup.
func (s *Service) Health(ctx context.Context) error {
	st, err := s.state()
	if err != nil {
		return err
	}
	if _, err := st.store.Key(ctx, "health-check"); err != nil && !errors.Is(err, core.ErrNotFound) {
		return fmt.Errorf("the store does not answer: %w", err)
	}
	return nil
}

// Close stops the background work, writes pending bookkeeping and closes the store.
// It waits for the final flush until ctx ends.
func (s *Service) Close(ctx context.Context) error {
	s.mu.Lock()
	st := s.st
	s.st = nil
	s.mu.Unlock()
	if st == nil {
		return nil
	}
	st.stop()
	select {
	case <-st.done:
	case <-ctx.Done():
		s.log.Warn("closing before the final bookkeeping flush ended", "err", ctx.Err())
	}
	if err := st.store.Close(); err != nil {
		return fmt.Errorf("closing the store: %w", err)
	}
	return nil
}

var _ plugin.Invites = (*Service)(nil)
