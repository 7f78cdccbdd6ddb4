package main

import (
	"context"
	"crypto/tls"
	"html"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/c2s"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/certs"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/roster"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/plugin"
)

// hostEnv is a hostAPI over a real account store and a real client server.
type hostEnv struct {
	api   *hostAPI
	store *accounts.Store
	addr  string
}

func startHost(t *testing.T) *hostEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	store, err := accounts.Open(ctx, filepath.Join(dir, accounts.FileName), accounts.Options{Iterations: scram.MinIterations})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"admin", "root", "alice", "bob"} {
		if err := store.Add(ctx, u+"@localhost", u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	cert, _, err := certs.SelfSigned(filepath.Join(dir, "tls"), []string{"localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rs, err := roster.New(store, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := c2s.New(c2s.Config{Domain: "localhost", TLS: &tls.Config{Certificates: []tls.Certificate{cert}},
		Credentials: store, Roster: rs, Accounts: store, Offline: store})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = store.Close()
	})
	// root@localhost is an administrator without an account by the time messages go.
	api := &hostAPI{domain: "localhost", admins: []string{"admin@localhost", "root@localhost", "ghost@localhost"}, accounts: store}
	api.srv.Store(srv)
	return &hostEnv{api: api, store: store, addr: ln.Addr().String()}
}

// online logs user in with resource "r" and available presence.
func (e *hostEnv) online(t *testing.T, ctx context.Context, user string) *testclient.Client {
	t.Helper()
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Plain(user, user+"-pass", "r"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.IQ(`<iq type='get' id='roster'><query xmlns='jabber:iq:roster'/></iq>`); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(`<presence/>`); err != nil {
		t.Fatal(err)
	}
	return c
}

// next reads c until an element that is not presence.
func next(t *testing.T, c *testclient.Client) testclient.Element {
	t.Helper()
	for {
		el, err := c.Next()
		if err != nil {
			t.Fatal(err)
		}
		if el.XMLName.Local != "presence" {
			return el
		}
	}
}

// TestAccountAdmin checks xmppd's plugin.AccountAdmin: states set and read, sessions
// ended, accounts deleted with their places in rosters, and clear refusals.
func TestAccountAdmin(t *testing.T) {
	e := startHost(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := e.store.Reserve(ctx, "reserved@localhost", "pw"); err != nil {
		t.Fatal(err)
	}
	alice := e.online(t, ctx, "alice")
	for i, tc := range []struct {
		jid   string
		state plugin.AccountState
		err   string
	}{
		{"alice@localhost", "frozen", `"frozen" is not a state an account can be put in: active, disabled or pending`},
		{"nobody@localhost", plugin.AccountDisabled, "there is no account nobody@localhost"},
		{"reserved@localhost", plugin.AccountDisabled, "there is no account reserved@localhost"},
		{"alice@example.org", plugin.AccountDisabled, "alice@example.org is not on this server's domain localhost"},
		{"a b", plugin.AccountDisabled, `"a b" is not an account's address (user@localhost)`},
		{"alice@localhost", plugin.AccountPending, ""},
		{"alice@localhost", plugin.AccountDisabled, ""},
	} {
		err := e.api.SetAccountState(ctx, tc.jid, tc.state)
		if got := func() string {
			if err == nil {
				return ""
			}
			return err.Error()
		}(); got != tc.err {
			t.Errorf("%d: SetAccountState(%s, %s) = %q, want %q", i, tc.jid, tc.state, got, tc.err)
		}
	}
	// Pending ended alice's session at once, saying why.
	if el := next(t, alice); el.XMLName.Local != "error" || !strings.Contains(html.UnescapeString(el.Inner), textEndPending) {
		t.Errorf("alice's session: %v", el)
	}
	for jid, want := range map[string]plugin.AccountState{
		"alice@localhost": plugin.AccountDisabled, "bob@localhost": plugin.AccountActive,
		"reserved@localhost": plugin.AccountNone, "nobody@localhost": plugin.AccountNone, "not a jid": plugin.AccountNone,
	} {
		if got, err := e.api.AccountState(ctx, jid); got != want || err != nil {
			t.Errorf("AccountState(%s) = %q, %v; want %q", jid, got, err, want)
		}
		exists, err := e.api.AccountExists(ctx, jid)
		if exists != (want != plugin.AccountNone) || err != nil {
			t.Errorf("AccountExists(%s) = %v, %v", jid, exists, err)
		}
	}

	// Deleting bob takes him out of admin's roster, and admin's session hears it.
	rs, err := roster.New(e.store, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rs.Mutual(ctx, "admin@localhost", "bob@localhost"); err != nil {
		t.Fatal(err)
	}
	admin := e.online(t, ctx, "admin")
	bob := e.online(t, ctx, "bob")
	if err := e.api.DeleteAccount(ctx, "bob@localhost"); err != nil {
		t.Fatal(err)
	}
	if el := next(t, admin); el.XMLName.Local != "iq" || !strings.Contains(el.Inner, `jid="bob@localhost"`) || !strings.Contains(el.Inner, `subscription="remove"`) {
		t.Errorf("admin's roster push: %v", el)
	}
	if el := next(t, bob); el.XMLName.Local != "error" || !strings.Contains(el.Inner, textEndDeleted) {
		t.Errorf("bob's session: %v", el)
	}
	if items, _ := rs.Get(ctx, "admin@localhost"); len(items) != 0 {
		t.Errorf("admin's roster keeps %+v", items)
	}
	if err := e.api.DeleteAccount(ctx, "bob@localhost"); err != nil {
		t.Errorf("deleting again: %v", err)
	}
	if err := e.store.Add(ctx, "bob@localhost", "new"); err != nil {
		t.Errorf("bob's name is not free: %v", err)
	}
}

// TestMessenger checks xmppd's plugin.Messenger: to one account, online or offline,
// and to every administrator.
func TestMessenger(t *testing.T) {
	e := startHost(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	admin := e.online(t, ctx, "admin")
	for i, tc := range []struct {
		m   plugin.Message
		err string
	}{
		{plugin.Message{Host: "example.org", To: "alice@localhost", Body: "x"}, "this server does not serve example.org"},
		{plugin.Message{To: "alice@localhost", Body: "  "}, "a message needs a body"},
		{plugin.Message{To: "alice@example.org", Body: "x"}, "alice@example.org is not on this server's domain localhost"},
	} {
		if err := e.api.SendMessage(ctx, tc.m); err == nil || err.Error() != tc.err {
			t.Errorf("%d: %v, want %q", i, err, tc.err)
		}
	}
	// To every administrator: admin is online, root offline, ghost has no account.
	if err := e.api.SendMessage(ctx, plugin.Message{Host: "localhost", Subject: "Pending", Body: "carol waits", Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	if el := next(t, admin); el.XMLName.Local != "message" || !strings.Contains(el.Inner, "<body>carol waits</body>") {
		t.Errorf("admin got %v", el)
	}
	if kept, _ := e.store.TakeOffline(ctx, "root@localhost"); len(kept) != 1 || !strings.Contains(string(kept[0]), "carol waits") {
		t.Errorf("root's kept messages: %s", kept)
	}
	// To an account that is offline: kept for its next login.
	if err := e.api.SendMessage(ctx, plugin.Message{To: "alice@localhost", Body: "welcome"}); err != nil {
		t.Fatal(err)
	}
	alice := e.online(t, ctx, "alice")
	if el := next(t, alice); el.XMLName.Local != "message" || !strings.Contains(el.Inner, "<body>welcome</body>") {
		t.Errorf("alice got %v", el)
	}
	if err := e.api.SendMessage(ctx, plugin.Message{To: "nobody@localhost", Body: "x"}); err == nil {
		t.Error("a message for no account was taken")
	}
}
