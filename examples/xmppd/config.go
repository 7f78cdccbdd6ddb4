package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"mellium.im/xmpp/jid"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/c2s"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/connlimit"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/internal/username"
)

// Defaults of Config.
const (
	DefaultDomain       = "localhost"
	DefaultDataDir      = "./data"
	DefaultC2SAddr      = "127.0.0.1:5222"
	DefaultHTTPAddr     = "127.0.0.1:5280"
	DefaultRegistration = string(register.InviteOnly)
	DefaultLogLevel     = "info"
	DefaultLogFormat    = "text"
	// PluginBinary is the plugin's file name, looked for beside xmppd, then on PATH.
	PluginBinary = "invites-plugin"
	// DemoAdmin is the localpart of the demo's administrator.
	DemoAdmin = "admin"
)

// Config is xmppd's configuration: the TOML file given with -config, with each
// command-line flag overriding its key.
// The zero value of each field means its documented default.
type Config struct {
	// Domain is the XMPP domain served (flag -domain). Default "localhost".
	Domain string `toml:"domain"`
	// DataDir holds the account store (accounts.db), the generated TLS certificate
	// (tls/) and the plugin's data (invites.db) (flag -data). Default "./data".
	DataDir string `toml:"data_dir"`
	// C2S is the TCP address of the client listener (flag -c2s).
	// Default "127.0.0.1:5222"; use ":5222" to serve every interface.
	C2S string `toml:"c2s"`
	// HTTP is the TCP address of the HTTP server that serves /invites_api
	// (flag -http). Default "127.0.0.1:5280".
	HTTP string `toml:"http"`
	// HTTPURL is the public base URL of the HTTP server, as clients reach it
	// through any proxy, given to the plugin for landing pages (flag -http-url).
	// Default "http://" + HTTP (with 127.0.0.1 for an unspecified host).
	HTTPURL string `toml:"http_url"`
	// Admins are the bare JIDs of administrators, who may run the key commands
	// (flag -admin, repeatable; flags replace the file's list). Default none.
	Admins []string `toml:"admins"`
	// Plugin is the path of the invites-plugin binary (flag -plugin).
	// Default: invites-plugin beside the xmppd binary, else on PATH.
	Plugin string `toml:"plugin"`
	// PluginConfig is the plugin's own TOML config (landing page, lifetimes,
	// limits, store), passed through (flag -plugin-config). Default none.
	PluginConfig string `toml:"plugin_config"`
	// Registration is who may register accounts in-band: "invite-only", "open" or
	// "closed" (flag -registration). Default "invite-only".
	Registration string `toml:"registration"`
	// TLSCert and TLSKey are PEM files of the STARTTLS certificate chain and key
	// (flags -tls-cert, -tls-key); both or neither. Default: a self-signed
	// certificate generated in DataDir/tls at first start and kept.
	TLSCert string `toml:"tls_cert"`
	// TLSKey is the key of TLSCert; see there.
	TLSKey string `toml:"tls_key"`
	// MaxStanzaSize bounds one stanza of an authenticated client, in bytes
	// (flag -max-stanza-size). Default 262144 (256 KiB); at least 10000.
	MaxStanzaSize int64 `toml:"max_stanza_size"`
	// MaxUnauthenticatedPerAddr bounds the client connections of one address (an
	// IPv4 address or an IPv6 /64) that have not logged in yet; more are closed at
	// once (flag -max-unauthenticated-per-addr). Default 10; at most 100000.
	MaxUnauthenticatedPerAddr int `toml:"max_unauthenticated_per_addr"`
	// MaxSessionsPerAccount bounds the logged-in client sessions of one account;
	// administrators have no bound (flag -max-sessions-per-account). Default 10; at
	// most 100000.
	MaxSessionsPerAccount int `toml:"max_sessions_per_account"`
	// MaxSessionsPerAddr bounds the logged-in client sessions from one address (an
	// IPv4 address or an IPv6 /64), whichever their accounts; administrators' do not
	// count (flag -max-sessions-per-addr). Default 50; at most 100000.
	MaxSessionsPerAddr int `toml:"max_sessions_per_addr"`
	// MaxInvitationFailuresPerAddr is how many invalid invitations (in-band pre-auth
	// tokens, the registration form's invitation field) one address may try per 10
	// minutes before its checks are refused unchecked; one is forgiven every
	// 10 minutes / N (flag -max-invitation-failures-per-addr). Default 10; at most
	// 100000.
	MaxInvitationFailuresPerAddr int `toml:"max_invitation_failures_per_addr"`
	// ReservedNames are account names only the operator creates (xmppd adduser):
	// registration refuses them and every name that looks like one (Unicode TS #39
	// skeletons), as it does the administrators' names (flag -reserved-name,
	// repeatable; flags replace the file's list; an empty list in the file reserves
	// none). Default: admin, administrator, root, postmaster, abuse, support,
	// security, webmaster, hostmaster, xmpp, www, noreply.
	ReservedNames []string `toml:"reserved_names"`
	// HTTPMaxConnections bounds the connections the HTTP server holds; past it an
	// idle keep-alive connection is closed to make room, else the newcomer gets 503
	// (flag -http-max-connections). Default 1000; at most 1000000.
	HTTPMaxConnections int `toml:"http_max_connections"`
	// HTTPMaxConnectionsPerAddr bounds the HTTP connections of one client address
	// (an IPv4 address or an IPv6 /64; behind a reverse proxy, the proxy's): more
	// get 503 (flag -http-max-connections-per-addr). Default 100; at most 1000000.
	HTTPMaxConnectionsPerAddr int `toml:"http_max_connections_per_addr"`
	// LogLevel is "debug", "info", "warn" or "error" (flag -log-level).
	// Default "info". The log goes to standard error.
	LogLevel string `toml:"log_level"`
	// LogFormat is "text" (key=value lines) or "json" (one JSON object a line, for log
	// shippers) (flag -log-format). Default "text".
	LogFormat string `toml:"log_format"`
	// MetricsAllow are the client addresses ("127.0.0.1") or networks ("10.0.0.0/8")
	// that /metrics answers; others get 403 (flag -metrics-allow, repeatable; flags
	// replace the file's list). Default: the loopback addresses.
	MetricsAllow []string `toml:"metrics_allow"`

	// Demo is set by -demo only: zero-configuration demonstration mode.
	Demo bool `toml:"-"`
	// Version is set by -version (or --version) only: print the version and exit.
	Version bool `toml:"-"`
}

// usage is printed for -h and usage errors.
const usage = `Usage:
  xmppd [FLAGS]                      run the server
  xmppd [FLAGS] adduser JID PASSWORD add an account (PASSWORD "-" reads it from stdin)
  xmppd -demo                        run with zero configuration and print how to try it
  xmppd help                         this help (also -h, --help)
  xmppd -version                     print the version: module, VCS revision, Go

Flags:
`

// stringList is a repeatable flag.
type stringList []string

// String implements flag.Value.
func (s *stringList) String() string { return strings.Join(*s, ",") }

// Set implements flag.Value: each use adds one value.
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parseArgs parses the command line: the flags (anywhere before "--"), the TOML
// file they name, and the remaining words. Flags win over the file.
func parseArgs(args []string, stderr io.Writer) (Config, []string, error) {
	var flagCfg Config
	var configFile string
	var admins stringList
	fs := flag.NewFlagSet("xmppd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&configFile, "config", "", "TOML config `file` (keys: see the README); flags override it")
	fs.StringVar(&flagCfg.Domain, "domain", DefaultDomain, "XMPP `domain` served")
	fs.StringVar(&flagCfg.DataDir, "data", DefaultDataDir, "data `directory`")
	fs.StringVar(&flagCfg.C2S, "c2s", DefaultC2SAddr, "client listener `address`")
	fs.StringVar(&flagCfg.HTTP, "http", DefaultHTTPAddr, "HTTP listener `address` (serves /invites_api)")
	fs.StringVar(&flagCfg.HTTPURL, "http-url", "", "public base `URL` of the HTTP server (default http://ADDRESS)")
	fs.Var(&admins, "admin", "administrator bare `JID` (repeatable)")
	fs.StringVar(&flagCfg.Plugin, "plugin", "", "invites-plugin `path` (default: beside xmppd, then PATH)")
	fs.StringVar(&flagCfg.PluginConfig, "plugin-config", "", "the plugin's TOML config `file`")
	fs.StringVar(&flagCfg.Registration, "registration", DefaultRegistration, "in-band registration `mode`: invite-only, open or closed")
	fs.StringVar(&flagCfg.TLSCert, "tls-cert", "", "TLS certificate chain `file` (PEM; default: self-signed in DATA/tls)")
	fs.StringVar(&flagCfg.TLSKey, "tls-key", "", "TLS private key `file` (PEM)")
	fs.Int64Var(&flagCfg.MaxStanzaSize, "max-stanza-size", 0, "largest client stanza in `bytes` (default 262144)")
	fs.IntVar(&flagCfg.MaxUnauthenticatedPerAddr, "max-unauthenticated-per-addr", 0, "client connections of one address not logged in yet, at most (default 10)")
	fs.IntVar(&flagCfg.MaxSessionsPerAccount, "max-sessions-per-account", 0, "logged-in sessions of one account, at most; administrators have no bound (default 10)")
	fs.IntVar(&flagCfg.MaxSessionsPerAddr, "max-sessions-per-addr", 0, "logged-in sessions from one address, at most; administrators' do not count (default 50)")
	fs.IntVar(&flagCfg.MaxInvitationFailuresPerAddr, "max-invitation-failures-per-addr", 0, "invalid invitations one address may try per 10 minutes (default 10)")
	var reserved stringList
	fs.Var(&reserved, "reserved-name", "account `name` only adduser creates, nor any name that looks like it (repeatable; default admin, root, postmaster, …)")
	fs.IntVar(&flagCfg.HTTPMaxConnections, "http-max-connections", 0, "HTTP connections held at once, at most (default 1000)")
	fs.IntVar(&flagCfg.HTTPMaxConnectionsPerAddr, "http-max-connections-per-addr", 0, "HTTP connections of one client address, at most (default 100)")
	fs.StringVar(&flagCfg.LogLevel, "log-level", DefaultLogLevel, "log `level`: debug, info, warn or error")
	fs.StringVar(&flagCfg.LogFormat, "log-format", DefaultLogFormat, "log `format`: text or json")
	var metricsAllow stringList
	fs.Var(&metricsAllow, "metrics-allow", "client `address` or network /metrics answers (repeatable; default loopback)")
	fs.BoolVar(&flagCfg.Version, "version", false, "print the version and exit")
	fs.BoolVar(&flagCfg.Demo, "demo", false, "demo mode: create admin@DOMAIN and an API key, turn the invite page on, print an invite and how to try it")

	// Flags may come before and after the sub-command.
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return Config{}, nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			rest = append(rest, args[1:]...)
			break
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var cfg Config
	if configFile != "" {
		var err error
		if cfg, err = loadFile(configFile); err != nil {
			return Config{}, nil, err
		}
	}
	over := map[string]func(){
		"domain":          func() { cfg.Domain = flagCfg.Domain },
		"data":            func() { cfg.DataDir = flagCfg.DataDir },
		"c2s":             func() { cfg.C2S = flagCfg.C2S },
		"http":            func() { cfg.HTTP = flagCfg.HTTP },
		"http-url":        func() { cfg.HTTPURL = flagCfg.HTTPURL },
		"admin":           func() { cfg.Admins = admins },
		"plugin":          func() { cfg.Plugin = flagCfg.Plugin },
		"plugin-config":   func() { cfg.PluginConfig = flagCfg.PluginConfig },
		"registration":    func() { cfg.Registration = flagCfg.Registration },
		"tls-cert":        func() { cfg.TLSCert = flagCfg.TLSCert },
		"tls-key":         func() { cfg.TLSKey = flagCfg.TLSKey },
		"max-stanza-size": func() { cfg.MaxStanzaSize = flagCfg.MaxStanzaSize },
		"log-level":       func() { cfg.LogLevel = flagCfg.LogLevel },
		"log-format":      func() { cfg.LogFormat = flagCfg.LogFormat },
		"metrics-allow":   func() { cfg.MetricsAllow = metricsAllow },
		"max-unauthenticated-per-addr": func() {
			cfg.MaxUnauthenticatedPerAddr = flagCfg.MaxUnauthenticatedPerAddr
		},
		"max-sessions-per-account": func() { cfg.MaxSessionsPerAccount = flagCfg.MaxSessionsPerAccount },
		"max-sessions-per-addr":    func() { cfg.MaxSessionsPerAddr = flagCfg.MaxSessionsPerAddr },
		"max-invitation-failures-per-addr": func() {
			cfg.MaxInvitationFailuresPerAddr = flagCfg.MaxInvitationFailuresPerAddr
		},
		"reserved-name":        func() { cfg.ReservedNames = reserved },
		"http-max-connections": func() { cfg.HTTPMaxConnections = flagCfg.HTTPMaxConnections },
		"http-max-connections-per-addr": func() {
			cfg.HTTPMaxConnectionsPerAddr = flagCfg.HTTPMaxConnectionsPerAddr
		},
	}
	for name, apply := range over {
		if set[name] {
			apply()
		}
	}
	cfg.Demo = flagCfg.Demo
	cfg.Version = flagCfg.Version
	return cfg, rest, nil
}

// loadFile decodes a TOML config strictly: an unknown key is an error.
func loadFile(path string) (Config, error) {
	var cfg Config
	md, err := toml.DecodeFile(path, &cfg)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	return cfg, nil
}

// Normalize fills in the defaults and checks the result; it is the one place
// defaults are set.
func (c *Config) Normalize() error {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&c.Domain, DefaultDomain)
	def(&c.DataDir, DefaultDataDir)
	def(&c.C2S, DefaultC2SAddr)
	def(&c.HTTP, DefaultHTTPAddr)
	def(&c.Registration, DefaultRegistration)
	def(&c.LogLevel, DefaultLogLevel)
	def(&c.LogFormat, DefaultLogFormat)
	if c.MaxStanzaSize == 0 {
		c.MaxStanzaSize = 256 << 10
	}
	if c.MaxUnauthenticatedPerAddr == 0 {
		c.MaxUnauthenticatedPerAddr = c2s.DefaultMaxPendingPerAddr
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&c.MaxSessionsPerAccount, c2s.DefaultMaxSessionsPerAccount)
	defInt(&c.MaxSessionsPerAddr, c2s.DefaultMaxSessionsPerAddr)
	defInt(&c.MaxInvitationFailuresPerAddr, register.DefaultMaxTokenFailuresPerAddr)
	defInt(&c.HTTPMaxConnections, connlimit.DefaultMaxConns)
	defInt(&c.HTTPMaxConnectionsPerAddr, connlimit.DefaultMaxConnsPerAddr)
	if c.ReservedNames == nil {
		c.ReservedNames = username.DefaultReserved()
	}
	return c.Validate()
}

// Validate checks a normalized Config.
func (c *Config) Validate() error {
	var errs []error
	d, err := jid.Parse(c.Domain)
	if err != nil || d.Localpart() != "" || d.Resourcepart() != "" {
		errs = append(errs, fmt.Errorf("domain: %q is not a domain", c.Domain))
	} else {
		c.Domain = d.String()
	}
	for _, a := range []struct{ name, addr string }{{"c2s", c.C2S}, {"http", c.HTTP}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.name, err))
		}
	}
	for i, a := range c.Admins {
		j, err := jid.Parse(a)
		if err != nil || j.Localpart() == "" || j.Resourcepart() != "" {
			errs = append(errs, fmt.Errorf("admins: %q is not a bare JID", a))
			continue
		}
		c.Admins[i] = j.String()
	}
	if _, err := register.ParseMode(c.Registration); err != nil {
		errs = append(errs, fmt.Errorf("registration: %w", err))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tls_cert and tls_key go together"))
	}
	if c.MaxStanzaSize < 10000 || c.MaxStanzaSize > 64<<20 {
		errs = append(errs, errors.New("max_stanza_size must be between 10000 and 67108864"))
	}
	for _, b := range []struct {
		key      string
		v, upper int
	}{
		{"max_unauthenticated_per_addr", c.MaxUnauthenticatedPerAddr, 100000},
		{"max_sessions_per_account", c.MaxSessionsPerAccount, 100000},
		{"max_sessions_per_addr", c.MaxSessionsPerAddr, 100000},
		{"max_invitation_failures_per_addr", c.MaxInvitationFailuresPerAddr, 100000},
		{"http_max_connections", c.HTTPMaxConnections, 1000000},
		{"http_max_connections_per_addr", c.HTTPMaxConnectionsPerAddr, 1000000},
	} {
		if b.v < 1 || b.v > b.upper {
			errs = append(errs, fmt.Errorf("%s must be between 1 and %d", b.key, b.upper))
		}
	}
	for i, n := range c.ReservedNames {
		norm, err := username.Normalize(n)
		if err != nil {
			errs = append(errs, fmt.Errorf("reserved_names: %q: %w", n, err))
			continue
		}
		c.ReservedNames[i] = norm
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log_format: %q is not a format: use text or json", c.LogFormat))
	}
	if _, err := c.metricsAllow(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// parseLevel parses a log level name: debug, info, warn or error, in any case.
func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log_level: %q is not a level: use debug, info, warn or error", s)
}

// metricsAllow returns MetricsAllow as networks; nil (the host's default, loopback)
// when it is empty.
func (c *Config) metricsAllow() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, a := range c.MetricsAllow {
		var (
			p   netip.Prefix
			err error
		)
		if strings.Contains(a, "/") {
			p, err = netip.ParsePrefix(a)
			p = p.Masked()
		} else {
			var addr netip.Addr
			addr, err = netip.ParseAddr(a)
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		if err != nil {
			return nil, fmt.Errorf("metrics_allow: %q is not an address or network", a)
		}
		out = append(out, p)
	}
	return out, nil
}

// pluginPath finds the plugin binary: the configured path, else invites-plugin
// beside the running xmppd, else on PATH.
func (c *Config) pluginPath(lookPath func(string) (string, error)) (string, error) {
	if c.Plugin != "" {
		return c.Plugin, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), PluginBinary)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	p, err := lookPath(PluginBinary)
	if err != nil {
		return "", fmt.Errorf("%s not found beside xmppd nor on PATH (use -plugin): %w", PluginBinary, err)
	}
	return p, nil
}

// httpURL returns the public base URL of the HTTP server listening on addr.
func (c *Config) httpURL(addr net.Addr) string {
	if c.HTTPURL != "" {
		return strings.TrimRight(c.HTTPURL, "/")
	}
	return "http://" + loopbackIfUnspecified(addr)
}

// loopbackIfUnspecified renders addr, with 127.0.0.1 for an unspecified host.
func loopbackIfUnspecified(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// reservedNames returns the localparts that only the operator creates (xmppd
// adduser): ReservedNames and those of the administrators of the served domain.
func (c *Config) reservedNames() []string {
	out := slices.Clone(c.ReservedNames)
	for _, a := range c.Admins {
		if local, domain, ok := strings.Cut(a, "@"); ok && domain == c.Domain {
			out = append(out, local)
		}
	}
	return out
}
