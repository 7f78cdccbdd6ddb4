package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/commands"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/mail"
	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/internal/password"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/webhook"
)

// EnvStore is the environment variable that, when set, chooses the store: it
// overrides the store key.
const EnvStore = "INVITES_STORE"

// StoreFile is the SQLite file's name inside the data directory (store.DefaultFile).
const StoreFile = store.DefaultFile

// Reference is the configuration reference generated from the types below, for error
// messages.
const Reference = "docs/configuration.md"

// Config is the plugin's configuration: each table, and each group of top-level keys,
// is the type of the component it configures, which fills its defaults and checks it.
type Config struct {
	// Config is the store's keys: data_dir, store, durability.
	store.Config
	// Policy is the invite policy's keys: retention, default_ttl, max_ttl,
	// landing_page, allow_user_invites, [user_quota] and [[host]].
	core.Policy
	// HTTP bounds the invite API (package httpapi owns the type and its defaults).
	HTTP httpapi.Config `toml:"http"`
	// Commands bounds ad-hoc command sessions.
	Commands commands.Config `toml:"commands"`
	// Webhooks are the endpoints that receive events.
	// Default none: no outbox is written.
	Webhooks []webhook.Config `toml:"webhook"`
	// Page configures the built-in invite page and web registration of the hosts whose
	// landing_page is "builtin".
	Page page.Config `toml:"page"`
	// Password is the password policy of every registration path.
	Password password.Config `toml:"password"`
	// SMTP is the relay invites are mailed through.
	SMTP mail.Config `toml:"smtp"`

	// Accounts configures the accounts the plugin keeps track of: the hold on
	// registrations, the approval queue and the inviter's good standing (package core
	// owns the type and its defaults).
	Accounts core.AccountsConfig `toml:"accounts"`

	// dir is the directory of the config file, from which the page's file names
	// that are not absolute are read; empty for inline text.
	dir string
}

// Load reads a config file strictly and normalizes it (INVITES_STORE applied); an
// empty path gives the defaults.
func Load(path string) (Config, error) {
	var c Config
	if path != "" {
		var err error
		if c, err = ReadFile(path); err != nil {
			return Config{}, err
		}
	}
	if err := c.Normalize(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ReadFile reads a config file strictly, without normalizing; the page's file names
// that are not absolute are then read from the file's directory (Dir).
func ReadFile(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading the config file: %w", err)
	}
	c, err := Parse(string(b))
	if err != nil {
		return Config{}, fmt.Errorf("config file %s: %w", path, err)
	}
	c.dir = filepath.Dir(path)
	return c, nil
}

// Parse decodes TOML strictly, without normalizing: an unknown key is an error naming
// it.
func Parse(text string) (Config, error) {
	var c Config
	md, err := toml.Decode(text, &c)
	if err != nil {
		return Config{}, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("unknown keys: %s (every key is listed in %s)", strings.Join(keys, ", "), Reference)
	}
	return c, nil
}

// Dir is the directory of the config file Load or ReadFile read, from which the page's file names
// that are not absolute are read; empty for a config that was not read from a file.
func (c Config) Dir() string { return c.dir }

// Normalize applies INVITES_STORE, then has each component fill its defaults and check
// its keys; each error names its key, prefixed with its table's name.
func (c *Config) Normalize() error {
	if env := os.Getenv(EnvStore); env != "" {
		c.Store = env
	}
	return c.normalize()
}

// Defaults returns the configuration of an empty file, without INVITES_STORE: every
// default, as the components fill them.
func Defaults() Config {
	var c Config
	_ = c.normalize() // the defaults are valid: TestDefaults checks it
	return c
}

// normalize is Normalize without the environment.
func (c *Config) normalize() error {
	errs := []error{c.Config.Normalize(), c.Policy.Normalize()}
	errs = append(errs, prefixed("http", c.HTTP.Normalize())...)
	errs = append(errs, prefixed("commands", c.Commands.Normalize())...)
	errs = append(errs, webhook.NormalizeAll(c.Webhooks))
	errs = append(errs, prefixed("page", c.Page.Normalize())...)
	if err := c.Page.ApplyDeprecated(&c.Password); err != nil {
		errs = append(errs, fmt.Errorf("page.%w", err))
	}
	errs = append(errs, prefixed("password", c.Password.Normalize())...)
	errs = append(errs, prefixed("smtp", c.SMTP.Normalize())...)
	errs = append(errs, prefixed("accounts", c.Accounts.Normalize())...)
	return errors.Join(errs...)
}

// prefixed returns each error err joins as "TABLE.…".
func prefixed(table string, err error) []error {
	if err == nil {
		return nil
	}
	all := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		all = j.Unwrap()
	}
	out := make([]error, len(all))
	for i, e := range all {
		out[i] = fmt.Errorf("%s.%w", table, e)
	}
	return out
}
