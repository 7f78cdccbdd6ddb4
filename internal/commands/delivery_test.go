package commands_test

import (
	"context"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/commands"
	"github.com/xmpp-invites/invites/internal/core"
)

// TestMailedAndExpiring checks the ad-hoc side of issue 25: create-account mails an
// invite (no link shown: the mail carries the only one) with a welcome message; the
// list shows its email and its funnel, and "Expiring soon" keeps the invites that
// expire within two days.
func TestMailedAndExpiring(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	form := submit("email", "friend@example.org", "ttl", "1d")
	form.Fields = append(form.Fields, adhoc.Field{Var: "welcome", Values: []string{"Hello!", "Say hi in the team room."}})
	resp, err := e.run(t, admin, commands.NodeCreateAccount, form)
	if err != nil || resp.Status != adhoc.StatusCompleted {
		t.Fatalf("mailed create: %+v %v", resp, err)
	}
	id := field(resp.Form, "id")
	if field(resp.Form, "email") != "friend@example.org" || field(resp.Form, "uri") != "" || !core.ValidID(id) {
		t.Fatalf("result %+v", resp.Form)
	}
	inv, err := e.svc.Invite(ctx, core.Actor{Kind: core.ActorCLI}, host, id)
	if err != nil || inv.Welcome != "Hello!\nSay hi in the team room." || inv.Mail.Status != core.MailQueued {
		t.Fatalf("invite %+v, %v", inv, err)
	}
	e.svc.CountFunnel(id, core.StagePageOpened)
	if _, err := e.run(t, admin, commands.NodeCreateAccount, submit("ttl", "5d", "note", "later")); err != nil {
		t.Fatal(err)
	}
	all := e.list(t, admin, "all")
	soon := e.list(t, admin, "Expiring soon") // Gajim submits the label
	if len(all) != 2 || len(soon) != 1 || soon[0]["id"] != id {
		t.Fatalf("all %d, expiring soon %v", len(all), soon)
	}
	line := soon[0]["line"]
	for _, want := range []string{"email queued", "seen 1, started 0"} {
		if !strings.Contains(line, want) {
			t.Errorf("the list's line lacks %q: %q", want, line)
		}
	}
}
