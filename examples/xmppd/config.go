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
	"reflect"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"mellium.im/xmpp/jid"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/c2s"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/connlimit"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/internal/username"
)

// Defaults of Config; the others are the components' (c2s, connlimit, register,
// username).
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

// Bounds of Config.
const (
	minStanzaSize = 10000
	maxStanzaSize = 64 << 20
	// maxPerAddr bounds the limits per address and per account.
	maxPerAddr = 100000
	// maxConns bounds the HTTP connection limits.
	maxConns = 1000000
)

// Config is xmppd's configuration: the TOML file given with -config FILE, each key of
// which has a command-line flag that overrides it; the flag of a list is repeatable
// and replaces the file's list.
// The zero value of each field means its documented default, filled by Normalize; a
// flag's default is that value.
type Config struct {
	// Domain is the XMPP domain served. Default [DefaultDomain].
	Domain string `toml:"domain" flag:"domain" usage:"XMPP {domain} served"`
	// DataDir holds the account store (accounts.db), the generated TLS certificate
	// (tls/) and the plugin's data (invites.db). Default [DefaultDataDir].
	DataDir string `toml:"data_dir" flag:"data" usage:"data {directory}"`
	// C2S is the TCP address of the client listener; ":5222" serves every interface.
	// Default [DefaultC2SAddr].
	C2S string `toml:"c2s" flag:"c2s" usage:"client listener {address}"`
	// HTTP is the TCP address of the HTTP server that serves the invite API, the
	// invite page and /metrics. Default [DefaultHTTPAddr].
	HTTP string `toml:"http" flag:"http" usage:"HTTP listener {address} (serves /invites_api)"`
	// HTTPURL is the public base URL of the HTTP server, as clients reach it through
	// any proxy, given to the plugin for landing pages.
	// Default: "http://" and the HTTP listener's address (127.0.0.1 for an
	// unspecified host).
	HTTPURL string `toml:"http_url" flag:"http-url" usage:"public base {URL} of the HTTP server (default http://ADDRESS)"`
	// Admins are the bare JIDs of administrators, who may run the key commands and log
	// in past the session limits. Default none.
	Admins []string `toml:"admins" flag:"admin" usage:"administrator bare {JID} (repeatable)"`
	// Plugin is the path of the invites-plugin binary.
	// Default: invites-plugin beside the xmppd binary, else on PATH.
	Plugin string `toml:"plugin" flag:"plugin" usage:"invites-plugin {path} (default: beside xmppd, then PATH)"`
	// PluginConfig is the plugin's own TOML config (landing page, lifetimes, limits,
	// store), passed through. Default none: the plugin's defaults.
	PluginConfig string `toml:"plugin_config" flag:"plugin-config" usage:"the plugin's TOML config {file}"`
	// Registration is who may register accounts in-band: "invite-only", "open" or
	// "closed". Default [DefaultRegistration].
	Registration string `toml:"registration" flag:"registration" usage:"in-band registration {mode}: invite-only, open or closed"`
	// TLSCert is the PEM file of the STARTTLS certificate chain; with TLSKey, both or
	// neither.
	// Default: a self-signed certificate generated in DataDir/tls at first start and
	// kept.
	TLSCert string `toml:"tls_cert" flag:"tls-cert" usage:"TLS certificate chain {file} (PEM; default: self-signed in DATA/tls)"`
	// TLSKey is the PEM file of the key of TLSCert. Default: the self-signed
	// certificate's.
	TLSKey string `toml:"tls_key" flag:"tls-key" usage:"TLS private key {file} (PEM)"`
	// MaxStanzaSize bounds one stanza of an authenticated client, in bytes; a larger
	// one ends that client's stream.
	// Default [c2s.DefaultMaxStanzaSize]; from [minStanzaSize] to [maxStanzaSize].
	MaxStanzaSize int64 `toml:"max_stanza_size" flag:"max-stanza-size" usage:"largest client stanza in {bytes}"`
	// MaxUnauthenticatedPerAddr bounds the client connections of one address (an
	// IPv4 address or an IPv6 /64) that have not logged in yet; more are closed at
	// once. Default [c2s.DefaultMaxPendingPerAddr]; at most [maxPerAddr].
	MaxUnauthenticatedPerAddr int `toml:"max_unauthenticated_per_addr" flag:"max-unauthenticated-per-addr" usage:"client connections of one address not logged in yet, at most"`
	// MaxSessionsPerAccount bounds the logged-in client sessions of one account; a
	// login past it ends with policy-violation saying so. Administrators have no bound.
	// Default [c2s.DefaultMaxSessionsPerAccount]; at most [maxPerAddr].
	MaxSessionsPerAccount int `toml:"max_sessions_per_account" flag:"max-sessions-per-account" usage:"logged-in sessions of one account, at most; administrators have no bound"`
	// MaxSessionsPerAddr bounds the logged-in client sessions from one address (an
	// IPv4 address or an IPv6 /64), whichever their accounts; administrators' do not
	// count. Default [c2s.DefaultMaxSessionsPerAddr]; at most [maxPerAddr].
	MaxSessionsPerAddr int `toml:"max_sessions_per_addr" flag:"max-sessions-per-addr" usage:"logged-in sessions from one address, at most; administrators' do not count"`
	// MaxInvitationFailuresPerAddr is how many invalid invitations (in-band pre-auth
	// tokens, the registration form's invitation field) one address may try per
	// [register.DefaultTokenFailureWindow] before its checks are refused unchecked;
	// one is forgiven every [register.DefaultTokenFailureWindow] / N.
	// Default [register.DefaultMaxTokenFailuresPerAddr]; at most [maxPerAddr].
	MaxInvitationFailuresPerAddr int `toml:"max_invitation_failures_per_addr" flag:"max-invitation-failures-per-addr" usage:"invalid invitations one address may try before its checks are refused"`
	// ReservedNames are account names only the operator creates (xmppd adduser):
	// registration refuses them and every name that looks like one (Unicode TS #39
	// skeletons), as it does the administrators' names; an empty list in the file
	// reserves none beyond the administrators'.
	// Default: admin, administrator, root, postmaster, abuse, support, security,
	// webmaster, hostmaster, xmpp, www, noreply (username.DefaultReserved).
	ReservedNames []string `toml:"reserved_names" flag:"reserved-name" usage:"account {name} only adduser creates, nor any name that looks like it (repeatable)"`
	// HTTPMaxConnections bounds the connections the HTTP server holds; past it an
	// idle keep-alive connection is closed to make room, else the newcomer gets 503.
	// Default [connlimit.DefaultMaxConns]; at most [maxConns].
	HTTPMaxConnections int `toml:"http_max_connections" flag:"http-max-connections" usage:"HTTP connections held at once, at most"`
	// HTTPMaxConnectionsPerAddr bounds the HTTP connections of one client address
	// (an IPv4 address or an IPv6 /64; behind a reverse proxy, the proxy's): more
	// get 503. Default [connlimit.DefaultMaxConnsPerAddr]; at most [maxConns].
	HTTPMaxConnectionsPerAddr int `toml:"http_max_connections_per_addr" flag:"http-max-connections-per-addr" usage:"HTTP connections of one client address, at most"`
	// LogLevel is "debug", "info", "warn" or "error". The log goes to standard error.
	// Default [DefaultLogLevel].
	LogLevel string `toml:"log_level" flag:"log-level" usage:"log {level}: debug, info, warn or error"`
	// LogFormat is "text" (key=value lines) or "json" (one JSON object a line, for log
	// shippers). Default [DefaultLogFormat].
	LogFormat string `toml:"log_format" flag:"log-format" usage:"log {format}: text or json"`
	// MetricsAllow are the client addresses ("127.0.0.1") or networks ("10.0.0.0/8")
	// that /metrics answers; others get 403. Default: the loopback addresses.
	MetricsAllow []string `toml:"metrics_allow" flag:"metrics-allow" usage:"client {address} or network /metrics answers (repeatable; default loopback)"`

	// Demo runs the zero-configuration demonstration: it creates admin@DOMAIN and an
	// API key (reused by later runs), turns the invite page on, and prints an invite's
	// page and how to try it.
	Demo bool `toml:"-" flag:"demo" usage:"demo mode: create admin@DOMAIN and an API key, turn the invite page on, print an invite and how to try it"`
	// Version prints the version (module version, VCS revision, Go version) and
	// exits; --version too.
	Version bool `toml:"-" flag:"version" usage:"print the version and exit"`
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

// listFlag is a repeatable flag over a list: its first use replaces the list (its
// default, or the file's), each further use adds a value.
type listFlag struct {
	list *[]string
	set  bool
}

// String implements flag.Value.
func (l *listFlag) String() string {
	if l == nil || l.list == nil {
		return ""
	}
	return strings.Join(*l.list, ",")
}

// Set implements flag.Value.
func (l *listFlag) Set(v string) error {
	if !l.set {
		*l.list, l.set = nil, true
	}
	*l.list = append(*l.list, v)
	return nil
}

// bindFlags registers a flag for each field of c with a flag tag, its default the
// field's value and its usage the usage tag ({word} naming its argument); it returns
// the field index of each flag.
func bindFlags(fs *flag.FlagSet, c *Config) map[string]int {
	fields := map[string]int{}
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		name := sf.Tag.Get("flag")
		if name == "" {
			continue
		}
		fields[name] = i
		help := strings.NewReplacer("{", "`", "}", "`").Replace(sf.Tag.Get("usage"))
		switch p := v.Field(i).Addr().Interface().(type) {
		case *string:
			fs.StringVar(p, name, *p, help)
		case *int:
			fs.IntVar(p, name, *p, help)
		case *int64:
			fs.Int64Var(p, name, *p, help)
		case *bool:
			fs.BoolVar(p, name, *p, help)
		case *[]string:
			fs.Var(&listFlag{list: p}, name, help)
		default:
			panic("xmppd: no flag for the type of Config." + sf.Name) // a programming error, found by TestParseArgs
		}
	}
	return fields
}

// parseArgs parses the command line: the flags (anywhere before "--"), the TOML
// file they name, and the remaining words. Flags win over the file.
func parseArgs(args []string, stderr io.Writer) (Config, []string, error) {
	// The flags start at the defaults, so that -h shows them; only those given are
	// applied over the file.
	var flagCfg Config
	_ = flagCfg.Normalize() // the defaults are valid: TestConfigReference checks them
	var configFile string
	fs := flag.NewFlagSet("xmppd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&configFile, "config", "", "TOML config `file` (keys: docs/configuration.md); flags override it")
	fields := bindFlags(fs, &flagCfg)

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

	var cfg Config
	if configFile != "" {
		var err error
		if cfg, err = loadFile(configFile); err != nil {
			return Config{}, nil, err
		}
	}
	from, to := reflect.ValueOf(flagCfg), reflect.ValueOf(&cfg).Elem()
	fs.Visit(func(f *flag.Flag) {
		if i, ok := fields[f.Name]; ok {
			to.Field(i).Set(from.Field(i))
		}
	})
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
		c.MaxStanzaSize = c2s.DefaultMaxStanzaSize
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
	if c.MaxStanzaSize < minStanzaSize || c.MaxStanzaSize > maxStanzaSize {
		errs = append(errs, fmt.Errorf("max_stanza_size must be between %d and %d", minStanzaSize, maxStanzaSize))
	}
	for _, b := range []struct {
		key      string
		v, upper int
	}{
		{"max_unauthenticated_per_addr", c.MaxUnauthenticatedPerAddr, maxPerAddr},
		{"max_sessions_per_account", c.MaxSessionsPerAccount, maxPerAddr},
		{"max_sessions_per_addr", c.MaxSessionsPerAddr, maxPerAddr},
		{"max_invitation_failures_per_addr", c.MaxInvitationFailuresPerAddr, maxPerAddr},
		{"http_max_connections", c.HTTPMaxConnections, maxConns},
		{"http_max_connections_per_addr", c.HTTPMaxConnectionsPerAddr, maxConns},
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
