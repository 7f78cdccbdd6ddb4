package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/audit"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// TestRecords drives every security-relevant event through a core with the audit log
// as its observer: one JSON record each, naming who, what and from where, and no
// secret, token or token hash anywhere in the log.
func TestRecords(t *testing.T) {
	ctx := t.Context()
	var buf bytes.Buffer
	log := audit.New(slog.New(slog.NewJSONHandler(&buf, nil)))
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{Durability: sqlite.DurabilityCrash})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}, Observer: log})
	if err != nil {
		t.Fatal(err)
	}
	cli := core.Actor{Kind: core.ActorCLI}
	key, cred, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com", Name: "portal", Actor: cli})
	if err != nil {
		t.Fatal(err)
	}
	k, err := svc.Authenticate(ctx, cred)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := svc.CreateKeyInvite(ctx, k, core.InviteSpec{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "alice", Remote: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "mallory", Remote: "198.51.100.9"}); err == nil {
		t.Fatal("used-up invite redeemed")
	}
	other, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: core.Actor{Kind: core.ActorJID, ID: "admin@example.com", Remote: "203.0.113.5"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RevokeInvite(ctx, cli, "example.com", other.ID); err != nil {
		t.Fatal(err)
	}
	if err := svc.DeleteKey(ctx, cli, "example.com", key.ID); err != nil {
		t.Fatal(err)
	}

	out := buf.String()
	for _, secret := range []string{cred, strings.SplitN(cred, "/", 2)[1], inv.Token, other.Token,
		inv.Token[core.IDLen:], string(inv.TokenHash)} {
		if strings.Contains(out, secret) {
			t.Errorf("the audit log holds a secret %q:\n%s", secret, out)
		}
	}
	type record struct {
		Msg                                   string
		Audit                                 bool
		Event, Actor, Remote, Host            string
		KeyID, InviteID, JID, Purpose, Reason string
	}
	var recs []record
	for line := range strings.Lines(out) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		s := func(k string) string { v, _ := m[k].(string); return v }
		b, _ := m["audit"].(bool)
		recs = append(recs, record{Msg: s("msg"), Audit: b, Event: s("event"), Actor: s("actor"), Remote: s("remote"),
			Host: s("host"), KeyID: s("key_id"), InviteID: s("invite_id"), JID: s("jid"), Purpose: s("purpose"), Reason: s("reason")})
	}
	want := []record{
		{Event: "key.created", Actor: "cli", Host: "example.com", KeyID: key.ID},
		{Event: "invite.created", Actor: "key:" + key.ID, Host: "example.com", InviteID: inv.ID},
		{Event: "invite.redeemed", Actor: "jid:alice@example.com", Remote: "192.0.2.7", Host: "example.com", InviteID: inv.ID, JID: "alice@example.com", Purpose: "register"},
		{Event: "account.created", Actor: "jid:alice@example.com", Remote: "192.0.2.7", Host: "example.com", InviteID: inv.ID, JID: "alice@example.com"},
		{Event: "invite.refused", Actor: "jid:mallory@example.com", Remote: "198.51.100.9", Host: "example.com", InviteID: inv.ID, JID: "mallory@example.com", Reason: "used-up"},
		{Event: "invite.created", Actor: "jid:admin@example.com", Remote: "203.0.113.5", Host: "example.com", InviteID: other.ID},
		{Event: "invite.revoked", Actor: "cli", Host: "example.com", InviteID: other.ID},
		{Event: "key.deleted", Actor: "cli", Host: "example.com", KeyID: key.ID},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d:\n%s", len(recs), len(want), out)
	}
	for i, w := range want {
		w.Msg, w.Audit = audit.Message, true
		if recs[i] != w {
			t.Errorf("record %d = %+v, want %+v", i, recs[i], w)
		}
	}
}

// TestExpiredAtDebug checks that the sweep's expiries do not flood an info log.
func TestExpiredAtDebug(t *testing.T) {
	var buf bytes.Buffer
	log := audit.New(slog.New(slog.NewJSONHandler(&buf, nil)))
	log.Observe(context.Background(), core.Event{Type: core.EventInviteExpired, InviteID: "x"})
	if buf.Len() != 0 {
		t.Errorf("an expiry was logged at info: %s", buf.String())
	}
}
