package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"net/url"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/store/postgres"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
	"github.com/xmpp-invites/invites/internal/store/storetest"
)

var _ core.Store = (*postgres.Store)(nil)

// TestContract runs the store contract suite, unchanged, each subtest on a schema of
// its own that is dropped when the subtest ends.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
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
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	inv := core.Invite{ID: id, TokenHash: core.HashToken(id + "secret"), Host: "example.com", Kind: core.KindAccount,
		CreatedBy: "test", MaxUses: 1, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
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
	if strings.HasPrefix(err.Error(), "postgres: ") || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Errorf("error %q should name PostgreSQL in words, without a package prefix", err)
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
			`SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name IN
				('keys', 'invites', 'rate_limits', 'schema_version', 'redemptions', 'outbox', 'deliveries', 'hosts')`,
			tc.want).Scan(&n)
		if err != nil || n != 8 {
			t.Errorf("%d: %d tables in %s (%v), want 8", i, n, tc.want, err)
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
	ok := rows.Err() == nil && len(versions) >= 6
	for i, v := range versions {
		ok = ok && v == i+1
	}
	if !ok {
		t.Fatalf("schema_version rows %v (%v), want each migration once: 1, 2, 3, …", versions, rows.Err())
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
				wg.Go(func() { errs[i] = s.CreateInvite(ctx, invs[i], core.InviteWrite{}) })
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
	if err := s.CreateInvite(ctx, newInvite(t, nil), core.InviteWrite{}); !errors.Is(err, context.Canceled) {
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
			if err := s.CreateInvite(ctx, newInvite(t, nil), core.InviteWrite{}); err == nil {
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
	if err := s.CreateInvite(ctx, newInvite(t, nil), core.InviteWrite{}); err == nil {
		t.Fatal("CreateInvite after Close succeeded")
	}
	s2 := open(t, dsn, postgres.Options{})
	var stored int32
	if err := s2.Pool().QueryRow(ctx, `SELECT count(*) FROM invites`).Scan(&stored); err != nil || stored != ok.Load() {
		t.Fatalf("%d invites stored (%v), %d callers told success", stored, err, ok.Load())
	}
}

// TestRateLimitRows checks that idle rate rows are purged and that deleting a key drops
// its row.
func TestRateLimitRows(t *testing.T) {
	s := fresh(t)
	ctx := testCtx(t)
	charge := func(key string, rate core.Rate) error {
		return s.CreateInvite(ctx, newInvite(t, nil), core.InviteWrite{Rate: &core.RateCharge{KeyID: key, Rate: rate, N: 1, Now: now}})
	}
	for i := range 3 {
		if err := charge(fmt.Sprint("ratekey", i), core.Rate{N: 3, Period: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PurgeInvites(ctx, now, now.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM rate_limits`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d rate rows after the sweep (%v), want 0", rows, err)
	}
	k := core.Key{ID: "ratekey00000", Host: "example.com", SecretHash: make([]byte, 32), CreatedAt: now}
	if err := s.CreateKey(ctx, k, nil); err != nil {
		t.Fatal(err)
	}
	if err := charge(k.ID, core.Rate{N: 1, Period: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteKey(ctx, k.Host, k.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM rate_limits`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("%d rate rows after deleting the key (%v), want 0", rows, err)
	}
}

// TestRateLimitConcurrent hammers one key from two stores: exactly the burst is
// allowed, and exactly as many invites are written.
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
			err := l.CreateInvite(ctx, newInvite(t, nil), core.InviteWrite{Rate: &core.RateCharge{KeyID: "sharedkey000", Rate: rate, N: 1, Now: now}})
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

// TestStoreOpen checks that store.Open hands postgres:// URLs and keyword/value strings
// to this package.
func TestStoreOpen(t *testing.T) {
	schema, dsn := pgtest.Schema(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := u.User.Password()
	kv := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable search_path=%s",
		u.Hostname(), u.Port(), u.User.Username(), strings.TrimPrefix(u.Path, "/"), schema)
	if pass != "" {
		kv += " password=" + pass
	}
	for i, d := range []string{0: dsn, 1: strings.Replace(dsn, "postgres://", "postgresql://", 1), 2: kv} {
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
			inv.CreatedBy = "bad\x00source" // PostgreSQL text cannot hold NUL
		}
		wg.Go(func() { errs[i] = s.CreateInvite(ctx, inv, core.InviteWrite{}) })
	}
	wg.Wait()
	for i, err := range errs {
		if bad := i%20 == 7; bad != (err != nil) {
			t.Errorf("%d: CreateInvite = %v (bad row: %v)", i, err, bad)
		}
	}
}

// TestStateMigration: the invites of a store made before the state column get theirs
// set once by migration 7, so that lists by status find them as before (issue 26).
func TestStateMigration(t *testing.T) {
	_, dsn := pgtest.Schema(t)
	ctx := testCtx(t)
	s := open(t, dsn, postgres.Options{})
	wall := time.Now().UTC()
	mk := func(change func(*core.Invite)) string {
		inv := newInvite(t, change)
		inv.CreatedAt, inv.ExpiresAt = wall, wall.Add(time.Hour)
		change(&inv)
		if err := s.CreateInvite(ctx, inv, core.InviteWrite{}); err != nil {
			t.Fatal(err)
		}
		return inv.ID
	}
	want := map[core.Status]string{
		core.StatusPending: mk(func(*core.Invite) {}),
		core.StatusUsed:    mk(func(inv *core.Invite) { inv.Uses = 1 }),
		core.StatusRevoked: mk(func(inv *core.Invite) { inv.RevokedAt = wall }),
		core.StatusExpired: mk(func(inv *core.Invite) { inv.ExpiresAt = wall.Add(-time.Hour) }),
	}
	// Migrations 8 and 9 undone too, so that they run again.
	for _, q := range []string{`ALTER TABLE invites DROP COLUMN state, DROP COLUMN email, DROP COLUMN email_status, DROP COLUMN email_error, DROP COLUMN email_at, DROP COLUMN email_event, DROP COLUMN welcome, DROP COLUMN reminded_at, DROP COLUMN funnel_opened, DROP COLUMN funnel_started, DROP COLUMN funnel_accounts, DROP COLUMN funnel_logins, DROP COLUMN funnel_active`,
		`ALTER TABLE deliveries DROP COLUMN sink`, `ALTER TABLE hosts DROP COLUMN mail`,
		`ALTER TABLE invites DROP COLUMN approval, DROP COLUMN by_user`, `DROP TABLE accounts`, `DROP TABLE holds`,
		`ALTER TABLE hosts DROP COLUMN account_states`,
		`DELETE FROM schema_version WHERE version >= 7`} {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = open(t, dsn, postgres.Options{})
	for st, id := range want {
		got, err := s.ListInvites(ctx, core.InviteFilter{Host: "example.com", Status: st, Now: wall, Limit: 10})
		if err != nil || len(got) != 1 || got[0].ID != id {
			t.Errorf("%s after the migration: %d invites (%v), want %s", st, len(got), err, id)
		}
	}
}
