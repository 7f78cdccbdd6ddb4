package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// row is one line of the results table.
type row struct {
	// Run names what was measured.
	Run string
	// Concurrency is the number of requests in flight.
	Concurrency int
	// Result is the load run's measurement.
	Result loadResult
	// Expect is the status counted as a success (201, or 403 for the bad-key path).
	Expect int
	// HostRSS and PluginRSS are the peak RSS of xmppd and the plugin after the run, in
	// bytes; zero when not measured.
	HostRSS, PluginRSS int64
	// HostFileRSS and PluginFileRSS are their resident pages mapped from files (their
	// binaries' code and read-only data) after the run.
	HostFileRSS, PluginFileRSS int64
	// Note says more about the errors, or what the rate counts.
	Note string
	// HostCPU and PluginCPU are the CPU time xmppd (or the one-process server) and the
	// plugin used during the run; zero when not measured.
	HostCPU, PluginCPU time.Duration
	// order is the row's group, by which the table is sorted.
	order int
	// single marks a server in one process: HostRSS is its RSS.
	single bool
}

// check is a verdict on something the product promises.
type check struct {
	// Name says what was checked.
	Name string
	// OK is the verdict.
	OK bool
	// Goal marks a speed goal: reported, but failing it does not fail the run.
	Goal bool
	// Advisory marks a check beyond the promises: reported as WARN, not failing the run.
	Advisory bool
	// Info marks a figure worth stating that is neither a check nor a goal.
	Info bool
	// Detail gives the evidence.
	Detail string
}

// report gathers the rows and checks of a run.
type report struct {
	rows   []row
	checks []check
}

func (r *report) add(rw row) { r.rows = append(r.rows, rw) }

func (r *report) check(name string, ok bool, detail string) {
	r.checks = append(r.checks, check{Name: name, OK: ok, Detail: detail})
}

func (r *report) advise(name string, ok bool, detail string) {
	r.checks = append(r.checks, check{Name: name, OK: ok, Advisory: true, Detail: detail})
}

func (r *report) info(name, detail string) {
	r.checks = append(r.checks, check{Name: name, OK: true, Info: true, Detail: detail})
}

func (r *report) goal(name string, ok bool, detail string) {
	r.checks = append(r.checks, check{Name: name, OK: ok, Goal: true, Detail: detail})
}

// find returns the row with that run and concurrency.
func (r *report) find(run string, conc int) (row, bool) {
	for _, rw := range r.rows {
		if rw.Run == run && rw.Concurrency == conc {
			return rw, true
		}
	}
	return row{}, false
}

// failed reports whether a check that is not a speed goal failed.
func (r *report) failed() bool {
	for _, c := range r.checks {
		if !c.OK && !c.Goal && !c.Advisory {
			return true
		}
	}
	return false
}

// write prints the table, then the checks.
func (r *report) write(w io.Writer) {
	fmt.Fprintln(w, "| run | concurrency | requests | invites/s | p50 | p99 | errors | peak RSS host / plugin |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---|---|")
	rows := slices.Clone(r.rows)
	slices.SortStableFunc(rows, func(a, b row) int { return a.order - b.order })
	for _, rw := range rows {
		res := rw.Result
		errs := fmt.Sprint(res.Unexpected())
		if s := res.statusSummary(rw.Expect); s != "" {
			errs += " (" + s + ")"
		}
		if rw.Note != "" {
			errs += " " + rw.Note
		}
		rss := "—"
		switch {
		case rw.single:
			rss = mib(rw.HostRSS) + " (one process)"
		case rw.HostRSS > 0 || rw.PluginRSS > 0:
			rss = mib(rw.HostRSS) + " / " + mib(rw.PluginRSS)
		}
		fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %s | %s |\n", rw.Run, rw.Concurrency, res.Sent,
			rate(res.Rate()), ms(res.Percentile(0.50)), ms(res.Percentile(0.99)), errs, rss)
	}
	var cpu []string
	for _, rw := range rows {
		if rw.HostCPU <= 0 || rw.Result.Sent == 0 {
			continue
		}
		per := func(d time.Duration) string {
			return fmt.Sprintf("%.0f µs", float64(d.Microseconds())/float64(rw.Result.Sent))
		}
		if rw.single {
			cpu = append(cpu, fmt.Sprintf("- %s, c=%d: %s (one process)", rw.Run, rw.Concurrency, per(rw.HostCPU)))
		} else {
			cpu = append(cpu, fmt.Sprintf("- %s, c=%d: %s host + %s plugin = %s", rw.Run, rw.Concurrency,
				per(rw.HostCPU), per(rw.PluginCPU), per(rw.HostCPU+rw.PluginCPU)))
		}
	}
	if len(cpu) > 0 {
		fmt.Fprintln(w, "\nServer CPU time per request (user + system, from /proc/PID/stat):")
		fmt.Fprintln(w)
		for _, l := range cpu {
			fmt.Fprintln(w, l)
		}
	}
	if len(r.checks) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, c := range r.checks {
		verdict := "PASS"
		switch {
		case c.Info:
			verdict = "info"
		case !c.OK && c.Goal:
			verdict = "MISSED (goal)"
		case !c.OK && c.Advisory:
			verdict = "WARN"
		case !c.OK:
			verdict = "FAIL"
		case c.Goal:
			verdict = "met (goal)"
		}
		fmt.Fprintf(w, "- **%s** %s: %s\n", verdict, c.Name, c.Detail)
	}
}

// mib formats bytes as MiB.
func mib(b int64) string {
	if b <= 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string {
	if d == 0 {
		return "—"
	}
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 1:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// rate formats a per-second rate.
func rate(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.1f", v), "0"), ".")
}

// ratio is a/b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
