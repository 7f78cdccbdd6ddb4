package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/c2s"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/connlimit"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/internal/config/reference"
	"github.com/xmpp-invites/invites/internal/username"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "xmppd.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseArgs(t *testing.T) {
	file := writeConfig(t, `
domain = "Example.COM"
data_dir = "/var/lib/xmppd"
c2s = ":5222"
admins = ["a@example.com", "b@example.com"]
registration = "open"
max_stanza_size = 100000
`)
	tests := [...]struct {
		args []string
		want Config
		rest []string
	}{
		0: { // nothing: the defaults
			want: Config{Domain: "localhost", DataDir: "./data", C2S: "127.0.0.1:5222", HTTP: "127.0.0.1:5280",
				Registration: "invite-only", MaxStanzaSize: 256 << 10, LogLevel: "info", LogFormat: "text", MaxUnauthenticatedPerAddr: 10},
		},
		1: { // the file, normalized
			args: []string{"-config", file},
			want: Config{Domain: "example.com", DataDir: "/var/lib/xmppd", C2S: ":5222", HTTP: "127.0.0.1:5280",
				Admins: []string{"a@example.com", "b@example.com"}, Registration: "open", MaxStanzaSize: 100000, LogLevel: "info", LogFormat: "text", MaxUnauthenticatedPerAddr: 10},
		},
		2: { // flags win, -admin replaces the list
			args: []string{"-config", file, "-domain", "example.org", "-admin", "x@example.org", "-admin", "y@example.org", "-registration", "closed"},
			want: Config{Domain: "example.org", DataDir: "/var/lib/xmppd", C2S: ":5222", HTTP: "127.0.0.1:5280",
				Admins: []string{"x@example.org", "y@example.org"}, Registration: "closed", MaxStanzaSize: 100000, LogLevel: "info", LogFormat: "text", MaxUnauthenticatedPerAddr: 10},
		},
		3: { // a sub-command with flags on both sides
			args: []string{"-data", "d", "adduser", "-domain", "example.net", "u@example.net", "pw"},
			want: Config{Domain: "example.net", DataDir: "d", C2S: "127.0.0.1:5222", HTTP: "127.0.0.1:5280",
				Registration: "invite-only", MaxStanzaSize: 256 << 10, LogLevel: "info", LogFormat: "text", MaxUnauthenticatedPerAddr: 10},
			rest: []string{"adduser", "u@example.net", "pw"},
		},
		4: { // everything else
			args: []string{"-demo", "-plugin", "/p", "-plugin-config", "/pc", "-tls-cert", "c", "-tls-key", "k",
				"-http", ":80", "-http-url", "https://example.com/", "-log-level", "debug", "-max-stanza-size", "20000"},
			want: Config{Domain: "localhost", DataDir: "./data", C2S: "127.0.0.1:5222", HTTP: ":80", HTTPURL: "https://example.com/",
				Plugin: "/p", PluginConfig: "/pc", TLSCert: "c", TLSKey: "k", Registration: "invite-only",
				MaxStanzaSize: 20000, LogLevel: "debug", LogFormat: "text", Demo: true, MaxUnauthenticatedPerAddr: 10},
		},
		5: { // "--" ends the flags
			args: []string{"adduser", "--", "-weird@localhost", "pw"},
			want: Config{Domain: "localhost", DataDir: "./data", C2S: "127.0.0.1:5222", HTTP: "127.0.0.1:5280",
				Registration: "invite-only", MaxStanzaSize: 256 << 10, LogLevel: "info", LogFormat: "text", MaxUnauthenticatedPerAddr: 10},
			rest: []string{"adduser", "-weird@localhost", "pw"},
		},
		6: { // the limits, from the file; an empty list of reserved names reserves none
			args: []string{"-config", writeConfig(t, `
max_sessions_per_account = 3
max_sessions_per_addr = 7
max_invitation_failures_per_addr = 4
http_max_connections = 200
http_max_connections_per_addr = 20
reserved_names = []
`)},
			want: Config{Domain: "localhost", DataDir: "./data", C2S: "127.0.0.1:5222", HTTP: "127.0.0.1:5280",
				Registration: "invite-only", MaxStanzaSize: 256 << 10, LogLevel: "info", LogFormat: "text", MaxUnauthenticatedPerAddr: 10,
				MaxSessionsPerAccount: 3, MaxSessionsPerAddr: 7, MaxInvitationFailuresPerAddr: 4, HTTPMaxConnections: 200,
				HTTPMaxConnectionsPerAddr: 20, ReservedNames: []string{}},
		},
		7: { // and from flags, which win; reserved names are normalized
			args: []string{"-max-sessions-per-account", "2", "-max-sessions-per-addr", "9", "-max-invitation-failures-per-addr", "1",
				"-http-max-connections", "50", "-http-max-connections-per-addr", "5", "-reserved-name", "Boss", "-reserved-name", "Ops"},
			want: Config{Domain: "localhost", DataDir: "./data", C2S: "127.0.0.1:5222", HTTP: "127.0.0.1:5280",
				Registration: "invite-only", MaxStanzaSize: 256 << 10, LogLevel: "info", LogFormat: "text", MaxUnauthenticatedPerAddr: 10,
				MaxSessionsPerAccount: 2, MaxSessionsPerAddr: 9, MaxInvitationFailuresPerAddr: 1, HTTPMaxConnections: 50,
				HTTPMaxConnectionsPerAddr: 5, ReservedNames: []string{"boss", "ops"}},
		},
	}
	for i, tc := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			cfg, rest, err := parseArgs(tc.args, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if err := cfg.Normalize(); err != nil {
				t.Fatal(err)
			}
			if want := withDefaults(tc.want); !reflect.DeepEqual(cfg, want) {
				t.Fatalf("got  %+v\nwant %+v", cfg, want)
			}
			if !reflect.DeepEqual(rest, tc.rest) {
				t.Fatalf("rest %q, want %q", rest, tc.rest)
			}
		})
	}
}

// withDefaults fills in the limits a test's Config leaves zero with their defaults.
func withDefaults(c Config) Config {
	for _, f := range []struct {
		v *int
		d int
	}{
		{&c.MaxSessionsPerAccount, c2s.DefaultMaxSessionsPerAccount}, {&c.MaxSessionsPerAddr, c2s.DefaultMaxSessionsPerAddr},
		{&c.MaxInvitationFailuresPerAddr, register.DefaultMaxTokenFailuresPerAddr},
		{&c.HTTPMaxConnections, connlimit.DefaultMaxConns}, {&c.HTTPMaxConnectionsPerAddr, connlimit.DefaultMaxConnsPerAddr},
	} {
		if *f.v == 0 {
			*f.v = f.d
		}
	}
	if c.ReservedNames == nil {
		c.ReservedNames = username.DefaultReserved()
	}
	return c
}

func TestConfigErrors(t *testing.T) {
	tests := [...]struct {
		file string
		args []string
		want string
	}{
		0:  {file: `domian = "x"`, want: "unknown keys: domian"},
		1:  {file: `domain = 5`, want: "domain"},
		2:  {file: `[extra]` + "\n" + `a = 1`, want: "unknown keys"},
		3:  {args: []string{"-domain", "a@b"}, want: "not a domain"},
		4:  {args: []string{"-registration", "sometimes"}, want: "registration"},
		5:  {args: []string{"-admin", "example.com"}, want: "not a bare JID"},
		6:  {args: []string{"-tls-cert", "c"}, want: "tls_cert and tls_key"},
		7:  {args: []string{"-c2s", "nonsense"}, want: "c2s"},
		8:  {args: []string{"-log-level", "loud"}, want: "log_level"},
		9:  {args: []string{"-max-stanza-size", "10"}, want: "max_stanza_size"},
		10: {args: []string{"-nope"}, want: "flag provided but not defined"},
		11: {args: []string{"-max-unauthenticated-per-addr", "-1"}, want: "max_unauthenticated_per_addr"},
		// The valid values are named, never slog's own text.
		12: {args: []string{"-log-level", "verbose"}, want: `log_level: "verbose" is not a level: use debug, info, warn or error`},
		13: {args: []string{"-log-format", "xml"}, want: `log_format: "xml" is not a format: use text or json`},
		14: {args: []string{"-metrics-allow", "localhost"}, want: `metrics_allow: "localhost" is not an address or network`},
		15: {file: `metrics_allow = ["10.0.0.0/33"]`, want: "metrics_allow"},
		16: {args: []string{"-max-sessions-per-account", "-2"}, want: "max_sessions_per_account must be between 1 and 100000"},
		17: {file: `max_sessions_per_addr = 100001`, want: "max_sessions_per_addr must be between 1 and 100000"},
		18: {args: []string{"-http-max-connections-per-addr", "-1"}, want: "http_max_connections_per_addr must be between 1 and 1000000"},
		19: {args: []string{"-reserved-name", "a b"}, want: `reserved_names: "a b": the username is not valid`},
		20: {file: `max_invitation_failures_per_addr = -5`, want: "max_invitation_failures_per_addr"},
	}
	for i, tc := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			args := tc.args
			if tc.file != "" {
				args = append([]string{"-config", writeConfig(t, tc.file)}, args...)
			}
			cfg, _, err := parseArgs(args, io.Discard)
			if err == nil {
				err = cfg.Normalize()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPluginPath(t *testing.T) {
	c := Config{Plugin: "/opt/p"}
	if p, err := c.pluginPath(nil); err != nil || p != "/opt/p" {
		t.Fatalf("configured: %q %v", p, err)
	}
	c = Config{}
	p, err := c.pluginPath(func(name string) (string, error) { return "/usr/bin/" + name, nil })
	// Beside the test binary there is no invites-plugin, so PATH is asked.
	if err != nil || p != "/usr/bin/invites-plugin" {
		t.Fatalf("PATH: %q %v", p, err)
	}
	if _, err := c.pluginPath(func(string) (string, error) { return "", os.ErrNotExist }); err == nil {
		t.Fatal("no plugin anywhere, no error")
	}
}

func TestAddUser(t *testing.T) {
	dir := t.TempDir()
	var out strings.Builder
	args := []string{"-data", dir, "adduser", "Alice@localhost", "pw"}
	if code := run(t.Context(), args, nil, &out, io.Discard); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	if out.String() != "Added alice@localhost\n" {
		t.Fatalf("stdout %q", out.String())
	}
	var errOut strings.Builder
	if code := run(t.Context(), args, nil, io.Discard, &errOut); code != exitError || !strings.Contains(errOut.String(), "already exists") {
		t.Fatalf("duplicate: exit %d, %q", code, errOut.String())
	}
	stdin := strings.NewReader("from stdin\n")
	if code := run(t.Context(), []string{"-data", dir, "adduser", "bob@localhost", "-"}, stdin, io.Discard, io.Discard); code != exitOK {
		t.Fatalf("stdin password: exit %d", code)
	}
	for _, bad := range [][]string{
		{"-data", dir, "adduser", "carol@localhost"},
		{"-data", dir, "adduser", "localhost", "pw"},
		{"-data", dir, "frobnicate"},
	} {
		if code := run(t.Context(), bad, nil, io.Discard, io.Discard); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", bad, code, exitUsage)
		}
	}
	if code := run(t.Context(), []string{"-data", dir, "adduser", "dave@example.org", "pw"}, nil, io.Discard, io.Discard); code != exitError {
		t.Errorf("other domain: exit %d", code)
	}
	// Names that look like an account's or a reserved name's are refused, naming it;
	// the operator makes a reserved name itself.
	for _, tc := range []struct{ args, want string }{
		{"аlice@localhost", "аlice@localhost looks too much like the account alice@localhost: choose another name"},
		{"ALİCE@localhost", "ali̇ce@localhost looks too much like the account alice@localhost: choose another name"},
		{"ᴀdmin@localhost", "ᴀdmin@localhost looks too much like the reserved name admin: choose another name"},
		{"b0ss@localhost -admin boss@localhost", "b0ss@localhost looks too much like the reserved name boss: choose another name"},
	} {
		var errOut strings.Builder
		args := append([]string{"-data", dir, "adduser"}, strings.Fields(tc.args)...)
		args = append(args, "pw")
		if code := run(t.Context(), args, nil, io.Discard, &errOut); code != exitError || !strings.Contains(errOut.String(), tc.want) {
			t.Errorf("adduser %s: exit %d, %q", tc.args, code, errOut.String())
		}
	}
	if code := run(t.Context(), []string{"-data", dir, "adduser", "admin@localhost", "pw"}, nil, io.Discard, io.Discard); code != exitOK {
		t.Errorf("adduser of a reserved name: exit %d", code)
	}
}

// TestHelpWordAndBuild (issue 16): "help" is a command, as for invites-plugin (the
// usage on standard output, exit 0), and --version names the build: module version,
// VCS revision when stamped, Go version.
func TestHelpWordAndBuild(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(t.Context(), []string{"-data", "x", "help"}, nil, &out, &errOut); code != exitOK ||
		!strings.HasPrefix(out.String(), "Usage:") || !strings.Contains(out.String(), "-plugin-config") || errOut.Len() != 0 {
		t.Errorf("help: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run(t.Context(), []string{"--version"}, nil, &out, io.Discard); code != exitOK ||
		!strings.HasPrefix(out.String(), "xmppd ") || !strings.Contains(out.String(), runtime.Version()) {
		t.Errorf("--version: exit %d, stdout %q", code, out.String())
	}
}

// TestConfigReference: every default a field comment of Config states is the one
// Normalize fills, and every flag -h lists is a key's or one of the flag-only
// switches, as docs/configuration.md (generated from these comments) says.
func TestConfigReference(t *testing.T) {
	tables, err := reference.Load(t.Context(), ".", "github.com/xmpp-invites/invites/examples/xmppd", "Config")
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := c.Normalize(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
	if err := reference.Check(tables, c); err != nil {
		t.Error(err)
	}
	documented := map[string]bool{"config": true, "h": true}
	for _, tb := range tables {
		for _, k := range tb.Keys {
			documented[k.Flag] = true
		}
	}
	var help strings.Builder
	if _, _, err := parseArgs([]string{"-h"}, &help); err == nil {
		t.Fatal("-h parsed")
	}
	flags := regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`).FindAllStringSubmatch(help.String(), -1)
	if len(flags) < 20 {
		t.Fatalf("%d flags in the help:\n%s", len(flags), help.String())
	}
	for _, f := range flags {
		if !documented[f[1]] {
			t.Errorf("flag -%s is not documented", f[1])
		}
	}
	// The help shows the defaults the code fills, never restated.
	for _, want := range []string{`(default "localhost")`, "(default 262144)", "(default admin,administrator,"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("the help lacks %s:\n%s", want, help.String())
		}
	}
}

// TestShippedConfig: the packaged /etc/invites/xmppd.toml is valid.
func TestShippedConfig(t *testing.T) {
	cfg, err := loadFile(filepath.Join("..", "..", "deploy", "etc", "xmppd.toml"))
	if err == nil {
		err = cfg.Normalize()
	}
	if err != nil {
		t.Error(err)
	}
}
