package c2s_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/c2s"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/certs"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/roster"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/plugin"
)

var (
	_ c2s.Credentials    = (*accounts.Store)(nil)
	_ c2s.CommandHandler = (*adhoc.Handler)(nil)
)

// invites is a one-token invite service.
type invites struct {
	mu    sync.Mutex
	token string
}

func (i *invites) CheckInvite(_ context.Context, host, token string) (plugin.Invite, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if token == "" || token != i.token {
		return plugin.Invite{}, plugin.ErrInviteNotFound
	}
	return plugin.Invite{ID: "inv", Host: host, Kind: "account", CanRegister: true}, nil
}

// CheckPassword refuses "12345678", in the language asked for.
func (i *invites) CheckPassword(_ context.Context, c plugin.PasswordCheck) error {
	if c.Password == "12345678" {
		return &plugin.PasswordError{Rules: []string{"common"}, Reason: "[" + c.Lang + "] too common"}
	}
	return nil
}

func (i *invites) RedeemInvite(ctx context.Context, r plugin.Redemption) (plugin.Invite, error) {
	inv, err := i.CheckInvite(ctx, r.Host, r.Token)
	if err == nil {
		i.mu.Lock()
		i.token = ""
		i.mu.Unlock()
	}
	return inv, err
}

// executor lists one command, to admin@localhost only.
type executor struct{}

func (executor) Commands(_ context.Context, _, requester string, _ adhoc.Role) ([]adhoc.Command, error) {
	if strings.HasPrefix(requester, "admin@localhost/") {
		return []adhoc.Command{{Node: "urn:test#cmd", Name: "Test command"}}, nil
	}
	return nil, nil
}

// Execute refuses every request; "urn:test#refuse" the way adhoc.Server refuses a
// value, with the form again and an error note.
func (executor) Execute(_ context.Context, _ string, req adhoc.Request) (adhoc.Response, error) {
	if req.Node == "urn:test#refuse" {
		return adhoc.Response{Node: req.Node, SessionID: "s", Status: adhoc.StatusExecuting, Actions: []adhoc.Action{adhoc.ActionNext},
			Notes: []adhoc.Note{{Type: adhoc.NoteInfo, Text: "not this one"}, {Type: adhoc.NoteError, Text: "Rate limit: \"lots\" is not a rate"}},
			Form:  &adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{{Var: "rate", Type: adhoc.FieldTextSingle, Values: []string{"lots"}}}}}, nil
	}
	return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondItemNotFound}
}

type env struct {
	srv     *c2s.Server
	addr    string
	store   *accounts.Store
	invites *invites
}

func start(t *testing.T, mode register.Mode, tweak func(*c2s.Config)) *env {
	t.Helper()
	return startWith(t, mode, nil, tweak)
}

// startWith starts a server as start does, with regTweak changing the registration's
// configuration first.
func startWith(t *testing.T, mode register.Mode, regTweak func(*register.Config), tweak func(*c2s.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir := t.TempDir()
	store, err := accounts.Open(ctx, filepath.Join(dir, accounts.FileName), accounts.Options{Iterations: scram.MinIterations})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"admin", "alice", "bob"} {
		if err := store.Add(ctx, u+"@localhost", u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	cert, _, err := certs.SelfSigned(filepath.Join(dir, "tls"), []string{"localhost"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	inv := &invites{token: "GOODTOKEN"}
	regCfg := register.Config{Domain: "localhost", Mode: mode, Invites: inv, Accounts: store}
	if regTweak != nil {
		regTweak(&regCfg)
	}
	reg, err := register.New(regCfg)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := roster.New(store, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	cfg := c2s.Config{
		Domain:       "localhost",
		TLS:          &tls.Config{Certificates: []tls.Certificate{cert}},
		Credentials:  store,
		Registration: reg,
		Roster:       rs,
		Accounts:     store,
		NewCommandHandler: func(ctx context.Context, requester jid.JID, _ net.Addr) c2s.CommandHandler {
			return adhoc.NewHandler(executor{}, "localhost", requester, adhoc.HandlerOptions{BaseContext: func() context.Context { return ctx }})
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := c2s.New(cfg)
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
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return")
		}
		_ = store.Close()
	})
	return &env{srv: srv, addr: ln.Addr().String(), store: store, invites: inv}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestLogin(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	for _, mech := range []sasl.Mechanism{sasl.ScramSha256, sasl.ScramSha1, sasl.Plain} {
		t.Run(mech.Name, func(t *testing.T) {
			sess, err := testclient.Login(ctx, e.addr, "alice", "alice-pass", mech)
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			if !strings.HasPrefix(sess.LocalAddr().String(), "alice@localhost/") {
				t.Fatalf("bound %s", sess.LocalAddr())
			}
			if err := ping.Send(ctx, sess, jid.MustParse("localhost")); err != nil {
				t.Fatalf("ping: %v", err)
			}
		})
	}
}

func TestWrongPassword(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	for _, mech := range []sasl.Mechanism{sasl.ScramSha256, sasl.ScramSha1, sasl.Plain} {
		if sess, err := testclient.Login(ctx, e.addr, "alice", "wrong", mech); err == nil {
			_ = sess.Close()
			t.Fatalf("%s: logged in with a wrong password", mech.Name)
		}
		if sess, err := testclient.Login(ctx, e.addr, "nobody", "alice-pass", mech); err == nil {
			_ = sess.Close()
			t.Fatalf("%s: logged in as an unknown user", mech.Name)
		}
	}
}

// TestFeatures checks what each stream offers.
func TestFeatures(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{NoTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	f := c.Features().Inner
	if !strings.Contains(f, "starttls") || !strings.Contains(f, "<required") || strings.Contains(f, "mechanism") {
		t.Fatalf("first stream: %s", f)
	}
	// Registration before TLS is refused.
	el, err := c.IQ(`<iq type='get' id='r'><query xmlns='jabber:iq:register'/></iq>`)
	if err != nil || el.XMLName.Local != "error" || !strings.Contains(el.Inner, "policy-violation") {
		t.Fatalf("IQ before TLS: %v %v", el, err)
	}
	_ = c.Close()

	c, err = testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f = c.Features().Inner
	for _, want := range []string{
		"<mechanism>SCRAM-SHA-256</mechanism>", "<mechanism>SCRAM-SHA-1</mechanism>", "<mechanism>PLAIN</mechanism>",
		`<register xmlns='urn:xmpp:ibr-token:0'/>`, `<register xmlns='urn:xmpp:invite'/>`,
		`<register xmlns='http://jabber.org/features/iq-register'/>`,
	} {
		if !strings.Contains(f, want) {
			t.Errorf("secure stream lacks %s: %s", want, f)
		}
	}
	if strings.Contains(f, "PLUS") {
		t.Errorf("offers a -PLUS mechanism: %s", f)
	}
}

// TestClosedOffersNoRegistration: closed mode advertises nothing and refuses.
func TestClosedOffersNoRegistration(t *testing.T) {
	e := start(t, register.Closed, nil)
	ctx := testCtx(t)
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if strings.Contains(c.Features().Inner, "register") {
		t.Fatalf("closed mode advertises registration: %s", c.Features().Inner)
	}
	el, err := c.IQ(`<iq type='set' id='p'><preauth xmlns='urn:xmpp:pars:0' token='GOODTOKEN'/></iq>`)
	if err != nil || el.Attr("type") != "error" || !strings.Contains(el.Inner, "service-unavailable") {
		t.Fatalf("preauth in closed mode: %v %v", el, err)
	}
}

// TestRegistration walks XEP-0445 + XEP-0077 on one stream, then logs in on it.
func TestRegistration(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	steps := []struct{ send, wantType, wantIn string }{
		{`<iq type='set' id='a1'><query xmlns='jabber:iq:register'><username>newbie</username><password>pw</password></query></iq>`,
			"error", "registration is by invitation only"},
		{`<iq type='set' id='a2'><preauth xmlns='urn:xmpp:pars:0' token='BAD'/></iq>`, "error", "item-not-found"},
		{`<iq type='set' id='a3' to='localhost'><preauth xmlns='urn:xmpp:pars:0' token='GOODTOKEN'/></iq>`, "result", ""},
		{`<iq type='get' id='a4'><query xmlns='jabber:iq:register'/></iq>`, "result", "jabber:x:data"},
		{`<iq type='set' id='a5'><query xmlns='jabber:iq:register'><username>alice</username><password>pw</password></query></iq>`,
			"error", "conflict"},
		{`<iq type='set' id='a6'><query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>` +
			`<field var='FORM_TYPE'><value>jabber:iq:register</value></field>` +
			`<field var='username'><value>newbie</value></field><field var='password'><value>new pass</value></field>` +
			`</x></query></iq>`, "result", ""},
	}
	for i, s := range steps {
		el, err := c.IQ(s.send)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if el.Attr("type") != s.wantType || !strings.Contains(el.Inner, s.wantIn) || el.Attr("id") != fmt.Sprintf("a%d", i+1) {
			t.Fatalf("step %d: %v", i, el)
		}
	}
	if ok, _ := e.store.Exists(ctx, "newbie@localhost"); !ok {
		t.Fatal("account not created")
	}
	// Log in on the same stream.
	addr, err := c.Plain("newbie", "new pass", "")
	if err != nil || !strings.HasPrefix(addr, "newbie@localhost/") {
		t.Fatalf("login after registration: %q %v", addr, err)
	}
	// And with SCRAM on a new one; the token is gone.
	sess, err := testclient.Login(ctx, e.addr, "newbie", "new pass", sasl.ScramSha256)
	if err != nil {
		t.Fatal(err)
	}
	_ = sess.Close()
	c2, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if el, err := c2.IQ(`<iq type='set' id='b'><preauth xmlns='urn:xmpp:pars:0' token='GOODTOKEN'/></iq>`); err != nil || !strings.Contains(el.Inner, "item-not-found") {
		t.Fatalf("reused token: %v %v", el, err)
	}
}

// TestBindIgnoresStreamFrom: a client that logs in as alice but claims to be
// admin in its stream header is bound as alice.
func TestBindIgnoresStreamFrom(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{From: "admin@localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr, err := c.Plain("alice", "alice-pass", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if addr != "alice@localhost/admin" {
		t.Fatalf("bound %q", addr)
	}
	// disco#items on the commands node shows alice nothing (admin sees one command).
	el, err := c.IQ(`<iq type='get' id='d' from='admin@localhost/x'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>`)
	if err != nil || el.Attr("type") != "result" || strings.Contains(el.Inner, "urn:test#cmd") || el.Attr("to") != "alice@localhost/admin" {
		t.Fatalf("disco as alice: %v %v", el, err)
	}
	// A second session asking for the same resource gets another one.
	c2, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	addr2, err := c2.Plain("alice", "alice-pass", "admin")
	if err != nil || addr2 == addr || !strings.HasPrefix(addr2, "alice@localhost/admin-") {
		t.Fatalf("second bind: %q %v", addr2, err)
	}
}

func TestDisco(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Plain("admin", "admin-pass", ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ send, want string }{
		{`<iq type='get' id='1' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`,
			`var="http://jabber.org/protocol/commands"`},
		{`<iq type='get' id='2'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`, `var="urn:xmpp:ping"`},
		{`<iq type='get' id='3'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq>`,
			`node="urn:test#cmd" name="Test command"`},
		{`<iq type='get' id='4'><query xmlns='http://jabber.org/protocol/disco#info' node='urn:test#cmd'/></iq>`,
			`type="command-node"`},
		{`<iq type='get' id='5'><query xmlns='http://jabber.org/protocol/disco#info' node='urn:nope'/></iq>`, `item-not-found`},
		{`<iq type='get' id='6'><ping xmlns='urn:xmpp:ping'/></iq>`, ``},
		{`<iq type='get' id='7' to='bob@example.org'><ping xmlns='urn:xmpp:ping'/></iq>`, `service-unavailable`},
		{`<iq type='set' id='8'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>`, ``},
		{`<iq type='get' id='11'><query xmlns='jabber:iq:roster'/></iq>`, `<query xmlns="jabber:iq:roster"></query>`},
		{`<iq type='get' id='9'><query xmlns='urn:unknown'/></iq>`, `service-unavailable`},
		{`<iq type='set' id='10'><command xmlns='http://jabber.org/protocol/commands' node='urn:test#cmd' action='execute'/></iq>`, `item-not-found`},
	}
	for i, tc := range tests {
		el, err := c.IQ(tc.send)
		if err != nil || !strings.Contains(el.Inner, tc.want) || el.Attr("id") != strings.Split(strings.Split(tc.send, "id='")[1], "'")[0] {
			t.Errorf("%d: %v %v", i+1, el, err)
		}
	}
}

// TestBadClientsEndOnlyTheirStream: oversized and malformed stanzas end the
// sender's stream; another client stays connected and answers ping.
func TestBadClientsEndOnlyTheirStream(t *testing.T) {
	e := start(t, register.InviteOnly, func(c *c2s.Config) { c.MaxStanzaSize = 64 << 10 })
	ctx := testCtx(t)
	good, err := testclient.Login(ctx, e.addr, "admin", "admin-pass", sasl.ScramSha256)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()

	bad := []struct {
		name, send, want string
	}{
		{"oversized", `<message to='localhost'><body>` + strings.Repeat("A", 1<<20) + `</body></message>`, "policy-violation"},
		{"malformed", `<message><body></wrong></message>`, "not-well-formed"},
		{"malformed-unread", `<iq type='get' id='m'><ping xmlns='urn:xmpp:ping'></iq>`, "not-well-formed"},
		{"oversized-preauth", "", "policy-violation"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			send := b.send
			if send == "" {
				send = `<iq type='get' id='x'><query xmlns='jabber:iq:register'><username>` + strings.Repeat("B", 100<<10) + `</username></query></iq>`
			} else if _, err := c.Plain("alice", "alice-pass", ""); err != nil {
				t.Fatal(err)
			}
			_ = c.Send(send) // the server may hang up mid-write
			var got []string
			for {
				el, err := c.Next()
				if err != nil {
					break
				}
				got = append(got, el.String())
			}
			if b.want != "" && !strings.Contains(strings.Join(got, ""), b.want) {
				t.Fatalf("got %v, want a %s stream error", got, b.want)
			}
			// The connection is gone.
			if _, err := c.IQ(`<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>`); err == nil {
				t.Fatal("stream still open")
			}
			if err := ping.Send(ctx, good, jid.MustParse("localhost")); err != nil {
				t.Fatalf("the other client lost its stream: %v", err)
			}
		})
	}
}

// TestTooManyAuthFailures: the stream ends after MaxAuthFailures.
func TestTooManyAuthFailures(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range c2s.DefaultMaxAuthFailures {
		if _, err := c.Plain("alice", "wrong", ""); !errors.Is(err, testclient.ErrAuth) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	el, err := c.Next()
	if err != nil || el.XMLName.Local != "error" || !strings.Contains(el.Inner, "policy-violation") {
		t.Fatalf("after the last failure: %v %v", el, err)
	}
	if _, err := c.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream still open: %v", err)
	}
}

// TestFailuresPerAddress: after too many failures from one address, even the
// right password is refused for a while.
func TestFailuresPerAddress(t *testing.T) {
	e := start(t, register.InviteOnly, func(c *c2s.Config) { c.MaxAuthFailuresPerAddr = 2 })
	ctx := testCtx(t)
	for range 2 {
		if s, err := testclient.Login(ctx, e.addr, "alice", "wrong", sasl.ScramSha256); err == nil {
			_ = s.Close()
			t.Fatal("wrong password accepted")
		}
	}
	c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Plain("alice", "alice-pass", ""); !errors.Is(err, testclient.ErrAuth) || !strings.Contains(err.Error(), "temporary-auth-failure") {
		t.Fatalf("right password after too many failures: %v", err)
	}
}

// TestFailuresPerAddressAtOnce: guesses sent at once from one address cannot all
// pass the budget before any has failed: no more than the budget's worth of them get
// their password checked, the others are refused before it.
func TestFailuresPerAddressAtOnce(t *testing.T) {
	const budget, guesses = 2, 20
	e := start(t, register.InviteOnly, func(c *c2s.Config) {
		c.MaxAuthFailuresPerAddr = budget
		c.MaxPendingPerAddr = guesses
	})
	ctx := testCtx(t)
	clients := make([]*testclient.Client, guesses)
	for i := range clients {
		c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	errs := make(chan error, guesses)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			_, err := c.Plain("alice", "wrong", "")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	checked := 0
	for err := range errs {
		switch {
		case err == nil:
			t.Fatal("wrong password accepted")
		case strings.Contains(err.Error(), "temporary-auth-failure"):
		default:
			checked++ // not-authorized: the password was checked
		}
	}
	if checked > budget {
		t.Fatalf("%d of %d guesses at once had their password checked, want at most %d", checked, guesses, budget)
	}
}

// TestShutdown: Serve returns when its context ends, closing sessions.
func TestShutdown(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	store, err := accounts.Open(ctx, filepath.Join(dir, accounts.FileName), accounts.Options{Iterations: scram.MinIterations})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	_ = store.Add(ctx, "alice@localhost", "pw")
	cert, _, _ := certs.SelfSigned(dir, []string{"localhost"}, time.Now())
	srv, err := c2s.New(c2s.Config{Domain: "localhost", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Credentials: store})
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	tctx := testCtx(t)
	sess, err := testclient.Login(tctx, ln.Addr().String(), "alice", "pw", sasl.ScramSha256)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	// A client still negotiating must not hold the shutdown up either.
	pending, err := testclient.Dial(tctx, ln.Addr().String(), "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pending.Close()
	bound, err := testclient.Dial(tctx, ln.Addr().String(), "localhost", testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	if _, err := bound.Plain("alice", "pw", ""); err != nil {
		t.Fatal(err)
	}
	cancel()
	for i, c := range []*testclient.Client{pending, bound} {
		el, err := c.Next()
		if err != nil || el.XMLName.Local != "error" || !strings.Contains(el.Inner, "system-shutdown") {
			t.Errorf("client %d: want system-shutdown, got %v %v", i, el, err)
		}
		_ = c.Close()
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// TestSASLExchangeEdges drives SASL by hand through the steps clients rarely take: no
// initial response (the server must send an empty challenge), an abort, and a response
// that is not base64. Each failure leaves the stream open for another try.
func TestSASLExchangeEdges(t *testing.T) {
	e := start(t, register.InviteOnly, nil)
	ctx := testCtx(t)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	auth := func(mech, initial string) string {
		return `<auth xmlns='` + testclient.NSSASL + `' mechanism='` + mech + `'>` + initial + `</auth>`
	}
	response := func(s string) string { return `<response xmlns='` + testclient.NSSASL + `'>` + s + `</response>` }
	abort := `<abort xmlns='` + testclient.NSSASL + `'/>`
	for i, tc := range [...]struct {
		auth, answer string
		want         string // the element after the challenge
		cond         string // its condition, for a failure
	}{
		0: {auth("PLAIN", ""), response(b64("\x00alice\x00alice-pass")), "success", ""},
		1: {auth("PLAIN", ""), response("!!not base64!!"), "failure", "incorrect-encoding"},
		2: {auth("PLAIN", ""), abort, "failure", "aborted"},
		3: {auth("SCRAM-SHA-256", b64("n,,n=alice,r=0123456789abcdef")), abort, "failure", "aborted"},
		4: {auth("SCRAM-SHA-256", b64("n,,n=alice,r=0123456789abcdef")), response("!!not base64!!"), "failure", "incorrect-encoding"},
	} {
		c, err := testclient.Dial(ctx, e.addr, "localhost", testclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Send(tc.auth); err != nil {
			t.Fatal(err)
		}
		if el, err := c.Next(); err != nil || el.XMLName.Local != "challenge" {
			t.Fatalf("%d: want a challenge, got %v %v", i, el, err)
		}
		if err := c.Send(tc.answer); err != nil {
			t.Fatal(err)
		}
		el, err := c.Next()
		if err != nil || el.XMLName.Local != tc.want || !strings.Contains(el.Inner, tc.cond) {
			t.Fatalf("%d: want %s %s, got %v %v", i, tc.want, tc.cond, el, err)
		}
		if tc.want == "failure" {
			// The stream lives on: the client may try again, and succeed.
			if _, err := c.Plain("alice", "alice-pass", ""); err != nil {
				t.Fatalf("%d: login after the failure: %v", i, err)
			}
		}
		_ = c.Close()
	}
}

// registerIQ is the XEP-0077 set with the legacy fields.
func registerIQ(user, pass string) string {
	return `<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>` + user +
		`</username><password>` + pass + `</password></query></iq>`
}
