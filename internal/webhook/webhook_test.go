package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
	"github.com/xmpp-invites/invites/internal/webhook"
)

// TestSignVector checks Sign against the example of the Standard Webhooks
// specification's reference libraries.
func TestSignVector(t *testing.T) {
	key, err := webhook.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := webhook.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

func TestSecrets(t *testing.T) {
	s, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := webhook.ParseSecret(s); err != nil {
		t.Errorf("ParseSecret(NewSecret()) = %v", err)
	}
	for i, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_!!!", "whsec_c2hvcnQ="} {
		_, err := webhook.ParseSecret(bad)
		if err == nil {
			t.Errorf("%d: ParseSecret accepted %q", i, bad)
			continue
		}
		if bad != "" && len(bad) > 8 && strings.Contains(err.Error(), bad[6:]) {
			t.Errorf("%d: the error repeats the secret: %v", i, err)
		}
	}
}

func TestVerify(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"type":"invite.created"}`)
	h := http.Header{}
	h.Set(webhook.HeaderID, "ev1")
	h.Set(webhook.HeaderTimestamp, "1700000000")
	h.Set(webhook.HeaderSignature, "v1,bm90IGl0 "+webhook.Sign(key, "ev1", now.Unix(), body))
	if err := webhook.Verify(key, h, body, now, 5*time.Minute); err != nil {
		t.Errorf("Verify = %v", err)
	}
	if err := webhook.Verify(key, h, append(body, ' '), now, 5*time.Minute); !errors.Is(err, webhook.ErrBadSignature) {
		t.Errorf("Verify of a changed body = %v", err)
	}
	if err := webhook.Verify(key, h, body, now.Add(time.Hour), 5*time.Minute); !errors.Is(err, webhook.ErrTimestamp) {
		t.Errorf("Verify of an old message = %v", err)
	}
	h.Del(webhook.HeaderID)
	if err := webhook.Verify(key, h, body, now, 5*time.Minute); !errors.Is(err, webhook.ErrNoSignature) {
		t.Errorf("Verify without an ID = %v", err)
	}
}

// received is one message a test receiver got.
type received struct {
	ID, Type string
	Data     core.Event
}

// receiver is a real HTTP server that verifies each message's signature.
type receiver struct {
	t    *testing.T
	key  []byte
	srv  *httptest.Server
	fail atomic.Int32 // answer 500 to this many more messages
	now  func() time.Time
	mu   sync.Mutex
	got  []received
}

func newReceiver(t *testing.T, secret string) *receiver {
	key, err := webhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{t: t, key: key, now: time.Now}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			t.Error(err)
			return
		}
		if err := webhook.Verify(r.key, req.Header, body, r.now(), 5*time.Minute); err != nil {
			t.Errorf("message %s: %v", req.Header.Get(webhook.HeaderID), err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.fail.Add(-1) >= 0 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var m struct {
			Type string     `json:"type"`
			Data core.Event `json:"data"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			t.Error(err)
		}
		r.mu.Lock()
		r.got = append(r.got, received{ID: req.Header.Get(webhook.HeaderID), Type: m.Type, Data: m.Data})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.got {
		out = append(out, m.Type)
	}
	return out
}

// fixture is a core writing its outbox to a SQLite store, on a clock the test moves.
type fixture struct {
	st  *sqlite.Store
	svc *core.Service
	now atomic.Pointer[time.Time]
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{}
	start := time.Now().UTC().Truncate(time.Second)
	f.now.Store(&start)
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{Durability: sqlite.DurabilityCrash})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f.st = st
	f.svc, err = core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}},
		Outbox: true, Now: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) clock() time.Time { return *f.now.Load() }

func (f *fixture) advance(d time.Duration) {
	n := f.clock().Add(d)
	f.now.Store(&n)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestDeliverEachEvent drives every event through a worker to real receivers: each
// message arrives signed, once, to the endpoints that subscribe to it; a refused
// redemption and a key make none; a receiver that fails gets the event again later,
// and only it.
func TestDeliverEachEvent(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	all := newReceiver(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	accounts := newReceiver(t, "whsec_c2Vjb25kIHJlY2VpdmVyIHNlY3JldCAzMiBieXRlcyE=")
	var attempts []outbox.Attempt
	var mu sync.Mutex
	sink, err := webhook.New(webhook.Options{
		Endpoints: []webhook.Endpoint{
			{Name: "all", URL: all.srv.URL, Key: all.key},
			{Name: "accounts", URL: accounts.srv.URL, Key: accounts.key, Types: []string{webhook.TypeAccountCreated}},
		},
		Now: f.clock,
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := outbox.NewWorker(outbox.Options{
		Store: f.st, Sinks: []outbox.Sink{sink}, Now: f.clock,
		OnAttempt: func(a outbox.Attempt) {
			mu.Lock()
			attempts = append(attempts, a)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	cli := core.Actor{Kind: core.ActorCLI}
	if _, _, err := f.svc.CreateKey(ctx, core.KeySpec{Host: "example.com", Name: "k", Actor: cli}); err != nil {
		t.Fatal(err)
	}
	inv, err := f.svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "alice", Remote: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "bob"}); err == nil {
		t.Fatal("a used-up invite was redeemed")
	}
	other, err := f.svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: cli})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RevokeInvite(ctx, cli, "example.com", other.ID); err != nil {
		t.Fatal(err)
	}
	accounts.fail.Store(1)
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"invite.created", "invite.redeemed", "account.created", "invite.created", "invite.revoked"}
	if got := all.types(); !slices.Equal(sorted(got), sorted(want)) {
		t.Errorf("all got %v, want %v", got, want)
	}
	if got := accounts.types(); len(got) != 0 {
		t.Errorf("the failing receiver recorded %v", got)
	}
	// Not due yet; then due, and only the failed receiver gets it.
	if n, err := w.RunOnce(ctx); err != nil || n != 0 {
		t.Fatalf("RunOnce before the backoff = %d, %v", n, err)
	}
	f.advance(time.Minute)
	if n, err := w.RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("RunOnce after the backoff = %d, %v", n, err)
	}
	if got := accounts.types(); !slices.Equal(got, []string{"account.created"}) {
		t.Errorf("accounts got %v", got)
	}
	if got := all.types(); len(got) != 5 {
		t.Errorf("the receiver that had it got it again: %v", got)
	}
	for _, m := range append(all.got, accounts.got...) {
		if m.Data.Actor.Remote != "" {
			t.Errorf("message %s carries the client's address", m.ID)
		}
		if m.Type == "account.created" && (m.Data.JID != "alice@example.com" || m.ID != m.Data.ID) {
			t.Errorf("account.created %+v", m)
		}
	}
	log, err := f.st.DeliveryLog(ctx, outbox.LogQuery{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 7 || len(attempts) != 7 {
		t.Errorf("delivery log %d attempts, OnAttempt %d; want 7", len(log), len(attempts))
	}
	failed := 0
	for _, a := range log {
		if !a.OK() {
			failed++
			if a.Status != 500 || a.Endpoint != "accounts" || a.Sink != "webhook" {
				t.Errorf("failed attempt %+v", a)
			}
		}
	}
	if failed != 1 {
		t.Errorf("%d failed attempts logged, want 1", failed)
	}
	if b, err := f.st.OutboxBacklog(ctx); err != nil || b.Pending != 0 {
		t.Errorf("backlog %+v, %v", b, err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestGiveUp checks that an endpoint that never answers well is retried with growing
// waits and given up a day after the event.
func TestGiveUp(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	r := newReceiver(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	r.fail.Store(1 << 20)
	r.now = f.clock
	sink, err := webhook.New(webhook.Options{Now: f.clock,
		Endpoints: []webhook.Endpoint{{Name: "down", URL: r.srv.URL, Key: r.key}}})
	if err != nil {
		t.Fatal(err)
	}
	w, err := outbox.NewWorker(outbox.Options{Store: f.st, Now: f.clock, Sinks: []outbox.Sink{sink}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: core.Actor{Kind: core.ActorCLI}}); err != nil {
		t.Fatal(err)
	}
	tries := 0
	for range 200 {
		n, err := w.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tries += n
		f.advance(10 * time.Minute)
	}
	b, err := f.st.OutboxBacklog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b.Pending != 0 || b.GivenUp != 1 {
		t.Errorf("backlog %+v, want the event given up", b)
	}
	// 5 s doubling to an hour over 24 hours, polled every 10 minutes: about 30.
	if tries < 20 || tries > 40 {
		t.Errorf("%d attempts in a day", tries)
	}
}
