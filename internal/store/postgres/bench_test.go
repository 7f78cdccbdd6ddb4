package postgres_test

import (
	"context"
	"path/filepath"
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
