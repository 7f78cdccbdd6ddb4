package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/host"
	"github.com/xmpp-invites/invites/internal/webhook"
)

// hookReceiver is a real webhook receiver: it verifies every message's signature and
// records the invite IDs of invite.created messages. The first message it gets it
// holds until the sender goes away.
type hookReceiver struct {
	t       *testing.T
	key     []byte
	srv     *httptest.Server
	holding chan struct{} // closed once the first message is held
	once    sync.Once
	mu      sync.Mutex
	created map[string]int // invite ID → times received
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	key, err := webhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	r := &hookReceiver{t: t, key: key, holding: make(chan struct{}), created: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		if err := webhook.Verify(r.key, req.Header, body, time.Now(), 5*time.Minute); err != nil {
			t.Errorf("message %s: %v", req.Header.Get(webhook.HeaderID), err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		first := false
		r.once.Do(func() { first = true })
		if first {
			close(r.holding)
			<-req.Context().Done() // the sender was killed
			return
		}
		var m struct {
			Type string
			Data struct {
				InviteID string `json:"invite_id"`
			}
		}
		if err := json.Unmarshal(body, &m); err != nil {
			t.Error(err)
		}
		if m.Type == webhook.TypeInviteCreated {
			r.mu.Lock()
			r.created[m.Data.InviteID]++
			r.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) has(ids []string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if r.created[id] == 0 {
			return false
		}
	}
	return true
}

// TestWebhookSurvivesKill kills the plugin with SIGKILL while it delivers an event
// (the receiver holds the request), creates more invites while it restarts, and
// checks that every event reaches the receiver, signed: nothing is lost.
func TestWebhookSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin binary")
	}
	bin := pluginBinary(t)
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	r := newHookReceiver(t, secret)
	dataDir := t.TempDir()
	cfgFile := filepath.Join(dataDir, "invites.toml")
	cfg := fmt.Sprintf("[[webhook]]\nname = \"portal\"\nurl = %q\nsecret = %q\nevents = [\"invite.created\"]\ntimeout = \"1s\"\n", r.srv.URL, secret)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cred := newKey(t, dataDir)
	p, logs := load(t, bin, dataDir, func(c *host.Config) { c.Plugin.ConfigFile = cfgFile })
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()

	var ids []string
	create := func() {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/invites_api", nil)
		req.Header.Set("Authorization", "Bearer "+cred)
		req.Header.Set("Accept", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		var body struct{ ID string }
		if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&body) != nil {
			t.Fatalf("create: %d", resp.StatusCode)
		}
		ids = append(ids, body.ID)
	}
	create()
	select {
	case <-r.holding:
	case <-ctx.Done():
		t.Fatal("the first event never reached the receiver")
	}
	pid := p.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitFor(20*time.Second, func() bool { return p.PID() != 0 && p.PID() != pid }) {
		t.Fatal("the plugin did not come back")
	}
	for range 3 {
		create()
	}
	// The killed worker's lease (4 × 1 s + 5 s) runs out, and the new one sends it.
	if !waitFor(45*time.Second, func() bool { return r.has(ids) }) {
		r.mu.Lock()
		got := fmt.Sprint(r.created)
		r.mu.Unlock()
		t.Fatalf("received %v, want every one of %v\n%s", got, ids, logs)
	}
}
