package host_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/xmpp-invites/invites/host"
	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/metrics/metricstest"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/plugin"
)

// TestOperations runs the real plugin behind the host's operations endpoints.
func TestOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin binary")
	}
	bin := pluginBinary(t)
	t.Run("MetricsMove", func(t *testing.T) { testMetricsMove(t, bin) })
	t.Run("MetricsAllow", func(t *testing.T) { testMetricsAllow(t, bin) })
	t.Run("ReadyWhileDown", func(t *testing.T) { testReadyWhileDown(t, bin) })
}

// get fetches url with c and returns the status and body.
func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// scrapeText scrapes url in the text format and parses it.
func scrapeText(t *testing.T, c *http.Client, url string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, c, url)
	if code != http.StatusOK {
		t.Fatalf("scrape: %d %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the scrape: %v\n%s", err, body)
	}
	return fams
}

// seed makes, in dataDir's store, a key limited to one invite an hour and an invite
// that has already expired, and returns the key.
func seed(t *testing.T, dataDir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(dataDir, config.StoreFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	past := func() time.Time { return time.Now().Add(-time.Hour) }
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "localhost"}}, Now: past})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "localhost", TTL: time.Minute, Actor: core.Actor{Kind: core.ActorCLI}}); err != nil {
		t.Fatal(err)
	}
	_, cred, err := svc.CreateKey(ctx, core.KeySpec{Host: "localhost", Name: "slow", Rate: core.Rate{N: 1, Period: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

// testMetricsMove makes traffic of every kind and checks that each metric moved in one
// scrape of the host's /metrics, host and plugin families together.
func testMetricsMove(t *testing.T, bin string) {
	dataDir := t.TempDir()
	cred := newKey(t, dataDir)
	slow := seed(t, dataDir)
	p, _ := load(t, bin, dataDir, func(c *host.Config) { c.MinBackoff = 50 * time.Millisecond })
	mux := http.NewServeMux()
	p.Mount(mux)
	p.MountOperations(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := srv.Client()
	before := scrapeText(t, c, srv.URL+"/metrics")

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	code, token, _, err := createInvite(ctx, c, srv.URL, cred)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("create: %d %v", code, err)
	}
	if code, _, _, _ := createInvite(ctx, c, srv.URL, cred); code != http.StatusCreated {
		t.Fatalf("second create: %d", code)
	}
	if code, _, _, _ := createInvite(ctx, c, srv.URL, "not-a-key"); code != http.StatusForbidden {
		t.Errorf("malformed key: %d", code)
	}
	id, _, _ := strings.Cut(cred, "/")
	if code, _, _, _ := createInvite(ctx, c, srv.URL, id+"/"+strings.Repeat("A", core.KeySecretLen)); code != http.StatusForbidden {
		t.Errorf("wrong secret: %d", code)
	}
	for range 2 {
		code, _, _, _ = createInvite(ctx, c, srv.URL, slow)
	}
	if code != http.StatusTooManyRequests {
		t.Errorf("second invite of a key limited to 1/h: %d", code)
	}
	if _, err := p.RedeemInvite(ctx, plugin.Redemption{Host: "localhost", Token: token, Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	// The server made the account: the registration's use is confirmed, and counted.
	if err := p.Notify(ctx, plugin.Event{ID: "alice-created", Type: plugin.EventAccountCreated, Host: "localhost", JID: "alice@localhost"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.RedeemInvite(ctx, plugin.Redemption{Host: "localhost", Token: token, Username: "bob"}); err == nil {
		t.Fatal("a used invite was redeemed again")
	}

	time.Sleep(1100 * time.Millisecond) // the plugin counts pending invites at most once a second
	after := scrapeText(t, c, srv.URL+"/metrics")
	for _, m := range []struct {
		name   string
		labels map[string]string
		delta  float64
	}{
		// The host's.
		{"invites_plugin_up", nil, 0},
		{"invites_http_requests_total", map[string]string{"route": "/invites_api", "code": "201"}, 3},
		{"invites_http_requests_total", map[string]string{"route": "/invites_api", "code": "403"}, 2},
		{"invites_http_requests_total", map[string]string{"route": "/invites_api", "code": "429"}, 1},
		{"invites_http_request_duration_seconds", map[string]string{"route": "/invites_api"}, 6},
		{"invites_http_rate_limited_total", nil, 1},
		{"invites_plugin_exchange_duration_seconds", map[string]string{"result": "ok"}, 6},
		{"invites_plugin_call_duration_seconds", map[string]string{"method": "redeem_invite"}, 2},
		{"invites_registrations_refused_total", map[string]string{"reason": "not-found"}, 1},
		// The plugin's.
		{"invites_created_total", map[string]string{"host": "localhost", "kind": "account"}, 3},
		{"invites_redeemed_total", map[string]string{"host": "localhost", "purpose": "register"}, 1},
		{"invites_redemptions_refused_total", map[string]string{"purpose": "register", "reason": "used-up"}, 1},
		{"invites_auth_failures_total", map[string]string{"reason": "malformed"}, 1},
		{"invites_auth_failures_total", map[string]string{"reason": "invalid"}, 1},
		{"invites_pending", map[string]string{"host": "localhost"}, 2},
	} {
		got := metricstest.Sum(after[m.name], m.labels) - metricstest.Sum(before[m.name], m.labels)
		if got != m.delta {
			t.Errorf("%s%v moved by %v, want %v", m.name, m.labels, got, m.delta)
		}
	}
	for _, m := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"invites_plugin_up", nil, 1},
		{"invites_keys", map[string]string{"host": "localhost"}, 2},
		{"invites_expired_total", map[string]string{"host": "localhost"}, 1}, // the sweep at start
	} {
		if got := metricstest.Sum(after[m.name], m.labels); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
		}
	}
	if d := metricstest.Sum(after["invites_store_duration_seconds"], nil) - metricstest.Sum(before["invites_store_duration_seconds"], nil); d < 5 {
		t.Errorf("store latency: %v calls recorded, want at least 5", d)
	}
	if after["go_goroutines"] == nil {
		t.Error("no Go runtime metrics of the host")
	}
	if after["invites_revoked_total"] != nil && metricstest.Sum(after["invites_revoked_total"], nil) != 0 {
		t.Error("revocations counted without any")
	}

	// A kill -9: the host restarts the plugin and counts it.
	if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitFor(20*time.Second, func() bool {
		m := scrapeText(t, c, srv.URL+"/metrics")
		return metricstest.Sum(m["invites_plugin_restarts_total"], nil) == 1 && metricstest.Sum(m["invites_plugin_up"], nil) == 1
	}) {
		t.Error("the restart was not counted, or the plugin is not up again")
	}
}

// localClient returns a client whose connections come from the loopback address from.
func localClient(from string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// testMetricsAllow checks that /metrics answers only the allowed addresses, and that
// /readyz tells only them why.
func testMetricsAllow(t *testing.T, bin string) {
	p, _ := load(t, bin, t.TempDir(), func(c *host.Config) {
		c.MetricsAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	mux := http.NewServeMux()
	p.MountOperations(mux)
	srv := httptest.NewServer(mux) // on 127.0.0.1
	defer srv.Close()
	other := localClient("127.0.0.2")
	if code, body := get(t, other, srv.URL+"/metrics"); code != http.StatusForbidden || strings.Contains(body, "invites_") {
		t.Errorf("/metrics from 127.0.0.2: %d %q", code, body)
	}
	if code, body := get(t, localClient("127.0.0.1"), srv.URL+"/metrics"); code != http.StatusOK || !strings.Contains(body, "invites_plugin_up 1") {
		t.Errorf("/metrics from 127.0.0.1: %d", code)
	}
	if code, body := get(t, other, srv.URL+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz from 127.0.0.2: %d %q", code, body)
	}
	if code, body := get(t, other, srv.URL+"/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Errorf("/readyz from 127.0.0.2: %d %q", code, body)
	}
}

// testReadyWhileDown keeps the plugin down (killed, and its config broken so that it
// cannot start again) and checks /readyz says 503 all along while /healthz says 200,
// then that it is ready again once the config is fixed.
func testReadyWhileDown(t *testing.T, bin string) {
	dataDir := t.TempDir()
	cfgFile := filepath.Join(dataDir, "invites.toml")
	if err := os.WriteFile(cfgFile, []byte("default_ttl = \"1d\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, _ := load(t, bin, dataDir, func(c *host.Config) {
		c.Plugin.ConfigFile = cfgFile
		c.MinBackoff, c.MaxBackoff = 100*time.Millisecond, 300*time.Millisecond
	})
	mux := http.NewServeMux()
	p.MountOperations(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := srv.Client()
	if code, _ := get(t, c, srv.URL+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz with the plugin up: %d", code)
	}
	if err := os.WriteFile(cfgFile, []byte("nonsense = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { code, _ := get(t, c, srv.URL+"/readyz"); return code == http.StatusServiceUnavailable }) {
		t.Fatal("/readyz never said 503 with the plugin down")
	}
	for range 5 {
		code, body := get(t, c, srv.URL+"/readyz")
		if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready: ") {
			t.Errorf("/readyz while down: %d %q", code, body)
		}
		if code, _ := get(t, c, srv.URL+"/healthz"); code != http.StatusOK {
			t.Errorf("/healthz while the plugin is down: %d", code)
		}
		time.Sleep(300 * time.Millisecond)
	}
	m := scrapeText(t, c, srv.URL+"/metrics")
	if metricstest.Sum(m["invites_plugin_up"], nil) != 0 {
		t.Error("invites_plugin_up is not 0 while the plugin is down")
	}
	if err := os.WriteFile(cfgFile, []byte("default_ttl = \"1d\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !waitFor(15*time.Second, func() bool { code, _ := get(t, c, srv.URL+"/readyz"); return code == http.StatusOK }) {
		t.Fatal("/readyz never said 200 again once the plugin could start")
	}
}

// TestDownErrorWording: the error a caller gets while the plugin restarts says the
// wait in words, never as a Go duration.
func TestDownErrorWording(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin binary")
	}
	dataDir := t.TempDir()
	cfgFile := filepath.Join(dataDir, "invites.toml")
	if err := os.WriteFile(cfgFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	p, _ := load(t, pluginBinary(t), dataDir, func(c *host.Config) {
		c.Plugin.ConfigFile = cfgFile
		c.MinBackoff, c.MaxBackoff = 90*time.Second, 90*time.Second
	})
	if err := os.WriteFile(cfgFile, []byte("nonsense = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(p.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var err error
	waitFor(10*time.Second, func() bool {
		_, err = p.CheckInvite(t.Context(), "localhost", "x")
		return err != nil && strings.Contains(err.Error(), "try again in") && !strings.Contains(err.Error(), "try again in 1 second")
	})
	if err == nil || !strings.Contains(err.Error(), "try again in 1 minute 30 seconds") && !strings.Contains(err.Error(), "try again in 1 minute 2") {
		t.Errorf("error while restarting: %v", err)
	}
	if strings.Contains(err.Error(), "m0s") || strings.Contains(err.Error(), "rpc error") {
		t.Errorf("a Go duration or gRPC's wording: %v", err)
	}
}
