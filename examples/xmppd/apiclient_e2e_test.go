package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAPIClientModule builds examples/apiclient, a module outside this one that uses
// package httpapi's client, and runs its program and its Examples against xmppd with
// the plugin (issue 26, "Must show"). The module is copied into a temporary directory
// with its replace directive pointing here and this module's go.sum added, so that it
// builds from the shared module cache alone (GOPROXY=off, GOFLAGS=-mod=mod) and nothing
// is written into the source tree.
func TestAPIClientModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries and a module")
	}
	srv, cli := startAdminServer(t, []string{"INVITES_STORE="})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	key, err := cli.createKey(ctx, "apiclient")
	if err != nil {
		t.Fatal(err)
	}
	mod := copyModule(t, "../apiclient")
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "GOPROXY=off", "GOTOOLCHAIN=local",
		"INVITES_URL=http://"+srv.http+"/invites_api", "INVITES_KEY="+key)
	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir, cmd.Env = mod, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s in examples/apiclient: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	goCmd("build", "-o", "apiclient", ".")
	run := exec.CommandContext(ctx, filepath.Join(mod, "apiclient"))
	run.Env = env
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("apiclient: %v\n%s", err, out)
	}
	want := regexp.MustCompile(`^created [A-Za-z0-9_-]{12}: pending, for 2 accounts, note "spring course", groups \[students\], lives 7 days
its link: xmpp:localhost\?register;preauth=[A-Za-z0-9_-]{36}
among the pending: true
shown: pending, 0 of 2 uses
extended: lives 21 days
revoked: revoked
$`)
	if !want.Match(out) {
		t.Errorf("apiclient said:\n%s", out)
	}
	// What it did is on the server: the invite is revoked, with its note and group.
	id := strings.TrimSuffix(strings.Fields(string(out))[1], ":")
	if shown, err := cli.run(ctx, "invites", "show", "localhost", id, "--json"); err != nil ||
		!strings.Contains(shown, `"status": "revoked"`) || !strings.Contains(shown, `"note": "spring course"`) ||
		!strings.Contains(shown, `"students"`) {
		t.Errorf("invites show %s: %s %v", id, shown, err)
	}

	tests := goCmd("test", "-count=1", "-v", ".")
	for _, ex := range []string{"Example", "Example_list", "Example_update", "Example_revoke", "Example_errors"} {
		if !strings.Contains(tests, "--- PASS: "+ex+" ") {
			t.Errorf("%s did not pass:\n%s", ex, tests)
		}
	}
}

// copyModule copies the module at dir into a temporary directory, with its replace
// directive pointing at this repository and this module's go.sum added to its own,
// and returns the copy's directory.
func copyModule(t *testing.T, dir string) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		switch e.Name() {
		case "go.mod":
			b = []byte(strings.ReplaceAll(string(b), "=> ../..", "=> "+root))
		case "go.sum":
			sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
			if err != nil {
				t.Fatal(err)
			}
			b = append(b, sum...)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}
