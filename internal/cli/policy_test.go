package cli_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/service"
	"github.com/xmpp-invites/invites/internal/webhook"
	"github.com/xmpp-invites/invites/plugin"
)

// TestServerPolicy (issue 22): without -config, the command line applies the policy
// the server applies, which the server recorded in the store when it started: a server
// with a 30-day maximum refuses a 60-day invite from the command line too, and an
// invite's location is the server's built-in page, as the HTTP API answers. Its
// changes are queued for the server's webhooks: a receiver gets invite.created for an
// invite the command line made, and each change's audit record goes to stderr.
func TestServerPolicy(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var (
		mu       sync.Mutex
		received []string
	)
	got := make(chan struct{}, 16)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m struct {
			Type string `json:"type"`
			Data struct {
				Actor    struct{ Kind, Remote string }
				InviteID string `json:"invite_id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("webhook body %s: %v", body, err)
		}
		mu.Lock()
		received = append(received, m.Type+" "+m.Data.Actor.Kind+" "+m.Data.InviteID)
		mu.Unlock()
		got <- struct{}{}
	}))
	defer receiver.Close()
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	s := service.New(nil)
	if _, err := s.Configure(ctx, plugin.Config{DataDir: dir, Domains: []string{"example.com"}, HTTPBaseURL: "https://chat.example.com",
		ConfigTOML: "max_ttl = \"30d\"\nlanding_page = \"builtin\"\n[[webhook]]\nurl = \"" + receiver.URL + "\"\nsecret = \"" + secret + "\"\n"}, nil); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(context.Background()) }()

	code, out, errOut := run(t, dir, "invites", "create", "example.com", "--ttl", "60d")
	if code != 1 || errOut != "Error: --ttl: a lifetime of 60 days is longer than the maximum of 30 days\n" {
		t.Errorf("a 60-day invite on a server with a 30-day maximum: %d %q %q", code, out, errOut)
	}
	code, out, errOut = run(t, dir, "invites", "create", "example.com", "--ttl", "30d")
	token, ok := strings.CutPrefix(strings.TrimSpace(out), "https://chat.example.com/invite?")
	if code != 0 || !ok || len(token) != 36 || !auditOnly(errOut, "invite.created") {
		t.Fatalf("create: %d %q %q; want the built-in page's URL and the audit record", code, out, errOut)
	}
	// The server's worker delivers the command line's event.
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatal("the webhook receiver got nothing for the command line's invite")
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "invite.created cli " + token[:12]; len(received) != 1 || received[0] != want {
		t.Errorf("webhooks received %q, want %q", received, want)
	}
}
