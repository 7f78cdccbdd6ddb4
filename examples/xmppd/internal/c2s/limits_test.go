package c2s_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/c2s"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/internal/testlog"
)

// adminUnlimited exempts admin@localhost from the session caps, as xmppd does its
// administrators.
func adminUnlimited(c *c2s.Config) {
	c.Unlimited = func(j jid.JID) bool { return j.String() == "admin@localhost" }
}

// loginFrom logs user in from the local address from and returns the client, or the
// error (a stream error's text among it).
func loginFrom(ctx context.Context, addr, from, user string) (*testclient.Client, error) {
	c, err := testclient.Dial(ctx, addr, "localhost", testclient.Options{LocalAddr: from})
	if err != nil {
		return nil, err
	}
	if _, err := c.Plain(user, user+"-pass", ""); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// TestSessionCaps: one account cannot open more than MaxSessionsPerAccount
// sessions, nor one address more than MaxSessionsPerAddr whichever the accounts, and
// an administrator still logs in from there; a session that ends gives its place
// back.
func TestSessionCaps(t *testing.T) {
	e := start(t, register.InviteOnly, func(c *c2s.Config) {
		adminUnlimited(c)
		c.MaxSessionsPerAccount = 3
		c.MaxSessionsPerAddr = 5
	})
	ctx := testCtx(t)
	var open []*testclient.Client
	t.Cleanup(func() {
		for _, c := range open {
			_ = c.Close()
		}
	})
	mustLogin := func(from, user string) *testclient.Client {
		t.Helper()
		c, err := loginFrom(ctx, e.addr, from, user)
		if err != nil {
			t.Fatalf("%s from %s: %v", user, from, err)
		}
		open = append(open, c)
		return c
	}
	refused := func(from, user, text string) {
		t.Helper()
		c, err := loginFrom(ctx, e.addr, from, user)
		if err == nil {
			open = append(open, c)
			t.Fatalf("%s from %s logged in past its cap", user, from)
		}
		if !strings.Contains(err.Error(), "policy-violation") || !strings.Contains(err.Error(), text) {
			t.Fatalf("%s from %s: %v, want policy-violation %q", user, from, err, text)
		}
	}
	// One account, from several addresses.
	first := mustLogin("127.0.0.2", "alice")
	mustLogin("127.0.0.3", "alice")
	mustLogin("127.0.0.4", "alice")
	refused("127.0.0.5", "alice", "too many sessions of this account (at most 3): close one first")
	// One address, several accounts: alice has 1 there, bob 3 more, carol 1, then
	// the address's cap; carol still logs in from elsewhere.
	if err := e.store.Add(ctx, "carol@localhost", "carol-pass"); err != nil {
		t.Fatal(err)
	}
	mustLogin("127.0.0.2", "bob")
	mustLogin("127.0.0.2", "bob")
	mustLogin("127.0.0.2", "bob")
	refused("127.0.0.3", "bob", "too many sessions of this account (at most 3)")
	mustLogin("127.0.0.2", "carol")
	refused("127.0.0.2", "carol", "too many sessions from your address (at most 5)")
	mustLogin("127.0.0.7", "carol")
	// The administrator still logs in, from that address and beyond every cap.
	for range 6 {
		mustLogin("127.0.0.2", "admin")
	}
	// A session that ends gives its place back.
	_ = first.Close()
	if !eventually(5*time.Second, func() bool {
		c, err := loginFrom(ctx, e.addr, "127.0.0.6", "alice")
		if err == nil {
			open = append(open, c)
		}
		return err == nil
	}) {
		t.Fatal("alice's place did not come back after one of her sessions ended")
	}
}

// eventually polls cond every 50 ms until it holds or d has passed.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// TestFormAskersCannotHoldEverySlot: 100 addresses that connect and ask for the
// registration form of an invite-only server, more than the server has slots, do not
// keep an administrator out: a new connection takes the slot of an unauthenticated
// one from the address that holds the most. (Each address here is one of 127.0.0.x.)
func TestFormAskersCannotHoldEverySlot(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 200 TLS connections")
	}
	const addrs, perAddr = 100, 2
	e := start(t, register.InviteOnly, func(c *c2s.Config) {
		adminUnlimited(c)
		c.MaxConnections = 120
		c.MaxPendingPerAddr = perAddr
		c.AuthTimeout = time.Minute // no help from the deadline in this test
		c.HelloTimeout = time.Minute
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var mu sync.Mutex
	var held []*testclient.Client
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range addrs * perAddr {
		from := fmt.Sprintf("127.0.1.%d", 10+i%addrs)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{LocalAddr: from})
			if err != nil {
				return // refused or evicted: the flood goes on
			}
			if _, err := c.IQ(`<iq type='get' id='f'><query xmlns='jabber:iq:register'/></iq>`); err != nil {
				_ = c.Close()
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(held) < 100 {
		t.Fatalf("only %d connections of the flood got in; the test wants the slots full", len(held))
	}
	c, err := loginFrom(ctx, e.addr, "127.0.0.1", "admin")
	if err != nil {
		t.Fatalf("the administrator is kept out: %v", err)
	}
	_ = c.Close()
	// And an ordinary account too, from an address of its own.
	c, err = loginFrom(ctx, e.addr, "127.0.0.9", "alice")
	if err != nil {
		t.Fatalf("alice is kept out: %v", err)
	}
	_ = c.Close()
}

// TestInvitationFlood: in-band invitation checks from one address are refused past
// its budget (wait, resource-constraint), across its streams; another address still
// registers; the log stays small and names the address.
func TestInvitationFlood(t *testing.T) {
	var logs testlog.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	e := startWith(t, register.InviteOnly, func(r *register.Config) {
		r.MaxTokenFailuresPerAddr = 5
		r.Logger = logger.With("component", "register")
	}, func(c *c2s.Config) { c.Logger = logger })
	ctx := testCtx(t)
	checks, refusals := 0, 0
	for range 40 { // streams: each ends after DefaultMaxTokenFailures bad tokens
		c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{LocalAddr: "127.0.0.2"})
		if err != nil {
			t.Fatal(err)
		}
		for i := range register.DefaultMaxTokenFailures {
			el, err := c.IQ(fmt.Sprintf(`<iq type='set' id='p%d'><preauth xmlns='urn:xmpp:pars:0' token='BAD%d'/></iq>`, i, i))
			if err != nil {
				break
			}
			checks++
			if strings.Contains(el.Inner, "resource-constraint") && strings.Contains(el.Inner, "too many invalid invitations from your address") {
				refusals++
			}
		}
		_ = c.Close()
	}
	if checks != 200 || refusals != 195 {
		t.Fatalf("%d checks, %d refused unchecked; want 200, 195", checks, refusals)
	}
	// Another address pre-authenticates and registers.
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{LocalAddr: "127.0.0.3"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if el, err := c.IQ(`<iq type='set' id='ok'><preauth xmlns='urn:xmpp:pars:0' token='GOODTOKEN'/></iq>`); err != nil || el.Attr("type") != "result" {
		t.Fatalf("another address: %v %v", el, err)
	}
	if el, err := c.IQ(registerIQ("newbie", "pw")); err != nil || el.Attr("type") != "result" {
		t.Fatalf("another address registering: %v %v", el, err)
	}
	out := logs.String()
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "127.0.0.2") && strings.Contains(l, "refused") {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 || len(lines) > 4 || !bytes.Contains([]byte(lines[0]), []byte("client=127.0.0.2")) {
		t.Fatalf("%d refusals logged in %d lines:\n%s", checks, len(lines), strings.Join(lines, "\n"))
	}
	if n := len(out); n > 8<<10 {
		t.Fatalf("%d bytes of log for %d checks:\n%s", n, checks, out)
	}
}

// TestRegistrationInvitationField: the registration form of an invite-only server
// carries the invitation field, and a form submitted with the invite's page URL in
// it registers, with no pre-auth IQ; a bad invitation gets a clear error.
func TestRegistrationInvitationField(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	const token = "AZx4Qm8_bC-dEf0123456789abcdefghijkl"
	e.invites.mu.Lock()
	e.invites.token = token
	e.invites.mu.Unlock()
	ctx := testCtx(t)
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	el, err := c.IQ(`<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>`)
	if err != nil || !strings.Contains(el.Inner, `var="invitation"`) || !strings.Contains(el.Inner, `label="Invitation"`) {
		t.Fatalf("the form: %v %v", el, err)
	}
	form := func(invitation, user string) string {
		return `<iq type='set' id='s'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>` +
			`<field var='FORM_TYPE'><value>jabber:iq:register</value></field>` +
			`<field var='invitation'><value>` + invitation + `</value></field>` +
			`<field var='username'><value>` + user + `</value></field><field var='password'><value>pw</value></field>` +
			`</x></query></iq>`
	}
	for _, tc := range []struct{ invitation, want string }{
		{"hello", "the invitation field takes the invitation"},
		{"https://chat.example/invite?AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "the invitation is invalid, expired or already used"},
	} {
		if el, err := c.IQ(form(tc.invitation, "newbie")); err != nil || el.Attr("type") != "error" || !strings.Contains(el.Inner, tc.want) {
			t.Fatalf("invitation %q: %v %v", tc.invitation, el, err)
		}
	}
	if el, err := c.IQ(form("https://chat.example/invite?"+token, "newbie")); err != nil || el.Attr("type") != "result" {
		t.Fatalf("registering with the invitation field: %v %v", el, err)
	}
	if addr, err := c.Plain("newbie", "pw", ""); err != nil || !strings.HasPrefix(addr, "newbie@localhost/") {
		t.Fatalf("login after registration: %q %v", addr, err)
	}
}
