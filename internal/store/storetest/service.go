package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
)

// Clock is a settable time source for core.Options.Now.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock showing t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Recorder is a core.Observer that keeps the events it sees.
type Recorder struct {
	mu     sync.Mutex
	events []core.Event
}

// Observe implements core.Observer.
func (r *Recorder) Observe(_ context.Context, e core.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Events returns the events seen so far, of the given types (all when none given).
func (r *Recorder) Events(types ...core.EventType) []core.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []core.Event
	for _, e := range r.events {
		if len(types) == 0 || contains(types, e.Type) {
			out = append(out, e)
		}
	}
	return out
}

func contains(types []core.EventType, t core.EventType) bool {
	for _, x := range types {
		if x == t {
			return true
		}
	}
	return false
}

// NewService returns a core.Service for example.com over s, with a clock at base and an
// observer that records events.
func NewService(t testing.TB, s core.Store, opts core.Options) (*core.Service, *Clock, *Recorder) {
	t.Helper()
	c := NewClock(base)
	r := &Recorder{}
	opts.Store = s
	if opts.Hosts == nil {
		opts.Hosts = []core.HostConfig{{Domain: "example.com"}, {Domain: "example.org"}}
	}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	opts.Observer = r
	svc, err := core.NewService(opts)
	if err != nil {
		t.Fatal(err)
	}
	return svc, c, r
}

func intp(n int) *int { return &n }

// testServiceMaxUses: 100 concurrent redemptions of a max_uses=5 invite through the
// core give exactly 5 accounts, and the record names each.
func testServiceMaxUses(t *testing.T, s store.Store) {
	svc, _, rec := NewService(t, s, core.Options{})
	inv, err := svc.CreateInvite(ctx(t), core.InviteSpec{Host: "example.com", MaxUses: intp(5), Actor: core.Actor{Kind: core.ActorCLI}})
	if err != nil {
		t.Fatal(err)
	}
	ConcurrentRedeem(t, []*core.Service{svc}, inv, 100, 5)
	got, err := svc.Invite(ctx(t), core.Actor{Kind: core.ActorCLI}, "example.com", inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Uses != 5 || len(got.Redemptions) != 5 || got.Status(base) != core.StatusUsed {
		t.Fatalf("after the race: uses %d, %d redemptions, status %s", got.Uses, len(got.Redemptions), got.Status(base))
	}
	if n := len(rec.Events(core.EventInviteRedeemed)); n != 5 {
		t.Errorf("%d redeemed events, want 5", n)
	}
	if n := len(rec.Events(core.EventInviteRefused)); n != 95 {
		t.Errorf("%d refused events, want 95", n)
	}
}

// ConcurrentRedeem redeems inv n times at once, spread over the services (nodes), and
// fails the test unless exactly want succeed and the others are refused as used up.
func ConcurrentRedeem(t testing.TB, nodes []*core.Service, inv core.Invite, n, want int) {
	t.Helper()
	var wins, usedUp atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		node := nodes[i%len(nodes)]
		wg.Go(func() {
			<-start
			_, err := node.Redeem(context.Background(), core.Redemption{Host: inv.Host, Token: inv.Token, Username: fmt.Sprint("user", i)})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, core.ErrUsedUp):
				usedUp.Add(1)
			default:
				t.Errorf("Redeem: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if int(wins.Load()) != want || int(usedUp.Load()) != n-want {
		t.Fatalf("%d redemptions succeeded and %d were refused as used up, of %d; want %d and %d",
			wins.Load(), usedUp.Load(), n, want, n-want)
	}
}

// testServiceRefusals: a revoked, an expired and a used-up invite are refused at check
// and at redemption, each with its reason.
func testServiceRefusals(t *testing.T, s store.Store) {
	svc, clock, rec := NewService(t, s, core.Options{})
	cli := core.Actor{Kind: core.ActorCLI}
	mk := func(ttl time.Duration) core.Invite {
		inv, err := svc.CreateInvite(ctx(t), core.InviteSpec{Host: "example.com", TTL: ttl, Actor: cli})
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	revoked, expired, used, fine := mk(time.Hour), mk(time.Minute), mk(time.Hour), mk(time.Hour)
	if _, err := svc.RevokeInvite(ctx(t), cli, "example.com", revoked.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: used.Token, Username: "first"}); err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Minute)
	tests := []struct {
		inv    core.Invite
		host   string
		want   error
		reason string
	}{
		0: {inv: revoked, want: core.ErrRevoked, reason: "revoked"},
		1: {inv: expired, want: core.ErrExpired, reason: "expired"},
		2: {inv: used, want: core.ErrUsedUp, reason: "used-up"},
		3: {inv: fine, host: "example.org", want: core.ErrNotFound, reason: "not-found"},
	}
	for i, tc := range tests {
		host := tc.host
		if host == "" {
			host = "example.com"
		}
		if _, err := svc.CheckInvite(ctx(t), host, tc.inv.Token); !errors.Is(err, tc.want) {
			t.Errorf("%d: CheckInvite = %v, want %v", i, err, tc.want)
		}
		before := len(rec.Events(core.EventInviteRefused))
		_, err := svc.Redeem(ctx(t), core.Redemption{Host: host, Token: tc.inv.Token, Username: "late"})
		if !errors.Is(err, tc.want) {
			t.Errorf("%d: Redeem = %v, want %v", i, err, tc.want)
		}
		refused := rec.Events(core.EventInviteRefused)
		if len(refused) != before+1 || refused[len(refused)-1].Reason != tc.reason || refused[len(refused)-1].InviteID != tc.inv.ID {
			t.Errorf("%d: refusal events %+v, want one more with reason %q", i, refused, tc.reason)
		}
	}
	// A wrong secret with a real ID is not found, and uses nothing.
	wrong := fine.Token[:core.IDLen] + "AAAAAAAAAAAAAAAAAAAAAAAA"
	if _, err := svc.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: wrong, Username: "mallory"}); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Redeem with a wrong secret = %v, want ErrNotFound", err)
	}
	if _, err := svc.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: fine.Token, Username: "alice"}); err != nil {
		t.Errorf("Redeem of the good invite: %v", err)
	}
}

// testServiceRetention: records stay after use, expiry and revocation, and are purged
// once the retention period has passed after they ended.
func testServiceRetention(t *testing.T, s store.Store) {
	const retention = 30 * 24 * time.Hour
	svc, clock, rec := NewService(t, s, core.Options{Retention: retention, Outbox: true})
	cli := core.Actor{Kind: core.ActorCLI}
	used, err := svc.CreateInvite(ctx(t), core.InviteSpec{Host: "example.com", Actor: cli})
	if err != nil {
		t.Fatal(err)
	}
	expiring, err := svc.CreateInvite(ctx(t), core.InviteSpec{Host: "example.com", TTL: time.Hour, Actor: cli})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: used.Token, Username: "alice"}); err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Hour)
	if exp, purged, err := svc.Sweep(ctx(t)); err != nil || exp != 1 || purged != 0 {
		t.Fatalf("first Sweep = %d expired, %d purged, %v; want 1, 0", exp, purged, err)
	}
	if ev := rec.Events(core.EventInviteExpired); len(ev) != 1 || ev[0].InviteID != expiring.ID {
		t.Fatalf("expired events %+v", ev)
	}
	for _, inv := range []core.Invite{used, expiring} {
		got, err := svc.Invite(ctx(t), cli, "example.com", inv.ID)
		if err != nil {
			t.Fatalf("record of %s gone before retention: %v", inv.ID, err)
		}
		if inv.ID == used.ID && (len(got.Redemptions) != 1 || got.Redemptions[0].JID != "alice@example.com") {
			t.Errorf("redemptions kept: %+v", got.Redemptions)
		}
	}
	clock.Add(retention - 3*time.Hour)
	if _, purged, err := svc.Sweep(ctx(t)); err != nil || purged != 0 {
		t.Fatalf("Sweep before retention purged %d, %v", purged, err)
	}
	clock.Add(3 * time.Hour)
	if _, purged, err := svc.Sweep(ctx(t)); err != nil || purged != 2 {
		t.Fatalf("Sweep after retention purged %d, %v; want 2", purged, err)
	}
	for _, inv := range []core.Invite{used, expiring} {
		if _, err := svc.Invite(ctx(t), cli, "example.com", inv.ID); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("record of %s after retention: %v, want ErrNotFound", inv.ID, err)
		}
	}
}

// testServiceLifecycle: list, show, update and revoke with key scoping.
func testServiceLifecycle(t *testing.T, s store.Store) {
	svc, clock, rec := NewService(t, s, core.Options{})
	k1, _, err := svc.CreateKey(ctx(t), core.KeySpec{Host: "example.com", Name: "portal"})
	if err != nil {
		t.Fatal(err)
	}
	k2, _, err := svc.CreateKey(ctx(t), core.KeySpec{Host: "example.com", Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	boss, _, err := svc.CreateKey(ctx(t), core.KeySpec{Host: "example.com", Name: "boss", Manage: true})
	if err != nil {
		t.Fatal(err)
	}
	foreign, _, err := svc.CreateKey(ctx(t), core.KeySpec{Host: "example.org", Manage: true})
	if err != nil {
		t.Fatal(err)
	}
	a1, a2, ab, af := core.KeyActor(k1, "192.0.2.1"), core.KeyActor(k2, ""), core.KeyActor(boss, ""), core.KeyActor(foreign, "")
	inv, err := svc.CreateKeyInvite(ctx(t), k1, core.InviteSpec{Note: "for the choir", Groups: []string{"choir"}, MaxUses: intp(3), Actor: a1})
	if err != nil {
		t.Fatal(err)
	}
	if inv.CreatedBy != "api/token/"+k1.ID || inv.Note != "for the choir" || inv.MaxUses != 3 || len(inv.Groups) != 1 {
		t.Fatalf("created %+v", inv)
	}
	if ev := rec.Events(core.EventInviteCreated); len(ev) != 1 || ev[0].Actor.Remote != "192.0.2.1" || ev[0].Actor.ID != k1.ID {
		t.Fatalf("created events %+v", ev)
	}
	clock.Add(time.Second)
	if _, err := svc.CreateKeyInvite(ctx(t), k2, core.InviteSpec{}); err != nil {
		t.Fatal(err)
	}
	count := func(by core.Actor, host string) int {
		page, err := svc.ListInvites(ctx(t), by, core.InviteQuery{Host: host})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Invites)
	}
	if n1, n2, nb := count(a1, "example.com"), count(a2, "example.com"), count(ab, "example.com"); n1 != 1 || n2 != 1 || nb != 2 {
		t.Fatalf("listed %d, %d, %d; want 1 (own), 1 (own), 2 (manage)", n1, n2, nb)
	}
	for i, tc := range []struct {
		by   core.Actor
		host string
		want error
	}{
		0: {by: a1, host: "example.com"},
		1: {by: ab, host: "example.com"},
		2: {by: a2, host: "example.com", want: core.ErrNotFound},
		3: {by: af, host: "example.org", want: core.ErrNotFound},
	} {
		if _, err := svc.Invite(ctx(t), tc.by, tc.host, inv.ID); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%d: Invite = %v, want %v", i, err, tc.want)
		}
		if tc.want != nil {
			if _, err := svc.RevokeInvite(ctx(t), tc.by, tc.host, inv.ID); !errors.Is(err, tc.want) {
				t.Errorf("%d: RevokeInvite = %v, want %v", i, err, tc.want)
			}
			note := "mine now"
			if _, err := svc.UpdateInvite(ctx(t), tc.by, tc.host, inv.ID, core.InvitePatch{Note: &note}); !errors.Is(err, tc.want) {
				t.Errorf("%d: UpdateInvite = %v, want %v", i, err, tc.want)
			}
		}
	}
	if got, err := svc.RevokeInvite(ctx(t), a1, "example.com", inv.ID); err != nil || got.Status(clock.Now()) != core.StatusRevoked {
		t.Fatalf("RevokeInvite by its creator = %+v, %v", got, err)
	}
	if _, err := svc.RevokeInvite(ctx(t), a1, "example.com", inv.ID); err != nil {
		t.Fatalf("second RevokeInvite = %v, want no error", err)
	}
	if ev := rec.Events(core.EventInviteRevoked); len(ev) != 1 {
		t.Fatalf("revoked events %+v, want one", ev)
	}
	if _, err := svc.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: inv.Token, Username: "x"}); !errors.Is(err, core.ErrRevoked) {
		t.Fatalf("Redeem of a revoked invite = %v", err)
	}
	later := inv.ExpiresAt.Add(24 * time.Hour)
	if got, err := svc.UpdateInvite(ctx(t), a1, "example.com", inv.ID, core.InvitePatch{ExpiresAt: &later}); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("UpdateInvite of a revoked invite = %+v, %v; want ErrConflict", got, err)
	}
	inv2, err := svc.CreateKeyInvite(ctx(t), k1, core.InviteSpec{MaxUses: intp(2)})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"juliet", "romeo"} {
		if _, err := svc.Redeem(ctx(t), core.Redemption{Host: "example.com", Token: inv2.Token, Username: name}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.UpdateInvite(ctx(t), a1, "example.com", inv2.ID, core.InvitePatch{MaxUses: intp(1)}); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("lowering max_uses below uses = %v, want ErrConflict", err)
	}
	got, err := svc.UpdateInvite(ctx(t), ab, "example.com", inv2.ID, core.InvitePatch{MaxUses: intp(3), ExpiresAt: &later})
	if err != nil {
		t.Fatal(err)
	}
	if got.MaxUses != 3 || !got.ExpiresAt.Equal(later) || got.Status(clock.Now()) != core.StatusPending || len(got.Redemptions) != 2 {
		t.Fatalf("after update: %+v", got)
	}
	if ev := rec.Events(core.EventInviteUpdated); len(ev) != 1 || len(ev[0].Changed) != 2 {
		t.Fatalf("updated events %+v", ev)
	}
	page, err := svc.ListInvites(ctx(t), ab, core.InviteQuery{Host: "example.com", Status: core.StatusRevoked})
	if err != nil || len(page.Invites) != 1 || page.Invites[0].ID != inv.ID {
		t.Fatalf("revoked list = %+v, %v", page, err)
	}
}

// testServiceKeyRate (issue 21, LOW 10): through the core, a key's rate bounds the
// accounts its invites can make, on this store: an invite for m accounts takes m of
// it, raising max_uses by k takes k, any number of accounts is refused, and a key
// limited to 10 an hour cannot raise its own invite to 100,000.
func testServiceKeyRate(t *testing.T, s store.Store) {
	svc, clock, _ := NewService(t, s, core.Options{})
	k, _, err := svc.CreateKey(ctx(t), core.KeySpec{Host: "example.com", Rate: core.Rate{N: 10, Period: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	by := core.KeyActor(k, "")
	inv, err := svc.CreateKeyInvite(ctx(t), k, core.InviteSpec{MaxUses: intp(4)})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []int{100_000, 0} {
		if _, err := svc.UpdateInvite(ctx(t), by, "example.com", inv.ID, core.InvitePatch{MaxUses: intp(m)}); !errors.Is(err, core.ErrInvalid) {
			t.Errorf("raising max_uses to %d = %v, want a refusal", m, err)
		}
	}
	if _, err := svc.UpdateInvite(ctx(t), by, "example.com", inv.ID, core.InvitePatch{MaxUses: intp(9)}); err != nil {
		t.Fatalf("raising by 5 (9 of 10): %v", err)
	}
	if _, err := svc.UpdateInvite(ctx(t), by, "example.com", inv.ID, core.InvitePatch{MaxUses: intp(11)}); !errors.Is(err, core.ErrRateLimited) {
		t.Fatalf("raising by 2 with 1 left = %v, want a rate limit", err)
	}
	if _, err := svc.CreateKeyInvite(ctx(t), k, core.InviteSpec{MaxUses: intp(2)}); !errors.Is(err, core.ErrRateLimited) {
		t.Fatalf("an invite for 2 with 1 left = %v, want a rate limit", err)
	}
	if _, err := svc.CreateKeyInvite(ctx(t), k, core.InviteSpec{}); err != nil {
		t.Fatalf("an invite for 1 with 1 left: %v", err)
	}
	got, err := svc.Invite(ctx(t), by, "example.com", inv.ID)
	if err != nil || got.MaxUses != 9 {
		t.Fatalf("max_uses %d (%v), want 9", got.MaxUses, err)
	}
	clock.Add(time.Hour)
	if _, err := svc.UpdateInvite(ctx(t), by, "example.com", inv.ID, core.InvitePatch{MaxUses: intp(19)}); err != nil {
		t.Fatalf("raising by 10 an hour later: %v", err)
	}
}
