package register_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/plugin"
)

// Tokens of the shape the plugin makes (plugin.InviteToken takes nothing shorter).
const (
	tokAny   = "AAAAAAAAAAAAaaaaaaaaaaaaaaaaaaaaaaaa"
	tokFixed = "BBBBBBBBBBBBbbbbbbbbbbbbbbbbbbbbbbbb"
	tokReset = "CCCCCCCCCCCCcccccccccccccccccccccccc"
	tokBad   = "DDDDDDDDDDDDdddddddddddddddddddddddd"
)

func invitesFixture() *fakeInvites {
	return &fakeInvites{invites: map[string]plugin.Invite{
		tokAny:   {ID: "i1", Host: "localhost", Kind: "account", CanRegister: true},
		tokFixed: {ID: "i2", Host: "localhost", Kind: "account", Username: "frank", CanRegister: true},
		tokReset: {ID: "i3", Host: "localhost", Kind: "reset", Username: "alice"},
	}}
}

// TestSubmitInvitation: the form's invitation field takes the invite's page URL, its
// xmpp: URI or its token, checked as the pre-auth IQ checks it and redeemed as
// registration redeems it; anything else gets a clear error and changes nothing.
func TestSubmitInvitation(t *testing.T) {
	for i, tc := range []struct {
		mode       register.Mode
		invitation string
		user       string
		want       string // condition, or "ok"
		text       string
		jid        string
		redeemed   string
	}{
		0: {register.InviteOnly, "https://chat.example/invite?" + tokAny, "juliet", "ok", "", "juliet@localhost", tokAny + ":juliet"},
		1: {register.InviteOnly, "xmpp:localhost?register;preauth=" + tokAny, "juliet", "ok", "", "juliet@localhost", tokAny + ":juliet"},
		2: {register.InviteOnly, "  " + tokAny + "\n", "juliet", "ok", "", "juliet@localhost", tokAny + ":juliet"},
		3: {register.InviteOnly, "https://chat.example/invite?" + tokFixed, "", "ok", "", "frank@localhost", tokFixed + ":frank"}, // the fixed name filled in
		4: {register.InviteOnly, tokFixed, "juliet", "modify/not-acceptable", "this invitation is for the username frank", "", ""},
		5: {register.InviteOnly, "my invitation", "juliet", "modify/not-acceptable",
			"the invitation field takes the invitation's link (https://…/invite?…), its xmpp: address or its code", "", ""},
		6: {register.InviteOnly, "https://chat.example/invite?" + tokBad, "juliet", "cancel/item-not-found", "the invitation is invalid, expired or already used", "", ""},
		7: {register.InviteOnly, "", "juliet", "modify/not-acceptable", "registration is by invitation only: give your invitation link in the Invitation field", "", ""},
		8: {register.Open, "xmpp:localhost?register;preauth=" + tokAny, "juliet", "ok", "", "juliet@localhost", tokAny + ":juliet"}, // honoured in open mode too
		9: {register.InviteOnly, "https://chat.example/invite?" + tokReset, "", "ok", "", "alice@localhost", tokReset + ":alice"},   // a reset invite resets
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			inv := invitesFixture()
			acc := &fakeAccounts{state: map[string]string{"alice@localhost": "active"}}
			svc, err := register.New(register.Config{Domain: "localhost", Mode: tc.mode, Invites: inv, Accounts: acc})
			if err != nil {
				t.Fatal(err)
			}
			fl := svc.Start(netip.MustParseAddr("192.0.2.1"))
			jid, err := fl.Submit(t.Context(), register.Request{Invitation: tc.invitation, Username: tc.user, Password: "pw"})
			if cond(err) != tc.want || text(err) != tc.text || jid != tc.jid {
				t.Fatalf("Submit: %q, %s %q; want %q, %s %q", jid, cond(err), text(err), tc.jid, tc.want, tc.text)
			}
			if got := strings.Join(inv.redeemed, " "); got != tc.redeemed {
				t.Fatalf("redeemed %q, want %q", got, tc.redeemed)
			}
		})
	}
}

// TestTokenBudget: the invitations one client address tries are budgeted across its
// streams: past MaxTokenFailuresPerAddr bad ones its checks are refused unchecked
// (wait, resource-constraint) and count against the stream, good tokens cost
// nothing, and another address is not affected. The refusals are logged with the
// client's address, a few lines however many there are.
func TestTokenBudget(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	inv := invitesFixture()
	svc, err := register.New(register.Config{Domain: "localhost", Mode: register.InviteOnly, Invites: inv,
		Accounts: &fakeAccounts{state: map[string]string{}}, MaxTokenFailuresPerAddr: 3,
		Logger: slog.New(slog.NewTextHandler(w, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	flooder := netip.MustParseAddr("192.0.2.7")
	// Good tokens cost nothing.
	for range 10 {
		if err := svc.Start(flooder).PreAuth(ctx, tokAny); err != nil {
			t.Fatal(err)
		}
	}
	refused := 0
	for i := range 500 {
		fl := svc.Start(flooder) // a new stream each time, as a flooder reconnects
		err := fl.PreAuth(ctx, tokBad)
		switch {
		case i < 3 && cond(err) == "cancel/item-not-found":
		case i >= 3 && cond(err) == "wait/resource-constraint" && strings.HasPrefix(text(err), "too many invalid invitations from your address: try again in "):
			refused++
			if fl.Exhausted() {
				t.Fatal("one refusal exhausted a stream")
			}
		default:
			t.Fatalf("check %d: %v", i, err)
		}
	}
	// Past the budget even a good token is refused unchecked, in the form field too.
	fl := svc.Start(flooder)
	if err := fl.PreAuth(ctx, tokAny); cond(err) != "wait/resource-constraint" {
		t.Fatalf("a good token past the budget: %v", err)
	}
	if _, err := fl.Submit(ctx, register.Request{Invitation: tokAny, Username: "x", Password: "pw"}); cond(err) != "wait/resource-constraint" {
		t.Fatalf("the invitation field past the budget: %v", err)
	}
	// Another address (and IPv6 /64) still works.
	for _, other := range []string{"192.0.2.8", "2001:db8::1"} {
		if err := svc.Start(netip.MustParseAddr(other)).PreAuth(ctx, tokAny); err != nil {
			t.Fatalf("%s: %v", other, err)
		}
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var refusals []string
	for _, l := range lines {
		if strings.Contains(l, "refused") {
			refusals = append(refusals, l)
			if !strings.Contains(l, "client=192.0.2.7") {
				t.Errorf("a refusal without the client's address: %s", l)
			}
		}
	}
	if refused != 497 || len(refusals) > 3 || len(out) > 4096 {
		t.Fatalf("%d refusals made %d log lines, %d bytes:\n%s", refused, len(refusals), len(out), out)
	}
}
