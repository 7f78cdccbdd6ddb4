package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
)

// TestInvitesByEmail checks the command line's side of issue 25: invites mailed
// (--email, refused when the server sends no email), sent again (resend), shown with
// their email and funnel, listed when expiring soon, and the delivery log by sink.
func TestInvitesByEmail(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	st := serverStore(t, dir, "example.com")

	// A server that records no relay: refused, naming the flag and the table.
	code, _, errOut := run(t, dir, "invites", "create", "example.com", "--email", "friend@example.org")
	if code != 1 || !strings.Contains(errOut, "Error: --email: this server sends no email") || !strings.Contains(errOut, "[smtp]") {
		t.Fatalf("--email without a relay: %d %q", code, errOut)
	}
	// The server records that it mails invites.
	if err := st.RecordHosts(context.Background(), []core.RecordedHost{{Domain: "example.com", Webhooks: true, Mail: true}}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, dir, "invites", "create", "example.com", "--email", "friend@example.org", "--welcome", "Hi!", "--ttl", "1h")
	id, rest, _ := strings.Cut(strings.TrimSpace(out), "\t")
	if code != 0 || rest != "mail to friend@example.org queued" || !core.ValidID(id) {
		t.Fatalf("create --email: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := run(t, dir, "invites", "create", "example.com", "--email", "not an address"); code != 1 || !strings.Contains(errOut, "Error: --email: ") {
		t.Errorf("a bad address: %d %q", code, errOut)
	}
	code, out, _ = run(t, dir, "invites", "show", "example.com", id)
	for _, want := range []string{"email", "friend@example.org: queued", "welcome", "Hi!",
		"funnel", "0 page views, 0 registrations started, 0 accounts, 0 first logins, 0 still active after 7 days"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	code, out, errOut = run(t, dir, "invites", "resend", "example.com", id, "--email", "other@example.org", "--json")
	var shown struct {
		Email  struct{ Address, Status string } `json:"email"`
		Funnel *core.Funnel                     `json:"funnel"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &shown) != nil || shown.Email.Address != "other@example.org" ||
		shown.Email.Status != "queued" || shown.Funnel == nil {
		t.Errorf("resend: %d %q %q", code, out, errOut)
	}
	// Expiring soon: the one-hour invite, not a week-long one.
	if code, _, _ := run(t, dir, "invites", "create", "example.com"); code != 0 {
		t.Fatal("create")
	}
	code, out, _ = run(t, dir, "invites", "list", "example.com", "--expiring", "2h")
	if code != 0 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, id+"\t") {
		t.Errorf("list --expiring 2h: %d %q", code, out)
	}
	if code, _, errOut := run(t, dir, "invites", "list", "example.com", "--expiring", "soon"); code != 1 || !strings.Contains(errOut, "--expiring") {
		t.Errorf("--expiring soon: %d %q", code, errOut)
	}
	if code, _, errOut := run(t, dir, "invites", "resend", "example.com"); code != 2 {
		t.Errorf("resend without an ID: %d %q", code, errOut)
	}
	if code, out, errOut := run(t, dir, "webhooks", "log", "example.com", "--sink", "email"); code != 0 || out != "" {
		t.Errorf("log --sink email: %d %q %q", code, out, errOut)
	}
}
