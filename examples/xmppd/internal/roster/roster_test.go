package roster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/roster"
)

// memStore is a Store in memory; accounts are the JIDs in local.
type memStore struct {
	mu      sync.Mutex
	local   map[string]bool
	entries map[[2]string]roster.Entry
	groups  map[string][]string
}

var _ roster.Store = (*memStore)(nil)

func newMem(accounts ...string) *memStore {
	m := &memStore{local: map[string]bool{}, entries: map[[2]string]roster.Entry{}, groups: map[string][]string{}}
	for _, a := range accounts {
		m.local[a] = true
	}
	return m
}

func (m *memStore) Entries(_ context.Context, owner string) ([]roster.Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []roster.Entry
	for k, e := range m.entries {
		if k[0] == owner {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Contact < out[j].Contact })
	return out, nil
}

func (m *memStore) UpdatePair(_ context.Context, owner, contact string, fn func(*roster.Pair) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k := range m.entries {
		if k[0] == owner {
			n++
		}
	}
	p := &roster.Pair{Owner: owner, Contact: contact, OC: m.entries[[2]string{owner, contact}],
		CO: m.entries[[2]string{contact, owner}], ContactLocal: m.local[contact], OwnerItems: n}
	if err := fn(p); err != nil {
		return err
	}
	put := func(k [2]string, e roster.Entry) {
		if e.Empty() {
			delete(m.entries, k)
			return
		}
		m.entries[k] = e
	}
	put([2]string{owner, contact}, p.OC)
	if p.ContactLocal {
		put([2]string{contact, owner}, p.CO)
	}
	return nil
}

func (m *memStore) GroupMembers(_ context.Context, group string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.groups[group]), nil
}

func (m *memStore) AddGroupMember(_ context.Context, group, addr string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.groups[group], addr) {
		m.groups[group] = append(m.groups[group], addr)
	}
	return nil
}

const (
	alice = "alice@localhost"
	bob   = "bob@localhost"
	carol = "carol@localhost"
	ghost = "ghost@localhost" // no account
	far   = "far@example.org" // another server
)

func newService(t *testing.T) (*roster.Service, *memStore) {
	t.Helper()
	m := newMem(alice, bob, carol)
	s, err := roster.New(m, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

// state summarises one entry as "sub[+ask][+pending][+approved]", or "-" for none.
func state(m *memStore, owner, contact string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[[2]string{owner, contact}]
	if !ok {
		return "-"
	}
	s := string(e.Subscription())
	if !e.Listed {
		s = "unlisted"
	}
	if e.Ask {
		s += "+ask"
	}
	if e.PendingIn {
		s += "+pending"
	}
	if e.Approved {
		s += "+approved"
	}
	return s
}

// op is one client action.
type op struct {
	who, verb, whom string
}

func (o op) run(ctx context.Context, s *roster.Service) (roster.Effects, error) {
	switch o.verb {
	case "subscribe":
		return s.Subscribe(ctx, o.who, o.whom)
	case "subscribed":
		return s.Subscribed(ctx, o.who, o.whom)
	case "unsubscribe":
		return s.Unsubscribe(ctx, o.who, o.whom)
	case "unsubscribed":
		return s.Unsubscribed(ctx, o.who, o.whom)
	case "remove":
		return s.Remove(ctx, o.who, o.whom)
	case "add":
		return s.Set(ctx, o.who, roster.Item{JID: o.whom, Name: "friend", Groups: []string{"Friends"}})
	case "mutual":
		return s.Mutual(ctx, o.who, o.whom)
	}
	return roster.Effects{}, fmt.Errorf("unknown verb %s", o.verb)
}

// TestSubscriptionStates walks the RFC 6121 §3 exchanges and checks both sides'
// state after each one, and the stanzas delivered.
func TestSubscriptionStates(t *testing.T) {
	for i, tc := range [...]struct {
		ops              []op
		aliceBob, bobAli string   // state(alice→bob), state(bob→alice) after the last op
		stanzas          []string // "from>to:type" delivered by the last op
		share, unshare   []string // "of>to" of the last op
	}{
		0: {ops: []op{{alice, "subscribe", bob}}, aliceBob: "none+ask", bobAli: "unlisted+pending",
			stanzas: []string{"alice>bob:subscribe"}},
		1: {ops: []op{{alice, "subscribe", bob}, {bob, "subscribed", alice}}, aliceBob: "to", bobAli: "from",
			stanzas: []string{"bob>alice:subscribed"}, share: []string{"bob>alice"}},
		2: {ops: []op{{alice, "subscribe", bob}, {bob, "subscribed", alice}, {bob, "subscribe", alice}, {alice, "subscribed", bob}},
			aliceBob: "both", bobAli: "both", stanzas: []string{"alice>bob:subscribed"}, share: []string{"alice>bob"}},
		3: {ops: []op{{alice, "subscribe", bob}, {bob, "unsubscribed", alice}}, aliceBob: "none", bobAli: "-",
			stanzas: []string{"bob>alice:unsubscribed"}},
		// Pre-approval: bob approves first, alice's request is answered at once.
		4: {ops: []op{{bob, "subscribed", alice}}, aliceBob: "-", bobAli: "none+approved"},
		5: {ops: []op{{bob, "subscribed", alice}, {alice, "subscribe", bob}}, aliceBob: "to", bobAli: "from",
			stanzas: []string{"bob>alice:subscribed"}, share: []string{"bob>alice"}},
		// Already subscribed: a repeated request is answered by the server.
		6: {ops: []op{{alice, "subscribe", bob}, {bob, "subscribed", alice}, {alice, "subscribe", bob}}, aliceBob: "to", bobAli: "from"},
		7: {ops: []op{{alice, "subscribe", bob}, {bob, "subscribed", alice}, {alice, "unsubscribe", bob}}, aliceBob: "none", bobAli: "none",
			stanzas: []string{"alice>bob:unsubscribe"}, unshare: []string{"bob>alice"}},
		8: {ops: []op{{alice, "subscribe", bob}, {bob, "subscribed", alice}, {bob, "unsubscribed", alice}}, aliceBob: "none", bobAli: "none",
			stanzas: []string{"bob>alice:unsubscribed"}, unshare: []string{"bob>alice"}},
		// Removing the item cancels both ways.
		9: {ops: []op{{alice, "mutual", bob}, {alice, "remove", bob}}, aliceBob: "-", bobAli: "none",
			stanzas: []string{"alice>bob:unsubscribe", "alice>bob:unsubscribed"}, unshare: []string{"bob>alice", "alice>bob"}},
		10: {ops: []op{{alice, "mutual", bob}}, aliceBob: "both", bobAli: "both", share: []string{"bob>alice", "alice>bob"}},
		// Mutual settles a pending request.
		11: {ops: []op{{alice, "subscribe", bob}, {alice, "mutual", bob}}, aliceBob: "both", bobAli: "both", share: []string{"bob>alice", "alice>bob"}},
		// An account that does not exist answers unsubscribed.
		12: {ops: []op{{alice, "subscribe", ghost}}, aliceBob: "-", bobAli: "-", stanzas: []string{"ghost>alice:unsubscribed"}},
		// A set adds an item without subscription.
		13: {ops: []op{{alice, "add", bob}}, aliceBob: "none", bobAli: "-"},
		// Unsubscribed with nothing to cancel changes nothing.
		14: {ops: []op{{alice, "unsubscribed", bob}}, aliceBob: "-", bobAli: "-"},
		// A removed pre-approval.
		15: {ops: []op{{bob, "subscribed", alice}, {bob, "unsubscribed", alice}}, aliceBob: "-", bobAli: "none"},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			s, m := newService(t)
			ctx := t.Context()
			var eff roster.Effects
			for _, o := range tc.ops {
				var err error
				if eff, err = o.run(ctx, s); err != nil {
					t.Fatalf("%v: %v", o, err)
				}
			}
			if got := state(m, alice, bob); got != tc.aliceBob && tc.ops[len(tc.ops)-1].whom != ghost {
				t.Errorf("alice→bob = %s, want %s", got, tc.aliceBob)
			}
			if got := state(m, bob, alice); got != tc.bobAli {
				t.Errorf("bob→alice = %s, want %s", got, tc.bobAli)
			}
			var stanzas, share, unshare []string
			short := func(j string) string { return j[:len(j)-len("@localhost")] }
			for _, st := range eff.Stanzas {
				stanzas = append(stanzas, short(st.From)+">"+short(st.To)+":"+st.Type)
			}
			for _, sh := range eff.Share {
				share = append(share, short(sh.Of)+">"+short(sh.To))
			}
			for _, sh := range eff.Unshare {
				unshare = append(unshare, short(sh.Of)+">"+short(sh.To))
			}
			if !slices.Equal(stanzas, tc.stanzas) {
				t.Errorf("stanzas %v, want %v", stanzas, tc.stanzas)
			}
			if !slices.Equal(share, tc.share) {
				t.Errorf("share %v, want %v", share, tc.share)
			}
			if !slices.Equal(unshare, tc.unshare) {
				t.Errorf("unshare %v, want %v", unshare, tc.unshare)
			}
		})
	}
}

// TestGhostSubscribe: a request to a local name with no account leaves a plain item.
func TestGhostSubscribe(t *testing.T) {
	s, m := newService(t)
	if _, err := s.Subscribe(t.Context(), alice, ghost); err != nil {
		t.Fatal(err)
	}
	if got := state(m, alice, ghost); got != "none" {
		t.Fatalf("alice→ghost = %s", got)
	}
}

func TestRefused(t *testing.T) {
	s, _ := newService(t)
	ctx := t.Context()
	for i, tc := range []struct {
		run  func() error
		want error
	}{
		{func() error { _, err := s.Subscribe(ctx, alice, far); return err }, roster.ErrRemote},
		{func() error { _, err := s.Subscribe(ctx, alice, alice); return err }, roster.ErrInvalid},
		{func() error { _, err := s.Subscribe(ctx, alice, "localhost"); return err }, roster.ErrInvalid},
		{func() error { _, err := s.Remove(ctx, alice, bob); return err }, roster.ErrNotFound},
		{func() error {
			_, err := s.Set(ctx, alice, roster.Item{JID: bob, Groups: []string{"a", "a"}})
			return err
		}, roster.ErrInvalid},
		{func() error { _, err := s.Set(ctx, alice, roster.Item{JID: bob, Groups: []string{""}}); return err }, roster.ErrInvalid},
		{func() error { _, err := s.Mutual(ctx, alice, ghost); return err }, roster.ErrInvalid},
	} {
		if err := tc.run(); !errors.Is(err, tc.want) {
			t.Errorf("%d: %v, want %v", i, err, tc.want)
		}
	}
	// A remote contact may be kept in the roster, not subscribed to.
	if _, err := s.Set(ctx, alice, roster.Item{JID: far}); err != nil {
		t.Fatal(err)
	}
}

func TestRosterFull(t *testing.T) {
	s, _ := newService(t)
	ctx := t.Context()
	for i := range roster.MaxItems {
		if _, err := s.Set(ctx, alice, roster.Item{JID: fmt.Sprintf("c%d@example.org", i)}); err != nil {
			t.Fatal(i, err)
		}
	}
	if _, err := s.Set(ctx, alice, roster.Item{JID: bob}); !errors.Is(err, roster.ErrTooMany) {
		t.Fatalf("item beyond MaxItems: %v", err)
	}
	// Changing an existing item still works.
	if _, err := s.Set(ctx, alice, roster.Item{JID: "c0@example.org", Name: "zero"}); err != nil {
		t.Fatal(err)
	}
}

func TestQueries(t *testing.T) {
	s, _ := newService(t)
	ctx := t.Context()
	if _, err := s.Mutual(ctx, alice, bob, "Team"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Subscribe(ctx, carol, alice); err != nil {
		t.Fatal(err)
	}
	items, err := s.Get(ctx, alice)
	if err != nil || len(items) != 1 || items[0].JID != bob || items[0].Subscription != roster.Both || !slices.Equal(items[0].Groups, []string{"Team"}) {
		t.Fatalf("alice's roster: %+v %v", items, err)
	}
	pending, _ := s.Pending(ctx, alice)
	subs, _ := s.Subscribers(ctx, alice)
	to, _ := s.Subscriptions(ctx, carol)
	if !slices.Equal(pending, []string{carol}) || !slices.Equal(subs, []string{bob}) || len(to) != 0 {
		t.Fatalf("pending %v subscribers %v carol's subscriptions %v", pending, subs, to)
	}
}

// TestJoinGroup: each new member is subscribed to every member before it.
func TestJoinGroup(t *testing.T) {
	s, m := newService(t)
	ctx := t.Context()
	for _, who := range []string{alice, bob, carol} {
		if _, err := s.JoinGroup(ctx, "Circle", who); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range [][2]string{{alice, bob}, {bob, alice}, {alice, carol}, {carol, alice}, {bob, carol}, {carol, bob}} {
		if got := state(m, p[0], p[1]); got != "both" {
			t.Errorf("%s→%s = %s", p[0], p[1], got)
		}
	}
	items, _ := s.Get(ctx, carol)
	for _, it := range items {
		if !slices.Equal(it.Groups, []string{"Circle"}) {
			t.Errorf("carol's item %+v", it)
		}
	}
}
