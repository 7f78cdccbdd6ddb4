package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
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
	st, err := store.OpenWith(ctx, cfg.StoreDSN(), store.Options{Logger: discard, Durability: sqlite.Durability(cfg.Durability)})
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	// The server's public base URL, so that an invite's location is the built-in page
	// the server would answer with.
	var baseURL string
	if rec, ok := st.(core.HostRecorder); ok {
		recorded, err := rec.RecordedHosts(ctx)
		if err != nil {
			_ = st.Close()
			return nil, err
		}
		for _, h := range recorded {
			known = append(known, h.Domain)
			if baseURL == "" {
				baseURL = h.BaseURL
			}
		}
	}
	hosts := cfg.CoreHosts(known...)
	svc, err := core.NewService(core.Options{Store: st, Hosts: hosts, BaseURL: baseURL})
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

// checkExists refuses a data directory given with -data that does not exist, and a
// SQLite store file that does not exist: the command line works on the server's store
// and must not make an empty one that the server never reads.
func checkExists(dataExplicit bool, cfg config.Config) error {
	dataDir := cfg.DataDir
	kind, path, err := store.Parse(cfg.StoreDSN()) // a mistyped address first: it names what is accepted
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
