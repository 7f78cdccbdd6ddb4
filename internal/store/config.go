package store

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// Config is the store's part of the plugin's config: its top-level keys data_dir,
// store and durability.
// The zero value of each field means its documented default, filled by Normalize.
type Config struct {
	// DataDir is the plugin's data directory: the SQLite store's file ([DefaultFile])
	// unless store names another, and the list of the domains the XMPP server
	// reported. A plugin started by a server reads a relative path from the server's
	// data directory, and uses that directory when the key is left out.
	// Default [DefaultDataDir] (on the command line).
	DataDir string `toml:"data_dir"`
	// Store is the store's address: empty means the SQLite file DATA_DIR/invites.db; a
	// file path or "sqlite:PATH" names another SQLite file; "postgres://…",
	// "postgresql://…" or a keyword/value string ("host=db dbname=invites") uses
	// PostgreSQL. Anything else (a mistyped "postgress://…") is an error.
	// The environment variable INVITES_STORE, when set, overrides it.
	// Default: the SQLite file in data_dir.
	Store string `toml:"store"`
	// Durability says what a committed write of the SQLite store survives: "crash" (the
	// process being killed; SQLite synchronous=NORMAL) or "power-loss" (also a power
	// cut or kernel crash; synchronous=FULL, an fsync per commit, shared by the writes
	// committed together). A key deletion, a revocation or a redemption reported done
	// must not come back after a power cut, and with group commit the fsyncs cost
	// little throughput (see internal/store/sqlite for figures).
	// PostgreSQL follows the server's synchronous_commit instead.
	// Default [sqlite.DefaultDurability].
	Durability sqlite.Durability `toml:"durability"`
}

// Defaults of Config.
const (
	// DefaultDataDir is the data directory of the command line when the config names
	// none.
	DefaultDataDir = "./data"
	// DefaultFile is the SQLite file's name inside the data directory.
	DefaultFile = "invites.db"
)

// Normalize fills the defaults of c and checks it; each error names its key.
func (c *Config) Normalize() error {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Durability == "" {
		c.Durability = sqlite.DefaultDurability
	}
	var errs []error
	if c.Store != "" {
		if _, _, err := Parse(c.Store); err != nil {
			errs = append(errs, fmt.Errorf("store: %w", err))
		}
	}
	switch c.Durability {
	case sqlite.DurabilityCrash, sqlite.DurabilityPowerLoss:
	default:
		errs = append(errs, fmt.Errorf("durability %q is not known: use %q or %q", c.Durability, sqlite.DurabilityCrash, sqlite.DurabilityPowerLoss))
	}
	return errors.Join(errs...)
}

// Address returns the address of the store to open (see Parse): Store, or the SQLite
// file DefaultFile in DataDir.
func (c Config) Address() string {
	if c.Store != "" {
		return c.Store
	}
	return filepath.Join(c.DataDir, DefaultFile)
}
