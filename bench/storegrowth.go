package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// Store-level growth settings, as the store's own TestGrowthRatio
// (internal/store/sqlite) measures it.
const (
	// storeWorkers is how many goroutines create invites at once.
	storeWorkers = 64
	// storeWarmup is how many invites are created, untimed, before measuring.
	storeWarmup = 20_480
)

// childStoreCreate is the child mode that measures invite creation on a SQLite store
// in a process of its own: "storecreate:PATH:MAXINVITES:MAXDURATION".
const childStoreCreate = "storecreate"

// storeResult is what one store-level run measured.
type storeResult struct {
	Invites int
	Elapsed time.Duration
	CPU     time.Duration
	PeakRSS int64
}

// runStoreCreate opens the store at path (default durability, without the integrity
// check), creates storeWarmup invites untimed, then creates invites from storeWorkers
// goroutines through the core until maxN or maxDur, and prints "result N ELAPSED_NS
// CPU_NS PEAK_RSS_BYTES" on w.
func runStoreCreate(ctx context.Context, arg string, w io.Writer) (err error) {
	parts := strings.Split(arg, ":")
	if len(parts) != 3 {
		return fmt.Errorf("%s: want PATH:MAXINVITES:MAXDURATION, got %q", childStoreCreate, arg)
	}
	path := parts[0]
	maxN, err1 := strconv.Atoi(parts[1])
	maxDur, err2 := time.ParseDuration(parts[2])
	if err := errors.Join(err1, err2); err != nil || maxN < 1 || maxDur <= 0 {
		return fmt.Errorf("%s: bad caps %q: %v", childStoreCreate, arg, err)
	}
	st, err := sqlite.Open(ctx, path, sqlite.Options{SkipCheck: true})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: benchDomain}}})
	if err != nil {
		return err
	}
	create := func(ctx context.Context, n int, until time.Time) (int, error) {
		var made atomic.Int64
		var issued atomic.Int64
		var mu sync.Mutex
		var first error
		var wg sync.WaitGroup
		for range storeWorkers {
			wg.Go(func() {
				for issued.Add(1) <= int64(n) && time.Now().Before(until) && ctx.Err() == nil {
					if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: benchDomain}); err != nil {
						mu.Lock()
						first = cmpErr(first, err)
						mu.Unlock()
						return
					}
					made.Add(1)
				}
			})
		}
		wg.Wait()
		return int(made.Load()), first
	}
	if _, err := create(ctx, storeWarmup, time.Now().Add(time.Minute)); err != nil {
		return fmt.Errorf("warming up: %w", err)
	}
	cpu0, err := selfCPU()
	if err != nil {
		return err
	}
	start := time.Now()
	n, err := create(ctx, maxN, start.Add(maxDur))
	elapsed := time.Since(start)
	if err != nil {
		return fmt.Errorf("creating invites: %w", err)
	}
	cpu1, err := selfCPU()
	if err != nil {
		return err
	}
	rss, err := peakRSS(os.Getpid())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "result %d %d %d %d\n", n, elapsed.Nanoseconds(), (cpu1 - cpu0).Nanoseconds(), rss)
	return err
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// selfCPU is the CPU time (user and system) this process has used.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// storeCreate runs one store-level measurement on a copy of template in a child
// process of its own, so that it shares no runtime, heap or page cache with the other
// store measured.
func (h *harness) storeCreate(ctx context.Context, template, work string, maxN int, maxDur time.Duration) (storeResult, error) {
	if err := copyFile(template, work); err != nil {
		return storeResult{}, err
	}
	defer func() {
		for _, suffix := range []string{"", "-wal", "-shm", "-keys"} {
			_ = os.Remove(work + suffix)
		}
	}()
	if err := syncFile(work); err != nil {
		return storeResult{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return storeResult{}, fmt.Errorf("finding this program: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%s:%d:%s", childEnv, childStoreCreate, work, maxN, maxDur))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return storeResult{}, fmt.Errorf("store-level run: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var r storeResult
	var el, cpu int64
	if _, err := fmt.Sscanf(strings.TrimSpace(string(out)), "result %d %d %d %d", &r.Invites, &el, &cpu, &r.PeakRSS); err != nil {
		return storeResult{}, fmt.Errorf("store-level run printed %q: %w", out, err)
	}
	r.Elapsed, r.CPU = time.Duration(el), time.Duration(cpu)
	return r, nil
}

// syncFile writes a file back to disk, so that the kernel does not flush a fresh copy
// during the measurement and slow down its fsyncs.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return nil
}

// storeRow makes a table row of store-level runs.
func storeRow(name, note string, runs []storeResult) row {
	res := loadResult{Statuses: map[int]int{}}
	var cpu time.Duration
	var rss int64
	for _, r := range runs {
		res.Sent += r.Invites
		res.OK += r.Invites
		res.Statuses[201] += r.Invites
		res.Elapsed += r.Elapsed
		cpu += r.CPU
		rss = max(rss, r.PeakRSS)
	}
	return row{Run: name, Concurrency: storeWorkers, Result: res, Expect: 201, Note: note,
		HostCPU: cpu, HostRSS: rss, single: true, order: orderGrowth}
}
