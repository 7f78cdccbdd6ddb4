package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The groups of runs, as -runs names them.
const (
	runCeiling    = "ceiling"
	runInProcess  = "inprocess"
	runXMPPD      = "xmppd"
	runBadKey     = "badkey"
	runAdhoc      = "adhoc"
	runGrowth     = "growth"
	runDurability = "durability"
	runFaults     = "faults"
	runBodies     = "bodies"
	runTransport  = "transport"
	runOnboard    = "onboarding"
	runFlood      = "flood"
)

// allRuns are every group, in the order they run.
func allRuns() []string {
	return []string{runCeiling, runInProcess, runXMPPD, runBadKey, runAdhoc, runGrowth, runDurability, runTransport, runOnboard, runFlood, runFaults, runBodies}
}

// options are the command line's settings.
type options struct {
	duration    time.Duration
	requests    int
	concurrency []int
	runs        []string
	seed        int
	adhocRounds int
	keep        bool
	out         string
	tmp         string
	bin         string
	baseline    string
	// args are the command line as given, for the report.
	args []string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	if mode := os.Getenv(childEnv); mode != "" {
		err := serveChild(ctx, mode, os.Stdin, os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench child: %v\n", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses the flags, runs the harness and returns the exit code: 0 when every
// correctness check passed, 1 when one failed or the harness itself failed, 2 for a
// usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseOptions(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 2
	}
	h := &harness{opts: opts, log: stderr}
	rep, err := h.run(ctx)
	if rep != nil {
		var b strings.Builder
		h.writeReport(&b, rep)
		fmt.Fprint(stdout, b.String())
		if opts.out != "" {
			if werr := os.WriteFile(opts.out, []byte(b.String()), 0o644); werr != nil {
				fmt.Fprintf(stderr, "bench: %v\n", werr)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "bench: %v\n", err)
		return 1
	}
	if rep.failed() {
		fmt.Fprintln(stderr, "bench: a check failed")
		return 1
	}
	return 0
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := options{args: args}
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "time cap of each load run")
	fs.IntVar(&o.requests, "requests", 200_000, "request cap of each load run")
	conc := fs.String("concurrency", "1,16,64", "comma-separated concurrency levels of the throughput runs")
	runs := fs.String("runs", "all", "comma-separated groups to run: "+strings.Join(allRuns(), ",")+", or all")
	faults := fs.Bool("faults", true, "run the fault runs (the faults group); -faults=false skips them")
	fs.IntVar(&o.seed, "seed", 1_000_000, "stored invites for the growth run")
	fs.IntVar(&o.adhocRounds, "adhoc-rounds", 50, "create-key round trips over c2s")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (binaries, data, logs)")
	fs.StringVar(&o.out, "o", "", "also write the report to this file")
	fs.StringVar(&o.tmp, "tmp", "", "parent of the temporary directory (default the system's)")
	fs.StringVar(&o.baseline, "baseline", waveOneRev, "also measure xmppd and its plugin built from this commit in the durability group (\"\" skips it)")
	fs.StringVar(&o.bin, "bin", "", "use the xmppd and invites-plugin binaries in this directory instead of building them")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./bench [flags]\n\n"+
			"Builds xmppd and invites-plugin, measures the HTTP invite API through them beside a\n"+
			"bare handler and the API in-process, runs the fault runs, and prints one markdown table.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.duration <= 0 || o.requests <= 0 {
		return o, errors.New("-duration and -requests must be positive")
	}
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 4096 {
			return o, fmt.Errorf("-concurrency: bad level %q", s)
		}
		o.concurrency = append(o.concurrency, n)
	}
	if *runs == "all" {
		o.runs = allRuns()
	} else {
		for _, s := range strings.Split(*runs, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(allRuns(), s) {
				return o, fmt.Errorf("-runs: unknown group %q", s)
			}
			o.runs = append(o.runs, s)
		}
	}
	if !*faults {
		o.runs = slices.DeleteFunc(o.runs, func(s string) bool { return s == runFaults || s == runBodies })
	}
	return o, nil
}

// harness runs the groups and gathers the report.
type harness struct {
	opts options
	log  io.Writer
	dir  string
	bins binaries
	// fileLimit is the open-file limit after raising it.
	fileLimit uint64
	// load1 and load2 are /proc/loadavg before and after.
	load1, load2 string
	started      time.Time

	// prosodyNote says which Prosody ran and how it was installed, for the report.
	prosodyNote string
	// fs names the file system of the temporary directory.
	fs string

	// The servers the throughput, bad-key, ad-hoc and growth groups share.
	ceiling *childServer
	inproc  *childServer
	main    *xmppd
	mainKey string
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, "bench: "+format+"\n", args...)
}

func (h *harness) wants(group string) bool { return slices.Contains(h.opts.runs, group) }

// needsXMPPD reports whether a group that starts xmppd was asked for.
func (h *harness) needsXMPPD() bool {
	return slices.ContainsFunc(h.opts.runs, func(s string) bool {
		return s != runCeiling && s != runInProcess
	})
}

// run runs every group asked for. It returns the report so far even when it fails.
func (h *harness) run(ctx context.Context) (rep *report, err error) {
	h.started = time.Now()
	h.load1 = loadAvg()
	defer func() { h.load2 = loadAvg() }()
	rep = &report{}
	if h.fileLimit, err = raiseFileLimit(); err != nil {
		return rep, err
	}
	if h.dir, err = os.MkdirTemp(h.opts.tmp, "invites-bench-"); err != nil {
		return rep, fmt.Errorf("temporary directory: %w", err)
	}
	h.fs = fsType(h.dir)
	if h.opts.keep {
		h.logf("keeping %s", h.dir)
	} else {
		defer os.RemoveAll(h.dir)
	}
	switch {
	case !h.needsXMPPD():
	case h.opts.bin != "":
		h.bins = binaries{XMPPD: filepath.Join(h.opts.bin, "xmppd"), Plugin: filepath.Join(h.opts.bin, "invites-plugin")}
	default:
		h.logf("building xmppd and invites-plugin")
		if h.bins, err = buildBinaries(ctx, filepath.Join(h.dir, "bin")); err != nil {
			return rep, err
		}
	}
	defer func() { err = errors.Join(err, h.stopShared(rep)) }()
	if err := h.startShared(ctx); err != nil {
		return rep, err
	}
	if err := h.runThroughput(ctx, rep); err != nil {
		return rep, err
	}
	if h.wants(runBadKey) {
		if err := h.runBadKey(ctx, rep); err != nil {
			return rep, fmt.Errorf("%s: %w", runBadKey, err)
		}
	}
	if h.wants(runAdhoc) {
		if err := h.runAdhocRoundTrips(ctx, rep); err != nil {
			return rep, fmt.Errorf("%s: %w", runAdhoc, err)
		}
	}
	if h.wants(runGrowth) {
		if err := h.runGrowth(ctx, rep); err != nil {
			return rep, fmt.Errorf("%s: %w", runGrowth, err)
		}
	}
	if h.wants(runDurability) {
		if err := h.runDurability(ctx, rep); err != nil {
			return rep, fmt.Errorf("%s: %w", runDurability, err)
		}
	}
	if err := h.stopShared(rep); err != nil {
		return rep, err
	}
	for _, g := range []struct {
		name string
		run  func(context.Context, *report) error
	}{{runTransport, h.runTransport}, {runOnboard, h.runOnboarding}, {runFlood, h.runFlood}} {
		if h.wants(g.name) {
			if err := g.run(ctx, rep); err != nil {
				return rep, fmt.Errorf("%s: %w", g.name, err)
			}
		}
	}
	if h.wants(runFaults) {
		if err := h.runFaults(ctx, rep); err != nil {
			return rep, fmt.Errorf("%s: %w", runFaults, err)
		}
	}
	if h.wants(runBodies) {
		if err := h.faultBodies(ctx, rep); err != nil {
			return rep, fmt.Errorf("%s: %w", runBodies, err)
		}
	}
	h.ratios(rep)
	return rep, nil
}

// startShared starts the servers the groups asked for share: the bare handler and the
// in-process API in child processes, and xmppd.
func (h *harness) startShared(ctx context.Context) error {
	var err error
	if h.wants(runCeiling) {
		if h.ceiling, err = startChild(ctx, childCeiling); err != nil {
			return err
		}
	}
	if h.wants(runInProcess) || h.wants(runGrowth) {
		if h.inproc, err = startChild(ctx, childInProcess+":"+filepath.Join(h.dir, "inprocess")); err != nil {
			return err
		}
	}
	if h.wants(runXMPPD) || h.wants(runBadKey) || h.wants(runAdhoc) || h.wants(runGrowth) {
		if h.main, h.mainKey, err = h.startServer(ctx, "xmppd"); err != nil {
			return err
		}
	}
	return nil
}

// stopShared stops the shared servers; stopping twice is harmless.
func (h *harness) stopShared(rep *report) error {
	var errs []error
	if h.ceiling != nil {
		errs = append(errs, h.ceiling.Close())
		h.ceiling = nil
	}
	if h.inproc != nil {
		errs = append(errs, h.inproc.Close())
		h.inproc = nil
	}
	if h.main != nil {
		errs = append(errs, h.stopServer(rep, h.main, "xmppd"))
		h.main = nil
	}
	return errors.Join(errs...)
}

// memoryGoal bounds the peak RSS of xmppd and its plugin together at concurrency 64
// (issue 26).
const memoryGoal = 48 << 20

// ratios adds the comparisons and the goals to the report.
func (h *harness) ratios(rep *report) {
	for _, c := range h.opts.concurrency {
		x, ok1 := rep.find(nameXMPPD, c)
		in, ok2 := rep.find(nameInProcess, c)
		if !ok1 || !ok2 {
			continue
		}
		// Issue 26's goals are at concurrency 16; the other levels keep the first goal.
		rateGoal, cpuGoal := 0.5, 0.0
		if c == 16 {
			rateGoal, cpuGoal = 0.65, 1.9
		}
		r := ratio(x.Result.Rate(), in.Result.Rate())
		rep.goal(fmt.Sprintf("through the plugin vs in-process, concurrency %d ≥ %.2g×", c, rateGoal), r >= rateGoal,
			fmt.Sprintf("%.3f× (%s vs %s invites/s)", r, rate(x.Result.Rate()), rate(in.Result.Rate())))
		if cpuGoal > 0 && x.Result.Sent > 0 && in.Result.Sent > 0 && in.HostCPU > 0 {
			per := func(d time.Duration, n int) float64 { return float64(d.Microseconds()) / float64(n) }
			through := per(x.HostCPU+x.PluginCPU, x.Result.Sent)
			alone := per(in.HostCPU, in.Result.Sent)
			cr := ratio(through, alone)
			rep.goal(fmt.Sprintf("host + plugin CPU per invite vs in-process, concurrency %d ≤ %.2f×", c, cpuGoal), cr <= cpuGoal,
				fmt.Sprintf("%.2f× (%.0f µs = %.0f host + %.0f plugin, vs %.0f µs)", cr, through,
					per(x.HostCPU, x.Result.Sent), per(x.PluginCPU, x.Result.Sent), alone))
		}
	}
	for _, g := range []struct {
		name, grown, base string
		conc              int
	}{
		{"growth through xmppd", nameGrowth, nameGrowthBase, growthConcurrency},
		{"growth in-process", nameGrowthIn, nameGrowthInB, growthConcurrency},
		{"growth at the store level, each run in its own process", nameStore, nameStoreBase, storeWorkers},
	} {
		grown, ok1 := rep.find(g.grown, g.conc)
		base, ok2 := rep.find(g.base, g.conc)
		if ok1 && ok2 {
			r := ratio(grown.Result.Rate(), base.Result.Rate())
			rep.goal(fmt.Sprintf("%s (%d stored vs empty, concurrency %d) ≥ %.1f×", g.name, h.opts.seed, g.conc, growthGoal),
				r >= growthGoal, fmt.Sprintf("%.2f× (%s vs %s invites/s; CPU per invite %s vs %s)", r,
					rate(grown.Result.Rate()), rate(base.Result.Rate()), cpuPer(grown), cpuPer(base)))
		}
	}
	h.durabilityRatios(rep)
	h.transportRatios(rep)
	if x, ok := rep.find(nameXMPPD, 16); ok {
		p := x.Result.Percentile(0.99)
		rep.goal("p99 through xmppd at concurrency 16 ≤ 5 ms", p <= 5*time.Millisecond,
			fmt.Sprintf("%s (p50 %s)", ms(p), ms(x.Result.Percentile(0.5))))
	}
	if x, ok := rep.find(nameXMPPD, 64); ok && x.HostRSS > 0 && x.PluginRSS > 0 {
		total := x.HostRSS + x.PluginRSS
		rep.goal(fmt.Sprintf("host + plugin peak RSS at concurrency 64 ≤ %s", mib(memoryGoal)), total <= memoryGoal,
			fmt.Sprintf("%s = %s xmppd + %s plugin, of which %s + %s are pages of the two binaries (RssFile after the run: code and read-only data)",
				mib(total), mib(x.HostRSS), mib(x.PluginRSS), mib(x.HostFileRSS), mib(x.PluginFileRSS)))
	}
}

// writeReport prints the machine, the table, the checks and how to reproduce.
func (h *harness) writeReport(w io.Writer, rep *report) {
	fmt.Fprintf(w, "Machine: %s\n\n", machine())
	fmt.Fprintf(w, "Load average before / after: %s / %s; open-file limit %d; run took %s.\n\n",
		h.load1, h.load2, h.fileLimit, time.Since(h.started).Round(time.Second))
	if h.fs != "" {
		fmt.Fprintf(w, "Data (every store) on %s.\n\n", h.fs)
	}
	if h.prosodyNote != "" {
		fmt.Fprintf(w, "%s.\n\n", h.prosodyNote)
	}
	rep.write(w)
	cmd := "go run ./bench"
	if len(h.opts.args) > 0 {
		cmd += " " + strings.Join(h.opts.args, " ")
	}
	fmt.Fprintf(w, "\nReproduce: `%s` (per run: at most %d requests and %s; concurrency %s)\n",
		cmd, h.opts.requests, h.opts.duration, joinInts(h.opts.concurrency))
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// machine describes this machine: cores, CPU model, memory, Go version, date.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "MemTotal:") {
				f := strings.Fields(line)
				if len(f) >= 2 {
					if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
						mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
					}
				}
			}
		}
	}
	return fmt.Sprintf("%d cores (nproc), %s, %s RAM, %s %s/%s, %s", runtime.NumCPU(), cpu, mem,
		runtime.Version(), runtime.GOOS, runtime.GOARCH, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
