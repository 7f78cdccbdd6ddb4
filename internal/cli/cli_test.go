package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/cli"
	"github.com/xmpp-invites/invites/internal/config"
)

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{12}/[A-Za-z0-9_-]{36}\n$`)

// run runs the command line against dir and returns exit code, stdout and stderr.
func run(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	full := append([]string{"-data", dir}, args...)
	code := cli.Run(context.Background(), full, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestKeysLifecycle(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()

	code, out, errOut := run(t, dir, "keys", "create", "localhost", "My test key", "--expires", "30d", "--max-ttl=2d", "--rate", "10/m")
	if code != 0 || !keyPattern.MatchString(out) || errOut != "" {
		t.Fatalf("create: code %d, out %q, err %q", code, out, errOut)
	}
	id := strings.SplitN(out, "/", 2)[0]

	code, out, _ = run(t, dir, "keys", "list", "localhost")
	if code != 0 {
		t.Fatalf("list: code %d", code)
	}
	cols := strings.Split(strings.TrimSuffix(out, "\n"), "\t")
	if len(cols) != 6 || cols[0] != id || cols[1] != "My test key" || cols[3] == "never" || cols[4] != "never" || cols[5] != "0" {
		t.Fatalf("list line = %q", out)
	}

	if _, err := os.Stat(filepath.Join(dir, config.StoreFile)); err != nil {
		t.Errorf("store not at the default place: %v", err)
	}

	if code, out, errOut = run(t, dir, "keys", "delete", "localhost", id); code != 0 || out != "" || errOut != "" {
		t.Fatalf("delete: code %d, out %q, err %q", code, out, errOut)
	}
	if code, _, errOut = run(t, dir, "keys", "delete", "localhost", id); code != 1 || errOut != "Error: key not found\n" {
		t.Fatalf("delete again: code %d, err %q", code, errOut)
	}
	if code, out, _ = run(t, dir, "keys", "list", "localhost"); code != 0 || out != "" {
		t.Fatalf("list after delete: code %d, out %q", code, out)
	}
}

func TestErrorsAndUsage(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	for i, tc := range [...]struct {
		args    []string
		code    int
		stdout  string // prefix
		stderr  string // prefix
		noStore bool   // the store must not have been created
	}{
		0:  {args: []string{"keys", "create", "example.net"}, code: 1, stderr: "Error: please supply a valid host\n"},
		1:  {args: []string{"keys", "list", "not a host"}, code: 1, stderr: "Error: please supply a valid host\n"},
		2:  {args: []string{"keys", "delete", "localhost", "AAAAAAAAAAAA"}, code: 1, stderr: "Error: key not found\n"},
		3:  {args: []string{"keys", "delete", "localhost", "bad/id"}, code: 1, stderr: "Error: key not found\n"},
		4:  {args: []string{}, code: 2, stderr: "invites-plugin: no command given", noStore: true},
		5:  {args: []string{"keys"}, code: 2, stderr: "invites-plugin: keys: want", noStore: true},
		6:  {args: []string{"keys", "frob", "localhost"}, code: 2, stderr: "invites-plugin: keys: unknown verb", noStore: true},
		7:  {args: []string{"keys", "create"}, code: 2, stderr: "invites-plugin: keys create: want HOST", noStore: true},
		8:  {args: []string{"keys", "create", "localhost", "a", "b"}, code: 2, noStore: true, stderr: "invites-plugin: keys create"},
		9:  {args: []string{"keys", "create", "localhost", "--expires", "soon"}, code: 2, stderr: "invites-plugin: --expires", noStore: true},
		10: {args: []string{"keys", "create", "localhost", "--rate", "5"}, code: 2, stderr: "invites-plugin: --rate", noStore: true},
		11: {args: []string{"keys", "create", "localhost", "--bogus", "1"}, code: 2, stderr: "invites-plugin: unknown flag", noStore: true},
		12: {args: []string{"keys", "list", "localhost", "--rate", "5/m"}, code: 2, stderr: "invites-plugin: keys list takes no options", noStore: true},
		13: {args: []string{"keys", "list"}, code: 2, noStore: true, stderr: "invites-plugin: keys list: want HOST"},
		14: {args: []string{"keys", "delete", "localhost"}, code: 2, noStore: true, stderr: "invites-plugin: keys delete: want HOST ID"},
		15: {args: []string{"serve"}, code: 2, noStore: true, stderr: "invites-plugin: unknown command"},
		16: {args: []string{"--help"}, code: 0, stdout: "Usage:", noStore: true},
		17: {args: []string{"keys", "create", "--help"}, code: 0, stdout: "Usage:", noStore: true},
		18: {args: []string{"keys", "delete", "-h"}, code: 0, stdout: "Usage:", noStore: true},
		19: {args: []string{"keys", "create", "localhost", "--expires"}, code: 2, noStore: true, stderr: "invites-plugin: flag --expires needs a value"},
		20: {args: []string{"-config", filepath.Join(dir, "missing.toml"), "keys", "list", "localhost"}, code: 1, stderr: "Error: reading the config file:"},
	} {
		sub := filepath.Join(dir, strings.Repeat("x", i+1))
		code, out, errOut := run(t, sub, tc.args...)
		if code != tc.code || !strings.HasPrefix(out, tc.stdout) || !strings.HasPrefix(errOut, tc.stderr) {
			t.Errorf("%d %q: code %d, stdout %q, stderr %q", i, tc.args, code, out, errOut)
		}
		if tc.code == 2 && !strings.Contains(errOut, "Usage:") {
			t.Errorf("%d: a usage error must print the usage, got %q", i, errOut)
		}
		if _, err := os.Stat(sub); tc.noStore && err == nil {
			t.Errorf("%d: a usage error created the data directory", i)
		}
	}
}

func TestHostsFromConfigAndServer(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "invites.toml")
	if err := os.WriteFile(cfg, []byte("[[host]]\ndomain = \"example.com\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, dir, "-config", cfg, "keys", "create", "example.com"); code != 0 {
		t.Fatalf("configured host refused: %q", errOut)
	}
	if code, _, _ := run(t, dir, "-config", cfg, "keys", "create", "localhost"); code != 1 {
		t.Fatalf("localhost accepted though the config names other hosts")
	}
	if err := config.RecordDomains(dir, []string{"chat.example"}); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, dir, "keys", "create", "chat.example", "portal"); code != 0 {
		t.Fatalf("host reported by the server refused: %q", errOut)
	}
}
