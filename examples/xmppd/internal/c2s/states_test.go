package c2s_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/c2s"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
)

// TestLoginStates: an account that is disabled or pending approval cannot log in,
// and is told why with account-disabled (RFC 6120 §6.5.1) once its password is
// right; a wrong password learns nothing more than for any account.
func TestLoginStates(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	for i, tc := range []struct {
		state      accounts.State
		pass       string
		cond, text string
	}{
		{accounts.StateDisabled, "alice-pass", "account-disabled", "This account is disabled by an administrator."},
		{accounts.StatePending, "alice-pass", "account-disabled", "This account is waiting for an administrator's approval."},
		{accounts.StatePending, "wrong", "not-authorized", ""},
		{accounts.StateActive, "alice-pass", "", ""},
	} {
		if _, err := e.store.SetState(ctx, "alice@localhost", tc.state); err != nil {
			t.Fatal(err)
		}
		c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Plain("alice", tc.pass, "")
		_ = c.Close()
		if tc.cond == "" {
			if err != nil {
				t.Errorf("%d: %v", i, err)
			}
			continue
		}
		if got := html.UnescapeString(fmt.Sprint(err)); !errors.Is(err, testclient.ErrAuth) || !strings.Contains(got, "<"+tc.cond+"/>") || !strings.Contains(got, tc.text) {
			t.Errorf("%d: %v, want %s %q", i, err, tc.cond, tc.text)
		}
	}
}

// TestEndSessions: disabling an account ends its sessions at once, saying why; the
// hooks hear of the login (with the stream's language) and of the stream's end.
func TestEndSessions(t *testing.T) {
	var mu sync.Mutex
	var events []string
	e := start(t, register.InviteOnly, func(cfg *c2s.Config) {
		cfg.OnLogin = func(_ context.Context, full jid.JID, lang string) {
			mu.Lock()
			events = append(events, "login "+full.String()+" "+lang)
			mu.Unlock()
		}
		cfg.OnStreamEnd = func(_ context.Context, full jid.JID) {
			mu.Lock()
			events = append(events, "ended "+full.String())
			mu.Unlock()
		}
	})
	ctx := testCtx(t)
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{Lang: "fr-CA"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Plain("alice", "alice-pass", "phone"); err != nil {
		t.Fatal(err)
	}
	other, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Plain("bob", "bob-pass", "laptop"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.SetState(ctx, "alice@localhost", accounts.StateDisabled); err != nil {
		t.Fatal(err)
	}
	if n := e.srv.EndSessions("alice@localhost", "This account was disabled by an administrator."); n != 1 {
		t.Fatalf("ended %d sessions, want 1", n)
	}
	el, err := c.Next()
	if err != nil || el.XMLName.Local != "error" || !strings.Contains(el.Inner, "policy-violation") ||
		!strings.Contains(el.Inner, "This account was disabled by an administrator.") {
		t.Fatalf("alice's stream: %v, %v", el, err)
	}
	// Bob's session goes on.
	if el, err := other.IQ(`<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`); err != nil || el.Attr("type") != "result" {
		t.Fatalf("bob's session: %v %v", el, err)
	}
	want := []string{"login alice@localhost/phone fr-CA", "login bob@localhost/laptop ", "ended alice@localhost/phone"}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := strings.Join(events, "|")
		mu.Unlock()
		if got == strings.Join(want, "|") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSendMessage: a message from the server reaches the account's available
// sessions at once; for an account with none it is kept, and delivered, marked with
// when it was sent, at its next available presence.
func TestSendMessage(t *testing.T) {
	e := start(t, register.InviteOnly, func(cfg *c2s.Config) { cfg.Offline = cfg.Credentials.(*accounts.Store) })
	ctx := testCtx(t)
	alice, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	if _, err := alice.Plain("alice", "alice-pass", "phone"); err != nil {
		t.Fatal(err)
	}
	if err := alice.Send(`<presence/>`); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.IQ(`<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>`); err != nil { // the presence is handled
		t.Fatal(err)
	}
	if err := e.srv.SendMessage(ctx, "alice@localhost", "Welcome", "Hello & welcome", "de"); err != nil {
		t.Fatal(err)
	}
	// Her own presence and the ping's result may come before or after: skip them.
	el, err := alice.Next()
	for err == nil && (el.XMLName.Local == "presence" || el.XMLName.Local == "iq" && el.Attr("id") == "p1") {
		el, err = alice.Next()
	}
	if err != nil || el.XMLName.Local != "message" || el.Attr("from") != "localhost" || el.Attr("type") != "chat" ||
		el.Attr("lang") != "de" || !strings.Contains(el.Inner, "<subject>Welcome</subject><body>Hello &amp; welcome</body>") ||
		strings.Contains(el.Inner, "delay") {
		t.Fatalf("alice got %v, %v", el, err)
	}

	// Bob is offline: kept, then delivered at his available presence, in order.
	for _, body := range []string{"first", "second"} {
		if err := e.srv.SendMessage(ctx, "bob@localhost", "", body, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.srv.SendMessage(ctx, "nobody@example.org", "", "x", ""); err == nil {
		t.Error("a message to another domain was taken")
	}
	bob, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if _, err := bob.Plain("bob", "bob-pass", "laptop"); err != nil {
		t.Fatal(err)
	}
	if err := bob.Send(`<presence/>`); err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for len(bodies) < 2 {
		el, err := bob.Next()
		if err != nil {
			t.Fatalf("bob: %v (got %q)", err, bodies)
		}
		if el.XMLName.Local != "message" {
			continue
		}
		if !strings.Contains(el.Inner, `<delay xmlns="urn:xmpp:delay" from="localhost" stamp="`) {
			t.Errorf("a kept message without its time: %v", el)
		}
		bodies = append(bodies, el.Inner[strings.Index(el.Inner, "<body>")+6:strings.Index(el.Inner, "</body>")])
	}
	if strings.Join(bodies, ",") != "first,second" {
		t.Errorf("bob got %q", bodies)
	}
	if left, _ := e.store.TakeOffline(ctx, "bob@localhost"); len(left) != 0 {
		t.Errorf("delivered messages kept: %s", left)
	}
}
