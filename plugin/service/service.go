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
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
	"github.com/xmpp-invites/invites/plugin"
)

// Service is the serving side of [plugin.Invites]: what runs in the plugin process.
// Configure loads the plugin's config, opens its store, and builds the core, the HTTP
// API and the ad-hoc commands over it; until then every call fails as unavailable.
// It is safe for concurrent use.
type Service struct {
	log *slog.Logger

	mu sync.RWMutex
	st *serviceState // nil until configured
}

// serviceState is what Configure builds; it is not changed once published.
type serviceState struct {
	dsn   string
	store core.Store
	core  *core.Service
	http  http.Handler
	cmds  adhoc.Executor
	stop  context.CancelFunc
	done  chan struct{} // closed when core.Run has returned
}

// New returns an unconfigured Service logging to logger (nil discards).
func New(logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{log: logger}
}

// errNotConfigured fails calls made before Configure.
var errNotConfigured = fmt.Errorf("%w: not configured", plugin.ErrUnavailable)

func (s *Service) state() (*serviceState, error) {
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
	var text string
	switch {
	case hc.ConfigFile != "" && hc.ConfigTOML != "":
		return config.Config{}, errors.New("plugin: both a config file and inline config given")
	case hc.ConfigFile != "":
		b, err := os.ReadFile(hc.ConfigFile)
		if err != nil {
			return config.Config{}, fmt.Errorf("plugin: reading config: %w", err)
		}
		text = string(b)
	default:
		text = hc.ConfigTOML
	}
	c, err := config.Parse(text)
	if err != nil {
		if hc.ConfigFile != "" {
			return config.Config{}, fmt.Errorf("plugin: config %s: %w", hc.ConfigFile, err)
		}
		return config.Config{}, fmt.Errorf("plugin: config: %w", err)
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
		return config.Config{}, fmt.Errorf("plugin: config: %w", err)
	}
	return c, nil
}

// Configure implements plugin.Invites: it loads the config and opens the store the first time;
// later calls update the served domains and the host API but cannot change the store.
func (s *Service) Configure(ctx context.Context, hc plugin.Config, api plugin.HostAPI) error {
	c, err := loadConfig(hc)
	if err != nil {
		return err
	}
	if api == nil {
		api = plugin.NoHostAPI{}
	}
	domains := hc.Domains
	if len(domains) == 0 {
		ds, err := api.Domains(ctx)
		if err != nil {
			s.log.Warn("cannot ask the host for its domains", "err", err)
		}
		domains = ds
	}
	hosts := c.CoreHosts(domains...)
	if len(domains) > 0 {
		// Recorded so that the key command line accepts these hosts too.
		if err := config.RecordDomains(c.DataDir, domains); err != nil {
			s.log.Warn("cannot record the host's domains", "err", err)
		}
	}
	rate, err := core.ParseRate(c.HTTP.FailedAuthRate)
	if err != nil {
		return fmt.Errorf("plugin: config: %w", err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.st; st != nil {
		if st.dsn != c.StoreDSN() {
			return errors.New("plugin: changing the store needs a restart")
		}
		if err := st.core.SetHosts(hosts); err != nil {
			return fmt.Errorf("plugin: %w", err)
		}
		cmds, err := s.newCommands(st.core, api, c)
		if err != nil {
			return err
		}
		// A state is never changed once published: calls in flight keep the old one.
		next := *st
		next.http = s.newHTTP(st.core, c, rate)
		next.cmds = cmds
		s.st = &next
		return nil
	}

	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return fmt.Errorf("plugin: data directory: %w", err)
	}
	dsn := c.StoreDSN()
	st, err := store.OpenWith(ctx, dsn, store.Options{Logger: s.log.With("component", "store"), Durability: sqlite.Durability(c.Durability)})
	if err != nil {
		return fmt.Errorf("plugin: opening store: %w", err)
	}
	svc, err := core.NewService(core.Options{Store: st, Hosts: hosts, Logger: s.log.With("component", "core"),
		Retention: time.Duration(c.Retention), BaseURL: hc.HTTPBaseURL})
	if err != nil {
		_ = st.Close()
		return fmt.Errorf("plugin: %w", err)
	}
	cmds, err := s.newCommands(svc, api, c)
	if err != nil {
		_ = st.Close()
		return err
	}
	// Run outlives this call: it ends with Close.
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	state := &serviceState{
		dsn:   dsn,
		store: st,
		core:  svc,
		http:  s.newHTTP(svc, c, rate),
		cmds:  cmds,
		stop:  stop,
		done:  make(chan struct{}),
	}
	go func() {
		defer close(state.done)
		svc.Run(runCtx)
	}()
	s.st = state
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Domain
	}
	slices.Sort(names)
	s.log.Info("invites plugin configured", "hosts", names, "data_dir", c.DataDir, "http_base_url", hc.HTTPBaseURL)
	return nil
}

func (s *Service) newHTTP(svc *core.Service, c config.Config, rate core.Rate) http.Handler {
	return httpapi.New(svc, httpapi.Options{
		MaxBodyBytes:   c.HTTP.MaxBodyBytes,
		FailedAuthRate: rate,
		TrustedProxies: c.HTTP.Proxies(),
		Logger:         s.log.With("component", "http"),
	})
}

func (s *Service) newCommands(svc *core.Service, api plugin.HostAPI, c config.Config) (adhoc.Executor, error) {
	cmds, err := commands.New(svc, api, adhoc.ServerOptions{
		Timeout:     time.Duration(c.Commands.SessionTimeout),
		MaxSessions: c.Commands.MaxSessions,
		Logger:      s.log.With("component", "commands"),
	})
	if err != nil {
		return nil, fmt.Errorf("plugin: %w", err)
	}
	return cmds, nil
}

// ServeHTTP implements plugin.Invites with the HTTP API; before Configure it answers 503.
func (s *Service) ServeHTTP(_ context.Context, w http.ResponseWriter, r *http.Request) error {
	st, err := s.state()
	if err != nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "invites: not configured yet", http.StatusServiceUnavailable)
		return nil
	}
	st.http.ServeHTTP(w, r)
	return nil
}

// Commands implements plugin.Invites.
func (s *Service) Commands(ctx context.Context, host, requester string) ([]adhoc.Command, error) {
	st, err := s.state()
	if err != nil {
		return nil, err
	}
	return st.cmds.Commands(ctx, host, requester)
}

// Execute implements plugin.Invites.
func (s *Service) Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error) {
	st, err := s.state()
	if err != nil {
		return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondServiceUnavailable, Text: "not configured"}
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
		return plugin.Invite{}, redemptionError(err)
	}
	if !sameHost(inv.Host, host) {
		return plugin.Invite{}, plugin.ErrInviteNotFound
	}
	return inviteFromCore(inv), nil
}

// RedeemInvite implements plugin.Invites: it checks that the invite is for host, then
// consumes it.
func (s *Service) RedeemInvite(ctx context.Context, host, token, username string) (plugin.Invite, error) {
	if _, err := s.CheckInvite(ctx, host, token); err != nil {
		return plugin.Invite{}, err
	}
	st, err := s.state()
	if err != nil {
		return plugin.Invite{}, err
	}
	inv, err := st.core.Redeem(ctx, core.Redemption{Host: host, Token: token, Username: username})
	if err != nil {
		return plugin.Invite{}, redemptionError(err)
	}
	return inviteFromCore(inv), nil
}

func sameHost(a, b string) bool {
	na, err := core.NormalizeDomain(a)
	if err != nil {
		return false
	}
	nb, err := core.NormalizeDomain(b)
	return err == nil && na == nb
}

// redemptionError maps the core's errors onto the contract's sentinels.
func redemptionError(err error) error {
	switch {
	case errors.Is(err, core.ErrNotFound):
		return plugin.ErrInviteNotFound
	case errors.Is(err, core.ErrExpired):
		return plugin.ErrInviteExpired
	case errors.Is(err, core.ErrForbidden):
		return plugin.ErrUsernameNotAllowed
	case errors.Is(err, core.ErrInvalid):
		return fmt.Errorf("%w: %w", plugin.ErrInvalidUsername, err)
	}
	return err
}

func inviteFromCore(inv core.Invite) plugin.Invite {
	return plugin.Invite{
		ID:          inv.ID,
		Host:        inv.Host,
		Kind:        string(inv.Kind),
		Username:    inv.Username,
		Inviter:     inv.Inviter,
		CanRegister: inv.CanRegister(),
		ExpiresAt:   inv.ExpiresAt,
	}
}

// Health implements plugin.Invites: the store must answer a lookup.
func (s *Service) Health(ctx context.Context) error {
	st, err := s.state()
	if err != nil {
		return err
	}
	if _, err := st.store.Key(ctx, "health-check"); err != nil && !errors.Is(err, core.ErrNotFound) {
		return fmt.Errorf("plugin: store: %w", err)
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
		return fmt.Errorf("plugin: closing store: %w", err)
	}
	return nil
}

var _ plugin.Invites = (*Service)(nil)
