package c2s_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/c2s"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/internal/testlog"
	"github.com/xmpp-invites/invites/plugin"
)

// login opens a raw client stream as user, binds resource and, unless quiet, sends
// initial presence after fetching the roster.
func login(t *testing.T, ctx context.Context, addr, user, resource string, opts testclient.Options) *testclient.Client {
	t.Helper()
	c, err := testclient.Dial(ctx, addr, "localhost", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Plain(user, user+"-pass", resource); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

// online fetches the roster (so the session gets pushes) and sends initial presence.
func online(t *testing.T, c *testclient.Client) {
	t.Helper()
	if el, err := c.IQ(`<iq type='get' id='r0'><query xmlns='jabber:iq:roster'/></iq>`); err != nil || el.Attr("type") != "result" {
		t.Fatalf("roster get: %v %v", el, err)
	}
	if err := c.Send(`<presence/>`); err != nil {
		t.Fatal(err)
	}
}

// expect reads elements until one passes match, and returns it; the elements it
// skipped are returned too, for failure messages.
func expect(c *testclient.Client, what string, match func(testclient.Element) bool) (testclient.Element, error) {
	var seen []string
	for range 50 {
		el, err := c.Next()
		if err != nil {
			return el, fmt.Errorf("waiting for %s: %w (seen %v)", what, err, seen)
		}
		if match(el) {
			return el, nil
		}
		seen = append(seen, el.String())
	}
	return testclient.Element{}, fmt.Errorf("no %s among %v", what, seen)
}

// is matches a stanza by name, type and a substring of its content.
func is(name, typ, inner string) func(testclient.Element) bool {
	return func(el testclient.Element) bool {
		return el.XMLName.Local == name && el.Attr("type") == typ && strings.Contains(el.Inner, inner)
	}
}

// rosterItem matches a roster push or result holding an item for jid with
// subscription sub (and ask, when ask is not empty).
func rosterItem(jid, sub string) func(testclient.Element) bool {
	return func(el testclient.Element) bool {
		return el.XMLName.Local == "iq" && strings.Contains(el.Inner, `jid="`+jid+`"`) &&
			strings.Contains(el.Inner, `subscription="`+sub+`"`)
	}
}

// TestSubscriptionAndMessages: two accounts subscribe to each other the RFC 6121
// way, see each other's presence, exchange messages, and part.
func TestSubscriptionAndMessages(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	alice := login(t, ctx, e.addr, "alice", "desk", testclient.Options{})
	bob := login(t, ctx, e.addr, "bob", "phone", testclient.Options{})
	online(t, alice)
	online(t, bob)
	for _, c := range []*testclient.Client{alice, bob} {
		if _, err := expect(c, "own presence", is("presence", "", "")); err != nil {
			t.Fatal(err)
		}
	}

	// alice asks; her item gets ask, bob gets the request.
	if err := alice.Send(`<presence to='bob@localhost' type='subscribe'><status>hi, it is alice</status></presence>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(alice, "push with ask", func(el testclient.Element) bool {
		return rosterItem("bob@localhost", "none")(el) && strings.Contains(el.Inner, `ask="subscribe"`)
	}); err != nil {
		t.Fatal(err)
	}
	req, err := expect(bob, "subscription request", is("presence", "subscribe", "hi, it is alice"))
	if err != nil {
		t.Fatal(err)
	}
	if req.Attr("from") != "alice@localhost" {
		t.Fatalf("request from %q", req.Attr("from"))
	}
	// bob approves and asks back; alice approves.
	if err := bob.Send(`<presence to='alice@localhost' type='subscribed'/><presence to='alice@localhost' type='subscribe'/>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(alice, "subscribed", is("presence", "subscribed", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(alice, "bob's presence", func(el testclient.Element) bool {
		return el.XMLName.Local == "presence" && el.Attr("type") == "" && el.Attr("from") == "bob@localhost/phone"
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(alice, "bob's request", is("presence", "subscribe", "")); err != nil {
		t.Fatal(err)
	}
	if err := alice.Send(`<presence to='bob@localhost' type='subscribed'/>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(bob, "push both", rosterItem("alice@localhost", "both")); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(bob, "alice's presence", func(el testclient.Element) bool {
		return el.XMLName.Local == "presence" && el.Attr("type") == "" && el.Attr("from") == "alice@localhost/desk"
	}); err != nil {
		t.Fatal(err)
	}
	if err := alice.Send(`<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>`); err != nil {
		t.Fatal(err)
	}
	if el, err := expect(alice, "roster", func(el testclient.Element) bool { return el.Attr("id") == "r1" }); err != nil || !rosterItem("bob@localhost", "both")(el) {
		t.Fatalf("alice's roster: %v %v", el, err)
	}

	// Messages: to the bare JID, to a full JID, and to an account that is offline.
	if err := bob.Send(`<message to='alice@localhost' type='chat' id='m1'><body>hello alice</body></message>`); err != nil {
		t.Fatal(err)
	}
	msg, err := expect(alice, "message", is("message", "chat", "hello alice"))
	if err != nil {
		t.Fatal(err)
	}
	if msg.Attr("from") != "bob@localhost/phone" || msg.Attr("to") != "alice@localhost" {
		t.Fatalf("message addressed %v", msg)
	}
	if err := alice.Send(`<message to='bob@localhost/phone' type='chat' from='admin@localhost'><body>hi bob</body></message>`); err != nil {
		t.Fatal(err)
	}
	if msg, err := expect(bob, "message", is("message", "chat", "hi bob")); err != nil || msg.Attr("from") != "alice@localhost/desk" {
		t.Fatalf("message to a full JID: %v %v", msg, err)
	}
	if err := alice.Send(`<message to='admin@localhost' type='chat' id='m3'><body>anyone?</body></message>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(alice, "error for an offline account", is("message", "error", "service-unavailable")); err != nil {
		t.Fatal(err)
	}
	if err := alice.Send(`<message to='nobody@localhost' type='chat' id='m4'><body>?</body></message>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(alice, "error for no account", is("message", "error", "service-unavailable")); err != nil {
		t.Fatal(err)
	}
	if err := alice.Send(`<message to='carol@example.org' type='chat' id='m5'><body>?</body></message>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(alice, "error for another server", is("message", "error", "does not route")); err != nil {
		t.Fatal(err)
	}

	// An IQ between sessions is routed, and so is its answer.
	if err := alice.Send(`<iq to='bob@localhost/phone' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>`); err != nil {
		t.Fatal(err)
	}
	if q, err := expect(bob, "routed IQ", is("iq", "get", "jabber:iq:version")); err != nil || q.Attr("from") != "alice@localhost/desk" {
		t.Fatalf("routed IQ: %v %v", q, err)
	}
	if err := bob.Send(`<iq to='alice@localhost/desk' type='result' id='v1'><query xmlns='jabber:iq:version'><name>test</name></query></iq>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(alice, "IQ answer", is("iq", "result", "<name>test</name>")); err != nil {
		t.Fatal(err)
	}

	// bob goes: alice hears it.
	_ = bob.Close()
	if _, err := expect(alice, "bob unavailable", func(el testclient.Element) bool {
		return el.XMLName.Local == "presence" && el.Attr("type") == "unavailable" && el.Attr("from") == "bob@localhost/phone"
	}); err != nil {
		t.Fatal(err)
	}
	// alice removes bob: both subscriptions end.
	if err := alice.Send(`<iq type='set' id='rm'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' subscription='remove'/></query></iq>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(alice, "remove push", rosterItem("bob@localhost", "remove")); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(alice, "remove result", func(el testclient.Element) bool { return el.Attr("id") == "rm" && el.Attr("type") == "result" }); err != nil {
		t.Fatal(err)
	}
	// The next login of bob sees a roster without subscriptions.
	bob = login(t, ctx, e.addr, "bob", "", testclient.Options{})
	el, err := bob.IQ(`<iq type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>`)
	if err != nil || !rosterItem("alice@localhost", "none")(el) {
		t.Fatalf("bob's roster after the removal: %v %v", el, err)
	}
}

// TestPendingRequestAtLogin: a request to an account that is offline waits for it;
// a pre-approval answers a later request at once.
func TestPendingRequestAtLogin(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	alice := login(t, ctx, e.addr, "alice", "", testclient.Options{})
	online(t, alice)
	if err := alice.Send(`<presence to='bob@localhost' type='subscribe'/>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(alice, "push with ask", rosterItem("bob@localhost", "none")); err != nil {
		t.Fatal(err)
	}
	bob := login(t, ctx, e.addr, "bob", "", testclient.Options{})
	online(t, bob)
	if _, err := expect(bob, "the waiting request", is("presence", "subscribe", "")); err != nil {
		t.Fatal(err)
	}
	// Pre-approval (RFC 6121 §3.4): bob approves admin before admin asks.
	if err := bob.Send(`<presence to='admin@localhost' type='subscribed'/>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(bob, "pre-approval push", func(el testclient.Element) bool {
		return rosterItem("admin@localhost", "none")(el) && strings.Contains(el.Inner, `approved="true"`)
	}); err != nil {
		t.Fatal(err)
	}
	admin := login(t, ctx, e.addr, "admin", "", testclient.Options{})
	online(t, admin)
	if err := admin.Send(`<presence to='bob@localhost' type='subscribe'/>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(admin, "approved at once", is("presence", "subscribed", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(admin, "bob's presence", func(el testclient.Element) bool {
		return el.XMLName.Local == "presence" && el.Attr("type") == "" && strings.HasPrefix(el.Attr("from"), "bob@localhost/")
	}); err != nil {
		t.Fatal(err)
	}
}

// contactInvites accepts the token "T" as alice's contact invite, redeemed with the
// client's address.
type contactInvites struct {
	mu   sync.Mutex
	used bool
}

func (ci *contactInvites) RedeemContact(ctx context.Context, host, token, requester string) (string, []string, error) {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	if token != "T" || ci.used || host != "localhost" {
		return "", nil, errors.New("no such invite")
	}
	if !strings.HasPrefix(plugin.ClientAddr(ctx), "127.0.0.1:") {
		return "", nil, fmt.Errorf("redeemed without the client's address (%q)", plugin.ClientAddr(ctx))
	}
	ci.used = true
	return "alice@localhost", nil, nil
}

// TestPreauthSubscription: an existing account that holds a contact invite sends
// its subscription request with the token (XEP-0379); both are subscribed at once.
func TestPreauthSubscription(t *testing.T) {
	e := start(t, register.InviteOnly, func(c *c2s.Config) { c.ContactInvites = &contactInvites{} })
	ctx := testCtx(t)
	alice := login(t, ctx, e.addr, "alice", "", testclient.Options{})
	online(t, alice)
	bob := login(t, ctx, e.addr, "bob", "", testclient.Options{})
	online(t, bob)
	if err := bob.Send(`<presence to='alice@localhost' type='subscribe'><preauth xmlns='urn:xmpp:pars:0' token='T'/></presence>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(bob, "push both", rosterItem("alice@localhost", "both")); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(alice, "push both", rosterItem("bob@localhost", "both")); err != nil {
		t.Fatal(err)
	}
	// A used token is an ordinary request, delivered without the token.
	if err := bob.Send(`<presence to='admin@localhost' type='subscribe'><preauth xmlns='urn:xmpp:pars:0' token='T'/></presence>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(bob, "push with ask", rosterItem("admin@localhost", "none")); err != nil {
		t.Fatal(err)
	}
	admin := login(t, ctx, e.addr, "admin", "", testclient.Options{})
	online(t, admin)
	req, err := expect(admin, "request", is("presence", "subscribe", ""))
	if err != nil || strings.Contains(req.Inner, "preauth") {
		t.Fatalf("request: %v %v", req, err)
	}
}

// TestWelcome: Server.Welcome subscribes a new account and its inviter to each other,
// and to the members of its groups, and pushes the change to their sessions.
func TestWelcome(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	alice := login(t, ctx, e.addr, "alice", "", testclient.Options{})
	online(t, alice)
	// alice is in the group Team; bob, invited by alice into Team, joins it.
	if err := e.srv.Welcome(ctx, "alice@localhost", "", []string{"Team"}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Welcome(ctx, "bob@localhost", "alice@localhost", []string{"Team"}); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(alice, "push both", rosterItem("bob@localhost", "both")); err != nil {
		t.Fatal(err)
	}
	bob := login(t, ctx, e.addr, "bob", "", testclient.Options{})
	el, err := bob.IQ(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	if err != nil || !rosterItem("alice@localhost", "both")(el) || !strings.Contains(el.Inner, "<group>Team</group>") {
		t.Fatalf("bob's roster: %v %v", el, err)
	}
}

// TestRosterSetErrors: malformed roster sets are refused.
func TestRosterSetErrors(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	c := login(t, ctx, e.addr, "alice", "", testclient.Options{})
	for i, tc := range []struct{ send, want string }{
		{`<iq type='set' id='a'><query xmlns='jabber:iq:roster'/></iq>`, "bad-request"},
		{`<iq type='set' id='a'><query xmlns='jabber:iq:roster'><item jid='bob@localhost'/><item jid='admin@localhost'/></query></iq>`, "bad-request"},
		{`<iq type='set' id='a'><query xmlns='jabber:iq:roster'><item jid='bob@localhost'><group>x</group><group>x</group></item></query></iq>`, "not-acceptable"},
		{`<iq type='set' id='a'><query xmlns='jabber:iq:roster'><item jid='nobody@localhost' subscription='remove'/></query></iq>`, "item-not-found"},
		{`<iq type='set' id='a'><query xmlns='jabber:iq:roster'><item jid='alice@localhost'/></query></iq>`, "not-acceptable"},
		{`<iq type='get' id='a' to='bob@localhost'><query xmlns='jabber:iq:roster'/></iq>`, "service-unavailable"},
	} {
		el, err := c.IQ(tc.send)
		if err != nil || el.Attr("type") != "error" || !strings.Contains(el.Inner, tc.want) {
			t.Errorf("%d: %v %v, want %s", i, el, err, tc.want)
		}
	}
}

// TestWireNoRepeatedNamespaces records what the server writes on a real connection
// through registration, login, service discovery, commands, roster, presence and
// messages, and checks that no element declares the namespace it inherits
// (Gajim's nbxmpp cannot read disco items that do).
func TestWireNoRepeatedNamespaces(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	var wire bytes.Buffer
	var mu sync.Mutex
	rec := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return wire.Write(p) })
	reg, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{Record: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	for _, s := range []string{
		`<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>`,
		`<iq type='set' id='p'><preauth xmlns='urn:xmpp:pars:0' token='BAD'/></iq>`,
	} {
		if _, err := reg.IQ(s); err != nil {
			t.Fatal(err)
		}
	}
	admin := login(t, ctx, e.addr, "admin", "", testclient.Options{Record: rec})
	bob := login(t, ctx, e.addr, "bob", "", testclient.Options{Record: rec})
	online(t, admin)
	online(t, bob)
	for _, s := range []string{
		`<iq type='get' id='1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
		`<iq type='get' id='2' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`,
		`<iq type='get' id='3' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>`,
		`<iq type='get' id='4' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='urn:test#cmd'/></iq>`,
		`<iq type='set' id='5' to='localhost'><command xmlns='http://jabber.org/protocol/commands' node='urn:test#cmd'/></iq>`,
		`<iq type='get' id='6'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
		`<iq type='get' id='7'><ping xmlns='urn:xmpp:ping'/></iq>`,
		`<iq type='get' id='8'><query xmlns='urn:unknown'/></iq>`,
		`<iq type='set' id='9'><query xmlns='jabber:iq:roster'><item jid='bob@localhost' name='Bob'><group>Friends</group></item></query></iq>`,
		`<presence to='bob@localhost' type='subscribe'/>`,
	} {
		if err := admin.Send(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := expect(bob, "request", is("presence", "subscribe", "")); err != nil {
		t.Fatal(err)
	}
	if err := bob.Send(`<presence to='admin@localhost' type='subscribed'/><message to='admin@localhost' type='chat'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(admin, "message", is("message", "chat", "hi")); err != nil {
		t.Fatal(err)
	}
	if err := admin.Send(`<iq type='get' id='last'><query xmlns='jabber:iq:roster'/></iq>`); err != nil {
		t.Fatal(err)
	}
	if _, err := expect(admin, "the last answer", func(el testclient.Element) bool { return el.Attr("id") == "last" }); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	transcript := wire.Bytes()
	mu.Unlock()
	for _, want := range []string{"<item ", "<feature ", "<identity ", "<field ", "<bind ", "<group>", "<body>"} {
		if !bytes.Contains(transcript, []byte(want)) {
			t.Errorf("the transcript has no %s: the test saw less than it should", want)
		}
	}
	found, err := testclient.RepeatedNamespaces(transcript)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Errorf("repeated namespace: %s", f)
	}
	if t.Failed() {
		t.Logf("transcript:\n%s", transcript)
	}
}

// writerFunc is an io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestWhitespaceEverywhere: a client that puts whitespace before and after every
// element it sends, stream headers included (go-sendxmpp sends a newline between the
// restarted stream header and the bind IQ), registers, logs in and binds.
func TestWhitespaceEverywhere(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{Whitespace: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, s := range []string{
		`<iq type='set' id='a'><preauth xmlns='urn:xmpp:pars:0' token='GOODTOKEN'/></iq>`,
		`<iq type='get' id='b'><query xmlns='jabber:iq:register'/></iq>`,
		`<iq type='set' id='c'><query xmlns='jabber:iq:register'><username>spacey</username><password>spacey-pass</password></query></iq>`,
	} {
		if el, err := c.IQ(s); err != nil || el.Attr("type") != "result" {
			t.Fatalf("%s: %v %v", s, el, err)
		}
	}
	addr, err := c.Plain("spacey", "spacey-pass", "ws")
	if err != nil || addr != "spacey@localhost/ws" {
		t.Fatalf("login with whitespace: %q %v", addr, err)
	}
	if el, err := c.IQ(`<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>`); err != nil || el.Attr("type") != "result" {
		t.Fatalf("ping: %v %v", el, err)
	}
	if err := c.Send(" \n\t "); err != nil {
		t.Fatal(err)
	}
	if el, err := c.IQ(`<iq type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>`); err != nil || el.Attr("type") != "result" {
		t.Fatalf("ping after a keep-alive: %v %v", el, err)
	}
}

// TestIdleConnectionsFromOneAddress: 1,100 idle TCP connections from one address
// (more than the 1,000 the server takes) do not lock anyone else out: an address
// holds at most MaxPendingPerAddr connections that have not authenticated.
func TestIdleConnectionsFromOneAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,100 connections")
	}
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			_ = c.Close()
		}
	}()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
	for range 1100 {
		c, err := d.DialContext(ctx, "tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	// Another address still gets in and logs in.
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{LocalAddr: "127.0.0.2"})
	if err != nil {
		t.Fatalf("another address is locked out: %v", err)
	}
	defer c.Close()
	if _, err := c.Plain("alice", "alice-pass", ""); err != nil {
		t.Fatal(err)
	}
	// The idle address itself gets no more than its share.
	open := 0
	for _, ic := range idle {
		_ = ic.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := ic.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			open++
		}
	}
	if open > c2s.DefaultMaxPendingPerAddr {
		t.Fatalf("%d idle connections of one address stay open, want at most %d", open, c2s.DefaultMaxPendingPerAddr)
	}
}

// TestNegotiationDeadlines: a connection that does nothing is closed after
// HelloTimeout; one that logs in in time is not; one holding a valid invitation gets
// the longer NegotiationTimeout, and one that only asked for the form of an
// invite-only server does not (else any address could hold its slots for minutes);
// where registration is open, asking for the form is enough.
func TestNegotiationDeadlines(t *testing.T) {
	timeouts := func(c *c2s.Config) {
		c.HelloTimeout = 300 * time.Millisecond
		c.AuthTimeout = 900 * time.Millisecond
		c.NegotiationTimeout = 5 * time.Second
	}
	e := start(t, register.InviteOnly, timeouts)
	open := start(t, register.Open, timeouts)
	ctx := testCtx(t)
	var d net.Dialer
	idle, err := d.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	began := time.Now()
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 4096)
	for {
		if _, err := idle.Read(b); err != nil {
			break
		}
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Fatalf("an idle connection stayed %v", took)
	}

	dial := func(addr string) *testclient.Client {
		t.Helper()
		c, err := testclient.Dial(ctx, addr, "localhost", testclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	const getForm = `<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>`
	quiet := dial(e.addr)       // TLS up, then nothing
	formOnly := dial(e.addr)    // asks for the form of an invite-only server
	invited := dial(e.addr)     // pre-authenticates a valid invitation
	openForm := dial(open.addr) // asks for the form where registration is open
	for _, c := range []*testclient.Client{formOnly, openForm} {
		if el, err := c.IQ(getForm); err != nil || el.Attr("type") != "result" {
			t.Fatalf("form: %v %v", el, err)
		}
	}
	if el, err := invited.IQ(`<iq type='set' id='p'><preauth xmlns='urn:xmpp:pars:0' token='GOODTOKEN'/></iq>`); err != nil || el.Attr("type") != "result" {
		t.Fatalf("pre-auth: %v %v", el, err)
	}
	time.Sleep(1500 * time.Millisecond)
	for name, c := range map[string]*testclient.Client{"quiet": quiet, "form only": formOnly} {
		if el, err := c.Next(); err != nil || !strings.Contains(el.Inner, "connection-timeout") {
			t.Errorf("%s client after AuthTimeout: %v %v, want connection-timeout", name, el, err)
		}
	}
	if el, err := invited.IQ(registerIQ("newbie", "pw")); err != nil || el.Attr("type") != "result" {
		t.Fatalf("invited client after AuthTimeout: %v %v", el, err)
	}
	if el, err := openForm.IQ(getForm); err != nil || el.Attr("type") != "result" {
		t.Fatalf("open registration's form after AuthTimeout: %v %v", el, err)
	}
}

// TestBlockedLoginsLogOnce: the attempts refused because an address failed too
// often are logged, but not one line each.
func TestBlockedLoginsLogOnce(t *testing.T) {
	var logs testlog.Buffer
	e := start(t, register.InviteOnly, func(c *c2s.Config) {
		c.MaxAuthFailuresPerAddr = 1
		c.MaxAuthFailures = 10
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	ctx := testCtx(t)
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 6 {
		if _, err := c.Plain("alice", "wrong", ""); !errors.Is(err, testclient.ErrAuth) {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "too many failed logins"); n != 1 {
		t.Fatalf("%d log lines for 5 blocked attempts, want 1:\n%s", n, logs.String())
	}
}

// TestOnePresenceOneDelivery: a contact's presence arrives once per stanza sent, and
// a second session of the same account gets the first one's presence once.
func TestOnePresenceOneDelivery(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	if err := e.srv.Welcome(ctx, "bob@localhost", "alice@localhost", nil); err != nil {
		t.Fatal(err)
	}
	alice := login(t, ctx, e.addr, "alice", "desk", testclient.Options{})
	online(t, alice)
	bob := login(t, ctx, e.addr, "bob", "phone", testclient.Options{})
	online(t, bob)
	// alice's mark: everything alice gets before it is counted.
	if err := bob.Send(`<message to='alice@localhost/desk' type='chat'><body>mark</body></message>`); err != nil {
		t.Fatal(err)
	}
	n := 0
	if _, err := expect(alice, "the mark", func(el testclient.Element) bool {
		if el.XMLName.Local == "presence" && el.Attr("from") == "bob@localhost/phone" {
			n++
		}
		return el.XMLName.Local == "message"
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("alice got bob's initial presence %d times", n)
	}
}

// TestRefusedCommandStepLogged: a command step answered with an IQ error is logged at
// info with its condition and reason.
func TestRefusedCommandStepLogged(t *testing.T) {
	var logs testlog.Buffer
	e := start(t, register.InviteOnly, func(c *c2s.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	ctx := testCtx(t)
	c := login(t, ctx, e.addr, "admin", "", testclient.Options{})
	el, err := c.IQ(`<iq type='set' id='c' to='localhost'><command xmlns='http://jabber.org/protocol/commands' node='urn:test#cmd' action='next'/></iq>`)
	if err != nil || el.Attr("type") != "error" {
		t.Fatalf("command: %v %v", el, err)
	}
	want := `level=INFO msg="ad-hoc command step refused" remote=`
	if out := logs.String(); !strings.Contains(out, want) || !strings.Contains(out, `node=urn:test#cmd action=next condition=item-not-found`) {
		t.Fatalf("log lacks the refusal:\n%s", out)
	}
	// A refused value comes back as the form with an error note: logged too, with the
	// note and not the value submitted.
	el, err = c.IQ(`<iq type='set' id='r' to='localhost'><command xmlns='http://jabber.org/protocol/commands' node='urn:test#refuse' sessionid='s'>` +
		`<x xmlns='jabber:x:data' type='submit'><field var='rate'><value>lots</value></field></x></command></iq>`)
	if err != nil || el.Attr("type") != "result" {
		t.Fatalf("refused value: %v %v", el, err)
	}
	if out := logs.String(); !strings.Contains(out, `node=urn:test#refuse action=execute condition=error-note status=executing reason="Rate limit: \"lots\" is not a rate"`) {
		t.Fatalf("log lacks the refused value:\n%s", out)
	}
}
