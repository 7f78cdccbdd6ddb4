package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
)

// TestOperationsE2E runs xmppd with the plugin and -log-format json: every line of its
// log is one JSON object, an invite made through the API gives one audit record
// (naming the key and the client's address, holding no secret), /metrics, /healthz and
// /readyz answer on the HTTP port, and a second xmppd on the same data directory stops
// at once naming the first.
func TestOperationsE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("runs xmppd and the plugin")
	}
	bin := binaries(t)
	work := t.TempDir()
	data := filepath.Join(work, "data")
	cli := pluginCLI{bin: bin, args: []string{"-data", data}}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	// The server makes the store at its first start; the command line works on it
	// (it makes no store of its own, issue 16).
	srv := startServer(t, bin, work, "-data", data, "-log-format", "json")
	key, err := cli.createKey(ctx, "portal")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.http

	created, err := apiClient(t, srv.http, key).Create(ctx, httpapi.CreateParams{})
	if err != nil || created.Token == "" {
		t.Fatalf("create: %+v %v", created, err)
	}

	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || b.String() != want {
			t.Errorf("%s: %d %q", path, resp.StatusCode, b.String())
		}
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	_, _ = metrics.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{"invites_plugin_up 1", `invites_created_total{host="localhost",kind="account"} 1`,
		`invites_http_requests_total{code="201",route="/invites_api"} 1`} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// A second server on the same data directory.
	second := exec.CommandContext(ctx, filepath.Join(bin, "xmppd"), "-data", data, "-c2s", "127.0.0.1:0", "-http", "127.0.0.1:0")
	second.Dir = work
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "is in use by another xmppd (process "+strconv.Itoa(srv.cmd.Process.Pid)+")") {
		t.Errorf("a second xmppd on the data directory: %v\n%s", err, out)
	}

	var audit map[string]any
	var auditLine string
	waitFor := time.Now().Add(10 * time.Second)
	for audit == nil && time.Now().Before(waitFor) {
		for line := range strings.Lines(srv.stderr.String()) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("a log line that is not JSON: %q", line)
			}
			if m["msg"] == "audit" && m["event"] == "invite.created" {
				audit, auditLine = m, line
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if audit == nil {
		t.Fatalf("no audit record of the invite:\n%s", srv.stderr.String())
	}
	keyID, secret, _ := strings.Cut(key, "/")
	if audit["audit"] != true || audit["actor"] != "key:"+keyID || audit["remote"] != "127.0.0.1" || audit["invite_id"] != created.ID ||
		audit["component"] != "audit" || audit["logger"] != "invites-plugin" {
		t.Errorf("audit record %v", audit)
	}
	// A JSON object with a key twice is read differently by different log shippers.
	if n := strings.Count(auditLine, `"component":`); n != 1 {
		t.Errorf("the audit record names a component %d times: %s", n, auditLine)
	}
	if log := srv.stderr.String(); strings.Contains(log, secret) || strings.Contains(log, created.Token) {
		t.Error("the log holds a secret or a token")
	}
}
