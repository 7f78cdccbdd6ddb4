package postgres_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/postgres"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// BenchmarkCreateInviteParallel measures invite creation through core.Service with
// many concurrent callers, on PostgreSQL with and without group commit, and on the
// embedded SQLite store beside it for comparison.
//
//	go test -run '^$' -bench CreateInviteParallel ./internal/store/postgres
func BenchmarkCreateInviteParallel(b *testing.B) {
	pg := func(opts postgres.Options) func(b *testing.B) core.Store {
		return func(b *testing.B) core.Store {
			_, dsn := pgtest.Schema(b)
			return open(b, dsn, opts)
		}
	}
	for _, bc := range []struct {
		name  string
		store func(b *testing.B) core.Store
	}{
		{"postgres/grouped", pg(postgres.Options{})},
		{"postgres/grouped-1writer", pg(postgres.Options{Writers: 1})},
		{"postgres/ungrouped-16conns", pg(postgres.Options{MaxBatch: 1, Writers: 16, MaxConns: 16})},
		{"sqlite/grouped", func(b *testing.B) core.Store {
			return openSQLite(b, sqlite.Options{})
		}},
		{"sqlite/grouped-crash", func(b *testing.B) core.Store {
			return openSQLite(b, sqlite.Options{Durability: sqlite.DurabilityCrash})
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			svc, err := core.NewService(core.Options{Store: bc.store(b), Hosts: []core.HostConfig{{Domain: "example.com"}}})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
			defer cancel()
			b.SetParallelism(32) // 32 × GOMAXPROCS concurrent clients, as an HTTP server sees them
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "invites/s")
		})
	}
}

// openSQLite opens a SQLite store in a temporary directory, closed when b ends.
func openSQLite(b *testing.B, opts sqlite.Options) core.Store {
	b.Helper()
	ctx, cancel := context.WithTimeout(b.Context(), 30*time.Second)
	defer cancel()
	s, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "invites.db"), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkCreateInviteGrowth measures the creation rate on a schema that starts empty
// (sub-benchmark "empty") or with a million invites ("1M"), 64 callers at once, one op
// per invite. Run each half in its own process (TestGrowthRatio alternates them), as
// for the SQLite store; seeding the million takes some seconds, untimed.
//
//	go test -run '^$' -bench 'CreateInviteGrowth/1M' -benchtime 50000x ./internal/store/postgres
func BenchmarkCreateInviteGrowth(b *testing.B) {
	for _, seeded := range []bool{false, true} {
		name := "empty"
		if seeded {
			name = "1M"
		}
		b.Run(name, func(b *testing.B) {
			_, dsn := pgtest.Schema(b)
			s := open(b, dsn, postgres.Options{})
			if seeded {
				// IDs beginning "--" sort before every ID made today, as older invites do.
				if _, err := s.Pool().Exec(b.Context(), `INSERT INTO invites (id, token_hash, host, kind, created_by,
						max_uses, created_at, expires_at)
					SELECT '--' || lpad(to_hex(i), 10, '0'), sha256(int8send(i)), 'example.com', 'account',
						'api/token/seedseedseed', 1, $1::bigint - (1000000 - i)::bigint * 1000000, $1::bigint + 604800000000000
					FROM generate_series(1, 1000000) AS i`, time.Now().UnixNano()); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Pool().Exec(b.Context(), `VACUUM ANALYZE invites`); err != nil {
					b.Fatal(err)
				}
			}
			svc, err := core.NewService(core.Options{Store: s, Hosts: []core.HostConfig{{Domain: "example.com"}}})
			if err != nil {
				b.Fatal(err)
			}
			ctx := b.Context()
			create := func(n int) time.Duration {
				var wg sync.WaitGroup
				start := time.Now()
				for w := range 64 {
					wg.Go(func() {
						for i := w; i < n; i += 64 {
							if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com"}); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				return time.Since(start)
			}
			create(10_000) // warm up
			b.ResetTimer()
			elapsed := create(b.N)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "invites/s")
		})
	}
}

// TestGrowthRatio runs the two halves of BenchmarkCreateInviteGrowth in processes of
// their own, alternating, and reports the ratio of the median rates. It runs only when
// INVITES_GROWTH is set to the number of rounds.
//
//	INVITES_GROWTH=3 go test -run TestGrowthRatio -v ./internal/store/postgres
func TestGrowthRatio(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("INVITES_GROWTH"))
	if rounds <= 0 {
		t.Skip("set INVITES_GROWTH=ROUNDS to measure")
	}
	rates := map[string][]float64{}
	for r := range rounds {
		for _, name := range []string{"empty", "1M"} {
			out, err := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$",
				"-test.bench=^BenchmarkCreateInviteGrowth$/^"+name+"$", "-test.benchtime=50000x").CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", name, err, out)
			}
			var rate float64
			fields := strings.Fields(string(out))
			for i := 1; i < len(fields); i++ {
				if fields[i] == "invites/s" {
					rate, _ = strconv.ParseFloat(fields[i-1], 64)
				}
			}
			t.Logf("round %d %-5s %8.0f invites/s", r, name, rate)
			rates[name] = append(rates[name], rate)
		}
	}
	med := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	e, f := med(rates["empty"]), med(rates["1M"])
	t.Logf("median: empty %.0f invites/s, 1M %.0f invites/s: ratio %.2f", e, f, f/e)
}

// BenchmarkLookup measures the lookups of the in-band token check and of key
// verification: an existing ID and an unknown one must cost the same (issue 21, LOW
// 3), so that timing does not tell whether an ID exists.
func BenchmarkLookup(b *testing.B) {
	s := fresh(b)
	ctx := b.Context()
	var inv core.Invite
	for range 1000 {
		inv = newInvite(b, func(inv *core.Invite) { inv.Note, inv.Groups = "a note of some length", []string{"team"} })
		if err := s.CreateInvite(ctx, inv, core.InviteWrite{}); err != nil {
			b.Fatal(err)
		}
	}
	k := core.Key{ID: "benchkey0000", Host: "example.com", Name: "a key", SecretHash: make([]byte, 32), CreatedAt: now}
	if err := s.CreateKey(ctx, k, nil); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		call func() error
	}{
		{"invite/existing", func() error { _, err := s.Invite(ctx, inv.ID); return err }},
		{"invite/unknown", func() error {
			if _, err := s.Invite(ctx, "AAAAAAAAAAAA"); !errors.Is(err, core.ErrNotFound) {
				return err
			}
			return nil
		}},
		{"key/existing", func() error { _, err := s.Key(ctx, k.ID); return err }},
		{"key/unknown", func() error {
			if _, err := s.Key(ctx, "AAAAAAAAAAAA"); !errors.Is(err, core.ErrNotFound) {
				return err
			}
			return nil
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
