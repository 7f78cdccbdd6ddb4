package main_test

import (
	"context"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/internal/doctest"
)

// TestReadmeFiveMinutes follows the README's five-minute path against the real demo
// (xmppd -demo with the plugin, as scripts/demo.sh starts it): what the demo prints
// is what the README shows; the command line makes a key on the demo's data directory
// while it runs, and lists it; the curl command, run with real curl and that key,
// answers the status and headers the README shows; the Location is the invite's page;
// and the admin logs in with the printed password and has the commands the README names.
func TestReadmeFiveMinutes(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed: bash scripts/install-test-deps.sh installs it")
	}
	section := fiveMinutes(t)
	var printed, answer, curl, cli []string
	for _, b := range doctest.Blocks(section) {
		lines := strings.Split(strings.TrimRight(b.Text, "\n"), "\n")
		switch {
		case strings.HasPrefix(b.Text, "xmppd demo"):
			printed = lines
		case b.Lang == "http":
			answer = lines
		case b.Lang == "sh" && strings.HasPrefix(b.Text, "curl "):
			curl = lines
		case b.Lang == "sh" && strings.HasPrefix(b.Text, "bin/invites-plugin "):
			cli = lines
		}
	}
	if len(printed) < 5 || len(answer) < 2 || len(curl) != 1 || len(cli) < 2 {
		t.Fatalf("the five minutes lack a block: demo output %d lines, answer %d, curl %d, command line %d",
			len(printed), len(answer), len(curl), len(cli))
	}

	bin := binaries(t)
	work := t.TempDir()
	p := startServer(t, bin, work, "-demo")
	var password string
	for _, l := range p.lines {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Password" {
			password = f[1]
		}
	}
	if password == "" {
		t.Fatalf("the demo printed no password:\n%s", strings.Join(p.lines, "\n"))
	}
	// The README's addresses are the demo's defaults; the test's server has its own.
	addrs := strings.NewReplacer("127.0.0.1:5280", p.http, "127.0.0.1:5222", p.c2s)

	// What the demo prints.
	matchLines(t, "the demo's output", printed, p.lines, addrs)

	// The command line, from the repository's root (here the demo's working directory):
	// a key made, and listed.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	created := ""
	for _, line := range cli {
		args := commandLine(t, strings.TrimPrefix(line, "bin/invites-plugin "))
		c := exec.CommandContext(ctx, filepath.Join(bin, "invites-plugin"), args...)
		c.Dir = work
		c.Env = append(os.Environ(), "INVITES_STORE=")
		out, err := c.Output()
		switch {
		case err != nil:
			t.Fatalf("%s: %v\n%s", line, err, out)
		case args[0] == "keys" && args[1] == "create":
			created = strings.TrimSpace(string(out))
		case args[0] == "keys" && args[1] == "list" && !strings.Contains(string(out), "signup portal"):
			t.Errorf("%s lists no key made by the README's keys create:\n%s", line, out)
		}
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{12}/[A-Za-z0-9_-]{36}$`).MatchString(created) {
		t.Fatalf("the README's keys create printed %q, not a key", created)
	}

	// The curl command, as shown, with the key just made.
	cmd := addrs.Replace(strings.Replace(curl[0], "Bearer KEY", "Bearer "+created, 1))
	out, err := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", cmd).Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	head, _, _ := strings.Cut(strings.ReplaceAll(string(out), "\r\n", "\n"), "\n\n")
	got := strings.Split(head, "\n")
	if answer[0] != got[0] {
		t.Errorf("the README shows %q, curl answered %q", answer[0], got[0])
	}
	matchLines(t, "curl's answer", answer[1:], got[1:], addrs)
	var location string
	for _, l := range got {
		if v, ok := strings.CutPrefix(l, "Location: "); ok {
			location = v
		}
	}

	// The Location is the invite's page, whose Link is the invite's xmpp: URI.
	resp, err := http.Get(location)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Link"), "<xmpp:localhost?register;preauth=") {
		t.Errorf("the invite's page %s: %s, Link %q", location, resp.Status, resp.Header.Get("Link"))
	}

	// The admin logs in with the printed password and has the commands named.
	sess, err := testclient.Login(ctx, p.c2s, "admin", password, sasl.ScramSha256)
	if err != nil {
		t.Fatalf("the admin's login: %v", err)
	}
	defer sess.Close()
	nodes, err := commandNodes(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Collect(maps.Values(nodes))
	named := 0
	for _, m := range regexp.MustCompile("`([A-Z][a-z]+ [^`]+)`").FindAllStringSubmatch(section, -1) {
		named++
		if !slices.Contains(names, m[1]) {
			t.Errorf("the README names the command %q; the admin has %q", m[1], names)
		}
	}
	if named < 3 {
		t.Errorf("the README names %d commands for the admin", named)
	}

}

// fiveMinutes returns the README's "Five minutes" section.
func fiveMinutes(t *testing.T) string {
	t.Helper()
	readme := doctest.PageAt(t, "README.md").Text
	_, rest, ok := strings.Cut(readme, "\n## Five minutes\n")
	if !ok {
		t.Fatal("the README has no section \"Five minutes\"")
	}
	section, _, _ := strings.Cut(rest, "\n## ")
	return section
}

// matchLines checks that each line the README shows matches a line of what the
// program wrote, spaces aside: "…" stands for anything, KEY, PASSWORD and TOKEN for
// one of theirs, and the README's addresses are replaced by the test server's.
func matchLines(t *testing.T, what string, shown, real []string, addrs *strings.Replacer) {
	t.Helper()
	placeholders := strings.NewReplacer("…", `.*`, "KEY", `\S+`, "PASSWORD", `\S+`, "TOKEN", `[A-Za-z0-9_-]+`)
	for _, s := range shown {
		s = strings.Join(strings.Fields(s), " ")
		if s == "" {
			continue
		}
		re := regexp.MustCompile("^" + placeholders.Replace(regexp.QuoteMeta(addrs.Replace(s))) + "$")
		if !slices.ContainsFunc(real, func(r string) bool { return re.MatchString(strings.Join(strings.Fields(r), " ")) }) {
			t.Errorf("%s has no line like the README's %q:\n%s", what, s, strings.Join(real, "\n"))
		}
	}
}

// commandLine splits a shell command line of plain words and double-quoted strings.
func commandLine(t *testing.T, line string) []string {
	t.Helper()
	var args []string
	for _, m := range regexp.MustCompile(`"([^"]*)"|(\S+)`).FindAllStringSubmatch(line, -1) {
		if m[2] != "" {
			args = append(args, m[2])
		} else {
			args = append(args, m[1])
		}
	}
	if len(args) < 2 {
		t.Fatalf("the README's command %q", line)
	}
	return args
}
