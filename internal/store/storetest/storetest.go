package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
)

// Run runs the contract suite, one subtest per behaviour.
// Each subtest calls open for a fresh, empty store, and closes it when the subtest ends
// (cleanups open registers run after that close, so they may drop the database).
// Subtests run one after another, never in parallel with each other.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"KeyRoundTrip", testKeyRoundTrip},
		{"KeyNotFound", testKeyNotFound},
		{"KeyConflict", testKeyConflict},
		{"KeysByHostOldestFirst", testKeys},
		{"DeleteKey", testDeleteKey},
		{"KeysVersion", testKeysVersion},
		{"AddKeyUses", testAddKeyUses},
		{"InviteRoundTrip", testInviteRoundTrip},
		{"InviteNotFound", testInviteNotFound},
		{"InviteConflict", testInviteConflict},
		{"ChangeInvite", testChange},
		{"ChangeInviteRefused", testChangeRefused},
		{"ConcurrentChanges", testConcurrentChanges},
		{"ListInvites", testList},
		{"ListInvitesPaged", testListPaged},
		{"ExpireInvites", testExpire},
		{"PurgeInvites", testPurge},
		{"Quota", testQuota},
		{"ConcurrentQuota", testConcurrentQuota},
		{"Outbox", testOutbox},
		{"Delivery", testDelivery},
		{"ConcurrentClaims", testConcurrentClaims},
		{"Counts", testCounts},
		{"ConcurrentCreates", testConcurrentCreates},
		{"ConcurrentDuplicateCreates", testConcurrentDuplicates},
		{"CanceledContext", testCanceled},
		{"RateLimiter", testRateLimiter},
		{"ConcurrentRate", testConcurrentRate},
		{"QuotaOnChange", testQuotaOnChange},
		{"RecordHosts", testRecordHosts},
		{"ServiceMaxUses", testServiceMaxUses},
		{"ServiceKeyRate", testServiceKeyRate},
		{"ServiceRefusals", testServiceRefusals},
		{"ServiceRecordsAndRetention", testServiceRetention},
		{"ServiceLifecycle", testServiceLifecycle},
		{"Details", testDetails},
		{"Funnel", testFunnel},
		{"MailEffect", testMailEffect},
		{"Reminders", testReminders},
		{"ListExpiring", testListExpiring},
		{"Accounts", testAccounts},
		{"Holds", testHolds},
		{"ServiceHolds", testServiceHolds},
		{"ServiceApproval", testServiceApproval},
		{"ServiceStanding", testServiceStanding},
		{"ServiceHostEvents", testServiceHostEvents},
		{"ServiceTree", testServiceTree},
		{"ServiceBulk", testServiceBulk},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// base is the suite's "now": whole seconds, far from the clock of the machine, so that
// stores with microsecond precision keep every time exactly.
var base = time.Date(2031, 3, 14, 15, 9, 26, 0, time.UTC)

// ctx bounds every store call of one subtest.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

// random returns n random bytes as base64url, for IDs and tokens.
func random(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashOf(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// idSeq makes invite IDs in creation order for the suite.
var idSeq atomic.Int64

// newID returns a fresh invite ID, later in text order than the ones before.
func newID(t *testing.T) string {
	return fmt.Sprintf("%06d%s", idSeq.Add(1)%1000000, random(t, 6)[:6])
}

// newKey returns a key on host with every field set.
func newKey(t *testing.T, host string, created time.Time) core.Key {
	return core.Key{
		ID:         random(t, 9),
		Host:       host,
		Name:       "key for " + host,
		SecretHash: hashOf(random(t, 27)),
		CreatedAt:  created,
		ExpiresAt:  created.Add(30 * 24 * time.Hour),
		MaxTTL:     48 * time.Hour,
		Rate:       core.Rate{N: 10, Period: time.Minute},
	}
}

// newInvite returns a single-use account invite on host, created at base, living ttl.
func newInvite(t *testing.T, host string, ttl time.Duration) core.Invite {
	id := newID(t)
	return core.Invite{
		ID:        id,
		TokenHash: hashOf(id + random(t, 18)),
		Host:      host,
		Kind:      core.KindAccount,
		CreatedBy: "api/token/" + random(t, 9),
		MaxUses:   1,
		CreatedAt: base,
		ExpiresAt: base.Add(ttl),
	}
}

func sameKey(a, b core.Key) bool {
	return a.ID == b.ID && a.Host == b.Host && a.Name == b.Name &&
		bytes.Equal(a.SecretHash, b.SecretHash) && a.CreatedAt.Equal(b.CreatedAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.MaxTTL == b.MaxTTL && a.Rate == b.Rate &&
		a.LastUsed.Equal(b.LastUsed) && a.Uses == b.Uses && a.Manage == b.Manage
}

func sameInvite(a, b core.Invite) bool {
	return a.ID == b.ID && bytes.Equal(a.TokenHash, b.TokenHash) && a.Host == b.Host &&
		a.Kind == b.Kind && a.Username == b.Username && a.Inviter == b.Inviter &&
		a.AllowRegister == b.AllowRegister && a.CreatedBy == b.CreatedBy && a.Note == b.Note &&
		slices.Equal(a.Groups, b.Groups) && a.MaxUses == b.MaxUses && a.Uses == b.Uses &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		a.RevokedAt.Equal(b.RevokedAt) && a.EndedAt.Equal(b.EndedAt)
}

func mustCreateKey(t *testing.T, s core.Store, k core.Key) {
	t.Helper()
	if err := s.CreateKey(ctx(t), k, nil); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
}

func mustCreateInvite(t *testing.T, s core.Store, inv core.Invite) {
	t.Helper()
	if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{}); err != nil {
		t.Fatalf("CreateInvite: %v", err)
	}
}

// wantInvite checks that the invite is stored as given.
func wantInvite(t *testing.T, s core.Store, inv core.Invite) {
	t.Helper()
	got, err := s.Invite(ctx(t), inv.ID)
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	if !sameInvite(got, inv) {
		t.Fatalf("Invite = %+v, want %+v", got, inv)
	}
}

// wantGone checks that the invite is no longer stored.
func wantGone(t *testing.T, s core.Store, inv core.Invite) {
	t.Helper()
	if _, err := s.Invite(ctx(t), inv.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Invite after removal: %v, want ErrNotFound", err)
	}
}

// use is a ChangeInvite function that redeems an invite for jid at now, as the core
// does: refused when not pending.
func use(jid string, now time.Time) func(*core.Invite) (core.InviteChange, error) {
	return func(inv *core.Invite) (core.InviteChange, error) {
		if err := inv.Check(core.PurposeRegister, "", inv.Host, now); err != nil {
			return core.InviteChange{}, err
		}
		inv.Uses++
		if inv.UsedUp() {
			inv.EndedAt = now
		}
		return core.InviteChange{Use: &core.Use{JID: jid, At: now}}, nil
	}
}

func testKeyRoundTrip(t *testing.T, s store.Store) {
	full := newKey(t, "example.com", base)
	bare := core.Key{ID: random(t, 9), Host: "example.com", SecretHash: hashOf("x"), CreatedAt: base.Add(time.Second)}
	used := newKey(t, "example.com", base.Add(2*time.Second))
	used.LastUsed = base.Add(time.Hour)
	used.Uses = 42
	manager := newKey(t, "example.com", base.Add(3*time.Second))
	manager.Manage = true
	tests := []core.Key{0: full, 1: bare, 2: used, 3: manager}
	for i, k := range tests {
		if err := s.CreateKey(ctx(t), k, nil); err != nil {
			t.Fatalf("%d: CreateKey: %v", i, err)
		}
		got, err := s.Key(ctx(t), k.ID)
		if err != nil {
			t.Fatalf("%d: Key: %v", i, err)
		}
		if !sameKey(got, k) {
			t.Errorf("%d: Key = %+v, want %+v", i, got, k)
		}
	}
	// Times in another zone are the same instants.
	k := newKey(t, "example.com", base.In(time.FixedZone("X", 5*3600)))
	mustCreateKey(t, s, k)
	got, err := s.Key(ctx(t), k.ID)
	if err != nil || !got.CreatedAt.Equal(base) {
		t.Errorf("Key with zoned time = %v, %v; want CreatedAt %v", got.CreatedAt, err, base)
	}
}

func testKeyNotFound(t *testing.T, s store.Store) {
	for i, id := range []string{0: random(t, 9), 1: "", 2: "no such key"} {
		if _, err := s.Key(ctx(t), id); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("%d: Key(%q) = %v, want ErrNotFound", i, id, err)
		}
	}
}

func testKeyConflict(t *testing.T, s store.Store) {
	k := newKey(t, "example.com", base)
	mustCreateKey(t, s, k)
	dup := newKey(t, "example.org", base.Add(time.Hour))
	dup.ID = k.ID
	if err := s.CreateKey(ctx(t), dup, nil); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("CreateKey with a taken ID = %v, want ErrConflict", err)
	}
	got, err := s.Key(ctx(t), k.ID)
	if err != nil || !sameKey(got, k) {
		t.Fatalf("after conflict Key = %+v, %v; want the first key unchanged", got, err)
	}
}

func testKeys(t *testing.T, s store.Store) {
	if keys, err := s.Keys(ctx(t), "example.com"); err != nil || len(keys) != 0 {
		t.Fatalf("Keys on an empty store = %v, %v; want none", keys, err)
	}
	// Created out of order, listed oldest first; another host's keys stay out.
	var want []core.Key
	for _, d := range []int{3, 1, 4, 0, 5, 2} {
		k := newKey(t, "example.com", base.Add(time.Duration(d)*time.Minute))
		mustCreateKey(t, s, k)
		mustCreateKey(t, s, newKey(t, "example.org", base.Add(time.Duration(d)*time.Minute)))
		want = append(want, k)
	}
	got, err := s.Keys(ctx(t), "example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("Keys returned %d keys, want %d", len(got), len(want))
	}
	for i, k := range got {
		if k.Host != "example.com" {
			t.Errorf("%d: key of host %q listed", i, k.Host)
		}
		if want := base.Add(time.Duration(i) * time.Minute); !k.CreatedAt.Equal(want) {
			t.Errorf("%d: CreatedAt %v, want %v (oldest first)", i, k.CreatedAt, want)
		}
		if !slices.ContainsFunc(want, func(w core.Key) bool { return sameKey(k, w) }) {
			t.Errorf("%d: listed key %+v differs from every created one", i, k)
		}
	}
	if keys, err := s.Keys(ctx(t), "unknown.example"); err != nil || len(keys) != 0 {
		t.Errorf("Keys of an unknown host = %v, %v; want none", keys, err)
	}
}

func testDeleteKey(t *testing.T, s store.Store) {
	k := newKey(t, "example.com", base)
	other := newKey(t, "example.com", base)
	mustCreateKey(t, s, k)
	mustCreateKey(t, s, other)
	if err := s.DeleteKey(ctx(t), "example.org", k.ID, nil); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("DeleteKey on another host = %v, want ErrNotFound", err)
	}
	if _, err := s.Key(ctx(t), k.ID); err != nil {
		t.Fatalf("key deleted through another host: %v", err)
	}
	if err := s.DeleteKey(ctx(t), "example.com", k.ID, nil); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	if _, err := s.Key(ctx(t), k.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Key after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteKey(ctx(t), "example.com", k.ID, nil); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("second DeleteKey = %v, want ErrNotFound", err)
	}
	keys, err := s.Keys(ctx(t), "example.com")
	if err != nil || len(keys) != 1 || keys[0].ID != other.ID {
		t.Fatalf("Keys after delete = %v, %v; want only the other key", keys, err)
	}
	// The ID is free again.
	mustCreateKey(t, s, k)
}

// testKeysVersion: a deletion changes the store's key version.
func testKeysVersion(t *testing.T, s store.Store) {
	w := s
	waitVouched(t, w)
	k := newKey(t, "example.com", base)
	mustCreateKey(t, s, k)
	v0, _ := w.KeysVersion()
	if err := s.DeleteKey(ctx(t), "example.com", k.ID, nil); err != nil {
		t.Fatal(err)
	}
	v1, ok := w.KeysVersion()
	if !ok || v1 == v0 {
		t.Fatalf("KeysVersion after a deletion = %d, %v; want a change from %d", v1, ok, v0)
	}
}

// waitVouched waits until a store vouches for its key version (a PostgreSQL listener
// connects in the background).
func waitVouched(t *testing.T, w core.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := w.KeysVersion(); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the store never vouched for its key version")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testAddKeyUses(t *testing.T, s store.Store) {
	a := newKey(t, "example.com", base)
	b := newKey(t, "example.com", base)
	mustCreateKey(t, s, a)
	mustCreateKey(t, s, b)
	if err := s.AddKeyUses(ctx(t), nil); err != nil {
		t.Fatalf("AddKeyUses(nil) = %v", err)
	}
	t1, t2 := base.Add(time.Minute), base.Add(2*time.Minute)
	steps := []struct {
		uses         []core.KeyUse
		wantA, wantB int64
		lastA, lastB time.Time
	}{
		0: {uses: []core.KeyUse{{ID: a.ID, Count: 3, LastUsed: t1}}, wantA: 3, lastA: t1},
		// An earlier last use does not lower it; a vanished key is dropped silently.
		1: {uses: []core.KeyUse{{ID: a.ID, Count: 2, LastUsed: base}, {ID: random(t, 9), Count: 5, LastUsed: t2},
			{ID: b.ID, Count: 1, LastUsed: t2}}, wantA: 5, wantB: 1, lastA: t1, lastB: t2},
		2: {uses: []core.KeyUse{{ID: a.ID, Count: 1, LastUsed: t2}}, wantA: 6, wantB: 1, lastA: t2, lastB: t2},
	}
	for i, st := range steps {
		if err := s.AddKeyUses(ctx(t), st.uses); err != nil {
			t.Fatalf("%d: AddKeyUses: %v", i, err)
		}
		for _, w := range []struct {
			k    core.Key
			n    int64
			last time.Time
		}{{a, st.wantA, st.lastA}, {b, st.wantB, st.lastB}} {
			got, err := s.Key(ctx(t), w.k.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Uses != w.n || !got.LastUsed.Equal(w.last) {
				t.Errorf("%d: key uses %d, last used %v; want %d, %v", i, got.Uses, got.LastUsed, w.n, w.last)
			}
		}
	}
	keys, err := s.Keys(ctx(t), "example.com")
	if err != nil || len(keys) != 2 || keys[0].Uses+keys[1].Uses != 7 {
		t.Errorf("Keys after uses = %+v, %v; want 7 uses in all", keys, err)
	}
}

func testInviteRoundTrip(t *testing.T, s store.Store) {
	fixed := newInvite(t, "example.com", time.Hour)
	fixed.Username = "alice"
	contact := newInvite(t, "example.com", time.Hour)
	contact.Kind, contact.Inviter, contact.AllowRegister = core.KindContact, "bob", true
	contact.CreatedBy = "xmpp:bob@example.com"
	plainContact := newInvite(t, "example.org", 7*24*time.Hour)
	plainContact.Kind, plainContact.Inviter, plainContact.CreatedBy = core.KindContact, "carol", ""
	expired := newInvite(t, "example.com", -time.Hour)
	tokenSet := newInvite(t, "example.com", time.Hour)
	tokenSet.Token = "not stored"
	rich := newInvite(t, "example.com", time.Hour)
	rich.Note, rich.Groups, rich.MaxUses, rich.CreatedBy = "for the choir ✓ ", []string{"choir", "Friends & Family"}, 0, "cli"
	reset := newInvite(t, "example.com", time.Hour)
	reset.Kind, reset.Username = core.KindReset, "dave"
	tests := []core.Invite{0: newInvite(t, "example.com", time.Hour), 1: fixed, 2: contact, 3: plainContact,
		4: expired, 5: tokenSet, 6: rich, 7: reset}
	for i, inv := range tests {
		if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{}); err != nil {
			t.Fatalf("%d: CreateInvite: %v", i, err)
		}
		got, err := s.Invite(ctx(t), inv.ID)
		if err != nil {
			t.Fatalf("%d: Invite: %v", i, err)
		}
		if got.Token != "" {
			t.Errorf("%d: Invite returned a token %q; stores keep only its hash", i, got.Token)
		}
		if !sameInvite(got, inv) {
			t.Errorf("%d: Invite = %+v, want %+v", i, got, inv)
		}
		if uses, err := s.Redemptions(ctx(t), inv.ID); err != nil || len(uses) != 0 {
			t.Errorf("%d: Redemptions of a new invite = %v, %v; want none", i, uses, err)
		}
	}
}

func testInviteNotFound(t *testing.T, s store.Store) {
	mustCreateInvite(t, s, newInvite(t, "example.com", time.Hour))
	for i, id := range []string{0: newID(t), 1: "", 2: "AAAAAAAAAAAA"} {
		if _, err := s.Invite(ctx(t), id); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("%d: Invite = %v, want ErrNotFound", i, err)
		}
		if _, err := s.ChangeInvite(ctx(t), id, use("x@example.com", base)); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("%d: ChangeInvite = %v, want ErrNotFound", i, err)
		}
	}
}

func testInviteConflict(t *testing.T, s store.Store) {
	inv := newInvite(t, "example.com", time.Hour)
	mustCreateInvite(t, s, inv)
	dup := newInvite(t, "example.org", 2*time.Hour)
	dup.ID = inv.ID
	if err := s.CreateInvite(ctx(t), dup, core.InviteWrite{}); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("CreateInvite with a taken ID = %v, want ErrConflict", err)
	}
	wantInvite(t, s, inv)
}

func testChange(t *testing.T, s store.Store) {
	inv := newInvite(t, "example.com", time.Hour)
	inv.MaxUses = 2
	other := newInvite(t, "example.com", time.Hour)
	mustCreateInvite(t, s, inv)
	mustCreateInvite(t, s, other)
	t1, t2 := base.Add(time.Minute), base.Add(2*time.Minute)
	got, err := s.ChangeInvite(ctx(t), inv.ID, use("alice@example.com", t1))
	if err != nil {
		t.Fatalf("ChangeInvite: %v", err)
	}
	want := inv
	want.Uses = 1
	if !sameInvite(got, want) {
		t.Fatalf("ChangeInvite returned %+v, want %+v", got, want)
	}
	wantInvite(t, s, want)
	if _, err := s.ChangeInvite(ctx(t), inv.ID, use("bob@example.com", t2)); err != nil {
		t.Fatalf("second ChangeInvite: %v", err)
	}
	want.Uses, want.EndedAt = 2, t2
	wantInvite(t, s, want)
	uses, err := s.Redemptions(ctx(t), inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantUses := []core.Use{{JID: "alice@example.com", At: t1}, {JID: "bob@example.com", At: t2}}
	if len(uses) != 2 || uses[0].JID != wantUses[0].JID || !uses[0].At.Equal(t1) ||
		uses[1].JID != wantUses[1].JID || !uses[1].At.Equal(t2) {
		t.Fatalf("Redemptions = %v, want %v", uses, wantUses)
	}
	if _, err := s.ChangeInvite(ctx(t), inv.ID, use("carol@example.com", t2)); !errors.Is(err, core.ErrUsedUp) {
		t.Fatalf("third ChangeInvite of a 2-use invite = %v, want ErrUsedUp", err)
	}
	// Every writable field round-trips; the others stay.
	revoked := base.Add(3 * time.Minute)
	got, err = s.ChangeInvite(ctx(t), other.ID, func(inv *core.Invite) (core.InviteChange, error) {
		inv.Note, inv.MaxUses, inv.ExpiresAt, inv.RevokedAt, inv.EndedAt = "moved", 7, base.Add(5*time.Hour), revoked, revoked
		inv.Host, inv.Kind, inv.CreatedBy = "ignored.example", core.KindReset, "ignored" // not written
		return core.InviteChange{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want = other
	want.Note, want.MaxUses, want.ExpiresAt, want.RevokedAt, want.EndedAt = "moved", 7, base.Add(5*time.Hour), revoked, revoked
	wantInvite(t, s, want)
	if got.Note != "moved" {
		t.Errorf("ChangeInvite returned %+v", got)
	}
}

func testChangeRefused(t *testing.T, s store.Store) {
	inv := newInvite(t, "example.com", time.Hour)
	mustCreateInvite(t, s, inv)
	refusal := errors.New("no")
	_, err := s.ChangeInvite(ctx(t), inv.ID, func(inv *core.Invite) (core.InviteChange, error) {
		inv.Uses = 99
		inv.Note = "changed"
		return core.InviteChange{Use: &core.Use{JID: "x@example.com", At: base}}, refusal
	})
	if !errors.Is(err, refusal) {
		t.Fatalf("ChangeInvite = %v, want the function's error", err)
	}
	wantInvite(t, s, inv)
	if uses, err := s.Redemptions(ctx(t), inv.ID); err != nil || len(uses) != 0 {
		t.Fatalf("refused change recorded a redemption: %v, %v", uses, err)
	}
}

// testConcurrentChanges checks the promise that matters: of 100 concurrent redemptions
// of a 5-use invite exactly 5 succeed, for several rounds and an unlimited invite.
func testConcurrentChanges(t *testing.T, s store.Store) {
	const n = 100
	for round, maxUses := range []int{5, 1, 0} {
		inv := newInvite(t, "example.com", time.Hour)
		inv.MaxUses = maxUses
		mustCreateInvite(t, s, inv)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, n)
		)
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = s.ChangeInvite(ctx(t), inv.ID, use(fmt.Sprintf("user%d@example.com", i), base.Add(time.Duration(i)*time.Microsecond)))
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, core.ErrUsedUp):
				t.Errorf("round %d, redeemer %d: %v, want success or ErrUsedUp", round, i, err)
			}
		}
		want := maxUses
		if want == 0 {
			want = n
		}
		if wins != want {
			t.Fatalf("round %d: %d of %d concurrent redemptions of a max_uses=%d invite succeeded, want %d", round, wins, n, maxUses, want)
		}
		got, err := s.Invite(ctx(t), inv.ID)
		uses, uerr := s.Redemptions(ctx(t), inv.ID)
		if err != nil || uerr != nil || got.Uses != want || len(uses) != want {
			t.Fatalf("round %d: uses %d, %d redemptions (%v, %v); want %d", round, got.Uses, len(uses), err, uerr, want)
		}
	}
}

func testList(t *testing.T, s store.Store) {
	now := base.Add(time.Hour)
	mk := func(host, by string, created time.Duration, f func(*core.Invite)) core.Invite {
		inv := newInvite(t, host, 2*time.Hour)
		inv.CreatedBy = by
		inv.CreatedAt = base.Add(created)
		inv.ExpiresAt = inv.CreatedAt.Add(2 * time.Hour)
		if f != nil {
			f(&inv)
		}
		mustCreateInvite(t, s, inv)
		return inv
	}
	pending := mk("example.com", "cli", 0, nil)
	used := mk("example.com", "api/token/A", time.Minute, func(i *core.Invite) { i.Uses = 1; i.EndedAt = base })
	expired := mk("example.com", "api/token/A", 2*time.Minute, func(i *core.Invite) { i.ExpiresAt = now })
	revoked := mk("example.com", "cli", 3*time.Minute, func(i *core.Invite) { i.RevokedAt = base; i.Uses = 1 })
	unlimited := mk("example.com", "api/token/A", 4*time.Minute, func(i *core.Invite) { i.MaxUses = 0; i.Uses = 9 })
	mk("example.org", "cli", 5*time.Minute, nil)
	ids := func(invs []core.Invite) []string {
		out := make([]string, len(invs))
		for i, inv := range invs {
			out[i] = inv.ID
		}
		return out
	}
	tests := []struct {
		f    core.InviteFilter
		want []core.Invite
	}{
		0: {f: core.InviteFilter{Host: "example.com"}, want: []core.Invite{unlimited, revoked, expired, used, pending}},
		1: {f: core.InviteFilter{Host: "example.com", Status: core.StatusPending}, want: []core.Invite{unlimited, pending}},
		2: {f: core.InviteFilter{Host: "example.com", Status: core.StatusUsed}, want: []core.Invite{used}},
		3: {f: core.InviteFilter{Host: "example.com", Status: core.StatusExpired}, want: []core.Invite{expired}},
		4: {f: core.InviteFilter{Host: "example.com", Status: core.StatusRevoked}, want: []core.Invite{revoked}},
		5: {f: core.InviteFilter{Host: "example.com", CreatedBy: "api/token/A"}, want: []core.Invite{unlimited, expired, used}},
		6: {f: core.InviteFilter{Host: "example.com", CreatedBy: "api/token/A", Status: core.StatusPending}, want: []core.Invite{unlimited}},
		7: {f: core.InviteFilter{Host: "example.com", CreatedBy: "nobody"}},
		8: {f: core.InviteFilter{Host: "nowhere.example"}},
		9: {f: core.InviteFilter{Host: "example.com", Limit: 2}, want: []core.Invite{unlimited, revoked}},
		10: {f: core.InviteFilter{Host: "example.com", Before: &core.Position{CreatedAt: expired.CreatedAt, ID: expired.ID}},
			want: []core.Invite{used, pending}},
	}
	for i, tc := range tests {
		tc.f.Now = now
		if tc.f.Limit == 0 {
			tc.f.Limit = 100
		}
		got, err := s.ListInvites(ctx(t), tc.f)
		if err != nil {
			t.Errorf("%d: ListInvites: %v", i, err)
			continue
		}
		if !slices.Equal(ids(got), ids(tc.want)) {
			t.Errorf("%d: ListInvites = %v, want %v", i, ids(got), ids(tc.want))
			continue
		}
		for j := range got {
			if !sameInvite(got[j], tc.want[j]) {
				t.Errorf("%d: listed %+v, want %+v", i, got[j], tc.want[j])
			}
		}
	}
}

func testListPaged(t *testing.T, s store.Store) {
	// Invites made in the same microsecond are ordered by ID; a page boundary between
	// them loses none.
	var want []string
	for i := range 23 {
		inv := newInvite(t, "example.com", time.Hour)
		inv.CreatedAt = base.Add(time.Duration(i/3) * time.Second)
		mustCreateInvite(t, s, inv)
		want = append(want, inv.ID)
	}
	slices.Reverse(want)
	var got []string
	var before *core.Position
	for page := 0; ; page++ {
		invs, err := s.ListInvites(ctx(t), core.InviteFilter{Host: "example.com", Now: base, Limit: 5, Before: before})
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range invs {
			got = append(got, inv.ID)
		}
		if len(invs) < 5 {
			break
		}
		last := invs[len(invs)-1]
		before = &core.Position{CreatedAt: last.CreatedAt, ID: last.ID}
		if page > 10 {
			t.Fatal("paging does not end")
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages = %v\nwant %v", got, want)
	}
}

func testExpire(t *testing.T, s store.Store) {
	now := base.Add(time.Hour)
	due := newInvite(t, "example.com", 30*time.Minute)
	dueExactly := newInvite(t, "example.com", time.Hour)
	live := newInvite(t, "example.com", 2*time.Hour)
	usedUp := newInvite(t, "example.com", 30*time.Minute)
	usedUp.Uses, usedUp.EndedAt = 1, base.Add(time.Minute)
	revoked := newInvite(t, "example.com", 30*time.Minute)
	revoked.RevokedAt, revoked.EndedAt = base.Add(time.Minute), base.Add(time.Minute)
	for _, inv := range []core.Invite{due, dueExactly, live, usedUp, revoked} {
		mustCreateInvite(t, s, inv)
	}
	var seen []string
	got, err := s.ExpireInvites(ctx(t), now, 100, func(inv core.Invite) core.Event {
		seen = append(seen, inv.ID)
		return core.Event{ID: newID(t), Type: core.EventInviteExpired, Time: now, Host: inv.Host, InviteID: inv.ID}
	})
	if err != nil {
		t.Fatal(err)
	}
	gotIDs := []string{}
	for _, inv := range got {
		gotIDs = append(gotIDs, inv.ID)
		if !inv.EndedAt.Equal(inv.ExpiresAt) {
			t.Errorf("expired invite %s returned with EndedAt %v, want its expiry", inv.ID, inv.EndedAt)
		}
	}
	slices.Sort(gotIDs)
	wantIDs := []string{due.ID, dueExactly.ID}
	slices.Sort(wantIDs)
	slices.Sort(seen)
	if !slices.Equal(gotIDs, wantIDs) || !slices.Equal(seen, wantIDs) {
		t.Fatalf("ExpireInvites = %v (events for %v), want %v", gotIDs, seen, wantIDs)
	}
	due.EndedAt = due.ExpiresAt
	wantInvite(t, s, due)
	wantInvite(t, s, live)
	wantInvite(t, s, usedUp)
	if again, err := s.ExpireInvites(ctx(t), now, 100, nil); err != nil || len(again) != 0 {
		t.Fatalf("second ExpireInvites = %v, %v; want none", again, err)
	}
	// The limit bounds one call.
	for range 5 {
		mustCreateInvite(t, s, newInvite(t, "example.com", time.Minute))
	}
	if got, err := s.ExpireInvites(ctx(t), now, 3, nil); err != nil || len(got) != 3 {
		t.Fatalf("ExpireInvites with limit 3 = %d invites, %v", len(got), err)
	}
}

func testPurge(t *testing.T, s store.Store) {
	cutoff := base.Add(time.Hour)
	old := newInvite(t, "example.com", time.Minute)
	old.MaxUses = 2
	mustCreateInvite(t, s, old)
	for i := range 2 {
		if _, err := s.ChangeInvite(ctx(t), old.ID, use(fmt.Sprintf("u%d@example.com", i), base)); err != nil {
			t.Fatal(err)
		}
	}
	recent := newInvite(t, "example.com", time.Minute)
	recent.RevokedAt, recent.EndedAt = cutoff, cutoff
	pending := newInvite(t, "example.com", time.Minute) // expired, but not yet noted
	mustCreateInvite(t, s, recent)
	mustCreateInvite(t, s, pending)
	n, err := s.PurgeInvites(ctx(t), cutoff, cutoff)
	if err != nil || n != 1 {
		t.Fatalf("PurgeInvites = %d, %v; want 1", n, err)
	}
	wantGone(t, s, old)
	if uses, err := s.Redemptions(ctx(t), old.ID); err != nil || len(uses) != 0 {
		t.Fatalf("redemptions of a purged invite = %v, %v", uses, err)
	}
	wantInvite(t, s, recent)
	wantInvite(t, s, pending)
	if n, err := s.PurgeInvites(ctx(t), cutoff.Add(time.Second), cutoff); err != nil || n != 1 {
		t.Fatalf("later PurgeInvites = %d, %v; want 1", n, err)
	}
}

func testQuota(t *testing.T, s store.Store) {
	mk := func(by string, created time.Duration) core.Invite {
		inv := newInvite(t, "example.com", time.Hour)
		inv.CreatedBy = by
		inv.CreatedAt = base.Add(created)
		inv.ExpiresAt = inv.CreatedAt.Add(time.Hour)
		return inv
	}
	now := base.Add(10 * time.Minute)
	q := &core.QuotaCheck{Since: now.Add(-5 * time.Minute), Max: 2, Now: now}
	// One made before the period does not count; another creator's do not either.
	mustCreateInvite(t, s, mk("xmpp:a@example.com", 0))
	mustCreateInvite(t, s, mk("xmpp:b@example.com", 9*time.Minute))
	for i := range 2 {
		if err := s.CreateInvite(ctx(t), mk("xmpp:a@example.com", 6*time.Minute), core.InviteWrite{Quota: q}); err != nil {
			t.Fatalf("%d: CreateInvite within quota: %v", i, err)
		}
	}
	over := mk("xmpp:a@example.com", 10*time.Minute)
	if err := s.CreateInvite(ctx(t), over, core.InviteWrite{Quota: q}); !errors.Is(err, core.ErrQuota) {
		t.Fatalf("CreateInvite over quota = %v, want ErrQuota", err)
	}
	wantGone(t, s, over)
	// Outstanding counts pending invites only.
	q = &core.QuotaCheck{Outstanding: 3, Now: now}
	if err := s.CreateInvite(ctx(t), mk("xmpp:a@example.com", 10*time.Minute), core.InviteWrite{Quota: q}); !errors.Is(err, core.ErrQuota) {
		t.Fatalf("CreateInvite with 3 pending = %v, want ErrQuota", err)
	}
	list, err := s.ListInvites(ctx(t), core.InviteFilter{Host: "example.com", CreatedBy: "xmpp:a@example.com", Now: now, Limit: 10})
	if err != nil || len(list) != 3 {
		t.Fatalf("ListInvites = %d, %v", len(list), err)
	}
	if _, err := s.ChangeInvite(ctx(t), list[0].ID, use("x@example.com", now)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateInvite(ctx(t), mk("xmpp:a@example.com", 10*time.Minute), core.InviteWrite{Quota: q}); err != nil {
		t.Fatalf("CreateInvite once one was used: %v", err)
	}
}

func testConcurrentQuota(t *testing.T, s store.Store) {
	const n, quota = 30, 5
	q := &core.QuotaCheck{Since: base.Add(-time.Hour), Max: quota, Now: base}
	var ok, over atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range n {
		inv := newInvite(t, "example.com", time.Hour)
		inv.CreatedBy = "xmpp:greedy@example.com"
		wg.Go(func() {
			<-start
			err := s.CreateInvite(ctx(t), inv, core.InviteWrite{Quota: q})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, core.ErrQuota):
				over.Add(1)
			default:
				t.Errorf("CreateInvite: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != quota || over.Load() != n-quota {
		t.Fatalf("%d made and %d refused of %d concurrent creates with a quota of %d", ok.Load(), over.Load(), n, quota)
	}
}

func testOutbox(t *testing.T, s store.Store) {
	r := s
	ev := func(typ core.EventType, inv string) core.Event {
		return core.Event{ID: newID(t), Type: typ, Time: base, Host: "example.com", InviteID: inv,
			Actor: core.Actor{Kind: core.ActorCLI}}
	}
	var want []core.Event
	k := newKey(t, "example.com", base)
	e := ev(core.EventKeyCreated, "")
	e.KeyID = k.ID
	if err := s.CreateKey(ctx(t), k, []core.Event{e}); err != nil {
		t.Fatal(err)
	}
	want = append(want, e)
	inv := newInvite(t, "example.com", time.Hour)
	e = ev(core.EventInviteCreated, inv.ID)
	if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{Events: []core.Event{e}}); err != nil {
		t.Fatal(err)
	}
	want = append(want, e)
	// A refused create writes no event.
	if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{Events: []core.Event{ev(core.EventInviteCreated, inv.ID)}}); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("duplicate CreateInvite = %v", err)
	}
	e = ev(core.EventInviteRedeemed, inv.ID)
	if _, err := s.ChangeInvite(ctx(t), inv.ID, func(inv *core.Invite) (core.InviteChange, error) {
		c, err := use("a@example.com", base)(inv)
		c.Events = []core.Event{e}
		return c, err
	}); err != nil {
		t.Fatal(err)
	}
	want = append(want, e)
	// A refused change writes no event.
	if _, err := s.ChangeInvite(ctx(t), inv.ID, func(inv *core.Invite) (core.InviteChange, error) {
		return core.InviteChange{Events: []core.Event{ev(core.EventInviteRedeemed, inv.ID)}}, core.ErrUsedUp
	}); !errors.Is(err, core.ErrUsedUp) {
		t.Fatal(err)
	}
	e = ev(core.EventKeyDeleted, "")
	if err := s.DeleteKey(ctx(t), "example.com", k.ID, []core.Event{e}); err != nil {
		t.Fatal(err)
	}
	want = append(want, e)
	// Concurrent creates, grouped or not, each write their event.
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 40 {
		inv := newInvite(t, "example.com", time.Hour)
		e := ev(core.EventInviteCreated, inv.ID)
		wg.Go(func() {
			if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{Events: []core.Event{e}}); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			want = append(want, e)
			mu.Unlock()
		})
	}
	wg.Wait()
	got, err := r.OutboxEvents(ctx(t), 1000)
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b core.Event) int { return cmpString(a.ID, b.ID) })
	if len(got) != len(want) {
		t.Fatalf("%d events in the outbox, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Type != want[i].Type || got[i].InviteID != want[i].InviteID ||
			got[i].KeyID != want[i].KeyID || !got[i].Time.Equal(want[i].Time) || got[i].Actor != want[i].Actor {
			t.Errorf("%d: outbox event %+v, want %+v", i, got[i], want[i])
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testConcurrentCreates(t *testing.T, s store.Store) {
	const workers, each = 32, 25
	invs := make([][]core.Invite, workers)
	errs := make([]error, workers)
	keys := make([]core.Key, workers)
	for w := range workers {
		keys[w] = newKey(t, "example.com", base.Add(time.Duration(w)*time.Second))
		for range each {
			invs[w] = append(invs[w], newInvite(t, "example.com", time.Hour))
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for w := range workers {
		wg.Go(func() {
			<-start
			if err := s.CreateKey(ctx(t), keys[w], nil); err != nil {
				errs[w] = fmt.Errorf("CreateKey: %w", err)
				return
			}
			for _, inv := range invs[w] {
				if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{}); err != nil {
					errs[w] = fmt.Errorf("CreateInvite: %w", err)
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for w := range workers {
		for _, inv := range invs[w] {
			wantInvite(t, s, inv)
		}
	}
	got, err := s.Keys(ctx(t), "example.com")
	if err != nil || len(got) != workers {
		t.Fatalf("Keys = %d keys, %v; want %d", len(got), err, workers)
	}
}

func testConcurrentDuplicates(t *testing.T, s store.Store) {
	// Many writers at once, some racing for the same ID: each ID is stored once,
	// exactly one of its creators succeeds, and the rest get ErrConflict while
	// unrelated invites committed beside them are unaffected.
	const ids, racers, singles = 10, 5, 100
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		wins    = make(map[string]int)
		invites = make(map[string]core.Invite)
		failed  []error
	)
	for h := range ids {
		inv := newInvite(t, "example.com", time.Hour)
		for r := range racers {
			cand := inv
			cand.CreatedBy = fmt.Sprintf("racer %d/%d", h, r)
			wg.Go(func() {
				<-start
				err := s.CreateInvite(ctx(t), cand, core.InviteWrite{})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins[cand.ID]++
					invites[cand.ID] = cand
				case !errors.Is(err, core.ErrConflict):
					failed = append(failed, err)
				}
			})
		}
	}
	singlesList := make([]core.Invite, singles)
	for i := range singlesList {
		singlesList[i] = newInvite(t, "example.org", time.Hour)
		wg.Go(func() {
			<-start
			if err := s.CreateInvite(ctx(t), singlesList[i], core.InviteWrite{}); err != nil {
				mu.Lock()
				failed = append(failed, fmt.Errorf("unique invite: %w", err))
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(failed...); err != nil {
		t.Fatal(err)
	}
	if len(wins) != ids {
		t.Errorf("%d IDs stored, want %d", len(wins), ids)
	}
	for id, n := range wins {
		if n != 1 {
			t.Errorf("invite %s: %d creators succeeded, want exactly 1", id, n)
		}
		wantInvite(t, s, invites[id])
	}
	for _, inv := range singlesList {
		wantInvite(t, s, inv)
	}
}

func testCanceled(t *testing.T, s store.Store) {
	c, cancel := context.WithCancel(t.Context())
	cancel()
	inv := newInvite(t, "example.com", time.Hour)
	if err := s.CreateInvite(c, inv, core.InviteWrite{}); err == nil {
		t.Error("CreateInvite with a canceled context succeeded")
	}
	if err := s.CreateKey(c, newKey(t, "example.com", base), nil); err == nil {
		t.Error("CreateKey with a canceled context succeeded")
	}
	if _, err := s.ChangeInvite(c, inv.ID, use("a@example.com", base)); err == nil {
		t.Error("ChangeInvite with a canceled context succeeded")
	}
	// The store still works afterwards.
	mustCreateInvite(t, s, inv)
	wantInvite(t, s, inv)
}

// testRateLimiter: a write's rate charge is taken by the one rule (core.Rate.Take) in
// the write's transaction: a refused charge writes nothing and takes nothing, and a
// write refused for another reason takes nothing either.
func testRateLimiter(t *testing.T, s store.Store) {
	rates := []core.Rate{{N: 3, Period: time.Minute}, {N: 1, Period: time.Hour}, {N: 10, Period: time.Second}}
	steps := []struct {
		step time.Duration
		n    int
	}{{0, 1}, {0, 1}, {0, 1}, {0, 1}, {time.Second, 1}, {20 * time.Second, 1}, {0, 2}, {0, 1},
		{19 * time.Second, 1}, {time.Millisecond, 1}, {0, 1}, {time.Hour, 3}, {0, 1}, {0, 1}, {0, 2}, {0, 1}}
	for ri, rate := range rates {
		key := fmt.Sprint("ratekey", ri, random(t, 3))
		at := base
		var tat time.Time
		for si, st := range steps {
			at = at.Add(st.step)
			n := min(st.n, rate.N)
			next, want := rate.Take(tat, n, at)
			inv := newInvite(t, "example.com", time.Hour)
			inv.MaxUses = n
			got := s.CreateInvite(ctx(t), inv, core.InviteWrite{Rate: &core.RateCharge{KeyID: key, Rate: rate, N: n, Now: at}})
			var wl, gl *core.RateLimitError
			errors.As(want, &wl)
			errors.As(got, &gl)
			switch {
			case (want == nil) != (got == nil):
				t.Errorf("rate %v step %d: got %v, want %v", rate, si, got, want)
			case want != nil && (!errors.Is(got, core.ErrRateLimited) || gl == nil || gl.RetryAfter != wl.RetryAfter):
				t.Errorf("rate %v step %d: got %#v, want %#v", rate, si, got, wl)
			}
			if want == nil {
				tat = next
				wantInvite(t, s, inv)
			} else {
				wantGone(t, s, inv)
			}
		}
	}

	// A change pays for what it adds, in its own transaction.
	rate := core.Rate{N: 4, Period: time.Hour}
	inv := newInvite(t, "example.com", 2*time.Hour)
	if err := s.CreateInvite(ctx(t), inv, core.InviteWrite{Rate: &core.RateCharge{KeyID: "changer", Rate: rate, N: 1, Now: base}}); err != nil {
		t.Fatal(err)
	}
	raise := func(to, n int) func(*core.Invite) (core.InviteChange, error) {
		return func(inv *core.Invite) (core.InviteChange, error) {
			inv.MaxUses = to
			return core.InviteChange{Rate: &core.RateCharge{KeyID: "changer", Rate: rate, N: n, Now: base}}, nil
		}
	}
	if _, err := s.ChangeInvite(ctx(t), inv.ID, raise(4, 3)); err != nil {
		t.Fatalf("a raise within the budget: %v", err)
	}
	if _, err := s.ChangeInvite(ctx(t), inv.ID, raise(5, 1)); !errors.Is(err, core.ErrRateLimited) {
		t.Fatalf("a raise past the budget = %v, want a rate limit", err)
	}
	if got, err := s.Invite(ctx(t), inv.ID); err != nil || got.MaxUses != 4 {
		t.Fatalf("after a refused raise: max_uses %d, %v; want 4", got.MaxUses, err)
	}
	// A write refused for another reason (a taken ID) takes nothing.
	fresh := core.Rate{N: 1, Period: time.Hour}
	dup := newInvite(t, "example.com", time.Hour)
	dup.ID = inv.ID
	if err := s.CreateInvite(ctx(t), dup, core.InviteWrite{Rate: &core.RateCharge{KeyID: "unspent", Rate: fresh, N: 1, Now: base}}); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("a taken ID = %v, want ErrConflict", err)
	}
	if err := s.CreateInvite(ctx(t), newInvite(t, "example.com", time.Hour), core.InviteWrite{Rate: &core.RateCharge{KeyID: "unspent", Rate: fresh, N: 1, Now: base}}); err != nil {
		t.Fatalf("the budget after a refused write: %v", err)
	}
}

// testConcurrentRate: of concurrent writes charging one key's budget, on any number of
// connections, exactly as many succeed as the budget holds.
func testConcurrentRate(t *testing.T, s store.Store) {
	const n = 30
	rate := core.Rate{N: 10, Period: time.Hour}
	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		inv := newInvite(t, "example.com", time.Hour)
		inv.MaxUses = 1 + i%2 // 15 invites of 1 and 15 of 2: 45 accounts asked, 10 given
		wg.Go(func() {
			<-start
			err := s.CreateInvite(ctx(t), inv, core.InviteWrite{Rate: &core.RateCharge{KeyID: "shared", Rate: rate, N: inv.MaxUses, Now: base}})
			switch {
			case err == nil:
				ok.Add(int32(inv.MaxUses))
			case errors.Is(err, core.ErrRateLimited):
				limited.Add(1)
			default:
				t.Errorf("CreateInvite: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != int32(rate.N) {
		t.Fatalf("%d accounts given of a budget of %d", ok.Load(), rate.N)
	}
}

// testQuotaOnChange: a change that makes an invite pending again counts against its
// creator's outstanding invites, atomically with the write (issue 21, LOW 1).
func testQuotaOnChange(t *testing.T, s store.Store) {
	const by = "xmpp:reviver@example.com"
	now := base.Add(2 * time.Hour)
	mk := func(ttl time.Duration) core.Invite {
		inv := newInvite(t, "example.com", ttl)
		inv.CreatedBy = by
		mustCreateInvite(t, s, inv)
		return inv
	}
	expired := mk(time.Hour) // expired at now
	mk(3 * time.Hour)
	mk(3 * time.Hour) // two pending at now
	q := &core.QuotaCheck{Outstanding: 2, Now: now}
	revive := func(inv *core.Invite) (core.InviteChange, error) {
		inv.ExpiresAt = now.Add(time.Hour)
		return core.InviteChange{Quota: q}, nil
	}
	if _, err := s.ChangeInvite(ctx(t), expired.ID, revive); !errors.Is(err, core.ErrQuota) {
		t.Fatalf("reviving a third with an outstanding quota of 2 = %v, want ErrQuota", err)
	}
	wantInvite(t, s, expired) // unchanged
	// With room, it is revived; the invite itself is never counted against itself.
	q.Outstanding = 3
	if got, err := s.ChangeInvite(ctx(t), expired.ID, revive); err != nil || !got.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("reviving within the quota: %+v, %v", got, err)
	}
	if _, err := s.ChangeInvite(ctx(t), expired.ID, revive); err != nil {
		t.Fatalf("changing a pending invite at the quota: %v", err)
	}

	// Concurrent revivals of several expired invites stop at the quota.
	const other = "xmpp:racer@example.com"
	var ids []string
	for range 8 {
		inv := newInvite(t, "example.com", time.Hour)
		inv.CreatedBy = other
		mustCreateInvite(t, s, inv)
		ids = append(ids, inv.ID)
	}
	q2 := &core.QuotaCheck{Outstanding: 3, Now: now}
	var ok atomic.Int32
	var wg sync.WaitGroup
	for _, id := range ids {
		wg.Go(func() {
			_, err := s.ChangeInvite(ctx(t), id, func(inv *core.Invite) (core.InviteChange, error) {
				inv.ExpiresAt = now.Add(time.Hour)
				return core.InviteChange{Quota: q2}, nil
			})
			switch {
			case err == nil:
				ok.Add(1)
			case !errors.Is(err, core.ErrQuota):
				t.Errorf("ChangeInvite: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 3 {
		t.Fatalf("%d of 8 concurrent revivals succeeded with an outstanding quota of 3", ok.Load())
	}
}

// testRecordHosts: a store that records served domains keeps each once, sorted, with
// the policy of its latest record, and hands them to another connection (the command
// line's); a record without a base URL keeps the one before.
func testRecordHosts(t *testing.T, s store.Store) {
	r := s
	c := ctx(t)
	if got, err := r.RecordedHosts(c); err != nil || len(got) != 0 {
		t.Fatalf("fresh store: %v %v, want none", got, err)
	}
	if err := r.RecordHosts(c, nil); err != nil {
		t.Fatal(err)
	}
	rec := func(domain, url string, page string, def, max time.Duration, hooks bool) core.RecordedHost {
		return core.RecordedHost{Domain: domain, BaseURL: url, LandingPage: page, DefaultTTL: def, MaxTTL: max, Webhooks: hooks, Mail: !hooks}
	}
	const day = 24 * time.Hour
	if err := r.RecordHosts(c, []core.RecordedHost{
		rec("b.example", "https://old.example", "builtin", 7*day, 30*day, true),
		rec("a.example", "https://old.example", "", 0, 0, false),
	}); err != nil {
		t.Fatal(err)
	}
	// A later start with another base URL and policy replaces them; one that gives no
	// base URL keeps it.
	if err := r.RecordHosts(c, []core.RecordedHost{
		rec("a.example", "https://new.example", "https://p.example/{token}", day, 2*day, true),
		rec("c.example", "https://new.example", "", 0, 0, false),
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.RecordHosts(c, []core.RecordedHost{rec("b.example", "", "builtin", 2*day, 3*day, false)}); err != nil {
		t.Fatal(err)
	}
	got, err := r.RecordedHosts(c)
	want := []core.RecordedHost{
		rec("a.example", "https://new.example", "https://p.example/{token}", day, 2*day, true),
		rec("b.example", "https://old.example", "builtin", 2*day, 3*day, false),
		rec("c.example", "https://new.example", "", 0, 0, false),
	}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("recorded %+v %v, want %+v: each once, sorted, with its latest record", got, err, want)
	}
}
