package notify_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/notify"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
	"github.com/xmpp-invites/invites/plugin"
)

// host is a Go host with messages and account states, recording each call.
type host struct {
	mu    sync.Mutex
	calls []string
	fail  error
}

func (h *host) record(s string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail != nil {
		return h.fail
	}
	h.calls = append(h.calls, s)
	return nil
}

func (h *host) SendMessage(_ context.Context, m plugin.Message) error {
	return h.record(fmt.Sprintf("message to %q [%s] %s: %s", m.To, m.Lang, m.Subject, m.Body))
}

func (h *host) SetAccountState(_ context.Context, jid string, st plugin.AccountState) error {
	return h.record("state " + jid + " " + string(st))
}

func (h *host) DeleteAccount(_ context.Context, jid string) error { return h.record("delete " + jid) }

func (h *host) AccountState(context.Context, string) (plugin.AccountState, error) {
	return plugin.AccountActive, nil
}

var (
	_ plugin.Messenger    = (*host)(nil)
	_ plugin.AccountAdmin = (*host)(nil)
)

// deliver runs every delivery the sink makes of e and returns the host's calls.
func deliver(t *testing.T, s *notify.Sink, h *host, e core.Event) []string {
	t.Helper()
	h.mu.Lock()
	h.calls = nil
	h.mu.Unlock()
	for _, d := range s.Deliveries(e) {
		if r := d.Do(t.Context(), 1); r.Err != nil {
			t.Fatalf("%s: %v", e.Type, r.Err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

func TestSink(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{Durability: sqlite.DurabilityCrash})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}, {Domain: "example.org"}}})
	if err != nil {
		t.Fatal(err)
	}
	alice := core.Actor{Kind: core.ActorJID, ID: "alice@example.com"}
	withWelcome, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: alice, Kind: core.KindContact,
		Inviter: "alice", Welcome: "Glad you came!", Groups: []string{"Friends", "Family"}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: alice})
	if err != nil {
		t.Fatal(err)
	}
	h := &host{}
	notices := map[string]core.Notices{
		"example.com": {NotifyInviter: core.NotifyUserInvites, Welcome: "Welcome to example.com."},
		"example.org": {NotifyInviter: core.NotifyNone},
	}
	s, err := notify.New(notify.Options{Messenger: h, Admin: h, Invites: svc,
		Notices: func(d string) core.Notices { return notices[d] },
		Language: func(_ context.Context, jid string) (string, error) {
			return map[string]string{"alice@example.com": "de"}[jid], nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	contact := &core.EventInvite{Kind: core.KindContact, Inviter: "alice", CreatedBy: "xmpp:alice@example.com", ExpiresAt: time.Date(2030, 3, 5, 14, 0, 0, 0, time.UTC)}
	account := &core.EventInvite{Kind: core.KindAccount, CreatedBy: "xmpp:admin@example.com", Note: "for Bob"}
	keyInvite := &core.EventInvite{Kind: core.KindAccount, CreatedBy: "api/token/K"}
	ev := func(typ core.EventType, change func(*core.Event)) core.Event {
		e := core.Event{ID: "e", Type: typ, Host: "example.com", JID: "bob@example.com", Actor: core.Actor{Kind: core.ActorCLI}}
		if change != nil {
			change(&e)
		}
		return e
	}
	tests := []struct {
		e    core.Event
		want []string
	}{
		0:  {ev(core.EventAccountApproved, nil), []string{"state bob@example.com active"}},
		1:  {ev(core.EventAccountRejected, nil), []string{"delete bob@example.com"}},
		2:  {ev(core.EventAccountDisabled, nil), []string{"state bob@example.com disabled"}},
		3:  {ev(core.EventAccountEnabled, nil), []string{"state bob@example.com active"}},
		4:  {ev(core.EventAccountDisabled, func(e *core.Event) { e.Actor.Kind = core.ActorHost }), nil},
		5:  {ev(core.EventAccountPending, func(e *core.Event) { e.Account = &core.EventAccount{JID: "bob@example.com", Note: "I am Bob"} }), []string{`message to "" [en] Account waiting for approval: bob@example.com registered and is waiting for an administrator's approval.` + "\nTheir note: I am Bob"}},
		6:  {ev(core.EventAccountCreated, func(e *core.Event) { e.Invite = contact }), []string{`message to "alice@example.com" [de] : bob@example.com ist example.com mit deiner Einladung beigetreten.`}},
		7:  {ev(core.EventAccountCreated, func(e *core.Event) { e.Invite = account }), nil}, // an admin's invite, user-invites
		8:  {ev(core.EventAccountCreated, func(e *core.Event) { e.Invite, e.Host, e.JID = contact, "example.org", "bob@example.org" }), nil},
		9:  {ev(core.EventInviteRedeemed, func(e *core.Event) { e.Invite, e.Purpose = contact, core.PurposeSubscribe }), []string{`message to "alice@example.com" [de] : bob@example.com hat deine Einladung angenommen und ist jetzt in deinen Kontakten.`}},
		10: {ev(core.EventInviteRedeemed, func(e *core.Event) { e.Invite, e.Purpose = contact, core.PurposeRegister }), nil},
		11: {ev(core.EventAccountFirstLogin, func(e *core.Event) { e.InviteID, e.Lang = withWelcome.ID, "fr" }), []string{`message to "bob@example.com" [fr] Bienvenue sur example.com: Glad you came!` + "\n\nalice@example.com vous a invité.\n\nVous faites partie de ces groupes : Friends, Family."}},
		12: {ev(core.EventAccountFirstLogin, func(e *core.Event) { e.InviteID = plain.ID }), []string{`message to "bob@example.com" [en] Welcome to example.com: Welcome to example.com.`}},
		13: {ev(core.EventAccountFirstLogin, func(e *core.Event) { e.Host, e.JID = "example.org", "bob@example.org" }), nil}, // no welcome there
		14: {ev(core.EventInviteExpiring, func(e *core.Event) { e.Invite, e.InviteID = contact, "ABC" }), []string{`message to "alice@example.com" [de] : Deine Einladung ABC läuft am 5. März 2030, 14:00 UTC ab und wurde noch nicht benutzt.`}},
		15: {ev(core.EventInviteExpired, func(e *core.Event) { e.Invite = account }), []string{`message to "admin@example.com" [en] : Your invitation “for Bob” expired without being used.`}},
		16: {ev(core.EventInviteExpiring, func(e *core.Event) { e.Invite = keyInvite }), nil},
		17: {ev(core.EventInviteCreated, func(e *core.Event) { e.Invite = contact }), nil},
	}
	for i, tc := range tests {
		if got := deliver(t, s, h, tc.e); !slices.Equal(got, tc.want) {
			t.Errorf("%d: %s:\n got %q\nwant %q", i, tc.e.Type, got, tc.want)
		}
	}
	// With notify_inviter = "all", an administrator's account invite tells them.
	notices["example.com"] = core.Notices{NotifyInviter: core.NotifyAll}
	if got := deliver(t, s, h, tests[7].e); len(got) != 1 || !strings.Contains(got[0], `"admin@example.com"`) {
		t.Errorf("notify_inviter all: %q", got)
	}
	// A host that does not answer is a failure to retry.
	h.fail = plugin.ErrUnavailable
	for _, d := range s.Deliveries(tests[0].e) {
		if r := d.Do(ctx, 1); r.Err == nil || r.Permanent || strings.Contains(r.Err.Error(), "invites service") {
			t.Errorf("host down: %+v", r)
		}
	}
}

// TestMissingCapabilities checks that a host without messages or account states is
// asked for nothing, and that the sink says so.
func TestMissingCapabilities(t *testing.T) {
	s, err := notify.New(notify.Options{Invites: noInvites{}, Notices: func(string) core.Notices { return core.Notices{} }})
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []core.EventType{core.EventAccountApproved, core.EventAccountCreated, core.EventAccountFirstLogin, core.EventInviteExpiring} {
		if s.Wants(typ) {
			t.Errorf("a host without capabilities is asked %s", typ)
		}
	}
}

type noInvites struct{}

func (noInvites) Invite(context.Context, core.Actor, string, string) (core.Invite, error) {
	return core.Invite{}, errors.New("none")
}
