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
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/host"
	"github.com/xmpp-invites/invites/plugin"
)

// rawRequest writes head (and body, unless nil) on a new connection to addr, then
// half-closes it when halfClose is set, and reads the answer within 10 s.
func rawRequest(t *testing.T, addr, head string, body io.Reader, halfClose bool) (*http.Response, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	// The body is sent beside reading the answer, which may come before its end.
	go func() {
		if body != nil {
			if _, err := io.Copy(conn, body); err != nil {
				return
			}
		}
		if halfClose {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	return resp, err
}

// trickle yields n bytes of 'a', a chunk of size every pause.
type trickle struct {
	n, size int
	pause   time.Duration
}

func (t *trickle) Read(p []byte) (int, error) {
	if t.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(t.pause)
	n := min(len(p), t.size, t.n)
	for i := range n {
		p[i] = 'a'
	}
	t.n -= n
	return n, nil
}

// testBodyLimits checks each bound on request bodies: a Content-Length over the
// route's limit gets 413 before a byte of the body is sent; a body without one that
// passes the limit gets 413 once it does; a body that would pass the bytes in flight
// gets 503 with Retry-After; a body below the limit, trickled in chunks, reaches the
// plugin whole.
func testBodyLimits(t *testing.T, bin string) {
	dataDir := t.TempDir()
	cred := newKey(t, dataDir)
	serve := func(tune func(*host.Config)) string {
		p, _ := load(t, bin, dataDir, tune)
		mux := http.NewServeMux()
		p.Mount(mux)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	addr := serve(nil)
	head := "POST /invites_api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + cred + "\r\n" +
		"Content-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\n"

	// 413 from the Content-Length alone: no body is ever sent.
	start := time.Now()
	resp, err := rawRequest(t, addr, head+"Content-Length: 15000000\r\n\r\n", nil, false)
	if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge || time.Since(start) > 5*time.Second {
		t.Fatalf("Content-Length over the limit: %v, %v after %v", resp, err, time.Since(start))
	}
	if got := resp.Header.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("413 as %q", got)
	}

	// Chunked, past the limit (64 KiB): 413 once the limit is passed.
	resp, err = rawRequest(t, addr, head+"Transfer-Encoding: chunked\r\n\r\n", chunked(&trickle{n: 15 << 20, size: 8 << 10}), false)
	if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over the limit: %v, %v", resp, err)
	}

	// Past the bytes in flight (48 KiB here), though under the route's limit: 503.
	form := "ttl=3600&note=" + strings.Repeat("n", 50<<10)
	resp, err = rawRequest(t, serve(func(c *host.Config) { c.MaxBodyBytesInFlight = 48 << 10 }), head+"Content-Length: "+strconv.Itoa(len(form))+"\r\n\r\n", strings.NewReader(form), false)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the bytes in flight: %v, %v", resp, err)
	}

	// A body within the bounds, trickled: the plugin reads it all (and refuses the
	// note, which is longer than 280 characters: proof that it read it).
	form = "ttl=3600&note=" + strings.Repeat("n", 300)
	resp, err = rawRequest(t, addr, head+"Transfer-Encoding: chunked\r\n\r\n",
		chunked(io.MultiReader(strings.NewReader(form[:100]), &trickle{n: 0}, strings.NewReader(form[100:]))), false)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("trickled body with a long note: %v, %v; want the plugin's 400", resp, err)
	}
	form = "ttl=3600&note=" + strings.Repeat("n", 200)
	resp, err = rawRequest(t, addr, head+"Transfer-Encoding: chunked\r\n\r\n", chunked(&slowReader{r: strings.NewReader(form), pause: 20 * time.Millisecond}), false)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Errorf("trickled body: %v, %v", resp, err)
	}

	// A body sent over longer than the plugin has to answer is the client's time, not
	// the plugin's: the plugin's answer (400: the note is too long), not 503.
	slow := serve(func(c *host.Config) { c.HTTPTimeout = 500 * time.Millisecond })
	form = "ttl=3600&note=" + strings.Repeat("n", 40<<10)
	resp, err = rawRequest(t, slow, head+"Transfer-Encoding: chunked\r\n\r\n",
		chunked(&slowChunks{r: strings.NewReader(form), size: 4 << 10, pause: 100 * time.Millisecond}), false)
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a body slower than the plugin's timeout: %v, %v; want the plugin's 400", resp, err)
	}
}

// slowChunks yields what r holds size bytes at a time, one read every pause.
type slowChunks struct {
	r     io.Reader
	size  int
	pause time.Duration
}

func (s *slowChunks) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), s.size)])
}

// slowReader yields what r holds ten bytes at a time, one read every pause.
type slowReader struct {
	r     io.Reader
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), 10)])
}

// chunked encodes what r yields as an HTTP/1.1 chunked body, a chunk per read of r.
func chunked(r io.Reader) io.Reader { return &chunker{r: r} }

type chunker struct {
	r    io.Reader
	out  []byte // encoded, not yet read
	done bool
}

func (c *chunker) Read(p []byte) (int, error) {
	for len(c.out) == 0 {
		if c.done {
			return 0, io.EOF
		}
		buf := make([]byte, 32<<10)
		n, err := c.r.Read(buf)
		if n > 0 {
			c.out = fmt.Appendf(c.out, "%x\r\n%s\r\n", n, buf[:n])
		}
		if err != nil {
			c.out = append(c.out, "0\r\n\r\n"...)
			c.done = true
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// testHalfClose sends a whole POST and half-closes the connection at once (issue 21,
// LOW 9): the invite is made and the client gets its answer.
func testHalfClose(t *testing.T, bin string) {
	dataDir := t.TempDir()
	cred := newKey(t, dataDir)
	p, _ := load(t, bin, dataDir, nil)
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()
	form := "ttl=3600"
	for i := range 5 {
		resp, err := rawRequest(t, srv.Listener.Addr().String(), "POST /invites_api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+cred+
			"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "+strconv.Itoa(len(form))+"\r\n\r\n",
			strings.NewReader(form), true)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("%d: a whole request, then a half-close: %v, %v", i, resp, err)
		}
	}
}

// testStoreUnreachableAtStart starts the host while the plugin's store does not answer
// (issue 22): Load succeeds, the contract's paths answer 503 with Retry-After, the
// host keeps trying, and serves once the plugin can start.
func testStoreUnreachableAtStart(t *testing.T, bin string) {
	dataDir := t.TempDir()
	cred := newKey(t, dataDir)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	_ = dead.Close() // nothing listens there now: connections are refused
	cfgFile := filepath.Join(dataDir, "invites.toml")
	if err := os.WriteFile(cfgFile, []byte(`store = "postgres://invites@`+deadAddr+`/invites"`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, logs := load(t, bin, dataDir, func(c *host.Config) {
		c.Plugin.ConfigFile = cfgFile
		c.MinBackoff, c.MaxBackoff = 200*time.Millisecond, 400*time.Millisecond
	})
	if p.PID() != 0 || len(p.Manifest().Routes) != 0 {
		t.Fatalf("a plugin runs: pid %d, %+v", p.PID(), p.Manifest())
	}
	mux := http.NewServeMux()
	p.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, path := range []string{"/invites_api", "/invites_api/invites", "/invite?x", "/register"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s while the store does not answer: %d, Retry-After %q", path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if !waitFor(10*time.Second, func() bool { return strings.Count(logs.String(), "could not start") >= 3 }) {
		t.Fatal("the host does not keep trying")
	}
	// The store answers (here: the config names the default SQLite store).
	if err := os.WriteFile(cfgFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if !waitFor(15*time.Second, func() bool { return p.PID() != 0 }) {
		t.Fatal("the plugin never started")
	}
	if code, _, _, err := createInvite(t.Context(), srv.Client(), srv.URL, cred); code != http.StatusCreated {
		t.Errorf("once the store answers: %d, %v", code, err)
	}
	// A path the plugin does not serve (no built-in page here) is now 404.
	resp, err := srv.Client().Get(srv.URL + "/invite?x")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /invite without the page: %d, want 404", resp.StatusCode)
	}
}

// testSquattedSocketDir makes the default socket directory unusable, as another local
// user could (issue 21, LOW 5): the host starts anyway, in a private directory of its
// own, which Close removes.
func testSquattedSocketDir(t *testing.T, bin string) {
	type squat struct {
		name string
		make func(path string) error
	}
	squats := []squat{
		{"symbolic link", func(path string) error { return os.Symlink(t.TempDir(), path) }},
		{"writable by all", func(path string) error {
			if err := os.Mkdir(path, 0o700); err != nil {
				return err
			}
			return os.Chmod(path, 0o777)
		}},
		{"a file", func(path string) error { return os.WriteFile(path, nil, 0o600) }},
	}
	if os.Getuid() == 0 {
		squats = append(squats, squat{"another user's", func(path string) error {
			if err := os.Mkdir(path, 0o700); err != nil {
				return err
			}
			return os.Chown(path, 65534, 65534)
		}})
	}
	for _, sq := range squats {
		t.Run(sq.name, func(t *testing.T) {
			// Short: a unix socket's path is at most 107 bytes.
			tmp, err := os.MkdirTemp("", "sq")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.RemoveAll(tmp) })
			t.Setenv("TMPDIR", tmp)
			t.Setenv("XDG_RUNTIME_DIR", "")
			squatted := filepath.Join(tmp, fmt.Sprintf("invites-plugin-%d", os.Getuid()))
			if err := sq.make(squatted); err != nil {
				t.Fatal(err)
			}
			p, logs := load(t, bin, t.TempDir(), func(c *host.Config) { c.SocketDir = "" })
			if p.PID() == 0 {
				t.Fatal("no plugin running")
			}
			if !strings.Contains(logs.String(), "not using the socket directory") {
				t.Errorf("the squatted directory is not named in the log")
			}
			matches, _ := filepath.Glob(filepath.Join(tmp, fmt.Sprintf("invites-plugin-%d-*", os.Getuid())))
			if len(matches) != 1 {
				t.Fatalf("private directories: %v", matches)
			}
			if fi, err := os.Lstat(matches[0]); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("private directory: %v, %v", fi, err)
			}
			if err := p.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(matches[0]); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Close left the private directory: %v", err)
			}
		})
	}
	// A socket directory the host was told to use must be ours: that is an error.
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := host.Load(t.Context(), host.Config{PluginPath: bin, SocketDir: dir,
		Plugin: plugin.Config{DataDir: t.TempDir()}})
	if err == nil || !strings.Contains(err.Error(), "writable by others") {
		t.Errorf("Load with a configured directory open to all: %v", err)
	}
}

// testOtherVersions starts plugins that speak protocol version 2 and 4: Load fails,
// naming both versions.
func testOtherVersions(t *testing.T, _ string) {
	for _, v := range []int{2, 4} {
		bin := filepath.Join(t.TempDir(), "invites-plugin")
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "-ldflags", "-X main.version="+strconv.Itoa(v), "./testdata/otherversion")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("building a plugin of version %d: %v\n%s", v, err, out)
		}
		_, err = host.Load(t.Context(), host.Config{PluginPath: bin, SocketDir: t.TempDir(),
			Plugin: plugin.Config{DataDir: t.TempDir()}})
		if err == nil {
			t.Fatalf("a plugin of version %d was loaded", v)
		}
		msg := err.Error()
		if !strings.Contains(msg, strconv.Itoa(v)) || !strings.Contains(msg, strconv.Itoa(plugin.ProtocolVersion)) {
			t.Errorf("version %d: %q does not name both versions", v, msg)
		}
		if v < plugin.ProtocolVersion && !strings.Contains(msg, "speaks protocol version 2 and this server version 3") {
			t.Errorf("version %d: %q", v, msg)
		}
		t.Logf("version %d: %s", v, msg)
	}
}
