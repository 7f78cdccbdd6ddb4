package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
)

// Fault-run settings.
const (
	// faultConcurrency is the load kept up while a fault happens.
	faultConcurrency = 16
	// killAfter is how long the load runs before the kill.
	killAfter = 1500 * time.Millisecond
	// killRunLength is the length of the plugin-kill load run.
	killRunLength = 5 * time.Second
	// recoveryGoal is how soon after a plugin crash the API must create invites again.
	recoveryGoal = 2 * time.Second
	// idleConns is how many idle connections are held open against xmppd.
	idleConns = 2000
	// connCloseWait bounds the wait for xmppd to close idle and slow connections.
	connCloseWait = 2 * time.Minute
	// slowByteEvery is how often the slow-header client sends one byte.
	slowByteEvery = 250 * time.Millisecond
)

func (h *harness) runFaults(ctx context.Context, rep *report) error {
	for _, f := range []func(context.Context, *report) error{
		h.faultKillPlugin, h.faultStopPlugin, h.faultCannotStart, h.faultStoreOutage,
		h.faultKillBoth, h.faultOrphan, h.faultConnections,
	} {
		if err := f(ctx, rep); err != nil {
			return err
		}
	}
	return nil
}

// faultSpec is the load kept up during a fault.
func (h *harness) faultSpec(url, key string, length time.Duration) loadSpec {
	return loadSpec{URL: url, Credential: key, Concurrency: faultConcurrency,
		MaxRequests: h.opts.requests, MaxDuration: length, Tokens: true, Events: true,
		RequestTimeout: 10 * time.Second}
}

// faultKillPlugin kills the plugin under load: the host must stay up and answer 503
// while the plugin is down, the plugin must be back within recoveryGoal, and every
// invite answered 201 must be redeemable afterwards.
func (h *harness) faultKillPlugin(ctx context.Context, rep *report) (err error) {
	const name = "fault: SIGKILL plugin under load"
	x, key, err := h.startServer(ctx, "fault-plugin")
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			err = errors.Join(err, h.stopServer(rep, x, "xmppd (fault-plugin)"))
		}
	}()
	oldPID, err := x.PluginPID(ctx, 0, 5*time.Second)
	if err != nil {
		return err
	}
	var res loadResult
	var lerr error
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		res, lerr = runLoad(ctx, h.faultSpec(x.URL, key, killRunLength))
	}()
	if err := sleep(ctx, killAfter); err != nil {
		<-loaded
		return err
	}
	killed := time.Now()
	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		<-loaded
		return fmt.Errorf("killing the plugin: %w", err)
	}
	newPID, perr := x.PluginPID(ctx, oldPID, 10*time.Second)
	respawn := time.Since(killed)
	<-loaded
	if lerr != nil {
		return lerr
	}
	rep.add(row{Run: name, Concurrency: faultConcurrency, Result: res, Expect: http.StatusCreated, order: orderFaults,
		Note: "(503s expected while the plugin restarts)"})

	killAt := killed.Sub(res.Start)
	after := eventsAfter(res.Events, killAt)
	recovery, recovered := recoveryTime(after, killAt)
	n503 := res.Statuses[http.StatusServiceUnavailable]
	other := res.Sent - res.OK - n503
	h.logf("%s: respawn %s, first 201 after the failures %s after the kill; 503×%d, other %s",
		name, respawn.Round(time.Millisecond), recovery.Round(time.Millisecond), n503, res.statusSummary(http.StatusCreated))

	rep.check("kill plugin: host stays up", !x.Exited(), fmt.Sprintf("xmppd pid %d alive after the run", x.PID()))
	rep.check("kill plugin: 503 with Retry-After while the plugin is down", n503 > 0 && res.NoRetryAfter == 0,
		fmt.Sprintf("503×%d, %d of them without Retry-After; every answer not 201: %s",
			n503, res.NoRetryAfter, res.statusSummary(http.StatusCreated)))
	if perr != nil {
		rep.check("kill plugin: plugin restarted", false, perr.Error())
	} else {
		rep.check(fmt.Sprintf("kill plugin: back within %s", recoveryGoal), recovered && recovery <= recoveryGoal,
			fmt.Sprintf("new plugin pid %d after %s; invites created again %s after the kill",
				newPID, respawn.Round(time.Millisecond), durationOr(recovery, recovered)))
	}
	// Requests in flight when the plugin died may fail otherwise than with 503 (the
	// exchange was cut); more than that many would mean the host mishandles the outage.
	rep.check("kill plugin: no failures but 503 beyond the requests in flight", other <= faultConcurrency,
		fmt.Sprintf("%d answers neither 201 nor 503 (at most %d were in flight)", other, faultConcurrency))

	db, err := x.StorePath()
	if err != nil {
		return err
	}
	stopped = true
	if err := h.stopServer(rep, x, "xmppd (fault-plugin)"); err != nil {
		return err
	}
	missing, detail, err := checkTokens(ctx, db, res.Tokens)
	if err != nil {
		return err
	}
	rep.check("kill plugin: every invite answered 201 is redeemable", missing == 0, detail)
	return nil
}

// faultKillBoth kills xmppd and its plugin together under load; after a restart on the
// same data, every invite answered 201 must be there.
func (h *harness) faultKillBoth(ctx context.Context, rep *report) error {
	const name = "fault: SIGKILL host + plugin under load"
	x, key, err := h.startServer(ctx, "fault-host")
	if err != nil {
		return err
	}
	if _, err := x.PluginPID(ctx, 0, 5*time.Second); err != nil {
		_ = x.Stop(10 * time.Second)
		return err
	}
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var res loadResult
	var lerr error
	loaded := make(chan struct{})
	go func() {
		defer close(loaded)
		res, lerr = runLoad(lctx, h.faultSpec(x.URL, key, 30*time.Second))
	}()
	if err := sleep(ctx, killAfter); err != nil {
		stopLoad()
		<-loaded
		return err
	}
	// The whole process group at once: host and plugin die together.
	if err := syscall.Kill(-x.PID(), syscall.SIGKILL); err != nil {
		stopLoad()
		<-loaded
		return fmt.Errorf("killing xmppd and its plugin: %w", err)
	}
	_ = sleep(ctx, 200*time.Millisecond)
	stopLoad()
	<-loaded
	_, _ = x.StopChecked(time.Second) // reaps the process, closes the log
	if lerr != nil {
		return lerr
	}
	rep.add(row{Run: name, Concurrency: faultConcurrency, Result: res, Expect: http.StatusCreated, order: orderFaults,
		Note: "(failures after the kill are expected)"})
	h.logf("%s: %d invites answered 201 before the kill", name, res.OK)

	x2, err := startXMPPD(ctx, h.bins, x.DataDir, "fault-host-restart")
	if err != nil {
		rep.check("kill host+plugin: xmppd restarts on the same data", false, err.Error())
		return nil
	}
	one, err := runLoad(ctx, loadSpec{URL: x2.URL, Credential: key, Concurrency: 1, MaxRequests: 1, MaxDuration: 10 * time.Second})
	if err != nil {
		_ = x2.Stop(10 * time.Second)
		return err
	}
	rep.check("kill host+plugin: restarted xmppd creates invites with the old key", one.OK == 1, statusLine(one))
	db, err := x2.StorePath()
	if err != nil {
		_ = x2.Stop(10 * time.Second)
		return err
	}
	if err := h.stopServer(rep, x2, "xmppd (fault-host-restart)"); err != nil {
		return err
	}
	missing, detail, err := checkTokens(ctx, db, res.Tokens)
	if err != nil {
		return err
	}
	rep.check("kill host+plugin: every invite answered 201 is present after restart", missing == 0 && res.OK > 0, detail)
	return nil
}

// orphanWait is how long a plugin whose host was killed is given to exit by itself.
const orphanWait = 5 * time.Second

// faultOrphan kills xmppd alone and watches its plugin: a plugin left without its host
// should exit by itself rather than run on, holding the store open.
// This goes beyond the fault runs, so a plugin that stays is reported as a
// warning; the harness then kills it through the process group.
func (h *harness) faultOrphan(ctx context.Context, rep *report) error {
	x, _, err := h.startServer(ctx, "fault-orphan")
	if err != nil {
		return err
	}
	pid, err := x.PluginPID(ctx, 0, 5*time.Second)
	if err != nil {
		_ = x.Stop(10 * time.Second)
		return err
	}
	if err := x.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		_ = x.Stop(10 * time.Second)
		return fmt.Errorf("killing xmppd: %w", err)
	}
	killed := time.Now()
	<-x.exited
	for alive(pid) && time.Since(killed) < orphanWait {
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			break
		}
	}
	gone := !alive(pid)
	detail := fmt.Sprintf("plugin pid %d exited %s after xmppd was killed", pid, time.Since(killed).Round(10*time.Millisecond))
	if !gone {
		detail = fmt.Sprintf("plugin pid %d still running %s after xmppd was killed (parent now pid 1); killed by the harness", pid, orphanWait)
	}
	_, _ = x.StopChecked(time.Second) // kills what is left of the group, closes the log
	rep.advise("kill host alone: its plugin exits by itself", gone, detail)
	return nil
}

// faultConnections holds idleConns idle connections and one slow-header client open
// against xmppd's HTTP server: invites must still be created meanwhile, and the server's
// timeouts must close them.
func (h *harness) faultConnections(ctx context.Context, rep *report) (err error) {
	const name = "fault: 2,000 idle conns + slow headers"
	x, key, err := h.startServer(ctx, "fault-conns")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.stopServer(rep, x, "xmppd (fault-conns)")) }()

	hctx, cancel := context.WithTimeout(ctx, connCloseWait+time.Minute)
	defer cancel()
	opened := time.Now()
	idle, dialErrs, firstDialErr := openIdle(hctx, x.HTTPAddr, idleConns)
	h.logf("%s: %d idle connections open (%d dials failed) in %s", name, len(idle.conns), dialErrs,
		time.Since(opened).Round(time.Millisecond))
	if firstDialErr != nil {
		h.logf("first dial error: %v", firstDialErr)
	}
	slow := startSlowHeader(hctx, x.HTTPAddr)

	length := min(h.opts.duration, 3*time.Second)
	res, err := runLoad(ctx, loadSpec{URL: x.URL, Credential: key, Concurrency: faultConcurrency,
		MaxRequests: h.opts.requests, MaxDuration: length})
	if err != nil {
		idle.closeAll()
		return err
	}
	rep.add(row{Run: name, Concurrency: faultConcurrency, Result: res, Expect: http.StatusCreated, order: orderFaults})
	rep.check("idle + slow clients: invites still created while they are open",
		res.OK > 0 && res.Unexpected() == 0 && dialErrs == 0,
		fmt.Sprintf("%d idle connections (%d dials failed), slow client open; %d of %d requests answered 201 %s; open-file limit of xmppd %s, of this harness %d",
			len(idle.conns), dialErrs, res.OK, res.Sent, res.statusSummary(http.StatusCreated), openFileLimit(x.PID()), h.fileLimit))

	// The server's timeouts, not this harness, must close them.
	closedAll := idle.wait(hctx, connCloseWait)
	idle.closeAll()
	n, latest := idle.closedByServer()
	rep.check("idle connections closed by the server's timeouts", closedAll,
		fmt.Sprintf("%d of %d closed by the server, the last %s after opening (waited at most %s)",
			n, len(idle.conns), latest.Round(100*time.Millisecond), connCloseWait))
	sres := slow.wait(hctx, connCloseWait)
	rep.check("slow-header client cut off by the server", sres.closedByServer,
		fmt.Sprintf("sent %d header bytes one every %s; %s", sres.sent, slowByteEvery, sres.detail))
	return nil
}

// idleSet is a set of idle connections, each watched for the server closing it.
type idleSet struct {
	conns  []net.Conn
	opened time.Time
	mu     sync.Mutex
	closed []time.Duration // per conn, 0 while open
	wg     sync.WaitGroup
}

// idleAddrs is how many loopback addresses (127.0.0.2 and up) the idle connections
// come from, as many as xmppd's per-address bound lets each hold (100 by default): the
// load they stand beside comes from 127.0.0.1.
const idleAddrs = 20

// openIdle opens n connections that send nothing, from idleAddrs addresses in turn.
func openIdle(ctx context.Context, addr string, n int) (*idleSet, int, error) {
	s := &idleSet{opened: time.Now()}
	fails := 0
	var first error
	for i := range n {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i%idleAddrs))}}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			fails++
			if first == nil {
				first = err
			}
			continue
		}
		s.conns = append(s.conns, c)
	}
	s.closed = make([]time.Duration, len(s.conns))
	for i, c := range s.conns {
		s.wg.Go(func() {
			var buf [512]byte
			for {
				if _, err := c.Read(buf[:]); err != nil {
					if !errors.Is(err, net.ErrClosed) {
						s.mu.Lock()
						s.closed[i] = time.Since(s.opened)
						s.mu.Unlock()
					}
					return
				}
			}
		})
	}
	return s, fails, first
}

// wait waits until the server has closed every connection, or for at most d.
func (s *idleSet) wait(ctx context.Context, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		n, _ := s.closedByServer()
		return n == len(s.conns)
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// closedByServer says how many the server closed, and when the last of them went.
func (s *idleSet) closedByServer() (int, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	var latest time.Duration
	for _, c := range s.closed {
		if c > 0 {
			n++
			latest = max(latest, c)
		}
	}
	return n, latest
}

// closeAll closes every connection from this side and waits for the watchers.
func (s *idleSet) closeAll() {
	for _, c := range s.conns {
		c.Close()
	}
	s.wg.Wait()
}

// slowResult is what became of the slow-header client.
type slowResult struct {
	sent           int
	closedByServer bool
	detail         string
}

// slowClient sends a request's headers one byte at a time.
type slowClient struct {
	done chan slowResult
	stop context.CancelFunc
}

// startSlowHeader connects and trickles a request's header, one byte every
// slowByteEvery, until the server closes the connection or the context ends.
func startSlowHeader(ctx context.Context, addr string) *slowClient {
	ctx, stop := context.WithCancel(ctx)
	sc := &slowClient{done: make(chan slowResult, 1), stop: stop}
	go func() {
		sc.done <- trickle(ctx, addr)
	}()
	return sc
}

func trickle(ctx context.Context, addr string) slowResult {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return slowResult{detail: "dial: " + err.Error()}
	}
	defer c.Close()
	start := time.Now()
	// The server may answer (such as 408) or just close: either ends the read.
	closed := make(chan string, 1)
	go func() {
		b, err := io.ReadAll(c)
		switch {
		case len(b) > 0:
			line, _, _ := bytes.Cut(b, []byte{'\r'})
			closed <- fmt.Sprintf("server answered %q and closed", line)
		case err != nil && errors.Is(err, net.ErrClosed):
			closed <- ""
		default:
			closed <- "server closed the connection"
		}
	}()
	header := []byte("GET " + apiPath + " HTTP/1.1\r\nHost: " + addr + "\r\nX-Slow: ")
	payload := append(header, []byte(strings.Repeat("a", 100_000))...)
	sent := 0
	tick := time.NewTicker(slowByteEvery)
	defer tick.Stop()
	for sent < len(payload) {
		select {
		case why := <-closed:
			return slowResult{sent: sent, closedByServer: why != "",
				detail: fmt.Sprintf("%s after %s", why, time.Since(start).Round(100*time.Millisecond))}
		case <-ctx.Done():
			return slowResult{sent: sent, detail: fmt.Sprintf("still open after %s", time.Since(start).Round(time.Second))}
		case <-tick.C:
		}
		if _, err := c.Write(payload[sent : sent+1]); err != nil {
			return slowResult{sent: sent, closedByServer: true,
				detail: fmt.Sprintf("write failed after %s: %v", time.Since(start).Round(100*time.Millisecond), err)}
		}
		sent++
	}
	return slowResult{sent: sent, detail: "the whole header went through unhindered"}
}

// wait returns the slow client's fate, waiting at most d.
func (sc *slowClient) wait(ctx context.Context, d time.Duration) slowResult {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-sc.done:
		return r
	case <-t.C:
	case <-ctx.Done():
	}
	sc.stop()
	return <-sc.done
}

// checkTokens opens the store at path (the server must have stopped) and checks that
// every token names an invite that can be redeemed.
func checkTokens(ctx context.Context, path string, tokens []string) (missing int, detail string, err error) {
	st, err := store.Open(ctx, path, nil)
	if err != nil {
		return 0, "", fmt.Errorf("opening the store to check invites: %w", err)
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: benchDomain}}})
	if err != nil {
		return 0, "", fmt.Errorf("core service: %w", err)
	}
	var first error
	for _, t := range slices.Compact(slices.Sorted(slices.Values(tokens))) {
		if _, cerr := svc.CheckInvite(ctx, benchDomain, t); cerr != nil {
			missing++
			if first == nil {
				first = cerr
			}
		}
	}
	detail = fmt.Sprintf("%d tokens answered 201, %d not redeemable", len(tokens), missing)
	if first != nil {
		detail += fmt.Sprintf(" (first: %v)", first)
	}
	return missing, detail, nil
}

// eventsAfter returns the events that ended after t.
func eventsAfter(evs []event, t time.Duration) []event {
	i, _ := slices.BinarySearchFunc(evs, t, func(e event, t time.Duration) int { return int(e.At - t) })
	return evs[i:]
}

// recoveryTime finds the first failure after killAt, then the first 201 after it, and
// returns how long after killAt that 201 came.
func recoveryTime(after []event, killAt time.Duration) (time.Duration, bool) {
	failed := false
	for _, e := range after {
		if e.Status != http.StatusCreated {
			failed = true
			continue
		}
		if failed {
			return e.At - killAt, true
		}
	}
	return 0, false
}

func durationOr(d time.Duration, ok bool) string {
	if !ok {
		return "never (within the run)"
	}
	return d.Round(time.Millisecond).String()
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
