package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Row names of the durability group.
const (
	namePowerLoss = `xmppd → plugin, durability = "power-loss" (default)`
	nameCrash     = `xmppd → plugin, durability = "crash"`
	nameProsody   = "Prosody 0.12 + mod_invites_api (SQLite)"
)

// Durability settings.
const (
	// durabilityConcurrency is the concurrency of the durability group.
	durabilityConcurrency = 16
	// durabilityRounds is how many times its three servers alternate.
	durabilityRounds = 3
	// prosodyGoal is how many times Prosody's rate xmppd with power-loss durability
	// should reach, and prosodyCPUGoal how much of Prosody's CPU per invite it may
	// spend at most (issue 26).
	prosodyGoal    = 8
	prosodyCPUGoal = 0.25
)

// target is a server one group drives in alternating rounds.
type target struct {
	name, url, cred, host, note string
	// pids are metered for CPU: the server, then its plugin (0 when none).
	pids  func(ctx context.Context) []int
	rss   func(ctx context.Context, rw row) row
	parts []loadResult
	cpu   [2]time.Duration
}

// driveRounds runs every target at concurrency conc in rounds, alternating, each round
// a share of the caps, and adds their rows.
func (h *harness) driveRounds(ctx context.Context, rep *report, order, conc, rounds int, targets []*target) error {
	for range rounds {
		for _, t := range targets {
			spec := h.spec(t.url, t.cred, conc)
			spec.Host = t.host
			spec.MaxDuration = max(h.opts.duration/time.Duration(rounds), 100*time.Millisecond)
			spec.MaxRequests = max(h.opts.requests/rounds, 1)
			var m *cpuMeter
			if t.pids != nil {
				m = newCPUMeter(t.pids(ctx)...)
			}
			res, err := runLoad(ctx, spec)
			if err != nil {
				return err
			}
			if m != nil {
				for i, d := range m.used() {
					if i < len(t.cpu) {
						t.cpu[i] += d
					}
				}
			}
			t.parts = append(t.parts, res)
		}
	}
	for _, t := range targets {
		spec := h.spec(t.url, t.cred, conc)
		rw := h.judge(rep, t.name, order, spec, mergeResults(t.parts))
		rw.Note = t.note
		rw.HostCPU, rw.PluginCPU = t.cpu[0], t.cpu[1]
		if t.rss != nil {
			rw = t.rss(ctx, rw)
		}
		rep.add(rw)
	}
	return nil
}

// xmppdTarget drives xmppd x with key.
func (h *harness) xmppdTarget(name string, x *xmppd, key, note string) *target {
	return &target{name: name, url: x.URL, cred: key, note: note,
		pids: func(ctx context.Context) []int {
			pid, err := x.PluginPID(ctx, 0, time.Second)
			if err != nil {
				h.logf("cpu: %v", err)
			}
			return []int{x.PID(), pid}
		},
		rss: func(ctx context.Context, rw row) row { return h.withRSS(ctx, rw, x) },
	}
}

// runDurability drives, in alternating rounds at concurrency 16, xmppd with the
// plugin's SQLite store in each durability mode (fresh data each) and Prosody 0.12
// with mod_invites_api on SQLite, which syncs every commit, with the same load
// generator. Prosody's packages are installed with apt-get when missing; when that
// cannot be done, the xmppd rows are still measured and the goal is reported missed.
func (h *harness) runDurability(ctx context.Context, rep *report) (err error) {
	var targets []*target
	power, pkey, err := h.startServerWith(ctx, h.bins, "durability-power-loss", serverOptions{config: `durability = "power-loss"` + "\n"})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.stopServer(rep, power, "xmppd (durability power-loss)")) }()
	crash, ckey, err := h.startServerWith(ctx, h.bins, "durability-crash", serverOptions{config: `durability = "crash"` + "\n"})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.stopServer(rep, crash, "xmppd (durability crash)")) }()
	targets = append(targets,
		h.xmppdTarget(namePowerLoss, power, pkey, "(fsync per group commit)"),
		h.xmppdTarget(nameCrash, crash, ckey, "(no fsync per commit)"))

	if rev := h.opts.baseline; rev != "" {
		h.logf("baseline: building xmppd and invites-plugin as of %s", rev)
		bins, berr := buildBaseline(ctx, rev, filepath.Join(h.dir, "baseline"))
		var old *xmppd
		var okey string
		if berr == nil {
			old, okey, berr = h.startServerWith(ctx, bins, "baseline", serverOptions{})
		}
		if berr != nil {
			rep.advise("the baseline "+rev+" builds and runs", false, berr.Error())
		} else {
			defer func() { err = errors.Join(err, h.stopServer(rep, old, "xmppd ("+rev+")")) }()
			note := "(this commit's defaults)"
			if rev == waveOneRev {
				note = "(wave 1: synchronous=NORMAL, no records kept after use, no events)"
			}
			targets = append(targets, h.xmppdTarget(nameBaseline(rev), old, okey, note))
		}
	}

	h.logf("prosody: checking packages")
	how, perr := ensureProsody(ctx)
	var pr *prosody
	if perr == nil {
		h.logf("prosody: %s; starting", how)
		parent := h.opts.tmp
		if parent == "" {
			parent = os.TempDir()
		}
		pr, perr = startProsody(ctx, parent)
	}
	if perr != nil {
		rep.advise("Prosody 0.12 + mod_invites_api runs beside xmppd", false, perr.Error())
	} else {
		defer func() { err = errors.Join(err, pr.Close(h.opts.keep)) }()
		h.prosodyNote = fmt.Sprintf("Prosody %s, run as the %s user (packages %s)", pr.Version, prosodyUser, how)
		targets = append(targets, &target{name: nameProsody, url: pr.URL, host: benchDomain,
			note: "(version " + pr.Version + "; one process)",
			pids: func(context.Context) []int { return []int{pr.PID()} },
			rss: func(_ context.Context, rw row) row {
				rss, err := peakRSS(pr.PID())
				if err != nil {
					h.logf("rss: %v", err)
				}
				rw.HostRSS, rw.single = rss, true
				return rw
			},
		})
	}
	return h.driveRounds(ctx, rep, orderDurability, durabilityConcurrency, durabilityRounds, targets)
}

// durabilityRatios adds the durability goal and comparisons.
func (h *harness) durabilityRatios(rep *report) {
	power, ok1 := rep.find(namePowerLoss, durabilityConcurrency)
	crash, ok2 := rep.find(nameCrash, durabilityConcurrency)
	pro, ok3 := rep.find(nameProsody, durabilityConcurrency)
	if ok1 && ok2 {
		rep.info(fmt.Sprintf("durability: power-loss vs crash, concurrency %d", durabilityConcurrency),
			fmt.Sprintf("%.2f× (%s vs %s invites/s); CPU per invite %s vs %s", ratio(power.Result.Rate(), crash.Result.Rate()),
				rate(power.Result.Rate()), rate(crash.Result.Rate()), cpuPer(power), cpuPer(crash)))
	}
	if rev := h.opts.baseline; rev != "" {
		if old, ok := rep.find(nameBaseline(rev), durabilityConcurrency); ok && ok2 {
			rep.info(fmt.Sprintf("creation now vs the build of %s, concurrency %d", rev, durabilityConcurrency),
				fmt.Sprintf("with crash durability %.2f× (%s vs %s invites/s; CPU per invite %s vs %s); with power-loss durability %.2f× (%s; CPU per invite %s)",
					ratio(crash.Result.Rate(), old.Result.Rate()), rate(crash.Result.Rate()), rate(old.Result.Rate()),
					cpuPer(crash), cpuPer(old), ratio(power.Result.Rate(), old.Result.Rate()), rate(power.Result.Rate()), cpuPer(power)))
		}
	}
	switch {
	case ok1 && ok3:
		r := ratio(power.Result.Rate(), pro.Result.Rate())
		rep.goal(fmt.Sprintf("xmppd with power-loss durability vs Prosody 0.12 on SQLite, concurrency %d ≥ %d×", durabilityConcurrency, prosodyGoal),
			r >= prosodyGoal, fmt.Sprintf("%.1f× (%s vs %s invites/s); CPU per invite %s vs %s", r,
				rate(power.Result.Rate()), rate(pro.Result.Rate()), cpuPer(power), cpuPer(pro)))
		cpu := func(rw row) float64 {
			return float64((rw.HostCPU + rw.PluginCPU).Microseconds()) / float64(max(rw.Result.Sent, 1))
		}
		cr := ratio(cpu(power), cpu(pro))
		rep.goal(fmt.Sprintf("xmppd with power-loss durability vs Prosody 0.12, CPU per invite ≤ %.2g of Prosody's", prosodyCPUGoal),
			cr > 0 && cr <= prosodyCPUGoal, fmt.Sprintf("%.2f (%s vs %s)", cr, cpuPer(power), cpuPer(pro)))
		if ok2 {
			rep.info("xmppd with crash durability vs Prosody", fmt.Sprintf("%.1f×", ratio(crash.Result.Rate(), pro.Result.Rate())))
		}
	case ok1 && h.wants(runDurability):
		rep.goal(fmt.Sprintf("xmppd with power-loss durability vs Prosody 0.12 on SQLite ≥ %d×", prosodyGoal), false,
			"Prosody did not run (see the WARN above)")
	}
}

// cpuPer formats a row's server CPU per request.
func cpuPer(rw row) string {
	if rw.Result.Sent == 0 || rw.HostCPU <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f µs", float64((rw.HostCPU+rw.PluginCPU).Microseconds())/float64(rw.Result.Sent))
}

// fsType names the file system that holds dir, for the report: durability figures
// mean little on tmpfs.
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "?"
	}
	switch uint64(st.Type) {
	case 0xEF53:
		return "ext4"
	case 0x01021994:
		return "tmpfs (fsync costs nothing: durability figures are not meaningful)"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x794c7630:
		return "overlayfs"
	case 0x2FC12FC1:
		return "zfs"
	}
	return fmt.Sprintf("type %#x", uint64(st.Type))
}

// startServerWith is startServer with options; bins are the binaries to run.
func (h *harness) startServerWith(ctx context.Context, bins binaries, name string, opts serverOptions) (*xmppd, string, error) {
	h.logf("starting xmppd (%s)", name)
	x, err := startXMPPDWith(ctx, bins, filepath.Join(h.dir, name, "data"), name, opts)
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
