package main

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
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
			if !reflect.DeepEqual(cfg, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", cfg, tc.want)
			}
			if !reflect.DeepEqual(rest, tc.rest) {
				t.Fatalf("rest %q, want %q", rest, tc.rest)
			}
		})
	}
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
