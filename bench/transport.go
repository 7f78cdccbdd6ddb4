package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// prototypeRev is the commit whose build carries, beside version 2's frames, the
// prototype of HTTP/1.1 on the same data sockets (INVITES_DATA_PATH) and the switch
// that sends an exchange's log records to stderr (INVITES_RECORDS_ON_STDERR).
const prototypeRev = "d271f28"

// Row names of the transport group.
const (
	nameFramesV2   = "xmppd → plugin, frames of version 2 (" + prototypeRev + "), warn"
	nameHTTPPlain  = "xmppd → plugin, HTTP/1.1: http.Transport + http.Server (" + prototypeRev + "), warn"
	nameHTTPLean   = "xmppd → plugin, HTTP/1.1: header lines by hand (" + prototypeRev + "), warn"
	nameFramesWarn = "xmppd → plugin, this build (frames), warn"
	nameFramesInfo = "xmppd → plugin, this build (frames), info"
	nameInProcWarn = "in-process, warn"
	nameInProcInfo = "in-process, info"
	// httpAdoptWithin is how much more CPU per invite than frames HTTP/1.1 could cost
	// and be adopted (issue 26).
	httpAdoptWithin = 0.05
)

// transportConcurrency are the levels the transports are compared at.
func transportConcurrency() []int { return []int{16, 64} }

// runTransport measures the data path's transports side by side, in alternating
// rounds, at warn so that no log record is written: frames of version 2, HTTP/1.1 as
// an http.Transport and an http.Server, and the leanest HTTP/1.1 of the prototype
// (all built from prototypeRev), and this build's frames. At concurrency 16 it also
// runs this build and the in-process service at info, where each invite writes an
// audit record: the difference is what a record costs each way.
func (h *harness) runTransport(ctx context.Context, rep *report) (err error) {
	h.logf("transport: building %s", prototypeRev)
	old, err := buildBaseline(ctx, prototypeRev, filepath.Join(h.dir, "prototype"))
	if err != nil {
		rep.advise("the prototype "+prototypeRev+" builds", false, err.Error())
		return nil
	}
	type server struct {
		name string
		bins binaries
		opts serverOptions
	}
	var targets []*target
	for _, s := range []server{
		{nameFramesV2, old, serverOptions{logLevel: "warn"}},
		{nameHTTPPlain, old, serverOptions{logLevel: "warn", env: []string{"INVITES_DATA_PATH=http"}}},
		{nameHTTPLean, old, serverOptions{logLevel: "warn", env: []string{"INVITES_DATA_PATH=4"}}},
		{nameFramesWarn, h.bins, serverOptions{logLevel: "warn"}},
		{nameFramesInfo, h.bins, serverOptions{}},
	} {
		x, key, err := h.startServerWith(ctx, s.bins, "transport-"+fmt.Sprint(len(targets)), s.opts)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, h.stopServer(rep, x, "xmppd ("+s.name+")")) }()
		targets = append(targets, h.xmppdTarget(s.name, x, key, ""))
	}
	for i, mode := range []string{childInProcessWarn, childInProcess} {
		c, err := startChild(ctx, mode+":"+filepath.Join(h.dir, "transport-inprocess-"+fmt.Sprint(i)))
		if err != nil {
			return err
		}
		defer c.Close()
		name := []string{nameInProcWarn, nameInProcInfo}[i]
		targets = append(targets, &target{name: name, url: c.URL, cred: c.Credential,
			pids: func(context.Context) []int { return []int{c.PID()} },
			rss:  func(_ context.Context, rw row) row { return h.withChildRSS(rw, c) }})
	}
	for _, c := range transportConcurrency() {
		ts := targets[:4]
		if c == 16 {
			ts = targets
		}
		for _, t := range ts {
			t.parts, t.cpu = nil, [2]time.Duration{}
		}
		if err := h.driveRounds(ctx, rep, orderTransport, c, throughputRounds, ts); err != nil {
			return err
		}
	}
	return nil
}

// transportRatios adds the comparisons of the transport group: HTTP/1.1 against
// frames, the decision, and what a log record costs.
func (h *harness) transportRatios(rep *report) {
	perInvite := func(name string, c int) (float64, float64, bool) {
		rw, ok := rep.find(name, c)
		if !ok || rw.Result.Sent == 0 || rw.HostCPU <= 0 {
			return 0, 0, false
		}
		return float64((rw.HostCPU + rw.PluginCPU).Microseconds()) / float64(rw.Result.Sent), rw.Result.Rate(), true
	}
	for _, c := range transportConcurrency() {
		frames, frate, ok := perInvite(nameFramesV2, c)
		if !ok {
			continue
		}
		for _, name := range []string{nameHTTPPlain, nameHTTPLean, nameFramesWarn} {
			cpu, r, ok := perInvite(name, c)
			if !ok {
				continue
			}
			rep.info(fmt.Sprintf("%s vs frames of version 2, concurrency %d", name, c),
				fmt.Sprintf("host + plugin CPU per invite %+.0f%% (%.0f vs %.0f µs), rate %.2f×", 100*(cpu/frames-1), cpu, frames, ratio(r, frate)))
			if name == nameHTTPLean {
				rep.info(fmt.Sprintf("HTTP/1.1 adopted: within %.0f%% of frames' CPU per invite at concurrency %d", 100*httpAdoptWithin, c),
					fmt.Sprintf("%v (%+.0f%% for the leanest variant)", cpu <= frames*(1+httpAdoptWithin), 100*(cpu/frames-1)))
			}
		}
	}
	warn, _, ok1 := perInvite(nameFramesWarn, 16)
	info, _, ok2 := perInvite(nameFramesInfo, 16)
	iwarn, _, ok3 := perInvite(nameInProcWarn, 16)
	iinfo, _, ok4 := perInvite(nameInProcInfo, 16)
	if ok1 && ok2 && ok3 && ok4 {
		rep.info("an audit record's cost, concurrency 16 (CPU per invite at info minus at warn)",
			fmt.Sprintf("%.0f µs through the plugin (its records as JSON lines on stderr), %.0f µs in-process", info-warn, iinfo-iwarn))
	}
}
