package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
)

// This file holds the contract of accounts, held registrations and the tree (issue 24),
// at the store level and through the core, and the helpers other packages' tests
// share: a server's account directory (Directory) and a tree built through real
// redemptions (BuildTree).

// Directory is the accounts of a server as a test plays it: a core.AccountChecker
// that says which accounts exist, as the server's AccountExists would.
type Directory struct {
	mu       sync.Mutex
	accounts map[string]bool
	asked    int
}

// NewDirectory returns a directory holding the JIDs given.
func NewDirectory(jids ...string) *Directory {
	d := &Directory{accounts: map[string]bool{}}
	for _, j := range jids {
		d.accounts[j] = true
	}
	return d
}

// Add makes the account jid exist.
func (d *Directory) Add(jid string) {
	d.mu.Lock()
	d.accounts[jid] = true
	d.mu.Unlock()
}

// AccountExists implements core.AccountChecker.
func (d *Directory) AccountExists(_ context.Context, jid string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked++
	return d.accounts[jid], nil
}

// Asked says how many times the directory was asked.
func (d *Directory) Asked() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.asked
}

var cliActor = core.Actor{Kind: core.ActorCLI}

// testAccounts: an account is written, read, changed and listed by state, in Seq
// order; a refused change writes nothing.
func testAccounts(t *testing.T, s store.Store) {
	c := ctx(t)
	if _, err := s.Account(c, "nobody@example.com"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Account of nobody: %v, want ErrNotFound", err)
	}
	put := func(jid string, st core.AccountState, deadline time.Time) core.Account {
		a, err := s.ChangeAccount(c, jid, func(a *core.Account, holds []core.Hold) (core.AccountChange, error) {
			if a.Seq != 0 || a.JID != jid || a.Host != "example.com" || len(holds) != 0 {
				return core.AccountChange{}, fmt.Errorf("unstored account read as %+v, %d holds", a, len(holds))
			}
			a.State, a.CreatedAt, a.InviteID, a.Inviter = st, base, "inviteid0001", "xmpp:root@example.com"
			a.Lang, a.Note, a.ApprovalDeadline = "de", "hello", deadline
			return core.AccountChange{Write: true}, nil
		})
		if err != nil || a.Seq == 0 {
			t.Fatalf("ChangeAccount(%s) = %+v, %v", jid, a, err)
		}
		return a
	}
	alice := put("alice@example.com", core.AccountActive, time.Time{})
	bob := put("bob@example.com", core.AccountPending, base.Add(time.Hour))
	carol := put("carol@example.com", core.AccountPending, base.Add(3*time.Hour))
	if bob.Seq <= alice.Seq || carol.Seq <= bob.Seq {
		t.Errorf("seqs %d, %d, %d not increasing", alice.Seq, bob.Seq, carol.Seq)
	}
	got, err := s.Account(c, "bob@example.com")
	if err != nil || got != bob {
		t.Fatalf("Account(bob) = %+v, %v; want %+v", got, err, bob)
	}
	// A change keeps the seq; a refused one writes nothing.
	got, err = s.ChangeAccount(c, "bob@example.com", func(a *core.Account, _ []core.Hold) (core.AccountChange, error) {
		a.State, a.ApprovalDeadline, a.ChangedAt, a.ChangedBy = core.AccountActive, time.Time{}, base, "cli"
		return core.AccountChange{Write: true}, nil
	})
	if err != nil || got.Seq != bob.Seq || got.State != core.AccountActive || got.ChangedBy != "cli" {
		t.Fatalf("changed bob: %+v, %v", got, err)
	}
	boom := errors.New("refused")
	if _, err := s.ChangeAccount(c, "bob@example.com", func(a *core.Account, _ []core.Hold) (core.AccountChange, error) {
		a.State = core.AccountDeleted
		return core.AccountChange{Write: true}, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("refused change: %v", err)
	}
	if got, _ := s.Account(c, "bob@example.com"); got.State != core.AccountActive {
		t.Errorf("refused change wrote %s", got.State)
	}
	list := func(f core.AccountFilter) []string {
		f.Host = "example.com"
		accs, err := s.ListAccounts(c, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range accs {
			out = append(out, a.JID)
		}
		return out
	}
	for i, tc := range []struct {
		f    core.AccountFilter
		want []string
	}{
		{core.AccountFilter{Limit: 10}, []string{"alice@example.com", "bob@example.com", "carol@example.com"}},
		{core.AccountFilter{State: core.AccountPending, Limit: 10}, []string{"carol@example.com"}},
		{core.AccountFilter{State: core.AccountActive, Limit: 10}, []string{"alice@example.com", "bob@example.com"}},
		{core.AccountFilter{Limit: 1, After: alice.Seq}, []string{"bob@example.com"}},
		{core.AccountFilter{DeadlineBefore: base.Add(4 * time.Hour), Limit: 10}, []string{"carol@example.com"}},
		{core.AccountFilter{DeadlineBefore: base.Add(2 * time.Hour), Limit: 10}, nil},
	} {
		if got := list(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%d: ListAccounts = %v, want %v", i, got, tc.want)
		}
	}
}

// testHolds: a hold is recorded with its use, listed when due, seen by ChangeAccount
// with its invite, confirmed there, or released with its use; releasing it twice is a
// conflict that changes nothing.
func testHolds(t *testing.T, s store.Store) {
	c := ctx(t)
	inv := newInvite(t, "example.com", time.Hour)
	inv.MaxUses = 2
	mustCreateInvite(t, s, inv)
	hold := func(jid string, at time.Time) core.Hold {
		h := core.Hold{InviteID: inv.ID, JID: jid, Host: "example.com", At: at, Approval: true, Remote: "192.0.2.1:5"}
		if _, err := s.ChangeInvite(c, inv.ID, func(i *core.Invite) (core.InviteChange, error) {
			i.Uses++
			return core.InviteChange{Use: &core.Use{JID: jid, At: at}, Hold: &h}, nil
		}); err != nil {
			t.Fatal(err)
		}
		return h
	}
	a := hold("alice@example.com", base)
	b := hold("bob@example.com", base.Add(time.Minute))
	holds, err := s.Holds(c, base.Add(30*time.Second), 10)
	if err != nil || len(holds) != 1 || holds[0].JID != a.JID || !holds[0].At.Equal(a.At) || !holds[0].Approval || holds[0].Remote != a.Remote {
		t.Fatalf("due holds = %+v, %v; want alice's", holds, err)
	}
	// Confirmed: the hold goes, the use stays.
	if _, err := s.ChangeAccount(c, a.JID, func(acc *core.Account, holds []core.Hold) (core.AccountChange, error) {
		if len(holds) != 1 || holds[0].Invite.ID != inv.ID || holds[0].Invite.Uses != 2 {
			return core.AccountChange{}, fmt.Errorf("holds of alice %+v", holds)
		}
		acc.State, acc.InviteID = core.AccountActive, inv.ID
		return core.AccountChange{Write: true, Confirm: holds}, nil
	}); err != nil {
		t.Fatal(err)
	}
	// Released: the hold and its use go.
	release := func() error {
		_, err := s.ChangeInvite(c, inv.ID, func(i *core.Invite) (core.InviteChange, error) {
			i.Uses--
			return core.InviteChange{Release: &b}, nil
		})
		return err
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := release(); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("second release: %v, want ErrConflict", err)
	}
	got, err := s.Invite(c, inv.ID)
	if err != nil || got.Uses != 1 {
		t.Fatalf("invite after the release: %d uses, %v; want 1", got.Uses, err)
	}
	uses, err := s.Redemptions(c, inv.ID)
	if err != nil || len(uses) != 1 || uses[0].JID != a.JID {
		t.Fatalf("redemptions after the release: %+v, %v; want alice's", uses, err)
	}
	if holds, err := s.Holds(c, base.Add(time.Hour), 10); err != nil || len(holds) != 0 {
		t.Fatalf("holds left: %+v, %v", holds, err)
	}
}

// hostsWith returns example.com with the given account rules, its server able to set
// account states, and example.org.
func hostsWith(approval, standing core.InviteSet) []core.HostConfig {
	return []core.HostConfig{{Domain: "example.com", Approval: approval, InviterStanding: standing, AccountStates: true},
		{Domain: "example.org"}}
}

// testServiceHolds: with a server to ask, a registration is held: N concurrent
// redemptions still make exactly N accounts; the server's confirmation writes the
// redeemed and created events, once however often it comes; a hold the server never
// confirms is released by the sweep, giving its use back.
func testServiceHolds(t *testing.T, s store.Store) {
	dir := NewDirectory()
	svc, clock, rec := NewService(t, s, core.Options{Accounts: dir, Outbox: true})
	inv, err := svc.CreateInvite(ctx(t), core.InviteSpec{Host: "example.com", MaxUses: intp(5), Actor: cliActor})
	if err != nil {
		t.Fatal(err)
	}
	ConcurrentRedeem(t, []*core.Service{svc}, inv, 50, 5)
	if n := len(rec.Events(core.EventInviteRedeemed, core.EventAccountCreated)); n != 0 {
		t.Fatalf("%d redeemed or created events before any confirmation", n)
	}
	got, err := svc.Invite(ctx(t), cliActor, "example.com", inv.ID)
	if err != nil || got.Uses != 5 || got.Status(clock.Now()) != core.StatusUsed {
		t.Fatalf("held invite: %d uses, %v", got.Uses, err)
	}
	var users []string
	for _, u := range got.Redemptions {
		users = append(users, u.JID)
	}
	// Two are confirmed by the server's events (one reported twice), one by a login;
	// two never made their account.
	ev := func(typ core.HostEventType, jid string) core.HostEvent {
		return core.HostEvent{ID: random(t, 8), Type: typ, Host: "example.com", JID: jid, At: clock.Now()}
	}
	confirmed := []core.HostEvent{ev(core.HostAccountCreated, users[0]), ev(core.HostAccountCreated, users[1]),
		ev(core.HostAccountCreated, users[0]), ev(core.HostLogin, users[2]+"/phone")}
	for _, u := range users[:3] {
		dir.Add(u)
	}
	if err := svc.HostEvents(ctx(t), confirmed); err != nil {
		t.Fatal(err)
	}
	if err := svc.HostEvents(ctx(t), confirmed); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Events(core.EventInviteRedeemed)); n != 3 {
		t.Errorf("%d redeemed events after three confirmations (some twice), want 3", n)
	}
	created := rec.Events(core.EventAccountCreated)
	if len(created) != 3 || created[0].Account == nil || created[0].Account.Inviter != "cli" || created[0].Invite == nil ||
		created[0].Actor.Kind != core.ActorJID || created[0].Actor.ID != users[0] {
		t.Fatalf("created events %+v", created)
	}
	// Before the hold time nothing more happens; after it the server is asked.
	if c, r, err := svc.ResolveHolds(ctx(t)); err != nil || c != 0 || r != 0 || dir.Asked() != 0 {
		t.Fatalf("ResolveHolds before the hold time: %d confirmed, %d released, %v, %d asked", c, r, err, dir.Asked())
	}
	dir.Add(users[3]) // made, but the server's event was lost
	clock.Add(core.DefaultHoldTime + time.Second)
	if c, r, err := svc.ResolveHolds(ctx(t)); err != nil || c != 1 || r != 1 {
		t.Fatalf("ResolveHolds = %d confirmed, %d released, %v; want 1, 1", c, r, err)
	}
	got, err = svc.Invite(ctx(t), cliActor, "example.com", inv.ID)
	if err != nil || got.Uses != 4 || len(got.Redemptions) != 4 || got.Status(clock.Now()) != core.StatusPending {
		t.Fatalf("after the release: %d uses, %d redemptions, %v", got.Uses, len(got.Redemptions), err)
	}
	for _, u := range got.Redemptions {
		if u.JID == users[4] {
			t.Errorf("the released registration's use is still recorded")
		}
	}
	if _, err := s.Account(ctx(t), users[4]); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("account of the released registration: %v, want ErrNotFound", err)
	}
	// The use given back can be taken again.
	if _, err := svc.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: inv.Token, Username: "late"}); err != nil {
		t.Fatalf("redeeming the use given back: %v", err)
	}
	if _, err := svc.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: inv.Token, Username: "later"}); !errors.Is(err, core.ErrUsedUp) {
		t.Fatalf("a sixth use: %v, want ErrUsedUp", err)
	}
	// Every confirmed registration is an account with its invite and inviter.
	for _, u := range users[:4] {
		a, err := s.Account(ctx(t), u)
		if err != nil || a.InviteID != inv.ID || a.Inviter != "cli" || a.State != core.AccountActive || !a.CreatedAt.Equal(base) {
			t.Errorf("account %s = %+v, %v", u, a, err)
		}
	}
	// The outbox holds each confirmation's events.
	evs, err := s.OutboxEvents(ctx(t), 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == core.EventAccountCreated {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d account.created events in the outbox, want 4", n)
	}
}

// testServiceApproval: a host's approval rule, or an invite's, makes its accounts wait:
// the redemption says so, the account is pending once confirmed, with the note its
// holder wrote; an administrator approves or rejects it; the sweep rejects it when
// its time is up. A host whose server cannot hold accounts pending approves nothing.
func testServiceApproval(t *testing.T, s store.Store) {
	dir := NewDirectory("u1@example.com", "u2@example.com", "u3@example.com", "a1@example.com", "x1@example.com")
	svc, clock, rec := NewService(t, s, core.Options{Hosts: hostsWith(core.InvitesOfUsers, core.InvitesNone), Outbox: true, Accounts: dir})
	user := core.Actor{Kind: core.ActorJID, ID: "alice@example.com"}
	admin := core.Actor{Kind: core.ActorJID, ID: "admin@example.com", Manage: true}
	byUser, err := svc.CreateInvite(ctx(t), core.InviteSpec{Host: "example.com", Kind: core.KindContact, Inviter: "alice",
		AllowRegister: true, MaxUses: intp(3), Actor: user})
	if err != nil {
		t.Fatal(err)
	}
	byAdmin, err := svc.CreateInvite(ctx(t), core.InviteSpec{Host: "example.com", MaxUses: intp(2), Actor: admin})
	if err != nil {
		t.Fatal(err)
	}
	asked, err := svc.CreateInvite(ctx(t), core.InviteSpec{Host: "example.com", Approval: true, Actor: admin})
	if err != nil || !asked.Approval {
		t.Fatalf("invite asking for approval: %+v, %v", asked, err)
	}
	for i, tc := range []struct {
		inv  core.Invite
		name string
		want bool
	}{{byUser, "u1", true}, {byAdmin, "a1", false}, {asked, "x1", true}, {byUser, "u2", true}, {byUser, "u3", true}} {
		chk, err := svc.CheckInvite(ctx(t), "example.com", tc.inv.Token)
		if err != nil || chk.Approval != tc.want {
			t.Errorf("%d: CheckInvite approval %v, %v; want %v", i, chk.Approval, err, tc.want)
		}
		got, err := svc.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: tc.inv.Token, Username: tc.name})
		if err != nil || got.Approval != tc.want {
			t.Errorf("%d: Redeem approval %v, %v; want %v", i, got.Approval, err, tc.want)
		}
	}
	if a, err := svc.Registered(ctx(t), "example.com", "u1@example.com", "I am Alice's brother"); err != nil ||
		a.State != core.AccountPending || a.Note != "I am Alice's brother" || !a.ApprovalDeadline.Equal(base.Add(core.DefaultApprovalTimeout)) {
		t.Fatalf("u1 after registration: %+v, %v", a, err)
	}
	if _, err := svc.Registered(ctx(t), "example.com", "u2@example.com", "bad\u202enote"); !errors.Is(err, core.ErrInvalid) {
		t.Fatalf("a note with a bidi override: %v, want ErrInvalid", err)
	}
	if a, err := svc.Registered(ctx(t), "example.com", "a1@example.com", "ignored"); err != nil || a.State != core.AccountActive || a.Note != "" {
		t.Fatalf("a1 (admin's invite): %+v, %v", a, err)
	}
	// The others are confirmed by the server.
	var confirmed []core.HostEvent
	for _, j := range []string{"x1@example.com", "u2@example.com", "u3@example.com"} {
		confirmed = append(confirmed, core.HostEvent{ID: j, Type: core.HostAccountCreated, Host: "example.com", JID: j})
	}
	if err := svc.HostEvents(ctx(t), confirmed); err != nil {
		t.Fatal(err)
	}
	pending := rec.Events(core.EventAccountPending)
	if len(pending) != 4 || pending[0].Account.Note != "I am Alice's brother" || pending[0].Account.Inviter != "xmpp:alice@example.com" {
		t.Fatalf("pending events %+v", pending)
	}
	page, err := svc.ListAccounts(ctx(t), admin, core.AccountQuery{Host: "example.com", State: core.AccountPending})
	if err != nil || len(page.Accounts) != 4 {
		t.Fatalf("pending list %+v, %v", page, err)
	}
	if _, err := svc.ListAccounts(ctx(t), user, core.AccountQuery{Host: "example.com"}); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("a user lists accounts: %v, want ErrNotFound", err)
	}
	if a, err := svc.Approve(ctx(t), admin, "example.com", "u1"); err != nil || a.State != core.AccountActive {
		t.Fatalf("Approve u1: %+v, %v", a, err)
	}
	if _, err := svc.Approve(ctx(t), admin, "example.com", "u1"); !errors.Is(err, core.ErrConflict) {
		t.Errorf("Approve u1 twice: %v, want ErrConflict", err)
	}
	if a, err := svc.Reject(ctx(t), admin, "example.com", "x1@example.com"); err != nil || a.State != core.AccountDeleted {
		t.Fatalf("Reject x1: %+v, %v", a, err)
	}
	if ev := rec.Events(core.EventAccountApproved, core.EventAccountRejected); len(ev) != 2 || ev[0].Actor.ID != "admin@example.com" {
		t.Fatalf("decision events %+v", ev)
	}
	// u2 and u3 never got their note: the sweep rejects them at the deadline.
	clock.Add(core.DefaultApprovalTimeout - time.Minute)
	if _, _, err := svc.Sweep(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Events(core.EventAccountRejected)); n != 1 {
		t.Fatalf("%d rejections before the deadline", n)
	}
	clock.Add(2 * time.Minute)
	if _, _, err := svc.Sweep(ctx(t)); err != nil {
		t.Fatal(err)
	}
	rejected := rec.Events(core.EventAccountRejected)
	if len(rejected) != 3 || rejected[2].Actor.Kind != core.ActorHost {
		t.Fatalf("after the deadline: %+v", rejected)
	}
	// Without account states, neither the rule nor the invite makes anyone wait.
	plain, _, _ := NewService(t, s, core.Options{Hosts: []core.HostConfig{{Domain: "example.com", Approval: core.InvitesAll}}})
	inv, err := plain.CreateInvite(ctx(t), core.InviteSpec{Host: "example.com", Actor: admin})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := plain.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: inv.Token, Username: "free"}); err != nil || got.Approval {
		t.Errorf("Redeem on a server without account states: approval %v, %v", got.Approval, err)
	}
	if _, err := plain.CreateInvite(ctx(t), core.InviteSpec{Host: "example.com", Approval: true, Actor: admin}); !errors.Is(err, core.ErrConflict) ||
		!strings.Contains(err.Error(), "cannot hold accounts for approval") {
		t.Errorf("an invite asking for approval there: %v", err)
	}
}

// testServiceStanding: an invite an ordinary account made stops working while that
// account is disabled, deleted or pending, at CheckInvite and Redeem, and works again
// once it is enabled; an administrator's does not, unless the rule is "all", which
// also stops the invites of a deleted key.
func testServiceStanding(t *testing.T, s store.Store) {
	svc, _, _ := NewService(t, s, core.Options{Hosts: hostsWith(core.InvitesNone, core.InvitesOfUsers)})
	user := core.Actor{Kind: core.ActorJID, ID: "alice@example.com"}
	admin := core.Actor{Kind: core.ActorJID, ID: "admin@example.com", Manage: true}
	mk := func(svc *core.Service, by core.Actor) core.Invite {
		spec := core.InviteSpec{Host: "example.com", MaxUses: intp(10), Actor: by}
		if !by.Manage {
			spec.Kind, spec.Inviter, spec.AllowRegister = core.KindContact, strings.Split(by.ID, "@")[0], true
		}
		inv, err := svc.CreateInvite(ctx(t), spec)
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	ofUser, ofAdmin := mk(svc, user), mk(svc, admin)
	event := func(typ core.HostEventType, jid string) {
		if err := svc.HostEvents(ctx(t), []core.HostEvent{{ID: random(t, 8), Type: typ, Host: "example.com", JID: jid}}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	works := func(inv core.Invite) error {
		if _, err := svc.CheckInvite(ctx(t), "example.com", inv.Token); err != nil {
			return err
		}
		n++
		_, err := svc.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: inv.Token, Username: fmt.Sprint("new", n)})
		return err
	}
	if err := works(ofUser); err != nil {
		t.Fatalf("the invite of an account the plugin does not know yet: %v", err)
	}
	for _, st := range []core.HostEventType{core.HostAccountDisabled, core.HostAccountDeleted} {
		event(st, "alice@example.com")
		if _, err := svc.CheckInvite(ctx(t), "example.com", ofUser.Token); !errors.Is(err, core.ErrInviterInactive) {
			t.Errorf("CheckInvite after %s: %v, want ErrInviterInactive", st, err)
		}
		if _, err := svc.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: ofUser.Token, Username: "x"}); !errors.Is(err, core.ErrInviterInactive) ||
			!errors.Is(err, core.ErrNotFound) {
			t.Errorf("Redeem after %s: %v, want ErrInviterInactive", st, err)
		}
		if err := works(ofAdmin); err != nil {
			t.Errorf("the administrator's invite after alice's %s: %v", st, err)
		}
		event(core.HostAccountEnabled, "alice@example.com")
		event(core.HostLogin, "alice@example.com/pc")
		if st == core.HostAccountDisabled {
			if err := works(ofUser); err != nil {
				t.Errorf("alice enabled again: %v", err)
			}
		}
	}
	// A deleted account's name made again: the old account's invites stay dead.
	if err := works(ofUser); !errors.Is(err, core.ErrInviterInactive) {
		t.Errorf("invite of the earlier alice: %v, want ErrInviterInactive", err)
	}
	// "all": an administrator's account and a key count too; "none": nobody.
	all, _, _ := NewService(t, s, core.Options{Hosts: hostsWith(core.InvitesNone, core.InvitesAll)})
	k, _, err := all.CreateKey(ctx(t), core.KeySpec{Host: "example.com", Actor: cliActor})
	if err != nil {
		t.Fatal(err)
	}
	ofKey, err := all.CreateKeyInvite(ctx(t), k, core.InviteSpec{})
	if err != nil {
		t.Fatal(err)
	}
	ofAdmin2 := mk(all, admin)
	if _, err := all.CheckInvite(ctx(t), "example.com", ofKey.Token); err != nil {
		t.Fatalf("the key's invite: %v", err)
	}
	if err := all.DeleteKey(ctx(t), cliActor, "example.com", k.ID); err != nil {
		t.Fatal(err)
	}
	event(core.HostAccountDisabled, "admin@example.com")
	for _, inv := range []core.Invite{ofKey, ofAdmin2} {
		if _, err := all.CheckInvite(ctx(t), "example.com", inv.Token); !errors.Is(err, core.ErrInviterInactive) {
			t.Errorf("under \"all\", %s: %v, want ErrInviterInactive", inv.CreatedBy, err)
		}
	}
	none, _, _ := NewService(t, s, core.Options{Hosts: hostsWith(core.InvitesNone, core.InvitesNone)})
	if _, err := none.CheckInvite(ctx(t), "example.com", ofKey.Token); err != nil {
		t.Errorf("under \"none\": %v", err)
	}
}

// testServiceHostEvents: the server's events are recorded: a login of an account made
// here is its first (once) and, a week on, its "still active" (once); a login of an
// account made before is recorded with its inviter unknown and no first-login event;
// accounts deleted, disabled and enabled by other means are recorded with the host as
// actor; an event of another host or naming no account is skipped.
func testServiceHostEvents(t *testing.T, s store.Store) {
	svc, clock, rec := NewService(t, s, core.Options{Hosts: hostsWith(core.InvitesNone, core.InvitesNone)})
	inv, err := svc.CreateInvite(ctx(t), core.InviteSpec{Host: "example.com", Actor: cliActor})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: inv.Token, Username: "new"}); err != nil {
		t.Fatal(err)
	}
	ev := func(typ core.HostEventType, jid, lang string) core.HostEvent {
		return core.HostEvent{ID: random(t, 8), Type: typ, Host: "example.com", JID: jid, Lang: lang, At: clock.Now()}
	}
	send := func(events ...core.HostEvent) {
		t.Helper()
		if err := svc.HostEvents(ctx(t), events); err != nil {
			t.Fatal(err)
		}
	}
	send(ev(core.HostLogin, "new@example.com/a", "fr"), ev(core.HostLogin, "new@example.com/b", "fr"),
		ev(core.HostLogin, "old@example.com/a", "en"), ev(core.HostStreamEnded, "new@example.com/a", ""),
		core.HostEvent{Type: core.HostLogin, Host: "elsewhere.net", JID: "x@elsewhere.net/a"},
		core.HostEvent{Type: core.HostLogin, Host: "example.com", JID: "example.com"})
	first := rec.Events(core.EventAccountFirstLogin)
	if len(first) != 1 || first[0].JID != "new@example.com" || first[0].Account.Lang != "fr" || first[0].Actor.Kind != core.ActorHost {
		t.Fatalf("first-login events %+v", first)
	}
	old, err := s.Account(ctx(t), "old@example.com")
	if err != nil || old.InviteID != "" || old.Inviter != "" || !old.CreatedAt.IsZero() || old.State != core.AccountActive {
		t.Fatalf("an account made before: %+v, %v", old, err)
	}
	clock.Add(core.ActiveAfter)
	send(ev(core.HostLogin, "new@example.com/a", ""), ev(core.HostLogin, "old@example.com/a", ""))
	clock.Add(time.Hour)
	send(ev(core.HostLogin, "new@example.com/a", ""))
	if active := rec.Events(core.EventAccountActive); len(active) != 1 || active[0].JID != "new@example.com" {
		t.Fatalf("still-active events %+v", active)
	}
	send(ev(core.HostAccountDisabled, "new@example.com", ""), ev(core.HostAccountDisabled, "new@example.com", ""),
		ev(core.HostAccountEnabled, "new@example.com", ""), ev(core.HostAccountDeleted, "old@example.com", ""))
	got := rec.Events(core.EventAccountDisabled, core.EventAccountEnabled, core.EventAccountDeleted)
	if len(got) != 3 {
		t.Fatalf("state events %+v, want disabled, enabled, deleted", got)
	}
	for _, e := range got {
		if e.Actor.Kind != core.ActorHost || e.Actor.ID != "example.com" {
			t.Errorf("%s by %+v, want the host", e.Type, e.Actor)
		}
	}
	if a, _ := s.Account(ctx(t), "old@example.com"); a.State != core.AccountDeleted {
		t.Errorf("old after its deletion: %s", a.State)
	}
}

// TreeNode is a node of a tree a test built, for comparing with what is read back.
type TreeNode struct {
	Kind     core.NodeKind
	ID       string // JID or invite ID
	Depth    int
	Children []*TreeNode
}

// PreOrder returns the IDs of the nodes below n in pre-order, each with its depth
// ("  "×depth + ID), the tree's order of every reader.
func (n *TreeNode) PreOrder() []string {
	var out []string
	var walk func(*TreeNode)
	walk = func(x *TreeNode) {
		for _, c := range x.Children {
			out = append(out, strings.Repeat("  ", c.Depth)+c.ID)
			walk(c)
		}
	}
	walk(n)
	return out
}

// Count returns how many nodes of kind are below n.
func (n *TreeNode) Count(kind core.NodeKind) int {
	c := 0
	for _, x := range n.Children {
		if x.Kind == kind {
			c++
		}
		c += x.Count(kind)
	}
	return c
}

// Registrar makes the accounts of a tree: it redeems inv for username on host, as
// the core, the HTTP API and ad-hoc commands, or the web page would, and returns the
// account's bare JID.
type Registrar func(ctx context.Context, inv core.Invite, username string) (string, error)

// Inviter makes the invites of a tree: for the account jid of host (a user), an invite
// that can register max accounts.
type Inviter func(ctx context.Context, jid string, max int) (core.Invite, error)

// BuildTree builds a tree of depth generations (each an invite level and an account
// level) below the account root of host: each account makes fanout invites of 2 uses,
// each used twice, except that the last account of each generation makes none. It
// returns what it built, in the order every reader must give it back.
func BuildTree(ctx context.Context, t testing.TB, root string, generations, fanout int, invite Inviter, register Registrar) *TreeNode {
	t.Helper()
	top := &TreeNode{Kind: core.NodeAccount, ID: root}
	level := []*TreeNode{top}
	n := 0
	for g := range generations {
		var next []*TreeNode
		for i, acc := range level {
			if i == len(level)-1 && g > 0 {
				continue // a leaf in the middle of the tree
			}
			for range fanout {
				inv, err := invite(ctx, acc.ID, 2)
				if err != nil {
					t.Fatalf("invite by %s: %v", acc.ID, err)
				}
				in := &TreeNode{Kind: core.NodeInvite, ID: inv.ID, Depth: acc.Depth + 1}
				acc.Children = append(acc.Children, in)
				for range 2 {
					n++
					jid, err := register(ctx, inv, fmt.Sprintf("g%dn%d", g, n))
					if err != nil {
						t.Fatalf("registering with %s: %v", inv.ID, err)
					}
					a := &TreeNode{Kind: core.NodeAccount, ID: jid, Depth: in.Depth + 1}
					in.Children = append(in.Children, a)
					next = append(next, a)
				}
			}
		}
		level = next
	}
	return top
}

// TreeLines reads a whole tree through page, which returns a page of it after
// cursor and the next cursor, and returns its nodes as PreOrder does.
func TreeLines(t testing.TB, page func(cursor string) ([]core.TreeItem, string)) []string {
	t.Helper()
	var out []string
	cursor := ""
	for range 10000 {
		items, next := page(cursor)
		for _, it := range items {
			out = append(out, strings.Repeat("  ", it.Depth)+it.ID)
		}
		if next == "" {
			return out
		}
		cursor = next
	}
	t.Fatal("the tree never ends")
	return nil
}

// coreTree builds a tree of 4 generations (depth 8) through the core alone.
func coreTree(t *testing.T, svc *core.Service, root string) *TreeNode {
	invite := func(ctx context.Context, jid string, max int) (core.Invite, error) {
		return svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Kind: core.KindContact, Inviter: strings.Split(jid, "@")[0],
			AllowRegister: true, MaxUses: &max, Actor: core.Actor{Kind: core.ActorJID, ID: jid}})
	}
	register := func(ctx context.Context, inv core.Invite, name string) (string, error) {
		_, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: name})
		return name + "@example.com", err
	}
	return BuildTree(ctx(t), t, root, 4, 2, invite, register)
}

// testServiceTree: a tree of depth 8 built through real redemptions reads back whole,
// in pre-order, page by page of any size, from any node; depth bounds it; the chain of
// inviters goes up to the command line; once invites are purged their accounts hang
// below their inviters.
func testServiceTree(t *testing.T, s store.Store) {
	svc, clock, _ := NewService(t, s, core.Options{Hosts: hostsWith(core.InvitesNone, core.InvitesNone), Retention: time.Hour})
	// The root was made by the command line's invite.
	top, err := svc.CreateInvite(ctx(t), core.InviteSpec{Host: "example.com", Actor: cliActor})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: top.Token, Username: "root"}); err != nil {
		t.Fatal(err)
	}
	built := coreTree(t, svc, "root@example.com")
	want := built.PreOrder()
	if len(want) < 40 {
		t.Fatalf("built %d nodes", len(want))
	}
	admin := core.Actor{Kind: core.ActorJID, ID: "admin@example.com", Manage: true}
	read := func(rootID string, depth, limit int) []string {
		return TreeLines(t, func(cursor string) ([]core.TreeItem, string) {
			page, err := svc.Tree(ctx(t), admin, core.TreeRequest{Host: "example.com", Root: rootID, Depth: depth, Limit: limit, Cursor: cursor})
			if err != nil {
				t.Fatalf("Tree(%s, limit %d, cursor %q): %v", rootID, limit, cursor, err)
			}
			return page.Items, page.NextCursor
		})
	}
	for _, limit := range []int{1, 2, 3, 7, 200} {
		if got := read("root", 0, limit); !slices.Equal(got, want) {
			t.Fatalf("tree of root in pages of %d:\n%s\nwant:\n%s", limit, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	// Any node: its own subtree, with depths from it.
	sub := built.Children[1].Children[0] // an account two levels down
	wantSub := sub.PreOrder()
	for i := range wantSub {
		wantSub[i] = strings.TrimPrefix(wantSub[i], strings.Repeat("  ", sub.Depth))
	}
	if got := read(sub.ID, 0, 3); !slices.Equal(got, wantSub) {
		t.Errorf("subtree of %s:\n%s\nwant:\n%s", sub.ID, strings.Join(got, "\n"), strings.Join(wantSub, "\n"))
	}
	inv := built.Children[0]
	if got := read(inv.ID, 1, 10); len(got) != 2 {
		t.Errorf("accounts of invite %s at depth 1: %v", inv.ID, got)
	}
	var shallow []string
	for _, l := range want {
		if len(l)-len(strings.TrimLeft(l, " ")) <= 2*3 {
			shallow = append(shallow, l)
		}
	}
	if got := read("root@example.com", 3, 4); !slices.Equal(got, shallow) {
		t.Errorf("tree to depth 3:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(shallow, "\n"))
	}
	// A bad cursor is refused; a user sees no tree.
	if _, err := svc.Tree(ctx(t), admin, core.TreeRequest{Host: "example.com", Root: "root", Cursor: "bogus"}); !errors.Is(err, core.ErrInvalid) {
		t.Errorf("bad cursor: %v", err)
	}
	if _, err := svc.Tree(ctx(t), core.Actor{Kind: core.ActorJID, ID: "root@example.com"}, core.TreeRequest{Host: "example.com", Root: "root"}); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("a user's tree: %v", err)
	}
	if _, err := svc.Tree(ctx(t), admin, core.TreeRequest{Host: "example.com", Root: "nobody"}); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("tree of nobody: %v", err)
	}
	// The chain of a leaf: account, invite, account, … up to root, its invite, the
	// command line.
	leaf := built
	var path []*TreeNode
	for len(leaf.Children) > 0 {
		leaf = leaf.Children[0]
		path = append(path, leaf)
	}
	chain, err := svc.InvitedBy(ctx(t), admin, core.TreeRequest{Host: "example.com", Root: leaf.ID})
	if err != nil {
		t.Fatal(err)
	}
	var gotChain []string
	for _, it := range chain {
		gotChain = append(gotChain, string(it.Kind)+" "+it.ID)
	}
	wantChain := []string{}
	for i := len(path) - 1; i >= 0; i-- {
		wantChain = append(wantChain, string(path[i].Kind)+" "+path[i].ID)
	}
	wantChain = append(wantChain, "account root@example.com", "invite "+top.ID, "cli ")
	if !slices.Equal(gotChain, wantChain) {
		t.Errorf("chain of %s:\n%s\nwant:\n%s", leaf.ID, strings.Join(gotChain, "\n"), strings.Join(wantChain, "\n"))
	}
	// An account made before: its inviter is unknown.
	if err := svc.HostEvents(ctx(t), []core.HostEvent{{Type: core.HostLogin, Host: "example.com", JID: "old@example.com/x"}}); err != nil {
		t.Fatal(err)
	}
	chain, err = svc.InvitedBy(ctx(t), admin, core.TreeRequest{Host: "example.com", Root: "old"})
	if err != nil || len(chain) != 2 || chain[1].Kind != core.NodeUnknown {
		t.Errorf("chain of an account made before: %+v, %v", chain, err)
	}
	// Once the used invites are purged, their accounts keep their place in the tree,
	// below a line standing for each invite.
	clock.Add(2 * time.Hour)
	if _, purged, err := svc.Sweep(ctx(t)); err != nil || purged == 0 {
		t.Fatalf("Sweep purged %d, %v", purged, err)
	}
	if got := read("root", 0, 3); !slices.Equal(got, want) {
		t.Errorf("tree after the purge:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	chain, err = svc.InvitedBy(ctx(t), admin, core.TreeRequest{Host: "example.com", Root: leaf.ID})
	if err != nil || len(chain) != len(wantChain) || chain[1].Status != "purged" || chain[2].ID != path[len(path)-3].ID {
		t.Errorf("chain after the purge: %+v, %v", chain, err)
	}
}

// testServiceBulk: each bulk action's dry run changes nothing and lists exactly what
// the real run then changes, each change an event with the actor who asked; a server
// that cannot disable accounts refuses.
func testServiceBulk(t *testing.T, s store.Store) {
	svc, _, rec := NewService(t, s, core.Options{Hosts: hostsWith(core.InvitesNone, core.InvitesNone)})
	built := coreTree(t, svc, "root@example.com")
	admin := core.Actor{Kind: core.ActorJID, ID: "admin@example.com", Manage: true}
	// Some invites of the tree still pending: each account of the first generation
	// makes one more.
	for _, in := range built.Children {
		for _, a := range in.Children {
			max := 1
			inv, err := svc.CreateInvite(ctx(t), core.InviteSpec{Host: "example.com", Kind: core.KindContact,
				Inviter: strings.Split(a.ID, "@")[0], MaxUses: &max, Actor: core.Actor{Kind: core.ActorJID, ID: a.ID}})
			if err != nil {
				t.Fatal(err)
			}
			a.Children = append(a.Children, &TreeNode{Kind: core.NodeInvite, ID: inv.ID, Depth: a.Depth + 1})
		}
	}
	root := core.TreeRequest{Host: "example.com", Root: "root@example.com"}
	snapshot := func() string {
		page, err := svc.Tree(ctx(t), admin, core.TreeRequest{Host: "example.com", Root: "root", Limit: core.MaxTreeLimit})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		for _, it := range page.Items {
			fmt.Fprintf(&b, "%s %s %s\n", it.Kind, it.ID, it.Status)
		}
		return b.String()
	}
	ids := func(r core.BulkResult) []string {
		var out []string
		for _, inv := range r.Invites {
			out = append(out, inv.ID)
		}
		for _, a := range r.Accounts {
			out = append(out, a.JID)
		}
		sort.Strings(out)
		return out
	}
	for i, tc := range []struct {
		action  core.BulkAction
		subtree bool
		want    int
	}{
		{core.BulkRevokeInvites, false, 0},       // root's own invites are used up
		{core.BulkDisableAccounts, false, 2 * 2}, // the accounts root's invites made
		{core.BulkRevokeInvites, true, 4},        // the pending ones of the first generation
		{core.BulkDisableAccounts, true, built.Count(core.NodeAccount) - 4},
		{core.BulkEnableAccounts, true, built.Count(core.NodeAccount)},
	} {
		before := snapshot()
		dry, err := svc.Bulk(ctx(t), core.BulkSpec{Tree: root, Action: tc.action, Subtree: tc.subtree, DryRun: true, Actor: admin})
		if err != nil {
			t.Fatalf("%d: dry run: %v", i, err)
		}
		if after := snapshot(); after != before {
			t.Fatalf("%d: the dry run changed the tree", i)
		}
		events := len(rec.Events())
		real, err := svc.Bulk(ctx(t), core.BulkSpec{Tree: root, Action: tc.action, Subtree: tc.subtree, Actor: admin})
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !slices.Equal(ids(dry), ids(real)) {
			t.Errorf("%d: dry run listed %v, the real run changed %v", i, ids(dry), ids(real))
		}
		if len(ids(real)) != tc.want {
			t.Errorf("%d: %s changed %d, want %d", i, tc.action, len(ids(real)), tc.want)
		}
		evs := rec.Events()[events:]
		if len(evs) != len(ids(real)) {
			t.Errorf("%d: %d events for %d changes", i, len(evs), len(ids(real)))
		}
		for _, e := range evs {
			if e.Actor.ID != "admin@example.com" {
				t.Errorf("%d: %s by %+v", i, e.Type, e.Actor)
			}
		}
		again, err := svc.Bulk(ctx(t), core.BulkSpec{Tree: root, Action: tc.action, Subtree: tc.subtree, DryRun: true, Actor: admin})
		if err != nil || len(ids(again)) != 0 {
			t.Errorf("%d: after the action, its dry run lists %v, %v", i, ids(again), err)
		}
	}
	plain, _, _ := NewService(t, s, core.Options{})
	_, err := plain.Bulk(ctx(t), core.BulkSpec{Tree: root, Action: core.BulkDisableAccounts, Actor: admin})
	if !errors.Is(err, core.ErrConflict) || !strings.Contains(err.Error(), "this server cannot disable accounts") {
		t.Errorf("disable on a server without account states: %v", err)
	}
	if _, err := svc.Bulk(ctx(t), core.BulkSpec{Tree: root, Action: core.BulkRevokeInvites, Actor: core.Actor{Kind: core.ActorJID, ID: "root@example.com"}}); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("a user's bulk action: %v", err)
	}
}
