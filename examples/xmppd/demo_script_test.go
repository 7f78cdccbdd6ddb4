package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/doctest"
)

// TestDemoScript is the regression test of two newcomer traps: scripts/demo.sh was
// silent for the minutes of a cold build, and nothing said its ports could change. It
// runs a copy of the script with a stand-in go (which "builds" stand-in binaries) and
// checks that it says what it does before building, passes the flags on to xmppd, and
// that the README shows how to change the ports.
func TestDemoScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	script, err := os.ReadFile("../../scripts/demo.sh")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, d := range []string{"scripts", "stub"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "scripts", "demo.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	// The stand-in go writes executables that print their arguments.
	stub := "#!/bin/sh\nfor b in xmppd invites-plugin; do printf '#!/bin/sh\\necho %s \"$@\"\\n' $b > bin/$b; chmod +x bin/$b; done\n"
	if err := os.WriteFile(filepath.Join(root, "stub", "go"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func() (string, string) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bash, filepath.Join(root, "scripts", "demo.sh"), "-http", "127.0.0.1:15280")
		cmd.Env = append(os.Environ(), "PATH="+filepath.Join(root, "stub")+":"+os.Getenv("PATH"))
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("demo.sh: %v\n%s", err, stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	out, errOut := run()
	if !strings.Contains(errOut, "demo: building xmppd and invites-plugin") || !strings.Contains(errOut, "a few minutes on a fresh machine") {
		t.Errorf("the cold build is not announced:\n%s", errOut)
	}
	if strings.TrimSpace(out) != "xmppd -demo -http 127.0.0.1:15280" {
		t.Errorf("xmppd ran as %q", out)
	}
	if _, errOut = run(); !strings.Contains(errOut, "demo: rebuilding") {
		t.Errorf("a warm run says nothing:\n%s", errOut)
	}
	// However the line is wrapped.
	readme := strings.Join(strings.Fields(doctest.PageAt(t, "README.md").Text), " ")
	if !strings.Contains(readme, "bash scripts/demo.sh -c2s 127.0.0.1:15222 -http 127.0.0.1:15280") {
		t.Error("the README's five-minute path does not show how to change the demo's ports")
	}
}
