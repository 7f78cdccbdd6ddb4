package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// Run runs the contract suite, one subtest per behaviour.
// Each subtest calls open for a fresh, empty store, and closes it when the subtest ends
// (cleanups open registers run after that close, so they may drop the database).
// Subtests run one after another, never in parallel with each other.
func Run(t *testing.T, open func(t *testing.T) core.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s core.Store)
	}{
		{"KeyRoundTrip", testKeyRoundTrip},
		{"KeyNotFound", testKeyNotFound},
		{"KeyConflict", testKeyConflict},
		{"KeysByHostOldestFirst", testKeys},
		{"DeleteKey", testDeleteKey},
		{"AddKeyUses", testAddKeyUses},
		{"InviteRoundTrip", testInviteRoundTrip},
		{"InviteNotFound", testInviteNotFound},
		{"InviteConflict", testInviteConflict},
		{"ConsumeInvite", testConsume},
		{"ConsumeExpired", testConsumeExpired},
		{"ConsumeFixedUsername", testConsumeFixedUsername},
		{"ConsumeContactInvite", testConsumeContact},
		{"ConcurrentConsume", testConcurrentConsume},
		{"DeleteExpiredInvites", testDeleteExpired},
		{"ConcurrentCreates", testConcurrentCreates},
		{"ConcurrentDuplicateCreates", testConcurrentDuplicates},
		{"CanceledContext", testCanceled},
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
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
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

// newInvite returns an account invite on host, created at base, living ttl.
func newInvite(t *testing.T, host string, ttl time.Duration) core.Invite {
	h := hashOf(random(t, 18))
	return core.Invite{
		ID:        core.InviteID(h),
		TokenHash: h,
		Host:      host,
		Kind:      core.KindAccount,
		Source:    "api/token/" + random(t, 9),
		CreatedAt: base,
		ExpiresAt: base.Add(ttl),
	}
}

func sameKey(a, b core.Key) bool {
	return a.ID == b.ID && a.Host == b.Host && a.Name == b.Name &&
		bytes.Equal(a.SecretHash, b.SecretHash) && a.CreatedAt.Equal(b.CreatedAt) &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.MaxTTL == b.MaxTTL && a.Rate == b.Rate &&
		a.LastUsed.Equal(b.LastUsed) && a.Uses == b.Uses
}

func sameInvite(a, b core.Invite) bool {
	return a.ID == b.ID && bytes.Equal(a.TokenHash, b.TokenHash) && a.Host == b.Host &&
		a.Kind == b.Kind && a.Username == b.Username && a.Inviter == b.Inviter &&
		a.AllowRegister == b.AllowRegister && a.Source == b.Source &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func mustCreateKey(t *testing.T, s core.Store, k core.Key) {
	t.Helper()
	if err := s.CreateKey(ctx(t), k); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
}

func mustCreateInvite(t *testing.T, s core.Store, inv core.Invite) {
	t.Helper()
	if err := s.CreateInvite(ctx(t), inv); err != nil {
		t.Fatalf("CreateInvite: %v", err)
	}
}

// wantInvite checks that the invite is stored unchanged.
func wantInvite(t *testing.T, s core.Store, inv core.Invite) {
	t.Helper()
	got, err := s.Invite(ctx(t), inv.TokenHash)
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
	if _, err := s.Invite(ctx(t), inv.TokenHash); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Invite after removal: %v, want ErrNotFound", err)
	}
}

func testKeyRoundTrip(t *testing.T, s core.Store) {
	full := newKey(t, "example.com", base)
	bare := core.Key{ID: random(t, 9), Host: "example.com", SecretHash: hashOf("x"), CreatedAt: base.Add(time.Second)}
	used := newKey(t, "example.com", base.Add(2*time.Second))
	used.LastUsed = base.Add(time.Hour)
	used.Uses = 42
	tests := []core.Key{0: full, 1: bare, 2: used}
	for i, k := range tests {
		if err := s.CreateKey(ctx(t), k); err != nil {
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

func testKeyNotFound(t *testing.T, s core.Store) {
	for i, id := range []string{0: random(t, 9), 1: "", 2: "no such key"} {
		if _, err := s.Key(ctx(t), id); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("%d: Key(%q) = %v, want ErrNotFound", i, id, err)
		}
	}
}

func testKeyConflict(t *testing.T, s core.Store) {
	k := newKey(t, "example.com", base)
	mustCreateKey(t, s, k)
	dup := newKey(t, "example.org", base.Add(time.Hour))
	dup.ID = k.ID
	if err := s.CreateKey(ctx(t), dup); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("CreateKey with a taken ID = %v, want ErrConflict", err)
	}
	got, err := s.Key(ctx(t), k.ID)
	if err != nil || !sameKey(got, k) {
		t.Fatalf("after conflict Key = %+v, %v; want the first key unchanged", got, err)
	}
}

func testKeys(t *testing.T, s core.Store) {
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
		found := false
		for _, w := range want {
			if sameKey(k, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("%d: listed key %+v differs from every created one", i, k)
		}
	}
	if keys, err := s.Keys(ctx(t), "unknown.example"); err != nil || len(keys) != 0 {
		t.Errorf("Keys of an unknown host = %v, %v; want none", keys, err)
	}
}

func testDeleteKey(t *testing.T, s core.Store) {
	k := newKey(t, "example.com", base)
	other := newKey(t, "example.com", base)
	mustCreateKey(t, s, k)
	mustCreateKey(t, s, other)
	if err := s.DeleteKey(ctx(t), "example.org", k.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("DeleteKey on another host = %v, want ErrNotFound", err)
	}
	if _, err := s.Key(ctx(t), k.ID); err != nil {
		t.Fatalf("key deleted through another host: %v", err)
	}
	if err := s.DeleteKey(ctx(t), "example.com", k.ID); err != nil {
		t.Fatalf("DeleteKey: %v", err)
	}
	if _, err := s.Key(ctx(t), k.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Key after delete = %v, want ErrNotFound", err)
	}
	if err := s.DeleteKey(ctx(t), "example.com", k.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("second DeleteKey = %v, want ErrNotFound", err)
	}
	keys, err := s.Keys(ctx(t), "example.com")
	if err != nil || len(keys) != 1 || keys[0].ID != other.ID {
		t.Fatalf("Keys after delete = %v, %v; want only the other key", keys, err)
	}
	// The ID is free again.
	mustCreateKey(t, s, k)
}

func testAddKeyUses(t *testing.T, s core.Store) {
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
	// Bookkeeping shows in the listing too.
	keys, err := s.Keys(ctx(t), "example.com")
	if err != nil || len(keys) != 2 || keys[0].Uses+keys[1].Uses != 7 {
		t.Errorf("Keys after uses = %+v, %v; want 7 uses in all", keys, err)
	}
}

func testInviteRoundTrip(t *testing.T, s core.Store) {
	fixed := newInvite(t, "example.com", time.Hour)
	fixed.Username = "alice"
	contact := newInvite(t, "example.com", time.Hour)
	contact.Kind, contact.Inviter, contact.AllowRegister = core.KindContact, "bob", true
	plainContact := newInvite(t, "example.org", 7*24*time.Hour)
	plainContact.Kind, plainContact.Inviter, plainContact.Source = core.KindContact, "carol", ""
	expired := newInvite(t, "example.com", -time.Hour)
	tokenSet := newInvite(t, "example.com", time.Hour)
	tokenSet.Token = "not stored"
	tests := []core.Invite{0: newInvite(t, "example.com", time.Hour), 1: fixed, 2: contact, 3: plainContact, 4: expired, 5: tokenSet}
	for i, inv := range tests {
		if err := s.CreateInvite(ctx(t), inv); err != nil {
			t.Fatalf("%d: CreateInvite: %v", i, err)
		}
		got, err := s.Invite(ctx(t), inv.TokenHash)
		if err != nil {
			t.Fatalf("%d: Invite: %v", i, err)
		}
		if got.Token != "" {
			t.Errorf("%d: Invite returned a token %q; stores keep only its hash", i, got.Token)
		}
		if !sameInvite(got, inv) {
			t.Errorf("%d: Invite = %+v, want %+v", i, got, inv)
		}
	}
}

func testInviteNotFound(t *testing.T, s core.Store) {
	mustCreateInvite(t, s, newInvite(t, "example.com", time.Hour))
	for i, h := range [][]byte{0: hashOf("nope"), 1: nil, 2: {1, 2, 3}} {
		if _, err := s.Invite(ctx(t), h); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("%d: Invite = %v, want ErrNotFound", i, err)
		}
	}
}

func testInviteConflict(t *testing.T, s core.Store) {
	inv := newInvite(t, "example.com", time.Hour)
	mustCreateInvite(t, s, inv)
	dup := newInvite(t, "example.org", 2*time.Hour)
	dup.TokenHash, dup.ID = inv.TokenHash, inv.ID
	if err := s.CreateInvite(ctx(t), dup); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("CreateInvite with a taken token hash = %v, want ErrConflict", err)
	}
	wantInvite(t, s, inv)
}

func testConsume(t *testing.T, s core.Store) {
	inv := newInvite(t, "example.com", time.Hour)
	other := newInvite(t, "example.com", time.Hour)
	mustCreateInvite(t, s, inv)
	mustCreateInvite(t, s, other)
	if _, err := s.ConsumeInvite(ctx(t), hashOf("unknown"), "alice", base); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("ConsumeInvite(unknown) = %v, want ErrNotFound", err)
	}
	got, err := s.ConsumeInvite(ctx(t), inv.TokenHash, "alice", base.Add(time.Minute))
	if err != nil {
		t.Fatalf("ConsumeInvite: %v", err)
	}
	if !sameInvite(got, inv) {
		t.Errorf("ConsumeInvite = %+v, want %+v", got, inv)
	}
	wantGone(t, s, inv)
	if _, err := s.ConsumeInvite(ctx(t), inv.TokenHash, "alice", base); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("second ConsumeInvite = %v, want ErrNotFound", err)
	}
	wantInvite(t, s, other)
}

func testConsumeExpired(t *testing.T, s core.Store) {
	inv := newInvite(t, "example.com", time.Hour)
	inv.Username = "alice"
	mustCreateInvite(t, s, inv)
	for i, now := range []time.Time{0: inv.ExpiresAt, 1: inv.ExpiresAt.Add(time.Second), 2: base.Add(1000 * time.Hour)} {
		if _, err := s.ConsumeInvite(ctx(t), inv.TokenHash, "alice", now); !errors.Is(err, core.ErrExpired) {
			t.Errorf("%d: ConsumeInvite at %v = %v, want ErrExpired", i, now, err)
		}
	}
	// Expired takes precedence over a wrong name: the invite is of no use anyway.
	if _, err := s.ConsumeInvite(ctx(t), inv.TokenHash, "mallory", inv.ExpiresAt); !errors.Is(err, core.ErrExpired) {
		t.Errorf("ConsumeInvite expired, other name = %v, want ErrExpired", err)
	}
	wantInvite(t, s, inv)
	// Just before expiry it still works.
	if _, err := s.ConsumeInvite(ctx(t), inv.TokenHash, "alice", inv.ExpiresAt.Add(-time.Second)); err != nil {
		t.Fatalf("ConsumeInvite before expiry: %v", err)
	}
}

func testConsumeFixedUsername(t *testing.T, s core.Store) {
	inv := newInvite(t, "example.com", time.Hour)
	inv.Username = "alice"
	mustCreateInvite(t, s, inv)
	for i, name := range []string{0: "bob", 1: "alice2", 2: "alic", 3: ""} {
		if _, err := s.ConsumeInvite(ctx(t), inv.TokenHash, name, base); !errors.Is(err, core.ErrForbidden) {
			t.Errorf("%d: ConsumeInvite as %q = %v, want ErrForbidden", i, name, err)
		}
	}
	wantInvite(t, s, inv)
	if _, err := s.ConsumeInvite(ctx(t), inv.TokenHash, "alice", base); err != nil {
		t.Fatalf("ConsumeInvite as the fixed name: %v", err)
	}
	wantGone(t, s, inv)
}

func testConsumeContact(t *testing.T, s core.Store) {
	noReg := newInvite(t, "example.com", time.Hour)
	noReg.Kind, noReg.Inviter = core.KindContact, "bob"
	reg := noReg
	reg.TokenHash = hashOf(random(t, 18))
	reg.ID = core.InviteID(reg.TokenHash)
	reg.AllowRegister = true
	mustCreateInvite(t, s, noReg)
	mustCreateInvite(t, s, reg)
	if _, err := s.ConsumeInvite(ctx(t), noReg.TokenHash, "alice", base); !errors.Is(err, core.ErrForbidden) {
		t.Errorf("ConsumeInvite of a contact invite without registration = %v, want ErrForbidden", err)
	}
	wantInvite(t, s, noReg)
	got, err := s.ConsumeInvite(ctx(t), reg.TokenHash, "alice", base)
	if err != nil {
		t.Fatalf("ConsumeInvite of a contact invite allowing registration: %v", err)
	}
	if !sameInvite(got, reg) {
		t.Errorf("ConsumeInvite = %+v, want %+v", got, reg)
	}
}

func testConcurrentConsume(t *testing.T, s core.Store) {
	const n = 50
	for round := range 3 {
		inv := newInvite(t, "example.com", time.Hour)
		mustCreateInvite(t, s, inv)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, n)
		)
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = s.ConsumeInvite(ctx(t), inv.TokenHash, fmt.Sprintf("user%d", i), base)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, core.ErrNotFound):
				t.Errorf("round %d, redeemer %d: %v, want success or ErrNotFound", round, i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d of %d concurrent redemptions succeeded, want exactly 1", round, wins, n)
		}
		wantGone(t, s, inv)
	}
}

func testDeleteExpired(t *testing.T, s core.Store) {
	if n, err := s.DeleteExpiredInvites(ctx(t), base); err != nil || n != 0 {
		t.Fatalf("DeleteExpiredInvites on an empty store = %d, %v; want 0", n, err)
	}
	var live, dead []core.Invite
	for i, ttl := range []time.Duration{-time.Hour, time.Hour, -time.Second, 0, 2 * time.Hour, time.Second} {
		inv := newInvite(t, fmt.Sprintf("h%d.example", i), ttl)
		mustCreateInvite(t, s, inv)
		if inv.Expired(base) {
			dead = append(dead, inv)
		} else {
			live = append(live, inv)
		}
	}
	n, err := s.DeleteExpiredInvites(ctx(t), base)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(dead)) {
		t.Errorf("DeleteExpiredInvites = %d, want %d", n, len(dead))
	}
	for _, inv := range dead {
		wantGone(t, s, inv)
	}
	for _, inv := range live {
		wantInvite(t, s, inv)
	}
	if n, err := s.DeleteExpiredInvites(ctx(t), base); err != nil || n != 0 {
		t.Errorf("second DeleteExpiredInvites = %d, %v; want 0", n, err)
	}
	// Later, the rest expire too.
	if n, err := s.DeleteExpiredInvites(ctx(t), base.Add(3*time.Hour)); err != nil || n != int64(len(live)) {
		t.Errorf("DeleteExpiredInvites later = %d, %v; want %d", n, err, len(live))
	}
}

func testConcurrentCreates(t *testing.T, s core.Store) {
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
			if err := s.CreateKey(ctx(t), keys[w]); err != nil {
				errs[w] = fmt.Errorf("CreateKey: %w", err)
				return
			}
			for _, inv := range invs[w] {
				if err := s.CreateInvite(ctx(t), inv); err != nil {
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

func testConcurrentDuplicates(t *testing.T, s core.Store) {
	// Many writers at once, some racing for the same token hash: each hash is stored
	// once, exactly one of its creators succeeds, and the rest get ErrConflict while
	// unrelated invites committed beside them are unaffected.
	const hashes, racers, singles = 10, 5, 100
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		wins    = make(map[string]int)
		invites = make(map[string]core.Invite)
		failed  []error
	)
	for h := range hashes {
		inv := newInvite(t, "example.com", time.Hour)
		for r := range racers {
			cand := inv
			cand.Source = fmt.Sprintf("racer %d/%d", h, r)
			wg.Go(func() {
				<-start
				err := s.CreateInvite(ctx(t), cand)
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
			if err := s.CreateInvite(ctx(t), singlesList[i]); err != nil {
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
	if len(wins) != hashes {
		t.Errorf("%d token hashes stored, want %d", len(wins), hashes)
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

func testCanceled(t *testing.T, s core.Store) {
	c, cancel := context.WithCancel(t.Context())
	cancel()
	inv := newInvite(t, "example.com", time.Hour)
	if err := s.CreateInvite(c, inv); err == nil {
		t.Error("CreateInvite with a canceled context succeeded")
	}
	if err := s.CreateKey(c, newKey(t, "example.com", base)); err == nil {
		t.Error("CreateKey with a canceled context succeeded")
	}
	// The store still works afterwards.
	mustCreateInvite(t, s, inv)
	wantInvite(t, s, inv)
}
