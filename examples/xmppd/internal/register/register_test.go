package register_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"mellium.im/xmpp/stanza"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
	"github.com/xmpp-invites/invites/plugin"
)

var _ register.Invites = (*fakeInvites)(nil)
var _ register.Accounts = (*fakeAccounts)(nil)

// fakeInvites holds invites by token; redemption is atomic. Its password policy
// refuses "12345678" and a password containing the username, worded with the
// language asked for; policyDown makes it unavailable. calls records the client
// address each call carried.
type fakeInvites struct {
	mu         sync.Mutex
	invites    map[string]plugin.Invite
	down       bool
	policyDown bool
	redeemed   []string
	calls      []string
}

func (f *fakeInvites) record(ctx context.Context, call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call+" "+plugin.ClientAddr(ctx))
}

func (f *fakeInvites) CheckPassword(ctx context.Context, c plugin.PasswordCheck) error {
	f.record(ctx, "password")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.policyDown:
		return fmt.Errorf("%w: restarting", plugin.ErrUnavailable)
	case c.Host != "localhost":
		return errors.New("unknown host")
	case c.Password == "12345678":
		return &plugin.PasswordError{Rules: []string{"common"}, Reason: "[" + c.Lang + "] This password is one of the most common passwords."}
	case c.Username != "" && strings.Contains(c.Password, c.Username):
		return &plugin.PasswordError{Rules: []string{"username"}, Reason: "[" + c.Lang + "] The password must not contain your username."}
	}
	return nil
}

func (f *fakeInvites) CheckInvite(ctx context.Context, host, token string) (plugin.Invite, error) {
	f.record(ctx, "check")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return plugin.Invite{}, fmt.Errorf("check: %w", plugin.ErrUnavailable)
	}
	inv, ok := f.invites[token]
	if !ok || inv.Host != host {
		return plugin.Invite{}, fmt.Errorf("check: %w", plugin.ErrInviteNotFound)
	}
	return inv, nil
}

func (f *fakeInvites) RedeemInvite(ctx context.Context, r plugin.Redemption) (plugin.Invite, error) {
	f.record(ctx, "redeem")
	host, token, username := r.Host, r.Token, r.Username
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return plugin.Invite{}, plugin.ErrUnavailable
	}
	inv, ok := f.invites[token]
	if !ok || inv.Host != host {
		return plugin.Invite{}, plugin.ErrInviteNotFound
	}
	if inv.Username != "" && inv.Username != username {
		return plugin.Invite{}, plugin.ErrUsernameNotAllowed
	}
	// The core's rule: a reset invite resets, any other registers.
	if (inv.Kind == "reset") != (r.Purpose == plugin.PurposeReset) {
		return plugin.Invite{}, plugin.ErrUsernameNotAllowed
	}
	delete(f.invites, token)
	f.redeemed = append(f.redeemed, token+":"+username)
	return inv, nil
}

// fakeAccounts records the account life cycle.
type fakeAccounts struct {
	mu     sync.Mutex
	state  map[string]string // jid -> "reserved" | "active" | "pending" (approval)
	events []string
}

func (a *fakeAccounts) Reserve(_ context.Context, addr, _ string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.state[addr]; ok {
		return fmt.Errorf("reserve: %w", accounts.ErrExists)
	}
	a.state[addr] = "reserved"
	a.events = append(a.events, "reserve "+addr)
	return nil
}

func (a *fakeAccounts) Activate(_ context.Context, addr string, st accounts.State) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state[addr] = string(st)
	a.events = append(a.events, "activate "+addr)
	return nil
}

func (a *fakeAccounts) Exists(_ context.Context, addr string) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state[addr] == "active", nil
}

func (a *fakeAccounts) DerivePassword(string) (accounts.Password, error) {
	return accounts.Password{}, nil
}

func (a *fakeAccounts) SetPassword(_ context.Context, addr string, _ accounts.Password) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state[addr] != "active" {
		return accounts.ErrNotFound
	}
	a.events = append(a.events, "password "+addr)
	return nil
}

func (a *fakeAccounts) Release(_ context.Context, addr string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state[addr] == "reserved" {
		delete(a.state, addr)
	}
	a.events = append(a.events, "release "+addr)
	return nil
}

type fixture struct {
	inv  *fakeInvites
	acc  *fakeAccounts
	svc  *register.Service
	flow *register.Flow
}

func newFixture(t *testing.T, mode register.Mode) *fixture {
	t.Helper()
	f := &fixture{
		inv: &fakeInvites{invites: map[string]plugin.Invite{
			"ANY":     {ID: "i1", Host: "localhost", Kind: "account", CanRegister: true},
			"FIXED":   {ID: "i2", Host: "localhost", Kind: "account", Username: "frank", CanRegister: true},
			"CONTACT": {ID: "i3", Host: "localhost", Kind: "contact", Inviter: "alice"},
			"OTHER":   {ID: "i4", Host: "example.org", Kind: "account", CanRegister: true},
		}},
		acc: &fakeAccounts{state: map[string]string{"taken@localhost": "active"}},
	}
	svc, err := register.New(register.Config{Domain: "localhost", Mode: mode, Invites: f.inv, Accounts: f.acc})
	if err != nil {
		t.Fatal(err)
	}
	f.svc, f.flow = svc, svc.Start(netip.Addr{})
	return f
}

// cond returns the type and condition of a stanza error, or "ok".
func cond(err error) string {
	if err == nil {
		return "ok"
	}
	var se stanza.Error
	if !errors.As(err, &se) {
		return "not a stanza error: " + err.Error()
	}
	return string(se.Type) + "/" + string(se.Condition)
}

func text(err error) string {
	var se stanza.Error
	if errors.As(err, &se) {
		return se.Text[""]
	}
	return ""
}

// step is one action on a Flow.
type step struct {
	preauth    string // token for PreAuth; "" means Register
	user, pass string
	want       string
	wantText   string
}

func TestFlow(t *testing.T) {
	tests := [...]struct {
		mode     register.Mode
		steps    []step
		accounts map[string]string
		redeemed []string
	}{
		0: { // invite-only without a token
			mode:  register.InviteOnly,
			steps: []step{{user: "bob", pass: "pw", want: "modify/not-acceptable", wantText: "registration is by invitation only: give your invitation link in the Invitation field"}},
		},
		1: { // the whole happy path
			mode: register.InviteOnly,
			steps: []step{
				{preauth: "ANY", want: "ok"},
				{user: "Bob", pass: "pw", want: "ok"},
			},
			accounts: map[string]string{"bob@localhost": "active"},
			redeemed: []string{"ANY:bob"},
		},
		2: { // a bad token, then no registration
			mode: register.InviteOnly,
			steps: []step{
				{preauth: "NOPE", want: "cancel/item-not-found"},
				{user: "bob", pass: "pw", want: "modify/not-acceptable"},
			},
		},
		3: { // fixed name: another name is refused, the token survives, then the right one
			mode: register.InviteOnly,
			steps: []step{
				{preauth: "FIXED", want: "ok"},
				{user: "bob", pass: "pw", want: "modify/not-acceptable", wantText: "this invitation is for the username frank"},
				{user: "frank", pass: "pw", want: "ok"},
			},
			accounts: map[string]string{"frank@localhost": "active"},
			redeemed: []string{"FIXED:frank"},
		},
		4: { // name taken: conflict, token not used
			mode: register.InviteOnly,
			steps: []step{
				{preauth: "ANY", want: "ok"},
				{user: "taken", pass: "pw", want: "cancel/conflict"},
				{user: "other", pass: "pw", want: "ok"},
			},
			accounts: map[string]string{"other@localhost": "active"},
			redeemed: []string{"ANY:other"},
		},
		5: { // contact invite without ibr and an invite for another host
			mode: register.InviteOnly,
			steps: []step{
				{preauth: "CONTACT", want: "cancel/item-not-found"},
				{preauth: "OTHER", want: "cancel/item-not-found"},
			},
		},
		6: { // open mode: no token needed, none used
			mode:     register.Open,
			steps:    []step{{user: "olga", pass: "pw", want: "ok"}},
			accounts: map[string]string{"olga@localhost": "active"},
		},
		7: { // open mode still honours a token
			mode: register.Open,
			steps: []step{
				{preauth: "FIXED", want: "ok"},
				{user: "olga", pass: "pw", want: "modify/not-acceptable"},
			},
		},
		8: { // closed
			mode: register.Closed,
			steps: []step{
				{preauth: "ANY", want: "cancel/service-unavailable"},
				{user: "bob", pass: "pw", want: "cancel/service-unavailable"},
			},
		},
		9: { // one account per stream
			mode: register.Open,
			steps: []step{
				{user: "a", pass: "pw", want: "ok"},
				{user: "b", pass: "pw", want: "cancel/not-allowed"},
			},
			accounts: map[string]string{"a@localhost": "active"},
		},
		10: { // missing and invalid fields
			mode: register.Open,
			steps: []step{
				{user: "", pass: "pw", want: "modify/not-acceptable"},
				{user: "bob", pass: "", want: "modify/not-acceptable"},
				{user: "bad@name", pass: "pw", want: "modify/not-acceptable"},
				{user: "bob", pass: "\x07", want: "modify/not-acceptable"},
			},
		},
	}
	for i, tc := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			f := newFixture(t, tc.mode)
			ctx := context.Background()
			for j, s := range tc.steps {
				var err error
				if s.preauth != "" {
					err = f.flow.PreAuth(ctx, s.preauth)
				} else {
					_, err = f.flow.Register(ctx, s.user, s.pass)
				}
				if got := cond(err); got != s.want {
					t.Fatalf("step %d: %s, want %s (%v)", j, got, s.want, err)
				}
				if s.wantText != "" && text(err) != s.wantText {
					t.Fatalf("step %d: text %q, want %q", j, text(err), s.wantText)
				}
			}
			want := map[string]string{"taken@localhost": "active"}
			for k, v := range tc.accounts {
				want[k] = v
			}
			if fmt.Sprint(f.acc.state) != fmt.Sprint(want) {
				t.Fatalf("accounts %v, want %v", f.acc.state, want)
			}
			if fmt.Sprint(f.inv.redeemed) != fmt.Sprint(tc.redeemed) && (len(tc.redeemed) > 0 || len(f.inv.redeemed) > 0) {
				t.Fatalf("redeemed %v, want %v", f.inv.redeemed, tc.redeemed)
			}
		})
	}
}

// TestRedeemLost: the token is used up between pre-auth and set; the name is released.
func TestRedeemLost(t *testing.T) {
	f := newFixture(t, register.InviteOnly)
	ctx := context.Background()
	if err := f.flow.PreAuth(ctx, "ANY"); err != nil {
		t.Fatal(err)
	}
	delete(f.inv.invites, "ANY")
	if _, err := f.flow.Register(ctx, "bob", "pw"); cond(err) != "cancel/item-not-found" {
		t.Fatalf("got %v", err)
	}
	if _, ok := f.acc.state["bob@localhost"]; ok || strings.Join(f.acc.events, ",") != "reserve bob@localhost,release bob@localhost" {
		t.Fatalf("events %v, state %v", f.acc.events, f.acc.state)
	}
	if f.flow.Validated() {
		t.Fatal("a used-up token still counts as validated")
	}
}

// TestUnavailable: a plugin that is down gives a wait error and does not count as a bad token.
func TestUnavailable(t *testing.T) {
	f := newFixture(t, register.InviteOnly)
	f.inv.down = true
	for range register.DefaultMaxTokenFailures + 1 {
		if err := f.flow.PreAuth(context.Background(), "ANY"); cond(err) != "wait/service-unavailable" {
			t.Fatalf("got %v", err)
		}
	}
	if f.flow.Exhausted() {
		t.Fatal("plugin outage counted as bad tokens")
	}
}

// TestExhausted: too many bad tokens.
func TestExhausted(t *testing.T) {
	f := newFixture(t, register.InviteOnly)
	for range register.DefaultMaxTokenFailures {
		if f.flow.Exhausted() {
			t.Fatal("exhausted too early")
		}
		_ = f.flow.PreAuth(context.Background(), "NOPE")
	}
	if !f.flow.Exhausted() {
		t.Fatal("not exhausted")
	}
}

// TestConcurrentRedemption: many streams race one token; exactly one account results.
func TestConcurrentRedemption(t *testing.T) {
	f := newFixture(t, register.InviteOnly)
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wins []string
	flows := make([]*register.Flow, 16)
	for i := range flows {
		flows[i] = f.svc.Start(netip.Addr{})
		if err := flows[i].PreAuth(ctx, "ANY"); err != nil {
			t.Fatal(err)
		}
	}
	for i, flow := range flows {
		wg.Go(func() {
			addr, err := flow.Register(ctx, "user"+strconv.Itoa(i), "pw")
			if err == nil {
				mu.Lock()
				wins = append(wins, addr)
				mu.Unlock()
			} else if cond(err) != "cancel/item-not-found" {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(wins) != 1 {
		t.Fatalf("%d registrations won: %v", len(wins), wins)
	}
	if len(f.acc.state) != 2 || f.acc.state[wins[0]] != "active" {
		t.Fatalf("accounts left: %v", f.acc.state)
	}
}

func TestQuery(t *testing.T) {
	f := newFixture(t, register.InviteOnly)
	q, err := f.flow.Query()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(q.Instructions, "invitation only") || q.Username != "" {
		t.Fatalf("query before a token: %+v", q)
	}
	// Before a token, the form takes the invitation (in-app redemption).
	b, err := xml.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	if want := `<field var="invitation" type="text-single" label="Invitation"><desc>The invitation link you were given (https://… or xmpp:…), or its code</desc></field>`; !strings.Contains(string(b), want) {
		t.Errorf("missing %s in\n%s", want, b)
	}
	if err := f.flow.PreAuth(context.Background(), "FIXED"); err != nil {
		t.Fatal(err)
	}
	q, _ = f.flow.Query()
	b, err = xml.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `var="invitation"`) {
		t.Errorf("the invitation field once a token is validated:\n%s", b)
	}
	for _, want := range []string{
		`<query xmlns="jabber:iq:register">`,
		`<username>frank</username><password></password>`,
		`<x xmlns="jabber:x:data" type="form">`,
		`<field var="FORM_TYPE" type="hidden"><value>jabber:iq:register</value></field>`,
		`<field var="username" type="text-single" label="Username"><required></required><value>frank</value></field>`,
		`<field var="password" type="text-private" label="Password"><required></required></field>`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("missing %s in\n%s", want, b)
		}
	}
	closed := newFixture(t, register.Closed)
	if _, err := closed.flow.Query(); cond(err) != "cancel/service-unavailable" {
		t.Fatalf("closed: %v", err)
	}
}

func TestDecodeRequest(t *testing.T) {
	tests := [...]struct {
		in   string
		want register.Request
		err  bool
	}{
		0: {in: `<query xmlns='jabber:iq:register'><username>bob</username><password>pw</password></query>`,
			want: register.Request{Username: "bob", Password: "pw"}},
		1: {in: `<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>
			<field var='FORM_TYPE'><value>jabber:iq:register</value></field>
			<field var='username'><value>ann</value></field>
			<field var='password'><value>p w</value></field></x></query>`,
			want: register.Request{Username: "ann", Password: "p w"}},
		2: {in: `<query xmlns='jabber:iq:register'><username>legacy</username><x xmlns='jabber:x:data' type='submit'>
			<field var='username'><value>form</value></field><field var='password'><value>x</value></field></x></query>`,
			want: register.Request{Username: "form", Password: "x"}},
		3: {in: `<query xmlns='jabber:iq:register'><remove/></query>`, want: register.Request{Remove: true}},
		4: {in: `<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>
			<field var='FORM_TYPE'><value>urn:other</value></field></x></query>`, err: true},
		5: {in: `<query xmlns='jabber:iq:register'><username>a</username></query>`, want: register.Request{Username: "a"}},
		6: {in: `<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>
			<field var='FORM_TYPE'><value>jabber:iq:register</value></field>
			<field var='invitation'><value>https://example.com/invite?T</value></field>
			<field var='username'><value>ann</value></field>
			<field var='password'><value>pw</value></field></x></query>`,
			want: register.Request{Username: "ann", Password: "pw", Invitation: "https://example.com/invite?T"}},
		7: {in: `<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='form'>
			<field var='FORM_TYPE' type='hidden'><value>jabber:iq:register</value></field>
			<field var='invitation' type='text-single'><value>xmpp:a@b?register;preauth=T</value></field>
			<field var='username' type='text-single'><value>psi</value></field>
			<field var='password' type='text-private'><value>pw</value></field></x></query>`,
			want: register.Request{Username: "psi", Password: "pw", Invitation: "xmpp:a@b?register;preauth=T"}}, // as Psi+ sends it
		8: {in: `<query xmlns='jabber:iq:register'><username>legacy</username><password>pw</password>
			<x xmlns='jabber:x:data' type='cancel'/></query>`, want: register.Request{Username: "legacy", Password: "pw"}},
	}
	for i, tc := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			d := xml.NewDecoder(strings.NewReader(tc.in))
			tok, _ := d.Token()
			start := tok.(xml.StartElement)
			got, err := register.DecodeRequest(d, &start)
			if (err != nil) != tc.err || got != tc.want {
				t.Fatalf("got %+v, %v", got, err)
			}
			if err != nil && !errors.Is(err, register.ErrBadRequest) {
				t.Fatalf("error does not wrap ErrBadRequest: %v", err)
			}
		})
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]register.Mode{"": register.InviteOnly, "invite-only": register.InviteOnly, "open": register.Open, "closed": register.Closed} {
		if got, err := register.ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := register.ParseMode("Open"); err == nil {
		t.Error("ParseMode accepts Open")
	}
}

// openStore opens a real account store holding alice@localhost, with reserved names.
func openStore(t *testing.T, reserved ...string) *accounts.Store {
	t.Helper()
	st, err := accounts.Open(t.Context(), filepath.Join(t.TempDir(), accounts.FileName),
		accounts.Options{Iterations: scram.MinIterations, Reserved: reserved})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if err := st.Add(t.Context(), "alice@localhost", "pw"); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestReservedAndLookalikes: a reserved name (a configured administrator's, one of
// reserved_names) cannot be registered, in band or through Service.Register, nor a
// name that looks like it or like an account's; the refusal says which name, and the
// invite is not spent on the attempt.
func TestReservedAndLookalikes(t *testing.T) {
	f := newFixture(t, register.InviteOnly)
	st := openStore(t, "boss", "admin")
	svc, err := register.New(register.Config{Domain: "localhost", Mode: register.InviteOnly, Invites: f.inv, Accounts: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	fl := svc.Start(netip.Addr{})
	if err := fl.PreAuth(ctx, "ANY"); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct{ name, text string }{
		0: {"boss", "the username is reserved"},
		1: {"Boss", "the username is reserved"},
		2: {"BOSS", "the username is reserved"},
		3: {"аdmin", "the username looks too much like admin, which is reserved: choose another"}, // Cyrillic а
		4: {"admın", "the username looks too much like admin, which is reserved: choose another"},
		5: {"ᴀdmin", "the username looks too much like admin, which is reserved: choose another"},
		6: {"ALİCE", "the username looks too much like alice, which is taken: choose another"},
		7: {"alice", "the username is already taken"},
		8: {"b0ss", "the username looks too much like boss, which is reserved: choose another"},
	} {
		if _, err := fl.Register(ctx, tc.name, "pw"); cond(err) != "cancel/conflict" || text(err) != tc.text {
			t.Errorf("%d: registering %s: %v (%q)", i, tc.name, err, text(err))
		}
	}
	if _, err := svc.Register(ctx, "ANY", "boss", "pw"); cond(err) != "cancel/conflict" {
		t.Fatalf("Service.Register of the admin: %v", err)
	}
	if _, err := svc.Register(ctx, "ANY", "ꜱupport", "pw"); err != nil {
		t.Fatalf("a name like none reserved here: %v", err) // support is reserved by default in xmppd, not here
	}
	if len(f.inv.redeemed) != 1 {
		t.Fatalf("the refused attempts spent the invite: %v", f.inv.redeemed)
	}
	// Another name still works with the token the refused attempts did not spend.
	f.inv.invites["ANY"] = plugin.Invite{ID: "i1", Host: "localhost", Kind: "account", CanRegister: true}
	if addr, err := svc.Register(ctx, "ANY", "Worker", "pw"); err != nil || addr != "worker@localhost" {
		t.Fatalf("Service.Register: %q %v", addr, err)
	}
}

// TestRefusalsLogged: each refused registration and invitation is logged at info with
// its reason, never with the token or the password.
func TestRefusalsLogged(t *testing.T) {
	f := newFixture(t, register.InviteOnly)
	var logs strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	svc, err := register.New(register.Config{Domain: "localhost", Mode: register.InviteOnly, Invites: f.inv, Accounts: f.acc,
		Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	fl := svc.Start(netip.Addr{})
	_, _ = fl.Register(ctx, "nobody", "secret-password-1")
	_ = fl.PreAuth(ctx, "BADTOKEN-xyz")
	_ = fl.PreAuth(ctx, "FIXED")
	_, _ = fl.Register(ctx, "notfrank", "secret-password-2")
	_, _ = fl.Register(ctx, "taken", "secret-password-3")
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	for _, want := range []string{
		`msg="registration refused" condition=not-acceptable reason="registration is by invitation only: give your invitation link in the Invitation field" username=nobody`,
		`msg="invitation refused" condition=item-not-found`,
		`msg="registration refused" condition=not-acceptable reason="this invitation is for the username frank" username=notfrank invite=i2`,
		`msg="registration refused" condition=not-acceptable reason="this invitation is for the username frank" username=taken invite=i2`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{"secret-password", "BADTOKEN", "FIXED"} {
		if strings.Contains(out, secret) {
			t.Errorf("log shows %s:\n%s", secret, out)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, "level=INFO") {
			t.Errorf("not at info: %s", line)
		}
	}
}

// writerFunc is an io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestWelcomeHook: a registration with a contact invite hands the redeemed invite
// to Welcome, after the account is active.
func TestWelcomeHook(t *testing.T) {
	f := newFixture(t, register.InviteOnly)
	f.inv.invites["CONTACT"] = plugin.Invite{ID: "i3", Host: "localhost", Kind: "contact", Inviter: "alice", CanRegister: true}
	var got []string
	svc, err := register.New(register.Config{Domain: "localhost", Mode: register.InviteOnly, Invites: f.inv, Accounts: f.acc,
		Welcome: func(_ context.Context, account string, inv plugin.Invite) error {
			got = append(got, account+" "+inv.Kind+" "+inv.Inviter+" "+f.acc.state[account])
			return errors.New("roster down")
		}})
	if err != nil {
		t.Fatal(err)
	}
	if addr, err := svc.Register(t.Context(), "CONTACT", "newbie", "pw"); err != nil || addr != "newbie@localhost" {
		t.Fatalf("register: %q %v", addr, err)
	}
	if len(got) != 1 || got[0] != "newbie@localhost contact alice active" {
		t.Fatalf("Welcome calls: %q", got)
	}
}

// TestReset: a reset invite sets the password of its account, in-band as on the web,
// with the account store the server uses; nothing changes for a dead invite, another
// name or a missing account, and the invite is used only by a change that is made.
func TestReset(t *testing.T) {
	ctx := context.Background()
	store, err := accounts.Open(ctx, filepath.Join(t.TempDir(), accounts.FileName), accounts.Options{Iterations: scram.MinIterations})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Add(ctx, "dave@localhost", "old password"); err != nil {
		t.Fatal(err)
	}
	inv := &fakeInvites{invites: map[string]plugin.Invite{
		"RESET":  {ID: "r1", Host: "localhost", Kind: "reset", Username: "dave"},
		"RESET2": {ID: "r2", Host: "localhost", Kind: "reset", Username: "dave"},
		"GONE":   {ID: "r3", Host: "localhost", Kind: "reset", Username: "nobody"},
		"NONAME": {ID: "r4", Host: "localhost", Kind: "reset"},
	}}
	svc, err := register.New(register.Config{Domain: "localhost", Invites: inv, Accounts: store})
	if err != nil {
		t.Fatal(err)
	}
	password := func(pw string) bool {
		c, err := store.Credential(ctx, "dave@localhost", scram.SHA256)
		return err == nil && c.Verify(pw)
	}

	// In-band: pre-auth, the form names the account, another name is refused, the
	// account's own name (in any case) resets.
	flow := svc.Start(netip.Addr{})
	if err := flow.PreAuth(ctx, "RESET"); err != nil {
		t.Fatal(err)
	}
	if q, err := flow.Query(); err != nil || q.Username != "dave" || !strings.Contains(q.Instructions, "new password for dave@localhost") {
		t.Errorf("query: %+v, %v", q, err)
	}
	if _, err := flow.Register(ctx, "eve", "new password"); cond(err) != "modify/not-acceptable" || !strings.Contains(text(err), "dave") {
		t.Errorf("another name: %v", err)
	}
	if _, err := flow.Register(ctx, "Dave", ""); cond(err) != "modify/not-acceptable" {
		t.Errorf("no password: %v", err)
	}
	if !password("old password") || len(inv.redeemed) != 0 {
		t.Fatal("a refused reset changed something")
	}
	if addr, err := flow.Register(ctx, "Dave", "new password"); err != nil || addr != "dave@localhost" {
		t.Fatalf("reset: %q, %v", addr, err)
	}
	if !password("new password") || password("old password") || strings.Join(inv.redeemed, ",") != "RESET:dave" {
		t.Errorf("after the reset: redeemed %v", inv.redeemed)
	}
	if ok, _ := store.Exists(ctx, "dave@localhost"); !ok {
		t.Error("the account is gone")
	}
	// Used: the token is dead.
	if err := svc.Start(netip.Addr{}).PreAuth(ctx, "RESET"); cond(err) != "cancel/item-not-found" {
		t.Errorf("the used token: %v", err)
	}

	// On the web (Service.Register), without a username.
	if addr, err := svc.Register(ctx, "RESET2", "", "third password"); err != nil || addr != "dave@localhost" || !password("third password") {
		t.Fatalf("web reset: %q, %v", addr, err)
	}
	// A missing account: refused, the invite not used.
	if _, err := svc.Register(ctx, "GONE", "", "whatever pw"); cond(err) != "cancel/item-not-found" || text(err) == "" {
		t.Errorf("reset of a missing account: %v", err)
	}
	if _, ok := inv.invites["GONE"]; !ok {
		t.Error("the invite of a missing account was used")
	}
	// A reset invite naming no account is no invite at all.
	if err := svc.Start(netip.Addr{}).PreAuth(ctx, "NONAME"); cond(err) != "cancel/item-not-found" {
		t.Errorf("a reset invite without an account: %v", err)
	}
}

// TestResetConcurrent: of many resets with one token, exactly one changes the password.
func TestResetConcurrent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, register.InviteOnly)
	f.acc.state["dave@localhost"] = "active"
	f.inv.invites["RESET"] = plugin.Invite{ID: "r1", Host: "localhost", Kind: "reset", Username: "dave"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 16 {
		wg.Go(func() {
			_, err := f.svc.Register(ctx, "RESET", "dave", "new password")
			mu.Lock()
			defer mu.Unlock()
			switch c := cond(err); c {
			case "ok":
				wins++
			case "cancel/item-not-found":
			default:
				t.Error(c)
			}
		})
	}
	wg.Wait()
	if wins != 1 || strings.Count(strings.Join(f.acc.events, ","), "password dave@localhost") != 1 {
		t.Errorf("%d resets won; events %v", wins, f.acc.events)
	}
}

// TestPasswordPolicy: a new password goes to the plugin's policy before anything is
// reserved or redeemed, with the stream's language and the client's address; a
// refusal is not-acceptable in the policy's words, and changes nothing; while the
// plugin cannot say, the registration waits. A reset is checked the same way.
func TestPasswordPolicy(t *testing.T) {
	ctx := context.Background()
	for i, tc := range []struct {
		mode       register.Mode
		token      string
		user, pass string
		down       bool
		want, text string
		state      string
	}{
		0: {register.Open, "", "bob", "12345678", false, "modify/not-acceptable", "[fr] This password is one of the most common passwords.", ""},
		1: {register.InviteOnly, "ANY", "bob", "my-bob-pw", false, "modify/not-acceptable", "[fr] The password must not contain your username.", ""},
		2: {register.InviteOnly, "ANY", "bob", "correct horse", true, "wait/service-unavailable", "passwords cannot be checked right now, try again later", ""},
		3: {register.InviteOnly, "ANY", "bob", "correct horse", false, "ok", "", "active"},
	} {
		f := newFixture(t, tc.mode)
		f.inv.policyDown = tc.down
		flow := f.svc.Start(netip.MustParseAddr("192.0.2.7"))
		flow.SetRemote("192.0.2.7:5678")
		flow.SetLang("fr")
		if tc.token != "" {
			if err := flow.PreAuth(ctx, tc.token); err != nil {
				t.Fatal(err)
			}
		}
		_, err := flow.Register(ctx, tc.user, tc.pass)
		if cond(err) != tc.want || text(err) != tc.text {
			t.Errorf("%d: %s %q, want %s %q", i, cond(err), text(err), tc.want, tc.text)
		}
		if got := f.acc.state["bob@localhost"]; got != tc.state {
			t.Errorf("%d: bob is %q, want %q (events %v)", i, got, tc.state, f.acc.events)
		}
		if tc.state == "" && (len(f.acc.events) != 0 || len(f.inv.redeemed) != 0) {
			t.Errorf("%d: a refused password changed something: %v %v", i, f.acc.events, f.inv.redeemed)
		}
		if pe, ok := errors.AsType[*plugin.PasswordError](err); ok != (tc.want == "modify/not-acceptable") || (ok && pe.Reason != tc.text) {
			t.Errorf("%d: the policy's refusal is not passed on: %#v", i, err)
		}
		for _, c := range f.inv.calls {
			if !strings.HasSuffix(c, " 192.0.2.7:5678") {
				t.Errorf("%d: a call without the client's address: %q", i, c)
			}
		}
	}

	// A reset: the account's own name counts.
	f := newFixture(t, register.InviteOnly)
	f.inv.invites["RESET"] = plugin.Invite{ID: "r", Host: "localhost", Kind: "reset", Username: "taken"}
	if err := f.flow.PreAuth(ctx, "RESET"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.flow.Register(ctx, "", "taken-again"); cond(err) != "modify/not-acceptable" || text(err) != "[] The password must not contain your username." {
		t.Errorf("reset: %v", err)
	}
	if len(f.inv.redeemed) != 0 {
		t.Errorf("a refused reset used the invite: %v", f.inv.redeemed)
	}
}

// TestApproval: an invite that needs an administrator's approval creates the account
// pending; Created hears of every account made with an invite, pending or not.
func TestApproval(t *testing.T) {
	f := newFixture(t, register.InviteOnly)
	f.inv.invites["APPROVE"] = plugin.Invite{ID: "a", Host: "localhost", Kind: "account", CanRegister: true, Approval: true}
	var created []string
	svc, err := register.New(register.Config{Domain: "localhost", Mode: register.InviteOnly, Invites: f.inv, Accounts: f.acc,
		Created: func(_ context.Context, account string, inv plugin.Invite) {
			created = append(created, account+" "+inv.ID+" "+f.acc.state[account])
		}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ token, user string }{{"APPROVE", "penny"}, {"ANY", "andy"}} {
		if addr, err := svc.Register(t.Context(), tc.token, tc.user, "correct horse"); err != nil || addr != tc.user+"@localhost" {
			t.Fatalf("%s: %q %v", tc.token, addr, err)
		}
	}
	if f.acc.state["penny@localhost"] != "pending" || f.acc.state["andy@localhost"] != "active" {
		t.Errorf("accounts %v", f.acc.state)
	}
	if want := []string{"penny@localhost a pending", "andy@localhost i1 active"}; fmt.Sprint(created) != fmt.Sprint(want) {
		t.Errorf("Created calls %q, want %q", created, want)
	}
}
