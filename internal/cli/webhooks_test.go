package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
	"github.com/xmpp-invites/invites/internal/webhook"
)

func TestWebhooksSecret(t *testing.T) {
	code, out, errOut := run(t, t.TempDir(), "webhooks", "secret")
	if code != 0 || errOut != "" {
		t.Fatalf("secret: %d %q", code, errOut)
	}
	if _, err := webhook.ParseSecret(strings.TrimSpace(out)); err != nil {
		t.Errorf("secret %q: %v", out, err)
	}
}

// TestWebhooksLog writes a delivery to a store as the plugin's worker would and reads
// it back with the command line; a data directory without a store is refused, and
// none is made.
func TestWebhooksLog(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	if code, _, errOut := run(t, dir, "webhooks", "log", "example.com"); code != 1 || !strings.Contains(errOut, "there is no store at") {
		t.Fatalf("log without a store: %d %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, config.StoreFile)); err == nil {
		t.Fatal("the command line made a store")
	}

	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(dir, config.StoreFile), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}, Outbox: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: core.Actor{Kind: core.ActorCLI}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	es, err := st.Claim(ctx, "w", now, time.Minute, 10)
	if err != nil || len(es) != 1 {
		t.Fatalf("claim: %v %v", es, err)
	}
	ev := es[0].Event
	if err := st.Fail(ctx, ev.ID, "w", outbox.Failure{NextAttempt: now.Add(time.Minute), Error: "portal: HTTP status 503"},
		[]outbox.Attempt{{EventID: ev.ID, Type: "invite.created", Host: "example.com", Endpoint: "portal",
			Attempt: 1, At: now, Duration: 12 * time.Millisecond, Status: 503, Error: "HTTP status 503"}}); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()

	code, out, errOut := run(t, dir, "webhooks", "log", "example.com", "--limit", "5")
	if code != 0 || errOut != "" {
		t.Fatalf("log: %d %q", code, errOut)
	}
	cols := strings.Split(strings.TrimSuffix(out, "\n"), "\t")
	if len(cols) != 9 || cols[8] != "webhook" || cols[1] != ev.ID || cols[2] != "invite.created" || cols[3] != "portal" || cols[4] != "1" ||
		cols[5] != "503" || cols[6] != "12" || cols[7] != "HTTP status 503" {
		t.Errorf("log line %q", out)
	}
	if code, out, _ := run(t, dir, "webhooks", "pending"); code != 0 || !strings.HasPrefix(out, "pending\t1\n") {
		t.Errorf("pending: %d %q", code, out)
	}
	if code, _, errOut := run(t, dir, "webhooks", "log", "example.com", "--limit", "0"); code != 2 || !strings.Contains(errOut, "--limit") {
		t.Errorf("--limit 0: %d %q", code, errOut)
	}
	if code, _, _ := run(t, dir, "keys", "list", "example.com", "--limit", "3"); code != 2 {
		t.Errorf("keys with --limit: %d", code)
	}
}
