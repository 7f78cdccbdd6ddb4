package service_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
	"github.com/xmpp-invites/invites/internal/service"
	"github.com/xmpp-invites/invites/internal/store/postgres"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
	"github.com/xmpp-invites/invites/internal/webhook"
	"github.com/xmpp-invites/invites/plugin"
)

// TestTwoNodesDeliverOnce runs two plugin services (nodes) on one PostgreSQL schema,
// each with the same webhook, creates invites on both, and checks that the receiver
// gets every event, signed, exactly once: the nodes share the outbox through leases.
func TestTwoNodesDeliverOnce(t *testing.T) {
	_, dsn := pgtest.Schema(t)
	ctx := ctxT(t)
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := webhook.ParseSecret(secret)
	var (
		mu   sync.Mutex
		seen = map[string]int{}
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(key, r.Header, body, time.Now(), time.Minute); err != nil {
			t.Errorf("message %s: %v", r.Header.Get(webhook.HeaderID), err)
		}
		mu.Lock()
		seen[r.Header.Get(webhook.HeaderID)]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	// A key, made on the database as the command line would.
	st, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	admin, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, cred, err := admin.CreateKey(ctx, core.KeySpec{Host: "example.com", Name: "portal", Actor: core.Actor{Kind: core.ActorCLI}})
	if err != nil {
		t.Fatal(err)
	}

	cfg := fmt.Sprintf("store = %q\n[[host]]\ndomain = \"example.com\"\n[[webhook]]\nurl = %q\nsecret = %q\nevents = [\"invite.created\"]\n",
		dsn, recv.URL, secret)
	var nodes []*service.Service
	for range 2 {
		n := service.New(slog.New(slog.DiscardHandler))
		if _, err := n.Configure(ctx, plugin.Config{DataDir: t.TempDir(), ConfigTOML: cfg}, nil); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = n.Close(ctx) }()
		nodes = append(nodes, n)
	}
	const perNode = 25
	var ids []string
	var wg sync.WaitGroup
	var idMu sync.Mutex
	for i, n := range nodes {
		wg.Go(func() {
			for range perNode {
				req := httptest.NewRequest("POST", "/invites_api", nil)
				req.Header.Set("Authorization", "Bearer "+cred)
				req.Header.Set("Accept", "application/json")
				req.RemoteAddr = fmt.Sprintf("192.0.2.%d:1234", i+1)
				w := httptest.NewRecorder()
				if err := n.ServeHTTP(ctx, w, req); err != nil || w.Code != http.StatusCreated {
					t.Errorf("node %d create: %d %v %s", i, w.Code, err, w.Body)
					return
				}
				idMu.Lock()
				ids = append(ids, w.Body.String())
				idMu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(ids) != 2*perNode {
		t.Fatalf("%d invites created", len(ids))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= len(ids) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // time for a duplicate to show
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != len(ids) {
		t.Fatalf("the receiver got %d events, want %d", len(seen), len(ids))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times, want once", id, n)
		}
	}
	log, err := st.DeliveryLog(ctx, outbox.LogQuery{Host: "example.com", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != len(ids) {
		t.Errorf("the delivery log holds %d attempts, want %d", len(log), len(ids))
	}
	for _, a := range log {
		if !a.OK() || a.Status != http.StatusNoContent || !strings.Contains(a.Endpoint, "127.0.0.1") {
			t.Errorf("logged %+v", a)
		}
	}
}
