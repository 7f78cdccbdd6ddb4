package main_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
)

// rawLogin opens a raw client stream as user on the server at addr.
func rawLogin(t *testing.T, ctx context.Context, addr, user, pass string) *testclient.Client {
	t.Helper()
	c, err := testclient.Dial(ctx, addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Plain(user, pass, ""); err != nil {
		t.Fatalf("login %s: %v", user, err)
	}
	return c
}

// next reads elements until one passes match.
func next(c *testclient.Client, what string, match func(testclient.Element) bool) (testclient.Element, error) {
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

// hasItem matches a roster result or push holding jid with subscription sub.
func hasItem(jid, sub string) func(testclient.Element) bool {
	return func(el testclient.Element) bool {
		return el.XMLName.Local == "iq" && strings.Contains(el.Inner, `jid="`+jid+`"`) && strings.Contains(el.Inner, `subscription="`+sub+`"`)
	}
}

// TestAdminNameCannotBeClaimed (issue 15): with -admin boss@localhost and no such
// account, an invite cannot register "boss": only the operator can create it. The
// server warns about it at start.
func TestAdminNameCannotBeClaimed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	srv, cli := startAdminServer(t, nil, "-admin", "Boss@localhost")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if !strings.Contains(srv.stderr.String(), "administrator has no account") || !strings.Contains(srv.stderr.String(), "boss@localhost") {
		t.Errorf("no warning about the admin without an account:\n%s", srv.stderr.String())
	}
	key, err := cli.createKey(ctx, "claims")
	if err != nil {
		t.Fatal(err)
	}
	status, token, err := createInvite(ctx, srv.http, key)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("invite: %d %v", status, err)
	}
	for _, name := range []string{"boss", "Boss", "BOSS"} {
		el, err := registerWithToken(ctx, srv.c2s, token, name, pw(name))
		if err != nil || el.Attr("type") != "error" || !strings.Contains(el.Inner, "conflict") {
			t.Fatalf("registering %s: %v %v", name, el, err)
		}
	}
	if !strings.Contains(srv.stderr.String(), `msg="registration refused"`) {
		t.Errorf("the refusal is not logged:\n%s", srv.stderr.String())
	}
	// The invite was not spent: another name registers with it.
	if el, err := registerWithToken(ctx, srv.c2s, token, "worker", pw("worker")); err != nil || el.Attr("type") != "result" {
		t.Fatalf("registering worker: %v %v", el, err)
	}
}

// TestContactInviteByRegistration (XEP-0401 §5.5): a user makes a contact invite;
// the invitee registers with it; both rosters hold each other with subscription
// both, the inviter's online session gets the push, and they can talk.
func TestContactInviteByRegistration(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)
	work := t.TempDir()
	data := filepath.Join(work, "data")
	addUser(t, bin, data, "alice@localhost", "alice secret")
	// Users' contact invites may register accounts only when the operator allows it.
	pluginConfig := writeFile(t, work, "invites.toml", "allow_user_invites = true\n")
	srv := startServer(t, bin, work, "-data", data, "-plugin-config", pluginConfig)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	alice := rawLogin(t, ctx, srv.c2s, "alice", "alice secret")
	if el, err := alice.IQ(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`); err != nil || el.Attr("type") != "result" {
		t.Fatalf("roster: %v %v", el, err)
	}
	if err := alice.Send(`<presence/>`); err != nil {
		t.Fatal(err)
	}
	if err := alice.Send(`<iq type='set' id='inv' to='localhost'><command xmlns='http://jabber.org/protocol/commands' node='` + nodeInvite + `' action='execute'/></iq>`); err != nil {
		t.Fatal(err)
	}
	res, err := next(alice, "the invite", func(el testclient.Element) bool { return el.Attr("id") == "inv" })
	if err != nil || !strings.Contains(res.Inner, "roster;preauth=") {
		t.Fatalf("invite: %v %v", res, err)
	}
	_, rest, _ := strings.Cut(res.Inner, "<value>xmpp:")
	uri, _, _ := strings.Cut("xmpp:"+rest, "<")
	token := preauthToken(uri)
	if !strings.HasPrefix(uri, "xmpp:alice@localhost?roster;preauth=") || !strings.Contains(uri, ";ibr=y") || token == "" {
		t.Fatalf("contact invite URI %q", uri)
	}
	if el, err := registerWithToken(ctx, srv.c2s, token, "bob", pw("bob")); err != nil || el.Attr("type") != "result" {
		t.Fatalf("registering bob: %v %v", el, err)
	}
	if _, err := next(alice, "the push of bob", hasItem("bob@localhost", "both")); err != nil {
		t.Fatal(err)
	}
	bob := rawLogin(t, ctx, srv.c2s, "bob", pw("bob"))
	el, err := bob.IQ(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`)
	if err != nil || !hasItem("alice@localhost", "both")(el) {
		t.Fatalf("bob's roster: %v %v", el, err)
	}
	if err := bob.Send(`<presence/>`); err != nil {
		t.Fatal(err)
	}
	if _, err := next(bob, "alice's presence", func(el testclient.Element) bool {
		return el.XMLName.Local == "presence" && strings.HasPrefix(el.Attr("from"), "alice@localhost/")
	}); err != nil {
		t.Fatal(err)
	}
	if err := bob.Send(`<message to='alice@localhost' type='chat'><body>thanks for the invite</body></message>`); err != nil {
		t.Fatal(err)
	}
	if msg, err := next(alice, "bob's message", func(el testclient.Element) bool {
		return el.XMLName.Local == "message" && strings.Contains(el.Inner, "thanks for the invite")
	}); err != nil || !strings.HasPrefix(msg.Attr("from"), "bob@localhost/") {
		t.Fatalf("message: %v %v", msg, err)
	}
}

// TestPerAddressCapConfigured: xmppd hands max_unauthenticated_per_addr to its c2s
// server: beyond it, the idle connections of one address are closed at once, while
// another address still logs in.
func TestPerAddressCapConfigured(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	const limit = 3
	srv, _ := startAdminServer(t, nil, "-max-unauthenticated-per-addr", fmt.Sprint(limit))
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}}
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			_ = c.Close()
		}
	}()
	for range limit + 5 {
		c, err := d.DialContext(ctx, "tcp", srv.c2s)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	// Those past the cap are closed at once; the others stay open for the server's
	// hello timeout (10 s), longer than this waits on a loaded machine.
	closed := make([]bool, len(idle))
	open := len(idle)
	for wait := time.Now().Add(5 * time.Second); open > limit && time.Now().Before(wait); {
		for i, c := range idle {
			if closed[i] {
				continue
			}
			_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
				closed[i] = true
				open--
			}
		}
	}
	if open != limit {
		t.Errorf("%d idle connections of one address stay open, want %d", open, limit)
	}
	c, err := testclient.Dial(ctx, srv.c2s, "localhost", testclient.Options{LocalAddr: "127.0.0.2"})
	if err != nil {
		t.Fatalf("another address is locked out: %v", err)
	}
	defer c.Close()
	if _, err := c.Plain("admin", "admin secret", ""); err != nil {
		t.Fatal(err)
	}
}
