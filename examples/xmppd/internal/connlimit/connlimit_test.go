package connlimit_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/connlimit"
	"github.com/xmpp-invites/invites/internal/testlog"
)

// serve runs an HTTP server on a limited listener on 127.0.0.1 and returns its
// address and the listener; requests to /hold are held until the test ends, counted
// in held.
func serve(t *testing.T, opts connlimit.Options) (addr string, l *connlimit.Listener, held *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l = connlimit.New(ln, opts)
	held = new(atomic.Int32)
	release := make(chan struct{})
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" { // a request in progress until the test ends
				held.Add(1)
				<-release
			}
			_, _ = io.WriteString(w, "ok")
		}),
		ConnState:         l.ConnState,
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	t.Cleanup(func() { close(release) }) // before Shutdown, which waits for requests
	return ln.Addr().String(), l, held
}

// dial opens a TCP connection from the local address from.
func dial(t *testing.T, addr, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// get sends a keep-alive GET on c and returns the status line and the body.
func get(c net.Conn) (int, string, error) {
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return 0, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestPerAddress: one address holds at most MaxConnsPerAddr connections; the next
// is answered 503 saying why, another address still gets in, and a connection that
// closes gives its place back.
func TestPerAddress(t *testing.T) {
	var logs testlog.Buffer
	addr, l, _ := serve(t, connlimit.Options{MaxConns: 100, MaxConnsPerAddr: 3, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	var held []net.Conn
	for range 3 {
		c := dial(t, addr, "127.0.0.2")
		if code, _, err := get(c); err != nil || code != 200 {
			t.Fatalf("within the bound: %d %v", code, err)
		}
		held = append(held, c)
	}
	for range 5 {
		code, body, err := get(dial(t, addr, "127.0.0.2"))
		if err != nil || code != 503 || body != "too many connections from your address (at most 3)\n" {
			t.Fatalf("past the bound: %d %q %v", code, body, err)
		}
	}
	if code, _, err := get(dial(t, addr, "127.0.0.3")); err != nil || code != 200 {
		t.Fatalf("another address: %d %v", code, err)
	}
	_ = held[0].Close()
	if !eventually(func() bool { return l.Open() <= 3 }) {
		t.Fatalf("%d connections still counted", l.Open())
	}
	if code, _, err := get(dial(t, addr, "127.0.0.2")); err != nil || code != 200 {
		t.Fatalf("after one closed: %d %v", code, err)
	}
	if lines := logs.Lines("HTTP connection refused", "client=127.0.0.2"); len(lines) != 1 {
		t.Fatalf("5 refusals logged as %d lines:\n%s", len(lines), logs.String())
	}
}

// TestTotal: past MaxConns, an idle connection (keep-alive between requests, or one
// that has sent nothing yet) is closed to make room; with none idle, the newcomer is
// answered 503.
func TestTotal(t *testing.T) {
	addr, l, held := serve(t, connlimit.Options{MaxConns: 4, MaxConnsPerAddr: 100})
	var idle []net.Conn
	for i := range 4 {
		c := dial(t, addr, "127.0.0.2")
		if code, _, err := get(c); err != nil || code != 200 {
			t.Fatalf("connection %d: %d %v", i, code, err)
		}
		idle = append(idle, c)
	}
	// All four idle: a fifth takes the place of the least recently used.
	if code, _, err := get(dial(t, addr, "127.0.0.3")); err != nil || code != 200 {
		t.Fatalf("a fifth connection with four idle: %d %v", code, err)
	}
	if _, err := idle[0].Read(make([]byte, 1)); err == nil {
		t.Fatal("the least recently used idle connection is still open")
	}
	if !eventually(func() bool { return l.Open() == 4 }) {
		t.Fatalf("%d connections counted, want 4", l.Open())
	}
	// Connections that have sent no request are as idle: a newcomer takes the place of
	// the oldest of them (holding silent connections keeps no one out).
	var silent []net.Conn
	for range 4 {
		silent = append(silent, dial(t, addr, "127.0.0.4"))
		time.Sleep(10 * time.Millisecond) // in order of age
	}
	if !eventually(func() bool { return l.Open() == 4 }) {
		t.Fatalf("%d connections counted, want 4", l.Open())
	}
	if code, _, err := get(dial(t, addr, "127.0.0.5")); err != nil || code != 200 {
		t.Fatalf("a connection with four silent ones: %d %v", code, err)
	}
	if _, err := silent[0].Read(make([]byte, 1)); err == nil {
		t.Fatal("the oldest silent connection is still open")
	}
	// Connections with a request in progress are not idle: past the bound, 503.
	var busy []net.Conn
	for range 4 {
		c := dial(t, addr, "127.0.0.6")
		if _, err := io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		busy = append(busy, c)
	}
	if !eventually(func() bool { return l.Open() == 4 }) {
		t.Fatalf("%d connections counted, want 4", l.Open())
	}
	if !eventually(func() bool { return held.Load() == 4 }) { // their requests in their handlers: active
		t.Fatalf("%d requests held, want 4", held.Load())
	}
	code, body, err := get(dial(t, addr, "127.0.0.7"))
	if err != nil || code != 503 || !strings.Contains(body, "too many connections") {
		t.Fatalf("past the bound with none idle: %d %q %v", code, body, err)
	}
	_ = busy
}

func eventually(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}
