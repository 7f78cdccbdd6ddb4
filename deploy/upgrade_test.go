package deploy_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/plugin"
)

// releases are the earlier releases an upgrade starts from: the tag, and the commit it
// names, for a clone that has no tags.
var releases = []struct{ tag, commit string }{
	{"v0.1.0", "26ba6fb"}, // wave 1
	{"v0.2.0", "69469e9"}, // wave 2
}

// oldRelease is an earlier release built from its source.
type oldRelease struct {
	tag, rev string
	bin      string // xmppd and invites-plugin
	protocol int    // its plugin.ProtocolVersion
}

// buildRelease builds xmppd and invites-plugin of an earlier release from git archive
// of its tag (else its commit), with its own go.mod, sharing the module and build
// caches.
func buildRelease(t *testing.T, tag, commit string) oldRelease {
	t.Helper()
	root := repoRoot(t)
	rev := ""
	for _, ref := range []string{tag, commit} {
		if out, err := exec.Command("git", "-C", root, "rev-parse", "--verify", "--quiet", ref+"^{commit}").Output(); err == nil {
			rev = strings.TrimSpace(string(out))
			break
		}
	}
	if rev == "" {
		t.Fatalf("release %s: neither the tag nor the commit %s is in this repository", tag, commit)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	archive := exec.CommandContext(ctx, "sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, rev, src)
	if out, err := archive.CombinedOutput(); err != nil {
		t.Fatalf("git archive %s: %v\n%s", tag, err, out)
	}
	start := time.Now()
	bin := filepath.Join(dir, "bin")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator), "./examples/xmppd", "./cmd/invites-plugin")
	build.Dir = src
	build.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", tag, err, out)
	}
	t.Logf("built %s (%s) in %s", tag, rev[:12], time.Since(start).Round(100*time.Millisecond))
	proto := 0
	files, _ := filepath.Glob(filepath.Join(src, "plugin", "*.go"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if m := regexp.MustCompile(`const ProtocolVersion = (\d+)`).FindSubmatch(b); m != nil {
			proto, _ = strconv.Atoi(string(m[1]))
		}
	}
	if proto == 0 {
		t.Fatalf("%s: no ProtocolVersion in its plugin package", tag)
	}
	return oldRelease{tag: tag, rev: rev, bin: bin, protocol: proto}
}

// TestUpgrade makes a data directory with each earlier release (keys, one deleted, and
// invites through its HTTP API), stops it, starts the current build on the same
// directory, and checks that the store migrated and kept everything working: the kept
// key creates invites, the deleted one stays refused, the old tokens register accounts
// in-band, the pending one is listed. Then it pairs each release's xmppd with the
// current plugin and the current xmppd with the release's plugin: of the same protocol
// version they must work together, of different versions refuse with a message naming
// both.
func TestUpgrade(t *testing.T) {
	cur := binaries(t)
	start := time.Now()
	for _, r := range releases {
		t.Run(r.tag, func(t *testing.T) {
			old := buildRelease(t, r.tag, r.commit)
			t.Run("data", func(t *testing.T) { testUpgradeData(t, old, cur) })
			t.Run("old xmppd, new plugin", func(t *testing.T) {
				testPairing(t, old.bin, cur, true, old.protocol, plugin.ProtocolVersion)
			})
			t.Run("new xmppd, old plugin", func(t *testing.T) {
				testPairing(t, cur, old.bin, false, plugin.ProtocolVersion, old.protocol)
			})
		})
	}
	t.Logf("upgrade test: %s for %d releases", time.Since(start).Round(time.Second), len(releases))
}

// testUpgradeData fills a data directory with the release old and opens it with the
// current build in cur.
func testUpgradeData(t *testing.T, old oldRelease, cur string) {
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, serverOptions{bin: old.bin, data: data, old: true})
	keep := cli(t, old.bin, data, "keys", "create", "localhost", "kept")
	gone := cli(t, old.bin, data, "keys", "create", "localhost", "deleted")
	c := client(nil, "127.0.0.1")
	var tokens []string
	for range 3 {
		r := do(t, c, "POST", "http://"+srv.http+"/invites_api", http.Header{"Authorization": {"Bearer " + keep}}, "")
		token := preauthOf(r.header.Get("Location"))
		if r.status != http.StatusCreated || token == "" {
			t.Fatalf("%s: POST /invites_api: %d %q", old.tag, r.status, r.header.Get("Location"))
		}
		tokens = append(tokens, token)
	}
	goneID, _, _ := strings.Cut(gone, "/")
	cli(t, old.bin, data, "keys", "delete", "localhost", goneID)
	srv.stop(t)

	now := startServer(t, serverOptions{data: data})
	base := "http://" + now.http
	if r := do(t, c, "POST", base+"/invites_api", http.Header{"Authorization": {"Bearer " + keep}}, ""); r.status != http.StatusCreated {
		t.Errorf("the key made by %s: %d %s", old.tag, r.status, r.body)
	}
	if r := do(t, c, "POST", base+"/invites_api", http.Header{"Authorization": {"Bearer " + gone}}, ""); r.status != http.StatusForbidden {
		t.Errorf("the key deleted under %s: %d, want 403", old.tag, r.status)
	}
	for i, token := range tokens[:2] {
		x := dialXMPP(t, now.c2s, "localhost")
		if a := x.iq(t, `<iq type='set' id='pa'><preauth xmlns='urn:xmpp:pars:0' token='`+token+`'/></iq>`); !isResult(a) {
			t.Fatalf("pre-auth with a token of %s: %s", old.tag, a)
		}
		user := fmt.Sprintf("user%d", i)
		if a := x.iq(t, `<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>`+user+`</username><password>correct horse battery</password></query></iq>`); !isResult(a) {
			t.Fatalf("registering with a token of %s: %s", old.tag, a)
		}
	}
	// The third invite of the old release and the one made now are pending; the two
	// used ones are not.
	out := cli(t, cur, data, "invites", "list", "localhost", "--status", "pending")
	if n := len(strings.Split(out, "\n")); n != 2 {
		t.Errorf("pending invites after the upgrade: %d, want 2:\n%s", n, out)
	}
	if keys := cli(t, cur, data, "keys", "list", "localhost"); !strings.Contains(keys, "\tkept\t") || strings.Contains(keys, "\tdeleted\t") {
		t.Errorf("keys after the upgrade:\n%s", keys)
	}
}

// testPairing starts the xmppd in xmppdBin with the plugin in pluginBin on a new data
// directory. Of the same protocol version they must serve an invite; of different
// versions the server must refuse the plugin, with a message naming both versions,
// and answer 503.
func testPairing(t *testing.T, xmppdBin, pluginBin string, oldXmppd bool, hostProto, pluginProto int) {
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, serverOptions{bin: xmppdBin, data: data, old: oldXmppd, noWait: true,
		args: []string{"-plugin", filepath.Join(pluginBin, "invites-plugin")}})
	ready := srv.waitReady(30 * time.Second)
	if hostProto == pluginProto {
		if !ready {
			t.Fatalf("protocol %d on both sides, yet xmppd did not start:\n%s", hostProto, srv.stderr.String())
		}
		key := cli(t, pluginBin, data, "keys", "create", "localhost", "pair")
		if r := do(t, client(nil, "127.0.0.1"), "POST", "http://"+srv.http+"/invites_api", http.Header{"Authorization": {"Bearer " + key}}, ""); r.status != http.StatusCreated {
			t.Errorf("protocol %d on both sides: POST /invites_api %d %s", hostProto, r.status, r.body)
		}
		return
	}
	// Refused: a line of the log names both versions.
	mentions := regexp.MustCompile(`(?i)version[^\n]*\b` + strconv.Itoa(pluginProto) + `\b[^\n]*\b` + strconv.Itoa(hostProto) + `\b|(?i)version[^\n]*\b` + strconv.Itoa(hostProto) + `\b[^\n]*\b` + strconv.Itoa(pluginProto) + `\b`)
	var line string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if l := mentions.FindString(srv.stderr.String()); l != "" {
			line = l
			break
		}
	}
	if line == "" {
		t.Fatalf("host protocol %d, plugin protocol %d: no message naming both versions in xmppd's log:\n%s", hostProto, pluginProto, srv.stderr.String())
	}
	t.Logf("host protocol %d, plugin protocol %d: %s", hostProto, pluginProto, line)
	if ready {
		if r := do(t, client(nil, "127.0.0.1"), "POST", "http://"+srv.http+"/invites_api", http.Header{"Authorization": {"Bearer x/y"}}, ""); r.status != http.StatusServiceUnavailable {
			t.Errorf("with a plugin it refused, xmppd answers %d, want 503", r.status)
		}
	}
}

// preauthOf returns the token of an invite URI or page URL: its preauth parameter, or
// the query of a page URL.
func preauthOf(location string) string {
	if _, q, ok := strings.Cut(location, "preauth="); ok {
		tok, _, _ := strings.Cut(q, ";")
		return tok
	}
	return ""
}

// isResult reports whether an IQ answer is a result.
func isResult(iq string) bool {
	return strings.Contains(iq, "type='result'") || strings.Contains(iq, `type="result"`)
}
