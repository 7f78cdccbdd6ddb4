package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/xmpp-invites/invites/internal/audit"
	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
)

// pointAt tells the operator how to find the server's store.
const pointAt = "run invites-plugin where the server runs, or point it at the server's store with -data DIR, -store FILE|postgres://… or INVITES_STORE"

// session is an open store with the core over it.
type session struct {
	svc   *core.Service
	store core.Store
	hosts []string // the hosts the command line accepts
}

// Close closes the store.
func (s *session) Close() { _ = s.store.Close() }

// host checks that host is one the installation serves and returns its canonical
// form; an unknown one is a *hostError.
func (s *session) host(host string) (string, error) {
	h, err := s.svc.Host(host)
	if err != nil {
		return "", &hostError{host: host, known: s.hosts}
	}
	return h.Domain, nil
}

// open loads the config, opens the store the server uses and builds the core over
// the hosts the installation serves: those of the config, those the servers recorded
// in the data directory and in the store, else localhost.
// Without -config, each host's policy (lifetimes, landing page) is the one the server
// recorded in the store when it last started, so that the command line applies the
// same as the server and prints the same invite location; with -config, the config's.
// When the server has webhooks, every change writes its events to the store's outbox,
// which the server's delivery worker sends; every change's audit record goes to
// g.audit (standard error) as a key=value line with the server's audit fields.
// It never makes a new store: a data directory named with -data that does not exist,
// or a SQLite file that does not exist, is an error that says where it looked.
func open(ctx context.Context, g globals) (*session, error) {
	cfg, err := config.Load(g.configFile)
	if err != nil {
		return nil, err
	}
	if g.dataDir != "" {
		cfg.DataDir = g.dataDir
	}
	if g.storeDSN != "" {
		cfg.Store = g.storeDSN
	}
	if err := checkExists(g.dataDir != "", cfg); err != nil {
		return nil, err
	}
	known, err := config.KnownDomains(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	st, err := store.OpenWith(ctx, cfg.Address(), store.Options{Logger: discard, Durability: cfg.Durability})
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	recorded, err := st.RecordedHosts(ctx)
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	hosts, baseURL, webhooks := serverHosts(cfg, g.configFile != "", known, recorded)
	var observer core.Observer
	if g.audit != nil {
		observer = audit.New(slog.New(slog.NewTextHandler(g.audit, nil)))
	}
	// Invites are mailed by the server, whose relay the config or the store names.
	mail := cfg.SMTP.Enabled()
	for _, r := range recorded {
		mail = mail || r.Mail
	}
	svc, err := core.NewService(core.Options{Store: st, Hosts: hosts, BaseURL: baseURL, Outbox: webhooks, Observer: observer, Mail: mail})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Domain
	}
	slices.Sort(names)
	return &session{svc: svc, store: st, hosts: names}, nil
}

// serverHosts returns the hosts the command line serves, with their policy: the
// config's when fromConfig (for its hosts and every known one, with whether the server
// can set its accounts' states as recorded), else the policy each recorded host was
// served with, and the config's defaults for the domains known only
// from the data directory; then the server's public HTTP base URL and whether it has
// webhooks, as recorded.
func serverHosts(cfg config.Config, fromConfig bool, known []string, recorded []core.RecordedHost) ([]core.HostConfig, string, bool) {
	var (
		baseURL  string
		webhooks bool
		names    = slices.Clone(known)
	)
	for _, r := range recorded {
		names = append(names, r.Domain)
		if baseURL == "" {
			baseURL = r.BaseURL
		}
		webhooks = webhooks || r.Webhooks
	}
	if fromConfig {
		// The policy is the config's; what the server can do (disable accounts, hold
		// them pending) is the server's, as it recorded it.
		hosts := cfg.HostConfigs(names...)
		for i := range hosts {
			for _, r := range recorded {
				if r.Domain == hosts[i].Domain {
					hosts[i].AccountStates = r.AccountStates
				}
			}
		}
		return hosts, baseURL, webhooks
	}
	var hosts []core.HostConfig
	have := map[string]bool{}
	defaults := cfg.HostConfigs() // the top-level defaults, as for a host of no record
	for _, r := range recorded {
		h := r.Config()
		if h.DefaultTTL == 0 || h.MaxTTL == 0 {
			// Recorded by a server of version 2, which kept no policy.
			h.DefaultTTL, h.MaxTTL, h.LandingPage = defaults[0].DefaultTTL, defaults[0].MaxTTL, defaults[0].LandingPage
		}
		have[h.Domain] = true
		hosts = append(hosts, h)
	}
	for _, h := range cfg.HostConfigs(known...) {
		if !have[h.Domain] && (len(known) > 0 || len(hosts) == 0) {
			have[h.Domain] = true
			hosts = append(hosts, h)
		}
	}
	return hosts, baseURL, webhooks
}

// checkExists refuses a data directory given with -data that does not exist, and a
// SQLite store file that does not exist: the command line works on the server's store
// and must not make an empty one that the server never reads.
func checkExists(dataExplicit bool, cfg config.Config) error {
	dataDir := cfg.DataDir
	kind, path, err := store.Parse(cfg.Address()) // a mistyped address first: it names what is accepted
	if err != nil {
		return err
	}
	if dataExplicit {
		if err := isDir(dataDir); err != nil {
			return err
		}
	}
	if kind != store.KindSQLite {
		return nil // PostgreSQL: the database creates its schema itself
	}
	_, err = os.Stat(path)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("the store %s: %w", abs(path), err)
	}
	if cfg.Store != "" {
		return fmt.Errorf("the store file %s does not exist: %s", abs(path), pointAt)
	}
	if err := isDir(dataDir); err != nil {
		return err
	}
	return fmt.Errorf("there is no invite store in the data directory %s (no %s there; the server makes it when it first starts): %s",
		abs(dataDir), config.StoreFile, pointAt)
}

// isDir fails unless dir is an existing directory.
func isDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("the data directory %s does not exist: %s", abs(dir), pointAt)
	case err != nil:
		return fmt.Errorf("the data directory %s: %w", abs(dir), err)
	case !fi.IsDir():
		return fmt.Errorf("the data directory %s is not a directory: %s", abs(dir), pointAt)
	}
	return nil
}

// abs names a path as the operator can find it, whatever the current directory.
func abs(path string) string {
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return path
}
