package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresDSN is the database of the outage run: INVITES_TEST_POSTGRES, as for the
// tests, or the local server.
func postgresDSN() string {
	if s := os.Getenv("INVITES_TEST_POSTGRES"); s != "" {
		return s
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// The fault runs of issue 15: a hung plugin, a plugin that cannot start for a while, a
// store that goes away for a while.

// healthDeadline is how long xmppd (host's defaults: a check every 2 s, 2 s each, 3
// failures in a row) takes at most to declare a hung plugin dead.
const healthDeadline = 2*time.Second + 3*2*time.Second

// faultStopPlugin stops the plugin (SIGSTOP) under load: every request must be answered
// within the health deadline (503 while it is hung and restarting), the plugin must be
// killed and replaced, and every invite answered 201 must be there afterwards.
func (h *harness) faultStopPlugin(ctx context.Context, rep *report) (err error) {
	const name = "fault: SIGSTOP plugin under load"
	x, key, err := h.startServer(ctx, "fault-stop")
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			err = errors.Join(err, h.stopServer(rep, x, "xmppd (fault-stop)"))
		}
	}()
	oldPID, err := x.PluginPID(ctx, 0, 5*time.Second)
	if err != nil {
		return err
	}
	var res loadResult
	var lerr error
	loaded := make(chan struct{})
	spec := h.faultSpec(x.URL, key, killAfter+healthDeadline+4*time.Second)
	spec.RequestTimeout = 30 * time.Second
	go func() {
		defer close(loaded)
		res, lerr = runLoad(ctx, spec)
	}()
	if err := sleep(ctx, killAfter); err != nil {
		<-loaded
		return err
	}
	stoppedAt := time.Now()
	if err := syscall.Kill(oldPID, syscall.SIGSTOP); err != nil {
		<-loaded
		return fmt.Errorf("stopping the plugin: %w", err)
	}
	defer func() { _ = syscall.Kill(oldPID, syscall.SIGCONT) }()
	newPID, perr := x.PluginPID(ctx, oldPID, 30*time.Second)
	replaced := time.Since(stoppedAt)
	<-loaded
	if lerr != nil {
		return lerr
	}
	rep.add(row{Run: name, Concurrency: faultConcurrency, Result: res, Expect: http.StatusCreated, order: orderFaults,
		Note: "(503s expected until the hung plugin is replaced)"})
	stopAt := stoppedAt.Sub(res.Start)
	recovery, recovered := recoveryTime(eventsAfter(res.Events, stopAt), stopAt)
	worst := time.Duration(0)
	if n := len(res.Latencies); n > 0 {
		worst = res.Latencies[n-1]
	}
	n503 := res.Statuses[http.StatusServiceUnavailable]
	h.logf("%s: replaced after %s, invites again after %s, slowest answer %s; %s",
		name, replaced.Round(time.Millisecond), recovery.Round(time.Millisecond), ms(worst), res.statusSummary(http.StatusCreated))
	if perr != nil {
		rep.check("SIGSTOP plugin: killed and replaced", false, perr.Error())
	} else {
		rep.check(fmt.Sprintf("SIGSTOP plugin: killed and replaced within the health deadline (%s)", healthDeadline),
			replaced <= healthDeadline+time.Second && recovered,
			fmt.Sprintf("new plugin pid %d %s after SIGSTOP; invites created again %s after it",
				newPID, replaced.Round(time.Millisecond), durationOr(recovery, recovered)))
	}
	rep.check("SIGSTOP plugin: no request hangs past the health deadline", worst <= healthDeadline+2*time.Second && res.TransportErrors == 0,
		fmt.Sprintf("slowest answer %s; %s; 503×%d, %d without Retry-After", ms(worst), statusLine(res), n503, res.NoRetryAfter))
	db, err := x.StorePath()
	if err != nil {
		return err
	}
	stopped = true
	if err := h.stopServer(rep, x, "xmppd (fault-stop)"); err != nil {
		return err
	}
	missing, detail, err := checkTokens(ctx, db, res.Tokens)
	if err != nil {
		return err
	}
	rep.check("SIGSTOP plugin: every invite answered 201 is redeemable", missing == 0, detail)
	return nil
}

// cannotStartFor is how long the plugin cannot start in faultCannotStart.
const cannotStartFor = 20 * time.Second

// faultCannotStart kills the plugin and makes every start fail for cannotStartFor (its
// binary exits at once), then lets it start: xmppd must answer 503 with Retry-After
// meanwhile, log each failed start once at error level, and recover by itself within the
// longest backoff (30 s) of the fix.
func (h *harness) faultCannotStart(ctx context.Context, rep *report) (err error) {
	const name = "fault: plugin cannot start for 20 s"
	dir := filepath.Join(h.dir, "fault-nostart")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	flag := filepath.Join(dir, "fail")
	wrapper := filepath.Join(dir, "invites-plugin")
	script := fmt.Sprintf("#!/bin/sh\nif [ -e %q ]; then echo 'cannot start' >&2; exit 1; fi\nexec %q \"$@\"\n", flag, h.bins.Plugin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		return err
	}
	bins := h.bins
	bins.Plugin = wrapper
	x, err := startXMPPD(ctx, bins, filepath.Join(dir, "data"), "fault-nostart")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.stopServer(rep, x, "xmppd (fault-nostart)")) }()
	key, err := x.CreateKey(ctx, "bench")
	if err != nil {
		return err
	}
	oldPID, err := x.PluginPID(ctx, 0, 5*time.Second)
	if err != nil {
		return err
	}
	var res loadResult
	var lerr error
	loaded := make(chan struct{})
	spec := h.faultSpec(x.URL, key, killAfter+cannotStartFor+35*time.Second)
	spec.Concurrency = 2 // 503s come back at once: two clients are plenty
	spec.MaxRequests = 0 // no cap: the run must outlast the outage
	spec.Events = true
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	go func() {
		defer close(loaded)
		res, lerr = runLoad(lctx, spec)
	}()
	if err := sleep(ctx, killAfter); err != nil {
		stopLoad()
		<-loaded
		return err
	}
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		stopLoad()
		<-loaded
		return err
	}
	killed := time.Now()
	_ = syscall.Kill(oldPID, syscall.SIGKILL)
	_ = sleep(ctx, cannotStartFor)
	if err := os.Remove(flag); err != nil {
		stopLoad()
		<-loaded
		return err
	}
	fixed := time.Now()
	newPID, perr := x.PluginPID(ctx, oldPID, 40*time.Second)
	back := time.Since(fixed)
	_ = sleep(ctx, time.Second)
	stopLoad()
	<-loaded
	if lerr != nil {
		return lerr
	}
	rep.add(row{Run: name, Concurrency: spec.Concurrency, Result: res, Expect: http.StatusCreated, order: orderFaults,
		Note: "(503s expected while it cannot start)"})
	logText, _ := os.ReadFile(filepath.Join(dir, "fault-nostart.log"))
	fixAt := fixed.Sub(res.Start)
	var servedAgain time.Duration
	for _, e := range eventsAfter(res.Events, fixAt) {
		if e.Status == http.StatusCreated {
			servedAgain = e.At - fixAt
			break
		}
	}
	var failures, errorLines int
	for line := range strings.Lines(string(logText)) {
		if strings.Contains(line, "invites plugin could not start") {
			failures++
		}
		if strings.Contains(line, "level=ERROR") {
			errorLines++
		}
	}
	h.logf("%s: back %s after the fix (pid %d), %d failed starts logged, %d error lines", name,
		back.Round(time.Millisecond), newPID, failures, errorLines)
	rep.check("cannot start for 20 s: recovers by itself", perr == nil && back <= 31*time.Second && servedAgain > 0,
		fmt.Sprintf("new plugin pid %d %s after starts work again (%s after the kill), invites created again %s after; %d failed starts logged",
			newPID, back.Round(time.Millisecond), time.Since(killed).Round(time.Second), durationOr(servedAgain, servedAgain > 0), failures))
	// One error line per failed start, plus one for the crash: go-plugin's own are warnings.
	rep.check("cannot start for 20 s: each failure logged once at error level", failures > 0 && errorLines == failures+1,
		fmt.Sprintf("%d failed starts, %d error lines in xmppd's log", failures, errorLines))
	n503 := res.Statuses[http.StatusServiceUnavailable]
	rep.check("cannot start for 20 s: 503 with Retry-After meanwhile, nothing else", n503 > 0 && res.NoRetryAfter == 0 &&
		res.Sent-res.OK-n503 <= spec.Concurrency && res.TransportErrors == 0,
		fmt.Sprintf("%s; %d without Retry-After", statusLine(res), res.NoRetryAfter))
	return nil
}

// outageFor is how long the store is unreachable in faultStoreOutage.
const outageFor = 10 * time.Second

// faultStoreOutage runs xmppd on PostgreSQL through a proxy of the harness, which
// drops every connection and refuses new ones for outageFor: the plugin must come back
// by itself once the database answers again, and every invite answered 201 must be
// there.
func (h *harness) faultStoreOutage(ctx context.Context, rep *report) (err error) {
	const name = "fault: PostgreSQL unreachable for 10 s"
	base := postgresDSN()
	u, err := url.Parse(base)
	if err != nil {
		return fmt.Errorf("PostgreSQL address: %w", err)
	}
	schema := fmt.Sprintf("bench_outage_%d", time.Now().UnixNano())
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		rep.advise("PostgreSQL outage run", false, "no PostgreSQL: "+err.Error())
		return nil
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		_ = conn.Close(context.WithoutCancel(ctx))
	}()
	px, err := startProxy(ctx, u.Host)
	if err != nil {
		return err
	}
	defer px.Close()
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	direct := u.String()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	u.Host = px.Addr()
	dsn := u.String()
	x, err := startXMPPDWith(ctx, h.bins, filepath.Join(h.dir, "fault-pg", "data"), "fault-pg", serverOptions{config: fmt.Sprintf("store = %q\n", dsn)})
	if err != nil {
		return err
	}
	stopped := false
	defer func() {
		if !stopped {
			err = errors.Join(err, h.stopServer(rep, x, "xmppd (fault-pg)"))
		}
	}()
	key, err := createKeyOn(ctx, h.bins.Plugin, x.DataDir, direct)
	if err != nil {
		return err
	}
	var res loadResult
	var lerr error
	loaded := make(chan struct{})
	spec := h.faultSpec(x.URL, key, killAfter+outageFor+40*time.Second)
	lctx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	go func() {
		defer close(loaded)
		res, lerr = runLoad(lctx, spec)
	}()
	if err := sleep(ctx, killAfter); err != nil {
		stopLoad()
		<-loaded
		return err
	}
	down := time.Now()
	px.SetDown(true)
	_ = sleep(ctx, outageFor)
	px.SetDown(false)
	up := time.Now()
	// Wait for invites again, at most 40 s.
	var back time.Duration
	probe := loadSpec{URL: x.URL, Credential: key, Concurrency: 1, MaxRequests: 1, MaxDuration: 5 * time.Second}
	for time.Since(up) < 40*time.Second {
		r, err := runLoad(ctx, probe)
		if err == nil && r.OK == 1 {
			back = time.Since(up)
			break
		}
		_ = sleep(ctx, 200*time.Millisecond)
	}
	_ = sleep(ctx, time.Second)
	stopLoad()
	<-loaded
	if lerr != nil {
		return lerr
	}
	rep.add(row{Run: name, Concurrency: faultConcurrency, Result: res, Expect: http.StatusCreated, order: orderFaults,
		Note: "(failures expected during the outage)"})
	h.logf("%s: invites again %s after the database came back; %s", name, back.Round(time.Millisecond), statusLine(res))
	rep.check("PostgreSQL outage of 10 s: recovers by itself", back > 0,
		fmt.Sprintf("invites created again %s after the database answered again (%s after it went away); %s",
			durationOr(back, back > 0), time.Since(down).Round(time.Second), statusLine(res)))
	stopped = true
	if err := h.stopServer(rep, x, "xmppd (fault-pg)"); err != nil {
		return err
	}
	missing, detail, err := checkTokens(ctx, direct, res.Tokens)
	if err != nil {
		return err
	}
	rep.check("PostgreSQL outage of 10 s: every invite answered 201 is there", missing == 0 && res.OK > 0, detail)
	return nil
}

// proxy forwards TCP connections to a server; while down it drops them all and refuses
// new ones, as a database that went away.
type proxy struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	down     bool
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
}

func startProxy(ctx context.Context, upstream string) (*proxy, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	p := &proxy{ln: ln, upstream: upstream, conns: map[net.Conn]bool{}}
	p.wg.Go(func() { p.accept(ctx) })
	return p, nil
}

// Addr is where clients connect.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) accept(ctx context.Context) {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c] = true
		p.mu.Unlock()
		p.wg.Go(func() { p.forward(ctx, c) })
	}
}

func (p *proxy) forward(ctx context.Context, c net.Conn) {
	var d net.Dialer
	u, err := d.DialContext(ctx, "tcp", p.upstream)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[u] = true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = u.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, u)
	p.mu.Unlock()
}

// SetDown drops every connection and refuses new ones (true), or forwards again.
func (p *proxy) SetDown(down bool) {
	p.mu.Lock()
	p.down = down
	var drop []net.Conn
	if down {
		for c := range p.conns {
			drop = append(drop, c)
		}
	}
	p.mu.Unlock()
	for _, c := range drop {
		_ = c.Close()
	}
}

// Close stops the proxy and its connections.
func (p *proxy) Close() {
	_ = p.ln.Close()
	p.SetDown(true)
	p.wg.Wait()
}

// createKeyOn makes an API key with the invites-plugin command line on the store at dsn.
func createKeyOn(ctx context.Context, pluginBin, dataDir, dsn string) (string, error) {
	cmd := exec.CommandContext(ctx, pluginBin, "-data", dataDir, "-store", dsn, "keys", "create", benchDomain, "bench")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("invites-plugin keys create: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
