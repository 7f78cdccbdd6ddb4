package config

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/internal/password"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// EnvStore is the environment variable that, when set, chooses the store.
const EnvStore = "INVITES_STORE"

// Config is the plugin's configuration.
type Config struct {
	// DataDir is where the embedded store lives. Default "./data".
	DataDir string `toml:"data_dir"`
	// Store is the store's address: empty means the SQLite file DATA_DIR/invites.db; a
	// file path or "sqlite:PATH" names another SQLite file; "postgres://…",
	// "postgresql://…" or a keyword/value string ("host=db dbname=invites") uses
	// PostgreSQL. Anything else (a mistyped "postgress://…") is an error.
	// INVITES_STORE overrides it.
	Store string `toml:"store"`
	// Durability says what a committed write of the SQLite store survives: "crash" (the
	// process being killed; SQLite synchronous=NORMAL) or "power-loss" (also a power
	// cut or kernel crash; synchronous=FULL, an fsync per commit, shared by the writes
	// committed together). Default "power-loss": a key deletion, a revocation or a
	// redemption reported done must not come back after a power cut, and with group
	// commit the fsyncs cost little throughput (see internal/store/sqlite for figures).
	// PostgreSQL follows the server's synchronous_commit instead.
	Durability string `toml:"durability"`
	// Retention is how long the records of used, expired and revoked invites are kept
	// before they are purged. Default 30 days.
	Retention Duration `toml:"retention"`
	// DefaultTTL is the invite lifetime when a request names none. Default 7 days.
	DefaultTTL Duration `toml:"default_ttl"`
	// MaxTTL is the longest invite lifetime a request may ask for. Default 90 days.
	MaxTTL Duration `toml:"max_ttl"`
	// LandingPage is the default landing page for every host: an http(s) URL template
	// with {token}, {host} and {uri} (no other placeholder), or "builtin" for the
	// plugin's own page at HTTP_BASE_URL/invite?TOKEN. Default none: an invite's
	// location is its xmpp: URI.
	LandingPage string `toml:"landing_page"`
	// AllowUserInvites lets the contact invites that ordinary users make
	// (urn:xmpp:invite#invite) register an account too (";ibr=y"), within UserQuota.
	// Default false: a user's contact invite lets people who have an account add them,
	// and cannot make accounts, so one account does not turn invite-only registration
	// into open registration. Administrators' contact invites always may register.
	AllowUserInvites bool `toml:"allow_user_invites"`
	// UserQuota bounds the invites each ordinary user makes through ad-hoc commands;
	// administrators have none.
	UserQuota UserQuota `toml:"user_quota"`
	// Hosts are the XMPP domains served, each with optional overrides.
	// Default: the domains the XMPP server reports, or "localhost" on the command line.
	Hosts []Host `toml:"host"`
	// HTTP bounds the invite API.
	HTTP HTTP `toml:"http"`
	// Commands bounds ad-hoc command sessions.
	Commands Commands `toml:"commands"`
	// Webhooks are the endpoints that receive events ([[webhook]]; see webhook.go).
	// Default none: no outbox is written.
	Webhooks []Webhook `toml:"webhook"`
	// Page configures the built-in invite page and web registration of the hosts whose
	// landing_page is "builtin" (package page owns the type and its defaults).
	Page page.Config `toml:"page"`
	// Password is the password policy of every registration path (package password
	// owns the type and its defaults).
	Password password.Config `toml:"password"`
	// Accounts configures the accounts the plugin keeps track of: the hold on
	// registrations, the approval queue and the inviter's good standing (package core
	// owns the type and its defaults).
	Accounts core.AccountsConfig `toml:"accounts"`
}

// Host is one served XMPP domain.
type Host struct {
	// Domain is the XMPP domain. Required.
	Domain string `toml:"domain"`
	// LandingPage overrides the top-level landing_page for this domain.
	LandingPage string `toml:"landing_page"`
	// DefaultTTL overrides the top-level default_ttl for this domain.
	DefaultTTL Duration `toml:"default_ttl"`
	// MaxTTL overrides the top-level max_ttl for this domain.
	MaxTTL Duration `toml:"max_ttl"`
}

// HTTP bounds the invite API.
type HTTP struct {
	// MaxBodyBytes bounds a request body. Default 65536, at most 16 MiB.
	MaxBodyBytes int64 `toml:"max_body_bytes"`
	// FailedAuthRate is how many failed authentications one client address may make
	// before it gets 429, as N/PERIOD. Default "20/m".
	FailedAuthRate string `toml:"failed_auth_rate"`
	// TrustedProxies are the addresses (such as "127.0.0.1") or networks (such as
	// "10.0.0.0/8") of reverse proxies whose X-Forwarded-For names the client.
	// Default none: the connection's address is the client's. Behind a proxy, list it,
	// or every client shares the proxy's failed-authentication budget.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// Proxies returns TrustedProxies as networks; Validate has checked them.
func (h HTTP) Proxies() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range h.TrustedProxies {
		if n, err := parsePrefix(p); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// parsePrefix reads a network, or a lone address as the network of just itself.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// UserQuota bounds the invites one ordinary user makes: at most Invites per Period, and
// at most Outstanding pending at once.
type UserQuota struct {
	// Invites bounds the invites one user makes within any Period. Default 10; -1 means
	// no bound.
	Invites int `toml:"invites"`
	// Period is the window of Invites. Default "7d".
	Period Duration `toml:"period"`
	// Outstanding bounds a user's invites pending at once. Default 5; -1 means no bound.
	Outstanding int `toml:"outstanding"`
}

// Core returns the quota as the core applies it; Normalize has filled the defaults.
func (q UserQuota) Core() core.Quota {
	return core.Quota{Invites: max(q.Invites, 0), Period: time.Duration(q.Period), Outstanding: max(q.Outstanding, 0)}
}

// Commands bounds ad-hoc command sessions.
type Commands struct {
	// SessionTimeout ends a session idle this long. Default "10m".
	SessionTimeout Duration `toml:"session_timeout"`
	// MaxSessions bounds the open sessions of one requester. Default 8.
	MaxSessions int `toml:"max_sessions"`
}

// Defaults.
const (
	DefaultDataDir        = "./data"
	DefaultMaxBodyBytes   = 64 << 10
	DefaultFailedAuthRate = "20/m"
	DefaultSessionTimeout = 10 * time.Minute
	DefaultMaxSessions    = 8
	DefaultDurability     = string(sqlite.DefaultDurability)
	DefaultRetention      = core.DefaultRetention
	// DefaultUserInvites, DefaultUserPeriod and DefaultUserOutstanding are the
	// defaults of UserQuota.
	DefaultUserInvites     = 10
	DefaultUserPeriod      = 7 * 24 * time.Hour
	DefaultUserOutstanding = 5
	// StoreFile is the SQLite file name inside the data directory.
	StoreFile = "invites.db"
)

// Duration is a time.Duration written as core.ParseDuration reads it ("48h", "7d", "3600").
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := core.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler, in the shortest form that reads back.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(core.FormatDuration(time.Duration(d))), nil
}

// String writes the duration for people, such as "30 days".
func (d Duration) String() string { return core.HumanDuration(time.Duration(d)) }

// Load reads a config file strictly; an empty path gives the defaults.
// Either way, the result is normalized and validated.
func Load(path string) (Config, error) {
	var c Config
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("reading the config file: %w", err)
		}
		if c, err = Parse(string(b)); err != nil {
			return Config{}, fmt.Errorf("config file %s: %w", path, err)
		}
	}
	return c, c.Normalize()
}

// Parse decodes TOML strictly, without normalizing.
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
		return Config{}, fmt.Errorf("unknown keys: %s (every key is listed in the README, Configuration)", strings.Join(keys, ", "))
	}
	return c, nil
}

// Normalize fills defaults, applies INVITES_STORE and validates.
func (c *Config) Normalize() error {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if env := os.Getenv(EnvStore); env != "" {
		c.Store = env
	}
	if c.Durability == "" {
		c.Durability = DefaultDurability
	}
	if c.Retention == 0 {
		c.Retention = Duration(DefaultRetention)
	}
	if c.DefaultTTL == 0 {
		c.DefaultTTL = Duration(core.DefaultInviteTTL)
	}
	if c.MaxTTL == 0 {
		c.MaxTTL = Duration(max(core.DefaultMaxInviteTTL, time.Duration(c.DefaultTTL)))
	}
	if c.HTTP.MaxBodyBytes == 0 {
		c.HTTP.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.HTTP.FailedAuthRate == "" {
		c.HTTP.FailedAuthRate = DefaultFailedAuthRate
	}
	if c.UserQuota.Invites == 0 {
		c.UserQuota.Invites = DefaultUserInvites
	}
	if c.UserQuota.Period == 0 {
		c.UserQuota.Period = Duration(DefaultUserPeriod)
	}
	if c.UserQuota.Outstanding == 0 {
		c.UserQuota.Outstanding = DefaultUserOutstanding
	}
	if c.Commands.SessionTimeout == 0 {
		c.Commands.SessionTimeout = Duration(DefaultSessionTimeout)
	}
	if c.Commands.MaxSessions == 0 {
		c.Commands.MaxSessions = DefaultMaxSessions
	}
	return errors.Join(c.Validate(), c.normalizeComponents())
}

// normalizeComponents has each component fill its defaults and check its table;
// each error is prefixed with the table's name.
func (c *Config) normalizeComponents() error {
	errs := prefixed("page", c.Page.Normalize())
	if err := c.Page.ApplyDeprecated(&c.Password); err != nil {
		errs = append(errs, fmt.Errorf("page.%w", err))
	}
	errs = append(errs, prefixed("password", c.Password.Normalize())...)
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

// Validate checks a normalized config.
func (c *Config) Validate() error {
	var errs []error
	if c.Store != "" {
		if _, _, err := store.Parse(c.Store); err != nil {
			errs = append(errs, fmt.Errorf("store: %w", err))
		}
	}
	switch sqlite.Durability(c.Durability) {
	case sqlite.DurabilityCrash, sqlite.DurabilityPowerLoss:
	default:
		errs = append(errs, fmt.Errorf("durability %q is not known: use \"crash\" or \"power-loss\"", c.Durability))
	}
	if c.Retention < Duration(core.MinTTL) {
		errs = append(errs, fmt.Errorf("retention must be at least %s", core.HumanDuration(core.MinTTL)))
	}
	errs = append(errs, checkTTLs("", c.DefaultTTL, c.MaxTTL)...)
	if err := core.CheckLandingPage(c.LandingPage); err != nil {
		errs = append(errs, fmt.Errorf("landing_page: %w", err))
	}
	if c.HTTP.MaxBodyBytes < 0 || c.HTTP.MaxBodyBytes > 16<<20 {
		errs = append(errs, errors.New("http.max_body_bytes must be between 1 and 16777216"))
	}
	if _, err := core.ParseRate(c.HTTP.FailedAuthRate); err != nil {
		errs = append(errs, fmt.Errorf("http.failed_auth_rate: %w", err))
	}
	for _, p := range c.HTTP.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			errs = append(errs, fmt.Errorf("http.trusted_proxies: %q is not an address or network", p))
		}
	}
	if c.UserQuota.Invites < -1 || c.UserQuota.Outstanding < -1 {
		errs = append(errs, errors.New("user_quota.invites and user_quota.outstanding must be a number of invites, or -1 for no bound"))
	}
	if c.UserQuota.Period < Duration(core.MinTTL) {
		errs = append(errs, fmt.Errorf("user_quota.period must be at least %s", core.HumanDuration(core.MinTTL)))
	}
	if c.Commands.MaxSessions < 0 || c.Commands.MaxSessions > 1000 {
		errs = append(errs, errors.New("commands.max_sessions must be between 1 and 1000"))
	}
	errs = append(errs, c.validateWebhooks()...)
	seen := map[string]bool{}
	for i, h := range c.Hosts {
		d, err := core.NormalizeDomain(h.Domain)
		if err != nil {
			errs = append(errs, fmt.Errorf("host %d: %w", i+1, err))
			continue
		}
		if seen[d] {
			errs = append(errs, fmt.Errorf("host %s listed twice", d))
		}
		seen[d] = true
		if err := core.CheckLandingPage(h.LandingPage); err != nil {
			errs = append(errs, fmt.Errorf("host %s: landing_page: %w", d, err))
		}
		def, maxTTL := h.DefaultTTL, h.MaxTTL
		if def == 0 {
			def = c.DefaultTTL
		}
		if maxTTL == 0 {
			maxTTL = c.MaxTTL
		}
		errs = append(errs, checkTTLs("host "+d+": ", def, maxTTL)...)
	}
	return errors.Join(errs...)
}

// checkTTLs checks a pair of invite lifetimes.
func checkTTLs(where string, def, maxTTL Duration) []error {
	var errs []error
	if def < Duration(core.MinTTL) || maxTTL < Duration(core.MinTTL) {
		errs = append(errs, fmt.Errorf("%sdefault_ttl and max_ttl must be at least %s", where, core.HumanDuration(core.MinTTL)))
	}
	if def > maxTTL {
		errs = append(errs, fmt.Errorf("%sdefault_ttl (%s) is longer than max_ttl (%s)", where, def, maxTTL))
	}
	return errs
}

// StoreDSN returns the store to open: the configured DSN, or the SQLite file in DataDir.
func (c *Config) StoreDSN() string {
	if c.Store != "" {
		return c.Store
	}
	return filepath.Join(c.DataDir, StoreFile)
}

// CoreHosts returns the core's host settings for the given domains: each configured
// [[host]] entry, plus any domain in extra not configured, with the top-level defaults.
// With no [[host]] and no extra domains it serves "localhost".
func (c *Config) CoreHosts(extra ...string) []core.HostConfig {
	var out []core.HostConfig
	have := map[string]bool{}
	for _, h := range c.Hosts {
		hc := core.HostConfig{Domain: h.Domain, LandingPage: h.LandingPage,
			DefaultTTL: time.Duration(h.DefaultTTL), MaxTTL: time.Duration(h.MaxTTL)}
		if hc.LandingPage == "" {
			hc.LandingPage = c.LandingPage
		}
		if hc.DefaultTTL == 0 {
			hc.DefaultTTL = time.Duration(c.DefaultTTL)
		}
		if hc.MaxTTL == 0 {
			hc.MaxTTL = time.Duration(c.MaxTTL)
		}
		d, _ := core.NormalizeDomain(h.Domain)
		have[d] = true
		out = append(out, hc)
	}
	for _, e := range extra {
		d, err := core.NormalizeDomain(e)
		if err != nil || have[d] {
			continue
		}
		have[d] = true
		out = append(out, core.HostConfig{Domain: d, LandingPage: c.LandingPage,
			DefaultTTL: time.Duration(c.DefaultTTL), MaxTTL: time.Duration(c.MaxTTL)})
	}
	if len(out) == 0 {
		out = append(out, core.HostConfig{Domain: "localhost", LandingPage: c.LandingPage,
			DefaultTTL: time.Duration(c.DefaultTTL), MaxTTL: time.Duration(c.MaxTTL)})
	}
	return out
}
