package storetest

import (
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
	"github.com/xmpp-invites/invites/internal/store"
)

// outboxEvents writes n invite.created events to s's outbox (with their invites),
// dated base, and returns them oldest first.
func outboxEvents(t *testing.T, s store.Store, host string, n int) []core.Event {
	t.Helper()
	var out []core.Event
	for range n {
		inv := newInvite(t, host, time.Hour)
		e := core.Event{ID: newID(t) + "ev00", Type: core.EventInviteCreated, Time: base, Host: host,
			InviteID: inv.ID, Actor: core.Actor{Kind: core.ActorCLI}}
		if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{Events: []core.Event{e}}); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func ids(es []outbox.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Event.ID
	}
	return out
}

// testDelivery checks the outbox's delivery side: claims with leases, completion and
// failure only by the lease's owner, retries at their time, giving up, the delivery
// log, the backlog and the purge.
func testDelivery(t *testing.T, s store.Store) {
	o := s
	evs := outboxEvents(t, s, "example.com", 3)
	other := outboxEvents(t, s, "example.org", 1)
	lease := 30 * time.Second
	now := base.Add(time.Second)

	got, err := o.Claim(ctx(t), "A", now, lease, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{evs[0].ID, evs[1].ID, evs[2].ID}; !slices.Equal(ids(got), want) {
		t.Fatalf("claimed %v, want %v (oldest first, limit 3)", ids(got), want)
	}
	for _, e := range got {
		if e.Attempts != 1 || len(e.Done) != 0 || !e.CreatedAt.Equal(base) || e.Event.Type != core.EventInviteCreated {
			t.Errorf("claimed %+v: want attempt 1, nothing done, created at %v", e, base)
		}
	}
	// What A holds is not due for B; the rest is.
	got, err = o.Claim(ctx(t), "B", now, lease, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{other[0].ID}; !slices.Equal(ids(got), want) {
		t.Fatalf("B claimed %v, want %v", ids(got), want)
	}
	if err := o.Complete(ctx(t), other[0].ID, "B", now, nil, nil); err != nil {
		t.Fatal(err)
	}

	attempt := func(e core.Event, endpoint string, n, status int, msg string) outbox.Attempt {
		return outbox.Attempt{EventID: e.ID, Type: string(e.Type), Host: e.Host, Endpoint: endpoint,
			Attempt: n, At: now, Duration: 5 * time.Millisecond, Status: status, Error: msg}
	}
	if err := o.Complete(ctx(t), evs[0].ID, "A", now, []outbox.Attempt{attempt(evs[0], "portal", 1, 204, "")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := o.Complete(ctx(t), evs[0].ID, "B", now, nil, nil); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Errorf("Complete by another owner = %v, want ErrLeaseLost", err)
	}
	if err := o.Fail(ctx(t), evs[1].ID, "B", outbox.Failure{NextAttempt: now}, nil); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Errorf("Fail by another owner = %v, want ErrLeaseLost", err)
	}
	retry := now.Add(time.Minute)
	if err := o.Fail(ctx(t), evs[1].ID, "A", outbox.Failure{Done: []string{"portal"}, NextAttempt: retry, Error: "status 500"},
		[]outbox.Attempt{attempt(evs[1], "portal", 1, 204, ""), attempt(evs[1], "crm", 1, 500, "status 500")}); err != nil {
		t.Fatal(err)
	}
	// evs[2]'s lease runs out: another worker takes it, as after a kill -9.
	got, err = o.Claim(ctx(t), "B", now.Add(lease-time.Millisecond), lease, 10)
	if err != nil || len(got) != 0 {
		t.Fatalf("claim before the lease ran out = %v, %v; want nothing", ids(got), err)
	}
	got, err = o.Claim(ctx(t), "B", now.Add(lease), time.Hour, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{evs[2].ID}; !slices.Equal(ids(got), want) || got[0].Attempts != 2 {
		t.Fatalf("claim after the lease = %+v, want %v at attempt 2", got, want)
	}
	if err := o.Complete(ctx(t), evs[2].ID, "A", now, nil, nil); !errors.Is(err, outbox.ErrLeaseLost) {
		t.Errorf("Complete by the owner of a lost lease = %v, want ErrLeaseLost", err)
	}
	// The failed one is due at its time, with what was done.
	got, err = o.Claim(ctx(t), "C", retry, lease, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{evs[1].ID}; !slices.Equal(ids(got), want) || got[0].Attempts != 2 || !slices.Equal(got[0].Done, []string{"portal"}) {
		t.Fatalf("claim of the retry = %+v, want %v at attempt 2 with portal done", got, want)
	}
	if err := o.Fail(ctx(t), evs[1].ID, "C", outbox.Failure{Done: []string{"portal"}, NextAttempt: retry, Error: "gave up", GiveUp: true}, nil); err != nil {
		t.Fatal(err)
	}
	if got, err = o.Claim(ctx(t), "C", retry.Add(48*time.Hour), lease, 10); err != nil || slices.Contains(ids(got), evs[1].ID) {
		t.Fatalf("claim after giving up = %v, %v; want it gone", ids(got), err)
	}

	b, err := o.OutboxBacklog(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	// evs[2] is pending (leased), evs[1] given up, evs[0] and other[0] delivered.
	if b.Pending != 1 || b.GivenUp != 1 || !b.Oldest.Equal(base) {
		t.Errorf("backlog %+v, want 1 pending since %v, 1 given up", b, base)
	}

	log, err := o.DeliveryLog(ctx(t), outbox.LogQuery{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 3 {
		t.Fatalf("delivery log %+v, want 3 attempts", log)
	}
	for _, a := range log {
		if a.Host != "example.com" || !a.At.Equal(now) || a.Duration != 5*time.Millisecond || a.Type != string(core.EventInviteCreated) {
			t.Errorf("logged %+v", a)
		}
	}
	log, err = o.DeliveryLog(ctx(t), outbox.LogQuery{EventID: evs[1].ID, Limit: 1})
	if err != nil || len(log) != 1 || log[0].EventID != evs[1].ID {
		t.Fatalf("delivery log of one event, limit 1 = %+v, %v", log, err)
	}
	if log, err = o.DeliveryLog(ctx(t), outbox.LogQuery{Host: "example.net"}); err != nil || len(log) != 0 {
		t.Fatalf("delivery log of another host = %+v, %v", log, err)
	}

	n, err := o.PurgeOutbox(ctx(t), now.Add(time.Minute))
	if err != nil || n != 4 {
		t.Fatalf("PurgeOutbox = %d, %v; want 4", n, err)
	}
	if b, err := o.OutboxBacklog(ctx(t)); err != nil || b.Pending != 0 || b.GivenUp != 0 {
		t.Fatalf("backlog after the purge %+v, %v", b, err)
	}
	if log, err := o.DeliveryLog(ctx(t), outbox.LogQuery{}); err != nil || len(log) != 0 {
		t.Fatalf("delivery log after the purge %+v, %v", log, err)
	}
}

// testConcurrentClaims checks that workers claiming at once never take the same event
// twice, and take them all.
func testConcurrentClaims(t *testing.T, s store.Store) {
	o := s
	evs := outboxEvents(t, s, "example.com", 60)
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		wg     sync.WaitGroup
	)
	now := base.Add(time.Second)
	for w := range 4 {
		owner := string(rune('A' + w))
		wg.Go(func() {
			for range 100 {
				got, err := o.Claim(ctx(t), owner, now, time.Hour, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				for _, e := range got {
					mu.Lock()
					counts[e.Event.ID]++
					mu.Unlock()
					if err := o.Complete(ctx(t), e.Event.ID, owner, now, nil, nil); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	for _, e := range evs {
		if counts[e.ID] != 1 {
			t.Errorf("event %s claimed %d times, want once", e.ID, counts[e.ID])
		}
	}
}

// testCounts checks the counts the metrics read.
func testCounts(t *testing.T, s store.Store) {
	c := s
	for range 2 {
		if err := s.CreateKey(ctx(t), newKey(t, "example.com", base), nil); err != nil {
			t.Fatal(err)
		}
	}
	pending := newInvite(t, "example.com", time.Hour)
	short := newInvite(t, "example.com", time.Minute)
	used := newInvite(t, "example.com", time.Hour)
	revoked := newInvite(t, "example.com", time.Hour)
	other := newInvite(t, "example.org", time.Hour)
	for _, inv := range []core.Invite{pending, short, used, revoked, other} {
		if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ChangeInvite(ctx(t), used.ID, use("a@example.com", base)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangeInvite(ctx(t), revoked.ID, func(inv *core.Invite) (core.InviteChange, error) {
		inv.RevokedAt, inv.EndedAt = base, base
		return core.InviteChange{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := c.CountPending(ctx(t), base.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"example.com": 1, "example.org": 1}; !maps.Equal(got, want) {
		t.Errorf("CountPending = %v, want %v", got, want)
	}
	keys, err := c.CountKeys(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{"example.com": 2}; !maps.Equal(keys, want) {
		t.Errorf("CountKeys = %v, want %v", keys, want)
	}
}
