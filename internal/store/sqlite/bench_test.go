package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// newService opens a store in dir and a Service over it for host example.com.
func newService(tb testing.TB, path string, opts sqlite.Options) (*core.Service, *sqlite.Store) {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}})
	if err != nil {
		tb.Fatal(err)
	}
	return svc, st
}

// benchCreate measures invite creation through the Service with many concurrent callers,
// and reports the rate and the mean number of invites per commit.
func benchCreate(b *testing.B, svc *core.Service, st *sqlite.Store) {
	c0, r0 := st.GroupStats()
	cpu0 := cpuTime(b)
	ctx := context.Background()
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
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/invite")
	if c1, r1 := st.GroupStats(); c1 > c0 {
		b.ReportMetric(float64(r1-r0)/float64(c1-c0), "invites/commit")
	}
}

func BenchmarkCreateInviteParallel(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts sqlite.Options
	}{
		{"grouped", sqlite.Options{}},
		{"ungrouped", sqlite.Options{MaxBatch: 1}},
		{"grouped-crash", sqlite.Options{Durability: sqlite.DurabilityCrash}},
		{"ungrouped-crash", sqlite.Options{Durability: sqlite.DurabilityCrash, MaxBatch: 1}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			svc, st := newService(b, filepath.Join(b.TempDir(), "invites.db"), bc.opts)
			benchCreate(b, svc, st)
		})
	}
}

// growthSeed is how many invites the full store of BenchmarkCreateInviteGrowth holds.
const growthSeed = 1_000_000

// BenchmarkCreateInviteGrowth compares the creation rate on a store that starts empty
// with the rate on one that starts with growthSeed invites (the goal is a ratio of at
// least 0.8). It alternates between the two stores in rounds, so that load from
// elsewhere on the machine weighs on both alike, and reports each rate and their ratio;
// one op is one invite on each store. Both stores are warmed up first with 20,480
// invites each, untimed.
// Seeding takes several seconds, so it runs only under -bench, and not with -short.
func BenchmarkCreateInviteGrowth(b *testing.B) {
	if testing.Short() {
		b.Skip("seeding a million invites is too slow for -short")
	}
	// Seed once into a template file; each run works on a fresh copy of it.
	template := filepath.Join(b.TempDir(), "seeded.db")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, template, sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := st.SeedInvites(ctx, growthSeed, "example.com", time.Now()); err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d invites in %v", growthSeed, time.Since(start).Round(time.Millisecond))
	b.Run("1M-vs-empty", func(b *testing.B) {
		dir := b.TempDir()
		full := filepath.Join(dir, "full.db")
		copyFile(b, template, full)
		// Labels tell the two stores' goroutines apart in a CPU profile
		// (go tool pprof -tagfocus store=full).
		var emptySvc, fullSvc *core.Service
		pprof.Do(b.Context(), pprof.Labels("store", "empty"), func(context.Context) {
			emptySvc, _ = newService(b, filepath.Join(dir, "empty.db"), sqlite.Options{})
		})
		pprof.Do(b.Context(), pprof.Labels("store", "full"), func(context.Context) {
			fullSvc, _ = newService(b, full, sqlite.Options{})
		})
		const round = 2048
		// Warm up: the full store's index must come into the page cache, as it would
		// in a server that has been running.
		for range 10 {
			createConcurrently(b, emptySvc, round)
			createConcurrently(b, fullSvc, round)
		}
		var tEmpty, tFull, cpuEmpty, cpuFull time.Duration
		b.ResetTimer()
		for done := 0; done < b.N; done += round {
			n := min(round, b.N-done)
			c0 := cpuTime(b)
			tEmpty += createConcurrently(b, emptySvc, n)
			c1 := cpuTime(b)
			tFull += createConcurrently(b, fullSvc, n)
			cpuEmpty += c1 - c0
			cpuFull += cpuTime(b) - c1
		}
		b.StopTimer()
		b.ReportMetric(float64(cpuEmpty.Microseconds())/float64(b.N), "empty-cpu-µs/invite")
		b.ReportMetric(float64(cpuFull.Microseconds())/float64(b.N), "1M-cpu-µs/invite")
		empty := float64(b.N) / tEmpty.Seconds()
		grown := float64(b.N) / tFull.Seconds()
		b.ReportMetric(empty, "empty-invites/s")
		b.ReportMetric(grown, "1M-invites/s")
		b.ReportMetric(grown/empty, "ratio")
	})
}

// createConcurrently creates n invites from 64 goroutines and says how long it took.
func createConcurrently(b *testing.B, svc *core.Service, n int) time.Duration {
	const workers = 64
	ctx := context.Background()
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
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

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// cpuTime is the CPU time (user and system) this process has used so far. Beside the
// wall-clock rates it gives a figure that load from other processes does not distort.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
