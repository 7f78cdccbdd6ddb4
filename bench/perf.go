package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Row names, compared in the ratios.
const (
	nameCeiling    = "ceiling: bare net/http 201"
	nameInProcess  = "in-process: the plugin's service (SQLite)"
	nameXMPPD      = "xmppd → plugin (SQLite)"
	nameBadKey     = "xmppd → plugin, bad key"
	nameAdhoc      = "ad-hoc create-key over c2s (execute→complete)"
	nameGrowthBase = "xmppd → plugin, growth baseline"
	nameGrowth     = "xmppd → plugin, seeded store"
	nameGrowthInB  = "in-process, growth baseline"
	nameGrowthIn   = "in-process, seeded store"
	nameStoreBase  = "store level (core + SQLite, own process), empty store"
	nameStore      = "store level (core + SQLite, own process), seeded store"
)

// The order of the groups in the table.
const (
	orderCeiling = iota
	orderInProcess
	orderXMPPD
	orderBadKey
	orderAdhoc
	orderGrowth
	orderDurability
	orderBaseline
	orderTransport
	orderOnboarding
	orderFlood
	orderFaults
)

// spec is a load run with the harness's caps.
func (h *harness) spec(url, cred string, conc int) loadSpec {
	return loadSpec{URL: url, Credential: cred, Concurrency: conc,
		MaxRequests: h.opts.requests, MaxDuration: h.opts.duration}
}

// measure runs one load run and returns its row; a run that should see only the
// expected status and did not is a failed check.
func (h *harness) measure(ctx context.Context, rep *report, name string, order int, spec loadSpec) (row, error) {
	res, err := runLoad(ctx, spec)
	if err != nil {
		return row{}, err
	}
	return h.judge(rep, name, order, spec, res), nil
}

// judge makes the row of a load run and fails a check if it saw anything unexpected.
func (h *harness) judge(rep *report, name string, order int, spec loadSpec, res loadResult) row {
	expect := spec.Expect
	if expect == 0 {
		expect = http.StatusCreated
	}
	rw := row{Run: name, Concurrency: spec.Concurrency, Result: res, Expect: expect, order: order}
	h.logf("%-36s c=%-3d %8.0f/s  p50 %-9s p99 %-9s  unexpected %d %s", name, spec.Concurrency,
		res.Rate(), ms(res.Percentile(0.5)), ms(res.Percentile(0.99)), res.Unexpected(), res.statusSummary(expect))
	if res.Unexpected() > 0 || res.OK == 0 {
		detail := fmt.Sprintf("%d of %d requests did not get %d: %s", res.Unexpected(), res.Sent, expect, res.statusSummary(expect))
		if res.FirstError != nil {
			detail += "; first transport error: " + res.FirstError.Error()
		}
		rep.check(fmt.Sprintf("%s at concurrency %d answers only %d", name, spec.Concurrency, expect), false, detail)
	}
	return rw
}

// withRSS sets the row's peak RSS from xmppd and its plugin.
func (h *harness) withRSS(ctx context.Context, rw row, x *xmppd) row {
	host, plugin, err := x.RSS(ctx)
	if err != nil {
		h.logf("rss: %v", err)
	}
	rw.HostRSS, rw.PluginRSS = host, plugin
	rw.HostFileRSS, _ = statusField(x.PID(), "RssFile:")
	if pid, err := x.PluginPID(ctx, 0, time.Second); err == nil {
		rw.PluginFileRSS, _ = statusField(pid, "RssFile:")
	}
	return rw
}

// withChildRSS sets the row's peak RSS from a child server.
func (h *harness) withChildRSS(rw row, c *childServer) row {
	rss, err := peakRSS(c.PID())
	if err != nil {
		h.logf("rss: %v", err)
	}
	rw.HostRSS = rss
	rw.single = true
	return rw
}

// cpuMeter reads the CPU time of a server's processes before and after a run.
type cpuMeter struct {
	pids  []int
	start []time.Duration
	ok    []bool
}

func newCPUMeter(pids ...int) *cpuMeter {
	m := &cpuMeter{pids: pids, start: make([]time.Duration, len(pids)), ok: make([]bool, len(pids))}
	for i, p := range pids {
		t, err := cpuTime(p)
		m.start[i], m.ok[i] = t, err == nil && p > 0
	}
	return m
}

// used returns each process's CPU time since the meter was made (0 when unreadable).
func (m *cpuMeter) used() []time.Duration {
	out := make([]time.Duration, len(m.pids))
	for i, p := range m.pids {
		if t, err := cpuTime(p); err == nil && m.ok[i] {
			out[i] = t - m.start[i]
		}
	}
	return out
}

// xmppdMeter meters xmppd and its current plugin.
func (h *harness) xmppdMeter(ctx context.Context, x *xmppd) *cpuMeter {
	pid, err := x.PluginPID(ctx, 0, time.Second)
	if err != nil {
		h.logf("cpu: %v", err)
	}
	return newCPUMeter(x.PID(), pid)
}

// throughputRounds is how many times the in-process and xmppd runs alternate at each
// concurrency, so that a change in the machine's load during the run touches both
// alike (other work on a shared machine moves a single run's rate by a third).
const throughputRounds = 3

// runThroughput runs, at each concurrency in turn, the bare handler, then the in-process
// API and xmppd with the plugin in alternating rounds, so that the figures compared are
// taken close together in time.
func (h *harness) runThroughput(ctx context.Context, rep *report) error {
	for _, c := range h.opts.concurrency {
		if h.wants(runCeiling) {
			rw, err := h.measure(ctx, rep, nameCeiling, orderCeiling, h.spec(h.ceiling.URL, "", c))
			if err != nil {
				return err
			}
			rep.add(h.withChildRSS(rw, h.ceiling))
		}
		var inParts, xParts []loadResult
		var inCPU, hostCPU, pluginCPU time.Duration
		for range throughputRounds {
			if h.wants(runInProcess) {
				m := newCPUMeter(h.inproc.PID())
				res, err := runLoad(ctx, h.roundSpec(h.inproc.URL, h.inproc.Credential, c))
				if err != nil {
					return err
				}
				inCPU += m.used()[0]
				inParts = append(inParts, res)
			}
			if h.wants(runXMPPD) {
				m := h.xmppdMeter(ctx, h.main)
				res, err := runLoad(ctx, h.roundSpec(h.main.URL, h.mainKey, c))
				if err != nil {
					return err
				}
				used := m.used()
				hostCPU, pluginCPU = hostCPU+used[0], pluginCPU+used[1]
				xParts = append(xParts, res)
			}
		}
		if len(inParts) > 0 {
			rw := h.judge(rep, nameInProcess, orderInProcess, h.spec(h.inproc.URL, h.inproc.Credential, c), mergeResults(inParts))
			rw.HostCPU = inCPU
			rep.add(h.withChildRSS(rw, h.inproc))
		}
		if len(xParts) > 0 {
			rw := h.judge(rep, nameXMPPD, orderXMPPD, h.spec(h.main.URL, h.mainKey, c), mergeResults(xParts))
			rw.HostCPU, rw.PluginCPU = hostCPU, pluginCPU
			rep.add(h.withRSS(ctx, rw, h.main))
		}
	}
	return nil
}

// roundSpec is one round of a throughput run: a share of the caps.
func (h *harness) roundSpec(url, cred string, conc int) loadSpec {
	spec := h.spec(url, cred, conc)
	spec.MaxDuration = max(h.opts.duration/throughputRounds, 100*time.Millisecond)
	spec.MaxRequests = max(h.opts.requests/throughputRounds, 1)
	return spec
}

// badKeyConcurrency is the concurrency of the bad-key run.
const badKeyConcurrency = 16

// runBadKey sends a key with the right ID and a wrong secret through xmppd.
func (h *harness) runBadKey(ctx context.Context, rep *report) error {
	spec := h.spec(h.main.URL, wrongSecret(h.mainKey), badKeyConcurrency)
	spec.Expect = http.StatusForbidden
	m := h.xmppdMeter(ctx, h.main)
	rw, err := h.measure(ctx, rep, nameBadKey, orderBadKey, spec)
	if err != nil {
		return err
	}
	used := m.used()
	rw.HostCPU, rw.PluginCPU = used[0], used[1]
	rw.Note = "(rate counts 403s)"
	rep.add(h.withRSS(ctx, rw, h.main))
	return nil
}

// wrongSecret keeps a key's ID and replaces its secret: the most expensive rejection
// (the ID is found, the hash compared).
func wrongSecret(key string) string {
	id, _, _ := strings.Cut(key, "/")
	return id + "/" + strings.Repeat("A", 36)
}

// startServer starts xmppd on a fresh data directory named name and creates an API key
// with the command line.
func (h *harness) startServer(ctx context.Context, name string) (*xmppd, string, error) {
	return h.startServerIn(ctx, filepath.Join(h.dir, name, "data"), name)
}

func (h *harness) startServerIn(ctx context.Context, dataDir, name string) (*xmppd, string, error) {
	h.logf("starting xmppd (%s)", name)
	x, err := startXMPPD(ctx, h.bins, dataDir, name)
	if err != nil {
		return nil, "", err
	}
	key, err := x.CreateKey(ctx, "bench")
	if err != nil {
		_ = x.Stop(10 * time.Second)
		return nil, "", err
	}
	return x, key, nil
}

// stopServer stops xmppd gracefully; a server that does not stop in time, or leaves its
// plugin behind, fails a check.
func (h *harness) stopServer(rep *report, x *xmppd, name string) error {
	left, err := x.StopChecked(15 * time.Second)
	if err != nil {
		rep.check(name+" stops on SIGTERM", false, err.Error())
		return nil
	}
	if left {
		rep.check(name+" stops its plugin when it stops", false, "a process of its group was still running a second after xmppd exited")
	}
	return nil
}

// runAdhocRoundTrips logs in to xmppd as the administrator and times create-key round
// trips (execute, then complete with the form), one after another.
func (h *harness) runAdhocRoundTrips(ctx context.Context, rep *report) error {
	x := h.main
	rw := row{Run: nameAdhoc, Concurrency: 1, Expect: http.StatusCreated, order: orderAdhoc,
		Note: "(rate counts round trips)"}
	res := loadResult{Statuses: map[int]int{}}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second+time.Duration(h.opts.adhocRounds)*time.Second)
	defer cancel()
	t0 := time.Now()
	c, err := dialAdmin(cctx, x.C2SAddr, adminUser, adminPassword)
	if err != nil {
		rep.check("admin logs in over c2s (STARTTLS, SCRAM-SHA-256)", false, err.Error())
		return nil
	}
	login := time.Since(t0)
	defer c.Close(ctx)
	var lastKey string
	start := time.Now()
	for i := range h.opts.adhocRounds {
		t := time.Now()
		key, err := c.CreateKey(cctx, fmt.Sprintf("bench-adhoc-%d", i))
		res.Latencies = append(res.Latencies, time.Since(t))
		res.Sent++
		if err != nil {
			res.TransportErrors++
			if res.FirstError == nil {
				res.FirstError = err
			}
			if cctx.Err() != nil {
				break
			}
			continue
		}
		res.OK++
		res.Statuses[http.StatusCreated]++
		lastKey = key
	}
	res.Elapsed = time.Since(start)
	slices.Sort(res.Latencies)
	rw.Result = res
	rep.add(h.withRSS(ctx, rw, x))
	h.logf("ad-hoc create-key: login %s, %d round trips, p50 %s", ms(login), res.OK, ms(res.Percentile(0.5)))
	if res.OK < res.Sent {
		rep.check("ad-hoc create-key round trips succeed", false,
			fmt.Sprintf("%d of %d failed; first: %v", res.Sent-res.OK, res.Sent, res.FirstError))
		return nil
	}
	// The key made over XMPP works over HTTP.
	r, err := runLoad(ctx, loadSpec{URL: x.URL, Credential: lastKey, Concurrency: 1, MaxRequests: 1, MaxDuration: 10 * time.Second})
	if err != nil {
		return err
	}
	rep.check("ad-hoc: admin logs in (STARTTLS, SCRAM-SHA-256) and the key it makes creates an invite over HTTP", r.OK == 1,
		fmt.Sprintf("login %s; %d keys made; the last used once: %s", ms(login), res.OK, statusLine(r)))
	return nil
}

// statusLine summarises a small load run's answers.
func statusLine(r loadResult) string {
	parts := make([]string, 0, len(r.Statuses)+1)
	for c, n := range r.Statuses {
		parts = append(parts, fmt.Sprintf("%d×%d", c, n))
	}
	slices.Sort(parts)
	if r.TransportErrors > 0 {
		parts = append(parts, fmt.Sprintf("transport error×%d (%v)", r.TransportErrors, r.FirstError))
	}
	return strings.Join(parts, " ")
}

// Growth settings.
const (
	// growthConcurrency is the concurrency of the growth runs.
	growthConcurrency = 16
	// growthRounds is how many times the growth runs alternate, so that a change in
	// the machine's load during the run touches both sides alike.
	growthRounds = 3
	// growthGoal is the least rate with -seed invites stored, against an empty store
	// (issue 11).
	growthGoal = 0.9
)

// runGrowth seeds invites into a store and measures creation over it against an empty
// store, in alternating rounds at concurrency 16: end to end through xmppd (fresh
// servers on each store), through the plugin's service in one process, and at the
// store level (the core over the SQLite store, 64 goroutines, each run in a process of
// its own on a fresh copy, as internal/store/sqlite's TestGrowthRatio does).
func (h *harness) runGrowth(ctx context.Context, rep *report) error {
	// Start once on a fresh directory to learn where the plugin keeps its store, and
	// make the key while it runs.
	dataDir := filepath.Join(h.dir, "growth", "data")
	x, key, err := h.startServerIn(ctx, dataDir, "growth")
	if err != nil {
		return err
	}
	db, err := x.StorePath()
	if err != nil {
		_ = x.Stop(10 * time.Second)
		return err
	}
	if err := h.stopServer(rep, x, "xmppd (growth)"); err != nil {
		return err
	}
	h.logf("seeding %d invites", h.opts.seed)
	t0 := time.Now()
	if err := seedInvites(ctx, db, h.opts.seed); err != nil {
		return err
	}
	n, err := countInvites(ctx, db)
	if err != nil {
		return err
	}
	h.logf("seeded in %s; the store holds %d invites", time.Since(t0).Round(time.Millisecond), n)
	inDir := filepath.Join(h.dir, "growth-inprocess")
	storeDir := filepath.Join(h.dir, "growth-store")
	seededTemplate, emptyTemplate := filepath.Join(storeDir, "seeded.db"), filepath.Join(storeDir, "empty.db")
	for _, dst := range []string{filepath.Join(inDir, "invites.db"), seededTemplate} {
		if err := copyFile(db, dst); err != nil {
			return err
		}
	}
	if err := seedInvites(ctx, emptyTemplate, 0); err != nil { // the schema alone
		return err
	}
	if x, err = startXMPPD(ctx, h.bins, dataDir, "growth"); err != nil {
		return err
	}
	defer h.stopServer(rep, x, "xmppd (growth)")
	base, baseKey, err := h.startServer(ctx, "growth-empty")
	if err != nil {
		return err
	}
	defer h.stopServer(rep, base, "xmppd (growth-empty)")
	in, err := startChild(ctx, childInProcess+":"+inDir)
	if err != nil {
		return err
	}
	defer in.Close()
	inBase, err := startChild(ctx, childInProcess+":"+filepath.Join(h.dir, "growth-inprocess-empty"))
	if err != nil {
		return err
	}
	defer inBase.Close()

	child := func(name string, c *childServer, note string) *target {
		return &target{name: name, url: c.URL, cred: c.Credential, note: note,
			pids: func(context.Context) []int { return []int{c.PID()} },
			rss:  func(_ context.Context, rw row) row { return h.withChildRSS(rw, c) }}
	}
	seeded := fmt.Sprintf("(%d stored before)", n)
	targets := []*target{
		h.xmppdTarget(nameGrowthBase, base, baseKey, "(empty before)"),
		h.xmppdTarget(nameGrowth, x, key, seeded),
		child(nameGrowthInB, inBase, "(empty before)"),
		child(nameGrowthIn, in, seeded),
	}
	if err := h.driveRounds(ctx, rep, orderGrowth, growthConcurrency, growthRounds, targets); err != nil {
		return err
	}

	// The store level, each run in its own process on a fresh copy.
	maxN := max(h.opts.requests/growthRounds, 1)
	maxDur := max(h.opts.duration/growthRounds, 100*time.Millisecond)
	var empties, fulls []storeResult
	for i := range growthRounds {
		for _, s := range []struct {
			template string
			out      *[]storeResult
		}{{emptyTemplate, &empties}, {seededTemplate, &fulls}} {
			r, err := h.storeCreate(ctx, s.template, filepath.Join(storeDir, fmt.Sprintf("run-%d.db", i)), maxN, maxDur)
			if err != nil {
				return err
			}
			*s.out = append(*s.out, r)
		}
	}
	rep.add(storeRow(nameStoreBase, fmt.Sprintf("(empty before; warmed with %d)", storeWarmup), empties))
	rep.add(storeRow(nameStore, fmt.Sprintf("(%d stored before; warmed with %d)", n, storeWarmup), fulls))
	h.logf("store level: empty %.0f/s, seeded %.0f/s", storeRow("", "", empties).Result.Rate(), storeRow("", "", fulls).Result.Rate())
	return nil
}

// mergeResults adds up load runs of one target.
func mergeResults(parts []loadResult) loadResult {
	out := loadResult{Statuses: map[int]int{}}
	for _, p := range parts {
		out.Sent += p.Sent
		out.OK += p.OK
		out.TransportErrors += p.TransportErrors
		out.NoRetryAfter += p.NoRetryAfter
		out.Elapsed += p.Elapsed
		if out.FirstError == nil {
			out.FirstError = p.FirstError
		}
		for c, n := range p.Statuses {
			out.Statuses[c] += n
		}
		out.Latencies = append(out.Latencies, p.Latencies...)
	}
	slices.Sort(out.Latencies)
	return out
}

// copyFile copies a closed SQLite file (no write-ahead log left) into a new directory.
func copyFile(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("copying store: %w", err)
	}
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copying store: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("copying store: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying store: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copying store: %w", err)
	}
	return nil
}
