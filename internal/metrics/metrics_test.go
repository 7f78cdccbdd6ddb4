package metrics_test

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/metrics"
	"github.com/xmpp-invites/invites/internal/metrics/metricstest"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// scrape reads the Handler's answer as the host does.
func scrape(t *testing.T, m *metrics.Plugin) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if ct := w.Header().Get("Content-Type"); ct != metrics.ContentType {
		t.Fatalf("Content-Type %q", ct)
	}
	dec := expfmt.NewDecoder(w.Body, expfmt.Format(metrics.ContentType))
	out := map[string]*dto.MetricFamily{}
	for {
		f := &dto.MetricFamily{}
		if err := dec.Decode(f); err != nil {
			break
		}
		out[f.GetName()] = f
	}
	return out
}

// TestEventsMove drives each event through a core over a timed SQLite store and checks
// that every metric of the plugin moves.
func TestEventsMove(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{Durability: sqlite.DurabilityCrash})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	clock := func() time.Time { return now }
	m := metrics.New(metrics.Options{Hosts: []string{"example.com"}, Counter: st, Backlog: st, Now: clock, MinCountInterval: time.Nanosecond})
	svc, err := core.NewService(core.Options{Store: m.TimeStore(st), Hosts: []core.HostConfig{{Domain: "example.com"}},
		Observer: m, Outbox: true, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	cli := core.Actor{Kind: core.ActorCLI}
	if _, _, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com", Actor: cli}); err != nil {
		t.Fatal(err)
	}
	inv, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli, TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	pending, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli})
	if err != nil {
		t.Fatal(err)
	}
	_ = pending
	before := scrape(t, m)
	if got := metricstest.Sum(before["invites_pending"], map[string]string{"host": "example.com"}); got != 3 {
		t.Errorf("invites_pending = %v, want 3", got)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "bob"}); err == nil {
		t.Fatal("redeemed twice")
	}
	if _, err := svc.RevokeInvite(ctx, cli, "example.com", pending.ID); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	if _, _, err := svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	m.AuthFailed("malformed")
	after := scrape(t, m)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"invites_created_total", map[string]string{"host": "example.com", "kind": "account"}, 3},
		{"invites_redeemed_total", map[string]string{"purpose": "register"}, 1},
		{"invites_redemptions_refused_total", map[string]string{"reason": "used-up", "purpose": "register"}, 1},
		{"invites_revoked_total", nil, 1},
		{"invites_expired_total", nil, 1},
		{"invites_key_changes_total", map[string]string{"change": "created"}, 1},
		{"invites_auth_failures_total", map[string]string{"reason": "malformed"}, 1},
		{"invites_pending", map[string]string{"host": "example.com"}, 0},
		{"invites_keys", map[string]string{"host": "example.com"}, 1},
		{"invites_webhook_outbox_pending", nil, 8}, // with the account.created of the registration
	} {
		if got := metricstest.Sum(after[c.name], c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if n := metricstest.Sum(after["invites_store_duration_seconds"], map[string]string{"op": "change_invite"}); n < 3 {
		t.Errorf("store latency counted %v change_invite calls", n)
	}
	for name := range after {
		if !strings.HasPrefix(name, "invites_") {
			t.Errorf("metric %s lacks the invites_ prefix", name)
		}
	}
}

// TestLabelsBounded checks that values from outside (hosts, purposes, reasons) cannot
// grow the number of series.
func TestLabelsBounded(t *testing.T) {
	m := metrics.New(metrics.Options{Hosts: []string{"example.com"}})
	for i := range 50 {
		m.Observe(t.Context(), core.Event{Type: core.EventInviteRefused, Host: strings.Repeat("x", i),
			Purpose: core.Purpose(strings.Repeat("p", i)), Reason: strings.Repeat("r", i)})
		m.Observe(t.Context(), core.Event{Type: core.EventInviteRevoked, Host: strings.Repeat("h", i)})
		m.AuthFailed(strings.Repeat("a", i))
	}
	fams := scrape(t, m)
	for _, name := range []string{"invites_redemptions_refused_total", "invites_revoked_total", "invites_auth_failures_total"} {
		if n := len(fams[name].GetMetric()); n > 2 {
			t.Errorf("%s has %d series", name, n)
		}
	}
}
