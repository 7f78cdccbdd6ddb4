package host_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/host"
	"github.com/xmpp-invites/invites/plugin"
)

// Regression tests for the hardening of issue 15; each failed on the version-1 host
// (see the commit that added them).

// testNeverGivesUp kills the plugin more often than the version-1 host's restart budget
// (5 in 10 minutes) allowed: it must come back every time.
func testNeverGivesUp(t *testing.T, bin string) {
	dataDir := t.TempDir()
	cred := newKey(t, dataDir)
	p, _ := load(t, bin, dataDir, func(c *host.Config) {
		c.MinBackoff = 10 * time.Millisecond
		c.MaxBackoff = 50 * time.Millisecond
	})
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()
	for i := range 7 {
		pid := p.PID()
		if pid == 0 {
			t.Fatalf("kill %d: no plugin process", i)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if !waitFor(10*time.Second, func() bool { n := p.PID(); return n != 0 && n != pid }) {
			t.Fatalf("kill %d: plugin not restarted", i)
		}
	}
	if code, _, _, err := createInvite(t.Context(), srv.Client(), srv.URL, cred); code != http.StatusCreated {
		t.Errorf("after 7 kills: %d, %v", code, err)
	}
}

// wrapper returns a script that runs bin, or fails at once while the file flag exists.
func wrapper(t *testing.T, bin string) (path, flag string) {
	dir := t.TempDir()
	flag = filepath.Join(dir, "fail")
	path = filepath.Join(dir, "invites-plugin-wrapper")
	script := fmt.Sprintf("#!/bin/sh\nif [ -e %q ]; then echo 'cannot start' >&2; exit 1; fi\nexec %q \"$@\"\n", flag, bin)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path, flag
}

// testRecovers makes every start fail for a while (as a database outage makes
// Configure fail): the host retries with backoff, says when in Retry-After, logs each
// failure once at error level, and recovers by itself when starts work again.
func testRecovers(t *testing.T, bin string) {
	dataDir := t.TempDir()
	cred := newKey(t, dataDir)
	script, flag := wrapper(t, bin)
	p, logs := load(t, script, dataDir, func(c *host.Config) {
		c.MinBackoff = 1 * time.Second
		c.MaxBackoff = 2 * time.Second
	})
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pid := p.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The first restart is at once, and fails; the next is planned a second later.
	if !waitFor(10*time.Second, func() bool { return strings.Contains(logs.String(), "could not start") }) {
		t.Fatal("no failed start logged")
	}
	code, _, h, err := createInvite(t.Context(), srv.Client(), srv.URL, cred)
	ra, _ := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || code != http.StatusServiceUnavailable || ra < 1 || ra > 2 {
		t.Errorf("while starts fail: %d Retry-After %q, %v; want 503 and the next attempt, 1 or 2 s", code, h.Get("Retry-After"), err)
	}
	time.Sleep(4 * time.Second) // more failures, at the capped backoff
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { n := p.PID(); return n != 0 && n != pid }) {
		t.Fatal("plugin did not recover by itself")
	}
	if code, _, _, err := createInvite(t.Context(), srv.Client(), srv.URL, cred); code != http.StatusCreated {
		t.Errorf("after recovery: %d, %v", code, err)
	}
	// One error line per failure: the host's; go-plugin's own errors are warnings.
	var errorsLogged, failures int
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, "level=ERROR") {
			errorsLogged++
		}
		if strings.Contains(line, `msg="invites plugin could not start"`) {
			failures++
		}
	}
	if failures < 3 || errorsLogged != failures+1 { // +1: "invites plugin down"
		t.Errorf("%d error lines for %d failed starts, want one each and one for the crash", errorsLogged, failures)
	}
}

// testHung stops the plugin (SIGSTOP): requests must get 503 within the health
// deadline, not hang, and the plugin must be killed and replaced.
func testHung(t *testing.T, bin string) {
	dataDir := t.TempDir()
	cred := newKey(t, dataDir)
	const interval, timeout, failures = 200 * time.Millisecond, 500 * time.Millisecond, 3
	deadline := interval + failures*timeout
	p, _ := load(t, bin, dataDir, func(c *host.Config) {
		c.HealthInterval, c.HealthTimeout, c.HealthFailures = interval, timeout, failures
	})
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()
	client := &http.Client{Timeout: 30 * time.Second}
	if code, _, _, err := createInvite(t.Context(), client, srv.URL, cred); code != http.StatusCreated {
		t.Fatalf("before: %d, %v", code, err)
	}
	pid := p.PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Kill(pid, syscall.SIGCONT) }()
	stopped := time.Now()
	// Requests sent meanwhile: none may hang past the deadline (plus scheduling slack).
	var wg sync.WaitGroup
	type result struct {
		code int
		took time.Duration
		err  error
	}
	results := make(chan result, 8)
	for range 8 {
		wg.Go(func() {
			start := time.Now()
			code, _, _, err := createInvite(t.Context(), client, srv.URL, cred)
			results <- result{code, time.Since(start), err}
		})
		time.Sleep(100 * time.Millisecond)
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.err != nil || r.code != http.StatusServiceUnavailable && r.code != http.StatusCreated || r.took > deadline+2*time.Second {
			t.Errorf("request while hung: %d after %v, %v; want 503 within %v", r.code, r.took.Round(time.Millisecond), r.err, deadline)
		}
	}
	if !waitFor(10*time.Second, func() bool { n := p.PID(); return n != 0 && n != pid }) {
		t.Fatal("hung plugin not replaced")
	}
	t.Logf("hung plugin replaced %v after SIGSTOP", time.Since(stopped).Round(time.Millisecond))
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		// It may still be a zombie for a moment; it must not be running.
		if b, rerr := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); rerr == nil && !strings.Contains(string(b), ") Z ") {
			t.Errorf("the hung process %d still exists: %s", pid, b)
		}
	}
	if code, _, _, err := createInvite(t.Context(), client, srv.URL, cred); code != http.StatusCreated {
		t.Errorf("after: %d, %v", code, err)
	}
}

// testTruncatedBody sends a POST whose body ends early (the client half-closes), and
// one whose body stalls past the server's read timeout: neither may get a 2xx.
func testTruncatedBody(t *testing.T, bin string) {
	dataDir := t.TempDir()
	cred := newKey(t, dataDir)
	p, _ := load(t, bin, dataDir, nil)
	srv := httptest.NewUnstartedServer(p.Handler())
	srv.Config.ReadTimeout = time.Second
	srv.Start()
	defer srv.Close()
	for _, stall := range []bool{false, true} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /invites_api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nttl=3600", cred)
		if !stall {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		switch {
		case err == nil && resp.StatusCode < 400:
			t.Errorf("stall %v: answered %d", stall, resp.StatusCode)
		case err == nil:
			t.Logf("stall %v: %d", stall, resp.StatusCode)
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			t.Logf("stall %v: connection closed", stall)
		default:
			t.Errorf("stall %v: %v", stall, err)
		}
		_ = conn.Close()
	}
}

// testStaleSockets checks that go-plugin's sockets live in a directory of the Load's
// own inside Config.SocketDir; that Load removes the directories of hosts that are gone
// and never touches another live host's, even a socket nobody listens on yet (a plugin
// between bind and listen); that a restart removes the killed plugin's socket; and that
// Close removes the directory.
func testStaleSockets(t *testing.T, bin string) {
	dir := t.TempDir()
	// A socket nobody listens on, as a SIGKILL leaves it, in the directory of a host
	// process that is gone (no PID is that large).
	deadHost := filepath.Join(dir, "host-999999999-x")
	if err := os.Mkdir(deadHost, 0o700); err != nil {
		t.Fatal(err)
	}
	unlistened := func(path string) {
		l, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		l.(*net.UnixListener).SetUnlinkOnClose(false)
		_ = l.Close()
	}
	unlistened(filepath.Join(deadHost, "plugin111"))
	// Another live host's directory (this process's PID), with a socket that refuses
	// connections, as one does between a starting plugin's bind and listen.
	liveHost := filepath.Join(dir, fmt.Sprintf("host-%d-other", os.Getpid()))
	if err := os.Mkdir(liveHost, 0o700); err != nil {
		t.Fatal(err)
	}
	unlistened(filepath.Join(liveHost, "plugin222"))

	p, _ := load(t, bin, t.TempDir(), func(c *host.Config) { c.SocketDir = dir })
	if _, err := os.Stat(deadHost); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a gone host's directory kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(liveHost, "plugin222")); err != nil {
		t.Errorf("a live host's socket removed: %v", err)
	}
	own := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("host-%d-*", os.Getpid()), "plugin*"))
		return slices.DeleteFunc(m, func(s string) bool { return strings.HasPrefix(s, liveHost) })
	}
	if got := own(); len(got) != 1 {
		t.Fatalf("the plugin's sockets: %v, want one", got)
	}
	// SIGKILL leaves the plugin's socket behind; the restart removes it.
	pid := p.PID()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { n := p.PID(); return n != 0 && n != pid }) {
		t.Fatal("not restarted")
	}
	if got := own(); len(got) != 1 {
		t.Errorf("after the restart: %v, want the new plugin's socket only", got)
	}
	ownDir := filepath.Dir(own()[0])
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ownDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Close left the socket directory: %v", err)
	}
}

// testMount checks that Mount routes the Manifest's paths to the plugin beside the
// host's own routes.
func testMount(t *testing.T, bin string) {
	p, _ := load(t, bin, t.TempDir(), nil)
	if got := p.Manifest().Routes; len(got) == 0 || got[0].Path != plugin.PathAPI || got[0].MaxBodyBytes != 64<<10 {
		t.Fatalf("routes %+v", got)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/own", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	p.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for path, want := range map[string]int{
		"/own":                 http.StatusTeapot,
		"/invites_api":         http.StatusForbidden,
		"/invites_api/invites": http.StatusForbidden, // the lifecycle list: no key
		"/invites_api/nothing": http.StatusNotFound,
		"/metrics":             http.StatusNotFound,
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		resp, err := srv.Client().Do(req)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
}
