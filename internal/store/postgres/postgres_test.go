package postgres_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/store/postgres"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
	"github.com/xmpp-invites/invites/internal/store/storetest"
)

var (
	_ core.Store       = (*postgres.Store)(nil)
	_ core.RateLimiter = (*postgres.Store)(nil)
)

// TestContract runs the store contract suite, unchanged, each subtest on a schema of
// its own that is dropped when the subtest ends.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) core.Store {
		_, dsn := pgtest.Schema(t)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		s, err := postgres.Open(ctx, dsn, postgres.Options{})
		if err != nil {
			t.Fatalf("postgres.Open: %v", err)
		}
		return s
	})
}

// testCtx bounds a test's calls to the database.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// open opens a store on dsn, closed when the test ends.
func open(t testing.TB, dsn string, opts postgres.Options) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, dsn, opts)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// fresh opens a store on a schema of its own.
func fresh(t testing.TB) *postgres.Store {
	t.Helper()
	_, dsn := pgtest.Schema(t)
	return open(t, dsn, postgres.Options{})
}

var now = time.Date(2026, 5, 4, 3, 2, 1, 123456789, time.UTC)

func newInvite(t testing.TB, mod func(*core.Invite)) core.Invite {
	t.Helper()
	token, err := core.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	h := core.HashToken(token)
	inv := core.Invite{ID: core.InviteID(h), TokenHash: h, Host: "example.com", Kind: core.KindAccount,
		Source: "test", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if mod != nil {
		mod(&inv)
	}
	return inv
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/test?sslmode=disable", postgres.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open on a closed port succeeded")
	}
	if !strings.HasPrefix(err.Error(), "postgres: ") {
		t.Errorf("error %q lacks the package prefix", err)
	}
}

func TestOpenBadOptions(t *testing.T) {
	tests := []struct {
		dsn  string
		opts postgres.Options
	}{
		0: {dsn: "postgres://postgres@127.0.0.1:5432/test?pool_max_conns=x"},
		1: {dsn: pgtest.BaseDSN(), opts: postgres.Options{MaxBatch: -1}},
		2: {dsn: pgtest.BaseDSN(), opts: postgres.Options{Schema: strings.Repeat("s", 64)}},
	}
	for i, tc := range tests {
		s, err := postgres.Open(testCtx(t), tc.dsn, tc.opts)
		if err == nil {
			s.Close()
			t.Errorf("%d: Open succeeded, want error", i)
		}
	}
}

func TestSchemaChoice(t *testing.T) {
	schema, dsn := pgtest.Schema(t)
	other, _ := pgtest.Schema(t)
	tests := []struct {
		dsn  string
		opts postgres.Options
		want string
	}{
		0: {dsn: dsn, want: schema},
		1: {dsn: dsn, opts: postgres.Options{Schema: other}, want: other},
		2: {dsn: strings.Replace(dsn, "postgres://", "POSTGRES://", 1), want: schema},
	}
	for i, tc := range tests {
		s := open(t, tc.dsn, tc.opts)
		if s.Schema() != tc.want {
			t.Errorf("%d: Schema() = %q, want %q", i, s.Schema(), tc.want)
		}
		var n int
		err := s.Pool().QueryRow(testCtx(t),
			`SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('keys', 'invites', 'rate_limits', 'schema_version')`,
			tc.want).Scan(&n)
		if err != nil || n != 4 {
			t.Errorf("%d: %d tables in %s (%v), want 4", i, n, tc.want, err)
		}
	}
}

func TestSchemaCreatedWhenMissing(t *testing.T) {
	schema, _ := pgtest.Schema(t)
	pgtest.Drop(t, schema)
	s := open(t, pgtest.BaseDSN(), postgres.Options{Schema: schema})
	if _, err := s.Key(testCtx(t), "abcdefghijkl"); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("Key: %v, want ErrNotFound", err)
	}
}

func TestMigrationsConcurrent(t *testing.T) {
	_, dsn := pgtest.Schema(t)
	ctx := testCtx(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			s, err := postgres.Open(ctx, dsn, postgres.Options{})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
	}
	s := open(t, dsn, postgres.Options{})
	var versions []int
	rows, err := s.Pool().Query(ctx, `SELECT version FROM schema_version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if rows.Err() != nil || len(versions) != 1 || versions[0] != 1 {
		t.Fatalf("schema_version rows %v (%v), want [1]", versions, rows.Err())
	}
}

func TestMigrationNewerRefused(t *testing.T) {
	_, dsn := pgtest.Schema(t)
	s := open(t, dsn, postgres.Options{})
	if _, err := s.Pool().Exec(testCtx(t), `INSERT INTO schema_version (version) VALUES (999)`); err != nil {
		t.Fatal(err)
	}
	s2, err := postgres.Open(testCtx(t), dsn, postgres.Options{})
	if err == nil {
		s2.Close()
		t.Fatal("Open on a newer schema succeeded")
	}
	if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the schema is newer", err)
	}
}

func TestKeys(t *testing.T) {
	s := fresh(t)
	ctx := testCtx(t)
	created := now.Truncate(time.Second)
	keys := []core.Key{
		{ID: "key000000001", Host: "example.com", Name: "first", SecretHash: bytes.Repeat([]byte{1}, 32), CreatedAt: created},
		{ID: "key000000000", Host: "example.com", Name: "second, same second", SecretHash: bytes.Repeat([]byte{2}, 32), CreatedAt: created,
			ExpiresAt: created.Add(time.Hour), MaxTTL: 48 * time.Hour, Rate: core.Rate{N: 10, Period: time.Minute}},
		{ID: "key000000002", Host: "other.example", SecretHash: bytes.Repeat([]byte{3}, 32), CreatedAt: created.Add(-time.Hour)},
	}
	for _, k := range keys {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatalf("CreateKey(%s): %v", k.ID, err)
		}
	}
	if err := s.CreateKey(ctx, keys[0]); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("duplicate CreateKey: %v, want ErrConflict", err)
	}
	got, err := s.Key(ctx, keys[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(keys[1]) {
		t.Errorf("Key = %+v, want %+v", got, keys[1])
	}
	list, err := s.Keys(ctx, "example.com")
	if err != nil || len(list) != 2 || list[0].ID != keys[0].ID || list[1].ID != keys[1].ID {
		t.Fatalf("Keys = %v, %v; want the first two in creation order", list, err)
	}

	uses := []core.KeyUse{
		{ID: keys[0].ID, Count: 2, LastUsed: now},
		{ID: keys[0].ID, Count: 3, LastUsed: now.Add(-time.Minute)},
		{ID: "nosuchkey000", Count: 1, LastUsed: now},
		{ID: keys[1].ID, Count: 1},
	}
	if err := s.AddKeyUses(ctx, uses); err != nil {
		t.Fatal(err)
	}
	if err := s.AddKeyUses(ctx, uses[:1]); err != nil {
		t.Fatal(err)
	}
	k0, _ := s.Key(ctx, keys[0].ID)
	k1, _ := s.Key(ctx, keys[1].ID)
	if k0.Uses != 7 || !k0.LastUsed.Equal(now) || k1.Uses != 1 || !k1.LastUsed.IsZero() {
		t.Errorf("after AddKeyUses: %s %d %v, %s %d %v", k0.ID, k0.Uses, k0.LastUsed, k1.ID, k1.Uses, k1.LastUsed)
	}

	if err := s.DeleteKey(ctx, "other.example", keys[0].ID); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("DeleteKey on another host: %v, want ErrNotFound", err)
	}
	if err := s.DeleteKey(ctx, "example.com", keys[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Key(ctx, keys[0].ID); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Key after delete: %v, want ErrNotFound", err)
	}
	if err := s.DeleteKey(ctx, "example.com", keys[0].ID); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("second DeleteKey: %v, want ErrNotFound", err)
	}
}

func TestInvites(t *testing.T) {
	s := fresh(t)
	ctx := testCtx(t)
	inv := newInvite(t, func(i *core.Invite) {
		i.Kind, i.Inviter, i.AllowRegister, i.Username = core.KindContact, "alice", true, "bob"
		i.Token = "not stored"
	})
	if err := s.CreateInvite(ctx, inv); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateInvite(ctx, inv); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("duplicate CreateInvite: %v, want ErrConflict", err)
	}
	got, err := s.Invite(ctx, inv.TokenHash)
	if err != nil {
		t.Fatal(err)
	}
	want := inv
	want.Token = ""
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Invite = %+v\nwant %+v", got, want)
	}
	var n int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM invites WHERE token_hash = $1 AND source = 'test'`, inv.TokenHash).Scan(&n); err != nil || n != 1 {
		t.Errorf("stored by SHA-256 of the token: %d rows, %v", n, err)
	}
	if _, err := s.Invite(ctx, core.HashToken("nosuchtoken")); !errors.Is(err, core.ErrNotFound) {
		t.Errorf("Invite of unknown hash: %v, want ErrNotFound", err)
	}
}

func TestConsumeInvite(t *testing.T) {
	s := fresh(t)
	ctx := testCtx(t)
	tests := []struct {
		inv      func(*core.Invite)
		username string
		at       time.Time
		want     error
	}{
		0:  {username: "alice", at: now},
		1:  {username: "alice", at: now.Add(time.Hour), want: core.ErrExpired},
		2:  {username: "alice", at: now.Add(time.Hour - time.Nanosecond)},
		3:  {inv: func(i *core.Invite) { i.Username = "bob" }, username: "alice", at: now, want: core.ErrForbidden},
		4:  {inv: func(i *core.Invite) { i.Username = "bob" }, username: "bob", at: now},
		5:  {inv: func(i *core.Invite) { i.Username = "bob" }, username: "alice", at: now.Add(2 * time.Hour), want: core.ErrExpired},
		6:  {inv: func(i *core.Invite) { i.Kind, i.Inviter = core.KindContact, "carol" }, username: "alice", at: now, want: core.ErrForbidden},
		7:  {inv: func(i *core.Invite) { i.Kind, i.Inviter, i.AllowRegister = core.KindContact, "carol", true }, username: "alice", at: now},
		8:  {inv: func(i *core.Invite) { i.Kind = "" }, username: "alice", at: now, want: core.ErrForbidden},
		9:  {inv: func(i *core.Invite) { i.TokenHash = nil }, username: "alice", at: now, want: core.ErrNotFound},
		10: {inv: func(i *core.Invite) { i.Kind = core.KindContact }, username: "alice", at: now.Add(time.Hour), want: core.ErrExpired},
	}
	for i, tc := range tests {
		inv := newInvite(t, tc.inv)
		stored := inv.TokenHash != nil
		if !stored {
			inv.TokenHash = core.HashToken(fmt.Sprint("absent", i))
		} else if err := s.CreateInvite(ctx, inv); err != nil {
			t.Fatalf("%d: CreateInvite: %v", i, err)
		}
		got, err := s.ConsumeInvite(ctx, inv.TokenHash, tc.username, tc.at)
		if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("%d: ConsumeInvite: %v, want %v", i, err, tc.want)
			continue
		}
		_, after := s.Invite(ctx, inv.TokenHash)
		if tc.want == nil {
			if !bytes.Equal(got.TokenHash, inv.TokenHash) || got.Username != inv.Username || got.Kind != inv.Kind {
				t.Errorf("%d: consumed %+v, want %+v", i, got, inv)
			}
			if !errors.Is(after, core.ErrNotFound) {
				t.Errorf("%d: invite still there after consuming: %v", i, after)
			}
			if _, err := s.ConsumeInvite(ctx, inv.TokenHash, tc.username, tc.at); !errors.Is(err, core.ErrNotFound) {
				t.Errorf("%d: second ConsumeInvite: %v, want ErrNotFound", i, err)
			}
		} else if stored && after != nil {
			t.Errorf("%d: failed consume changed the invite: %v", i, after)
		}
	}
}

func TestConsumeInviteConcurrent(t *testing.T) {
	s := fresh(t)
	ctx := testCtx(t)
	inv := newInvite(t, nil)
	if err := s.CreateInvite(ctx, inv); err != nil {
		t.Fatal(err)
	}
	const n = 100
	var wins, notFound atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, err := s.ConsumeInvite(ctx, inv.TokenHash, fmt.Sprint("user", i), now)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, core.ErrNotFound):
				notFound.Add(1)
			default:
				t.Errorf("ConsumeInvite: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || notFound.Load() != n-1 {
		t.Fatalf("%d successes and %d not found, want 1 and %d", wins.Load(), notFound.Load(), n-1)
	}
}

func TestDeleteExpiredInvites(t *testing.T) {
	s := fresh(t)
	ctx := testCtx(t)
	var live core.Invite
	for i := range 5 {
		inv := newInvite(t, func(inv *core.Invite) { inv.ExpiresAt = now.Add(time.Duration(i-2) * time.Minute) })
		if err := s.CreateInvite(ctx, inv); err != nil {
			t.Fatal(err)
		}
		live = inv
	}
	n, err := s.DeleteExpiredInvites(ctx, now)
	if err != nil || n != 3 {
		t.Fatalf("DeleteExpiredInvites = %d, %v; want 3 (expiring before and at now)", n, err)
	}
	if _, err := s.Invite(ctx, live.TokenHash); err != nil {
		t.Errorf("unexpired invite gone: %v", err)
	}
}

// TestCreateInviteBatched sends many concurrent creates, with duplicates within and
// across batches, and checks each caller's answer against what was stored.
func TestCreateInviteBatched(t *testing.T) {
	for _, opts := range []postgres.Options{{}, {MaxBatch: 1, Writers: 1}, {MaxBatch: 7, Writers: 2}} {
		t.Run(fmt.Sprintf("batch%d_writers%d", opts.MaxBatch, opts.Writers), func(t *testing.T) {
			_, dsn := pgtest.Schema(t)
			s := open(t, dsn, opts)
			ctx := testCtx(t)
			const n = 300
			invs := make([]core.Invite, n)
			for i := range invs {
				if i%3 == 2 {
					invs[i] = invs[i-1] // a duplicate of the previous one
				} else {
					invs[i] = newInvite(t, nil)
				}
			}
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range invs {
				wg.Go(func() { errs[i] = s.CreateInvite(ctx, invs[i]) })
			}
			wg.Wait()
			for i := 0; i < n; i += 3 {
				if errs[i] != nil {
					t.Errorf("%d: %v", i, errs[i])
				}
				a, b := errs[i+1], errs[i+2]
				if !(a == nil && errors.Is(b, core.ErrConflict) || b == nil && errors.Is(a, core.ErrConflict)) {
					t.Errorf("%d, %d: duplicate pair answered %v, %v; want one nil, one ErrConflict", i+1, i+2, a, b)
				}
			}
			var stored int
			if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM invites`).Scan(&stored); err != nil || stored != n/3*2 {
				t.Errorf("%d invites stored (%v), want %d", stored, err, n/3*2)
			}
		})
	}
}

func TestCreateInviteCanceled(t *testing.T) {
	s := fresh(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.CreateInvite(ctx, newInvite(t, nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("CreateInvite with a canceled context: %v", err)
	}
}

func TestCloseFinishesWrites(t *testing.T) {
	_, dsn := pgtest.Schema(t)
	ctx := testCtx(t)
	s, err := postgres.Open(ctx, dsn, postgres.Options{Writers: 1})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	var wg sync.WaitGroup
	var ok atomic.Int32
	for range n {
		wg.Go(func() {
			if err := s.CreateInvite(ctx, newInvite(t, nil)); err == nil {
				ok.Add(1)
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.CreateInvite(ctx, newInvite(t, nil)); err == nil {
		t.Fatal("CreateInvite after Close succeeded")
	}
	s2 := open(t, dsn, postgres.Options{})
	var stored int32
	if err := s2.Pool().QueryRow(ctx, `SELECT count(*) FROM invites`).Scan(&stored); err != nil || stored != ok.Load() {
		t.Fatalf("%d invites stored (%v), %d callers told success", stored, err, ok.Load())
	}
}

// TestRateLimit checks that the store's limiter decides as core.MemoryRateLimiter does.
func TestRateLimit(t *testing.T) {
	s := fresh(t)
	ctx := testCtx(t)
	mem := core.NewMemoryRateLimiter()
	rates := []core.Rate{{N: 3, Period: time.Minute}, {N: 1, Period: time.Hour}, {N: 10, Period: time.Second}, {}}
	steps := []time.Duration{0, 0, 0, 0, time.Second, 20 * time.Second, 0, 0, 19 * time.Second, time.Millisecond, 0, time.Hour, 0, 0, 0, 0}
	for ri, rate := range rates {
		key := fmt.Sprint("ratekey", ri)
		at := now
		for si, step := range steps {
			at = at.Add(step)
			want := mem.Allow(ctx, key, rate, at)
			got := s.Allow(ctx, key, rate, at)
			var wl, gl *core.RateLimitError
			errors.As(want, &wl)
			errors.As(got, &gl)
			switch {
			case (want == nil) != (got == nil):
				t.Errorf("rate %v step %d: got %v, want %v", rate, si, got, want)
			case want != nil && (!errors.Is(got, core.ErrRateLimited) || gl == nil || gl.RetryAfter != wl.RetryAfter):
				t.Errorf("rate %v step %d: got %#v, want %#v", rate, si, got, wl)
			}
		}
	}
	// Idle rows are swept; deleting the key drops its row.
	if _, err := s.DeleteExpiredInvites(ctx, now.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM rate_limits`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d rate rows after the sweep (%v), want 0", rows, err)
	}
	k := core.Key{ID: "ratekey00000", Host: "example.com", SecretHash: make([]byte, 32), CreatedAt: now}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.Allow(ctx, k.ID, core.Rate{N: 1, Period: time.Hour}, now); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(ctx, k.Host, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM rate_limits`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d rate rows after deleting the key (%v), want 0", rows, err)
	}
}

// TestRateLimitConcurrent hammers one key from two stores: exactly the burst is allowed.
func TestRateLimitConcurrent(t *testing.T) {
	_, dsn := pgtest.Schema(t)
	a := open(t, dsn, postgres.Options{})
	b := open(t, dsn, postgres.Options{})
	ctx := testCtx(t)
	rate := core.Rate{N: 25, Period: time.Hour}
	var allowed, limited atomic.Int32
	var wg sync.WaitGroup
	for i := range 200 {
		l := a
		if i%2 == 1 {
			l = b
		}
		wg.Go(func() {
			err := l.Allow(ctx, "sharedkey000", rate, now)
			switch {
			case err == nil:
				allowed.Add(1)
			case errors.Is(err, core.ErrRateLimited):
				limited.Add(1)
			default:
				t.Errorf("Allow: %v", err)
			}
		})
	}
	wg.Wait()
	if allowed.Load() != int32(rate.N) || limited.Load() != 200-int32(rate.N) {
		t.Fatalf("%d allowed, %d limited; want %d and %d", allowed.Load(), limited.Load(), rate.N, 200-rate.N)
	}
}

// TestStoreOpen checks that store.Open hands postgres:// DSNs to this package.
func TestStoreOpen(t *testing.T) {
	schema, dsn := pgtest.Schema(t)
	for i, d := range []string{0: dsn, 1: strings.Replace(dsn, "postgres://", "postgresql://", 1)} {
		s, err := store.Open(testCtx(t), d, nil)
		if err != nil {
			t.Fatalf("%d: store.Open: %v", i, err)
		}
		ps, ok := s.(*postgres.Store)
		if !ok || ps.Schema() != schema {
			t.Errorf("%d: store.Open gave %T, want *postgres.Store on schema %s", i, s, schema)
		}
		if err := s.Close(); err != nil {
			t.Errorf("%d: Close: %v", i, err)
		}
	}
}

// TestCreateInviteBadRow checks that an invite PostgreSQL rejects fails only its own
// caller, not the others written in the same batch.
func TestCreateInviteBadRow(t *testing.T) {
	_, dsn := pgtest.Schema(t)
	s := open(t, dsn, postgres.Options{Writers: 1})
	ctx := testCtx(t)
	const n = 60
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		inv := newInvite(t, nil)
		if i%20 == 7 {
			inv.Source = "bad\x00source" // PostgreSQL text cannot hold NUL
		}
		wg.Go(func() { errs[i] = s.CreateInvite(ctx, inv) })
	}
	wg.Wait()
	for i, err := range errs {
		if bad := i%20 == 7; bad != (err != nil) {
			t.Errorf("%d: CreateInvite = %v (bad row: %v)", i, err, bad)
		}
	}
}
