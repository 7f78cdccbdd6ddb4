package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestUnitVerifies runs systemd-analyze verify on the shipped unit (with ExecStart
// pointing at the built xmppd, since verify checks that the binary exists) and holds
// its sandbox to an exposure of at most 1.5 in systemd-analyze security (0 is fully
// locked down, 10 not at all; a default service scores 9.6).
func TestUnitVerifies(t *testing.T) {
	sa := tool(t, "systemd-analyze")
	bin := binaries(t)
	unit := replace(t, readFile(t, "deploy/systemd/invites.service"), "/usr/bin/xmppd", filepath.Join(bin, "xmppd"))
	path := writeFile(t, t.TempDir(), "invites.service", unit)

	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command(sa, "security", "--offline=true", "--threshold=15", path).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 1.5 (%v)\n%s", err, out)
	}
	if m := regexp.MustCompile(`Overall exposure level for invites.service: (\S+)`).FindSubmatch(out); m != nil {
		t.Logf("exposure %s", m[1])
	}
	for _, want := range []string{"User=invites", "StateDirectory=invites", "ProtectSystem=strict", "NoNewPrivileges=yes",
		"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "CapabilityBoundingSet=\n", "MemoryMax=", "Restart=on-failure"} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", want)
		}
	}
}

// TestPackagedConfig runs the unit's command line with the configuration the package
// installs in /etc/invites (only the ports, the data directory and the path of
// /etc/invites change), and invitesctl, the operator's command line on the service's
// data: a key made with it creates an invite whose link is the built-in page on the
// configured public URL.
func TestPackagedConfig(t *testing.T) {
	bin := binaries(t)
	etc := t.TempDir()
	unit := readFile(t, "deploy/systemd/invites.service")
	m := regexp.MustCompile(`(?m)^ExecStart=/usr/bin/xmppd (.*)$`).FindStringSubmatch(unit)
	if m == nil {
		t.Fatal("no ExecStart=/usr/bin/xmppd in the unit")
	}
	writeFile(t, etc, "invites.toml", readFile(t, "deploy/etc/invites.toml"))
	writeFile(t, etc, "xmppd.toml", replace(t, readFile(t, "deploy/etc/xmppd.toml"),
		`plugin_config = "/etc/invites/invites.toml"`, fmt.Sprintf("plugin_config = %q", filepath.Join(etc, "invites.toml"))))
	args := strings.Fields(strings.ReplaceAll(m[1], "/etc/invites", etc))
	data := filepath.Join(t.TempDir(), "invites")
	srv := startServer(t, serverOptions{data: data, args: args})

	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	invitesctl := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(repoRoot(t), "deploy", "invitesctl"), args...)
		cmd.Env = append(os.Environ(), "INVITES_USER="+me.Username, "INVITES_DATA_DIR="+data,
			"INVITES_CONFIG="+filepath.Join(etc, "invites.toml"), "INVITES_PLUGIN="+filepath.Join(bin, "invites-plugin"))
		// The command line writes its audit records on stderr: stdout is the answer.
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("invitesctl %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}
	key := invitesctl("keys", "create", "example.com", "portal")
	link := invitesctl("invites", "create", "example.com")
	if !strings.HasPrefix(link, "https://example.com/invite?") {
		t.Errorf("invitesctl invites create: %q, want the page on https://example.com", link)
	}
	r := do(t, client(nil, "127.0.0.1"), "POST", "http://"+srv.http+"/invites_api", map[string][]string{"Authorization": {"Bearer " + key}}, "")
	if r.status != 201 || !strings.HasPrefix(r.header.Get("Location"), "https://example.com/invite?") {
		t.Errorf("POST /invites_api with the key: %d %q", r.status, r.header.Get("Location"))
	}
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory: %v %v", fi, err)
	}
	// xmppd's own log: JSON lines, as the shipped config says.
	srv.logRecord(t, map[string]string{"msg": "xmppd started", "domain": "example.com"})
}
