package plugin

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
)

// The glue of protocol version 3's additions: Invites.CheckPassword and
// Invites.Notify, the host's features, and the optional host interfaces
// (AccountAdmin, Messenger), in both directions.

// CheckPassword answers from the password: "good" passes, "common" and "short" are
// refused with their rules worded in the language asked for, "down" is unavailable,
// "broken" fails with another error, "addr" passes only with the client address
// 192.0.2.9:1.
func (f *fakeInvites) CheckPassword(ctx context.Context, c PasswordCheck) error {
	switch c.Password {
	case "good":
		return nil
	case "common", "short":
		rules := []string{c.Password}
		if c.Password == "short" {
			rules = append(rules, "distinct")
		}
		return &PasswordError{Rules: rules, Reason: fmt.Sprintf("[%s] %s@%s: %s", c.Lang, c.Username, c.Host, strings.Join(rules, ", "))}
	case "down":
		return fmt.Errorf("%w: the store is away", ErrUnavailable)
	case "addr":
		if ClientAddr(ctx) == "192.0.2.9:1" {
			return nil
		}
		return errors.New("no client address")
	}
	return errors.New("policy broken")
}

// Notify keeps the events; a batch with an event of type "refuse" is refused whole,
// one with an event of type "down" fails as unavailable.
func (f *fakeInvites) Notify(_ context.Context, events []Event) error {
	for _, e := range events {
		switch e.Type {
		case "refuse":
			return fmt.Errorf("event %s: unknown type %q", e.ID, e.Type)
		case "down":
			return ErrUnavailable
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.discard {
		f.events = append(f.events, events...)
	}
	return nil
}

func (f *fakeInvites) notified() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// fullHost is a host with every optional interface: it keeps account states and the
// messages sent.
type fullHost struct {
	fakeHost
	mu     sync.Mutex
	states map[string]AccountState
	sent   []Message
}

var (
	_ AccountAdmin = (*fullHost)(nil)
	_ Messenger    = (*fullHost)(nil)
)

func (h *fullHost) SetAccountState(_ context.Context, jid string, s AccountState) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case jid == "broken@example.com":
		return fmt.Errorf("%w: the account store is locked", ErrUnavailable)
	case s != AccountActive && s != AccountDisabled && s != AccountPending:
		return fmt.Errorf("unknown account state %q: it is active, disabled or pending", s)
	case h.states[jid] == "":
		return fmt.Errorf("no account %s", jid)
	}
	h.states[jid] = s
	return nil
}

func (h *fullHost) DeleteAccount(_ context.Context, jid string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.states, jid)
	return nil
}

func (h *fullHost) AccountState(_ context.Context, jid string) (AccountState, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.states[jid]; ok {
		return s, nil
	}
	return AccountNone, nil
}

func (h *fullHost) SendMessage(ctx context.Context, m Message) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m.Body == "" {
		return errors.New("a message needs a body")
	}
	m.Lang += "|" + ClientAddr(ctx)
	h.sent = append(h.sent, m)
	return nil
}

// adminHost and messengerHost have one optional interface each.
type adminHost struct{ *fullHost }

func (h adminHost) SetAccountState(ctx context.Context, jid string, s AccountState) error {
	return h.fullHost.SetAccountState(ctx, jid, s)
}
func (h adminHost) DeleteAccount(ctx context.Context, jid string) error {
	return h.fullHost.DeleteAccount(ctx, jid)
}
func (h adminHost) AccountState(ctx context.Context, jid string) (AccountState, error) {
	return h.fullHost.AccountState(ctx, jid)
}

type messengerHost struct{ *fullHost }

func (h messengerHost) SendMessage(ctx context.Context, m Message) error {
	return h.fullHost.SendMessage(ctx, m)
}

// connectConfig is connect with the host's config cfg.
func connectConfig(t *testing.T, multiplex bool, impl Invites, api HostAPI, cfg Config) Invites {
	t.Helper()
	client, _ := goplugin.TestPluginGRPCConn(t, multiplex, goplugin.PluginSet{pluginName: &invitesPlugin{
		impl: impl, timeout: 5 * time.Second,
	}})
	t.Cleanup(func() { _ = client.Close() })
	raw, err := client.Dispense(pluginName)
	if err != nil {
		t.Fatal(err)
	}
	inv := raw.(Invites)
	if _, err := inv.Configure(ctxT(t), cfg, api); err != nil {
		t.Fatal(err)
	}
	return inv
}

// TestCheckPassword checks that the password check crosses with its fields, and its
// refusal comes back whole: errors.As finds the *PasswordError, errors.Is matches
// ErrInvalidPassword.
func TestCheckPassword(t *testing.T) {
	inv := connect(t, false, &fakeInvites{}, fakeHost{})
	ctx := ctxT(t)
	for i, tc := range []struct {
		password string
		want     *PasswordError
		is       error
		text     string
	}{
		{"good", nil, nil, ""},
		{"common", &PasswordError{Rules: []string{"common"}, Reason: "[fr] alice@example.com: common"}, ErrInvalidPassword, ""},
		{"short", &PasswordError{Rules: []string{"short", "distinct"}, Reason: "[fr] alice@example.com: short, distinct"}, ErrInvalidPassword, ""},
		{"down", nil, ErrUnavailable, "invites service unavailable: the store is away"},
		{"other", nil, nil, "policy broken"},
	} {
		err := inv.CheckPassword(ctx, PasswordCheck{Host: "example.com", Username: "alice", Password: tc.password, Lang: "fr"})
		pe, isPE := errors.AsType[*PasswordError](err)
		switch {
		case tc.want == nil && tc.is == nil && tc.text == "":
			if err != nil {
				t.Errorf("%d: %v, want nil", i, err)
			}
		case tc.want != nil:
			if !isPE || !reflect.DeepEqual(pe, tc.want) || !errors.Is(err, ErrInvalidPassword) || err.Error() != tc.want.Reason {
				t.Errorf("%d: %#v (%v), want %#v", i, err, err, tc.want)
			}
		default:
			if isPE || (tc.is != nil && !errors.Is(err, tc.is)) || err == nil || err.Error() != tc.text {
				t.Errorf("%d: %v, want %q matching %v", i, err, tc.text, tc.is)
			}
		}
	}
	if err := inv.CheckPassword(WithClientAddr(ctx, "192.0.2.9:1"), PasswordCheck{Password: "addr"}); err != nil {
		t.Errorf("the client address did not cross: %v", err)
	}
}

// TestApproval checks that an invite's Approval crosses with its redemption.
func TestApproval(t *testing.T) {
	inv := connect(t, false, &fakeInvites{}, fakeHost{})
	for _, tc := range []struct {
		token string
		want  bool
	}{{"approval", true}, {"good", false}} {
		got, err := inv.RedeemInvite(ctxT(t), Redemption{Host: "example.com", Token: tc.token, Username: "alice"})
		if err != nil || got.Approval != tc.want {
			t.Errorf("%s: Approval = %v, %v; want %v", tc.token, got.Approval, err, tc.want)
		}
	}
}

// TestNotify checks that events cross whole and in order, and that a refused batch
// and an unavailable plugin are told apart.
func TestNotify(t *testing.T) {
	impl := &fakeInvites{}
	inv := connect(t, true, impl, fakeHost{})
	ctx := ctxT(t)
	at := time.Date(2031, 5, 6, 7, 8, 9, 10, time.UTC)
	events := []Event{
		{ID: "e1", Type: EventLogin, Host: "example.com", JID: "alice@example.com/phone", Lang: "de-CH", At: at},
		{ID: "e2", Type: EventStreamEnded, Host: "example.com", JID: "alice@example.com/phone", At: at.Add(time.Second)},
		{ID: "e3", Type: EventAccountCreated, Host: "example.com", JID: "bob@example.com"},
	}
	if err := inv.Notify(ctx, events); err != nil {
		t.Fatal(err)
	}
	if got := impl.notified(); !reflect.DeepEqual(got, events) {
		t.Errorf("the plugin got\n%+v\nwant\n%+v", got, events)
	}
	err := inv.Notify(ctx, []Event{{ID: "e4", Type: EventLogin}, {ID: "e5", Type: "refuse"}})
	if err == nil || errors.Is(err, ErrUnavailable) || err.Error() != `event e5: unknown type "refuse"` {
		t.Errorf("refused batch: %v", err)
	}
	if err := inv.Notify(ctx, []Event{{ID: "e6", Type: "down"}}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("unavailable: %v", err)
	}
	if err := inv.Notify(ctx, nil); err != nil {
		t.Errorf("no events: %v", err)
	}
	if got := impl.notified(); len(got) != 3 {
		t.Errorf("a failed batch was kept: %+v", got)
	}
}

// TestHostFeatures checks, for hosts with every combination of the optional
// interfaces, that the features cross in the config, that the plugin's HostAPI
// implements exactly the interfaces the features name, and that their calls reach
// the host and come back with their answers and errors.
func TestHostFeatures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		api      func(*fullHost) HostAPI
		features []Feature
	}{
		{"none", func(*fullHost) HostAPI { return fakeHost{} }, nil},
		{"admin", func(h *fullHost) HostAPI { return adminHost{h} }, []Feature{FeatureAccountStates, FeatureEvents}},
		{"messenger", func(h *fullHost) HostAPI { return messengerHost{h} }, []Feature{FeatureMessages}},
		{"both", func(h *fullHost) HostAPI { return h }, []Feature{FeatureAccountStates, FeatureMessages, FeatureEvents}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := &fullHost{states: map[string]AccountState{"alice@example.com": AccountActive, "broken@example.com": AccountActive}}
			impl := &fakeInvites{}
			cfg := testConfig()
			cfg.Features = tc.features
			connectConfig(t, true, impl, tc.api(host), cfg)
			impl.mu.Lock()
			got, api := impl.cfg, impl.api
			impl.mu.Unlock()
			if !reflect.DeepEqual(got.Features, tc.features) {
				t.Errorf("features %v, want %v", got.Features, tc.features)
			}
			admin, isAdmin := api.(AccountAdmin)
			msgr, isMessenger := api.(Messenger)
			if isAdmin != slices.Contains(tc.features, FeatureAccountStates) || isMessenger != slices.Contains(tc.features, FeatureMessages) {
				t.Fatalf("the plugin's HostAPI %T: AccountAdmin %v, Messenger %v; features %v", api, isAdmin, isMessenger, tc.features)
			}
			ctx := WithClientAddr(ctxT(t), "192.0.2.3:4")
			if isAdmin {
				testAccountAdmin(t, ctx, admin, host)
			}
			if isMessenger {
				msg := Message{Host: "example.com", To: "alice@example.com", Subject: "Hi", Body: "bob joined", Lang: "fr"}
				if err := msgr.SendMessage(ctx, msg); err != nil {
					t.Fatal(err)
				}
				msg.Lang = "fr|192.0.2.3:4"
				if !reflect.DeepEqual(host.sent, []Message{msg}) {
					t.Errorf("sent %+v", host.sent)
				}
				if err := msgr.SendMessage(ctx, Message{To: "alice@example.com"}); err == nil || err.Error() != "a message needs a body" {
					t.Errorf("empty message: %v", err)
				}
			}
		})
	}
}

func testAccountAdmin(t *testing.T, ctx context.Context, admin AccountAdmin, host *fullHost) {
	t.Helper()
	if err := admin.SetAccountState(ctx, "alice@example.com", AccountDisabled); err != nil {
		t.Fatal(err)
	}
	if s, err := admin.AccountState(ctx, "alice@example.com"); err != nil || s != AccountDisabled {
		t.Errorf("AccountState = %q, %v", s, err)
	}
	if err := admin.SetAccountState(ctx, "alice@example.com", "frozen"); err == nil || err.Error() != `unknown account state "frozen": it is active, disabled or pending` {
		t.Errorf("bad state: %v", err)
	}
	if err := admin.SetAccountState(ctx, "broken@example.com", AccountPending); !errors.Is(err, ErrUnavailable) {
		t.Errorf("unavailable host: %v", err)
	}
	for _, jid := range []string{"alice@example.com", "nobody@example.com"} {
		if err := admin.DeleteAccount(ctx, jid); err != nil {
			t.Errorf("DeleteAccount(%s): %v", jid, err)
		}
	}
	if s, err := admin.AccountState(ctx, "alice@example.com"); err != nil || s != AccountNone {
		t.Errorf("deleted: AccountState = %q, %v", s, err)
	}
}

// TestHostLacksFeature checks that a plugin told of a feature the host's HostAPI does
// not implement gets errors.ErrUnsupported in the host's words, not a transport
// failure.
func TestHostLacksFeature(t *testing.T) {
	impl := &fakeInvites{}
	cfg := testConfig()
	cfg.Features = []Feature{FeatureAccountStates, FeatureMessages}
	connectConfig(t, false, impl, fakeHost{}, cfg)
	api := impl.hostAPI()
	ctx := ctxT(t)
	err := api.(AccountAdmin).SetAccountState(ctx, "alice@example.com", AccountDisabled)
	if !errors.Is(err, errors.ErrUnsupported) || errors.Is(err, ErrUnavailable) || err.Error() != "this server cannot change the state of its accounts" {
		t.Errorf("SetAccountState: %v", err)
	}
	err = api.(Messenger).SendMessage(ctx, Message{Body: "x"})
	if !errors.Is(err, errors.ErrUnsupported) || err.Error() != "this server cannot send messages to its accounts" {
		t.Errorf("SendMessage: %v", err)
	}
}
