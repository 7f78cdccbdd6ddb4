package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/testbin"
	"github.com/xmpp-invites/invites/internal/testlog"
)

// bins is the one build of the current xmppd and invites-plugin that every test of
// this package shares.
var bins = testbin.New("invites-deploy-", testbin.XMPPD, testbin.Plugin)

func TestMain(m *testing.M) {
	code := m.Run()
	bins.Remove()
	os.Exit(code)
}

// repoRoot is the module's root directory (the tests run in deploy/).
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(wd)
}

// binaries builds xmppd and invites-plugin of this checkout on first use and returns
// their directory.
func binaries(t testing.TB) string { return bins.Dir(t) }

// tool returns the path of a program the test runs for real; a missing one fails the
// test (scripts/install-test-deps.sh installs them all).
func tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	t.Fatalf("%s is not installed: run scripts/install-test-deps.sh", name)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// readFile returns a file of the repository, by its path from the root.
func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeFile writes text to dir/name (0600) and returns its path.
func writeFile(t testing.TB, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// replace replaces each old with its new in s, failing the test when one is not
// there: a shipped file that no longer has what the test renders is a stale test.
func replace(t testing.TB, s string, pairs ...string) string {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("rendering: %q not found in\n%s", pairs[i], s)
		}
		s = strings.ReplaceAll(s, pairs[i], pairs[i+1])
	}
	return s
}

// server is a running xmppd with its plugin.
type server struct {
	cmd    *exec.Cmd
	stderr *testlog.Buffer
	http   string // host:port of its HTTP listener
	c2s    string // host:port of its client listener
	data   string
	done   chan error
	ready  chan []string
}

// serverOptions says how to start xmppd.
type serverOptions struct {
	bin    string   // directory of xmppd (the current build when empty)
	data   string   // data directory (a new one when empty)
	args   []string // more flags
	env    []string // more environment
	noWait bool     // return once started, without waiting for the ready line
	old    bool     // an earlier release: no -log-format (JSON logs came with 0.2.0)
}

var readyLine = regexp.MustCompile(`^xmppd ready: domain=(\S+) c2s=(\S+) http=(\S+)$`)

// startServer runs xmppd on loopback ports with JSON logs and waits until it is ready.
// It is stopped with SIGTERM at the end of the test.
func startServer(t testing.TB, o serverOptions) *server {
	t.Helper()
	if o.bin == "" {
		o.bin = binaries(t)
	}
	if o.data == "" {
		o.data = filepath.Join(t.TempDir(), "data")
	}
	args := []string{"-data", o.data, "-c2s", "127.0.0.1:0", "-http", "127.0.0.1:0"}
	if !o.old {
		args = append(args, "-log-format", "json")
	}
	args = append(args, o.args...)
	cmd := exec.Command(filepath.Join(o.bin, "xmppd"), args...)
	cmd.Dir = filepath.Dir(o.data)
	cmd.Env = append(os.Environ(), o.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	s := &server{cmd: cmd, stderr: &testlog.Buffer{}, data: o.data, done: make(chan error, 1), ready: make(chan []string, 1)}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := readyLine.FindStringSubmatch(sc.Text()); m != nil {
				s.ready <- m
			}
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		s.stop(t)
		if t.Failed() {
			t.Logf("xmppd %s stderr:\n%s", o.data, s.stderr.String())
		}
	})
	if !o.noWait && !s.waitReady(60*time.Second) {
		t.Fatalf("xmppd not ready:\n%s", s.stderr.String())
	}
	return s
}

// waitReady waits up to d for xmppd's ready line and reports whether it came (false
// when xmppd exited first).
func (s *server) waitReady(d time.Duration) bool {
	select {
	case m := <-s.ready:
		s.c2s, s.http = m[2], m[3]
		return true
	case err := <-s.done:
		s.done <- err
		return false
	case <-time.After(d):
		return false
	}
}

// stop ends xmppd with SIGTERM (its plugin with it) and waits for it.
func (s *server) stop(t testing.TB) {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		t.Errorf("xmppd did not stop on SIGTERM")
	}
}

// pluginPID returns the process ID of xmppd's child, the plugin (any of xmppd's
// threads may have started it).
func (s *server) pluginPID(t testing.TB) int {
	t.Helper()
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var child int
		if _, err := fmt.Sscan(string(b), &child); err == nil {
			return child
		}
	}
	t.Fatal("xmppd has no child process")
	return 0
}

// logRecord returns the first JSON log record of xmppd whose fields include every one
// of want, waiting up to 5 s for it (the plugin's records cross to the host's log
// asynchronously).
func (s *server) logRecord(t testing.TB, want map[string]string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, line := range s.stderr.Lines() {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			match := true
			for k, v := range want {
				match = match && fmt.Sprint(rec[k]) == v
			}
			if match {
				return rec
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log record with %v in:\n%s", want, s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cli runs invites-plugin's command line in bin on data and returns its output.
func cli(t testing.TB, bin, data string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "invites-plugin"), append([]string{"-data", data}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("invites-plugin %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// selfSigned makes a self-signed certificate for localhost and 127.0.0.1 in dir and
// returns the paths of its PEM files and a pool that trusts it.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = writeFile(t, dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	keyFile = writeFile(t, dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitListening waits until addr accepts TCP connections, or fails after 20 s.
func waitListening(t testing.TB, addr string, exited <-chan error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case err := <-exited:
			t.Fatalf("the process for %s exited: %v", addr, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after 20 s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// client is an HTTPS client that trusts pool, connects from the loopback address
// from (a client other than the proxy, which connects from 127.0.0.1), and follows no
// redirect.
func client(pool *x509.CertPool, from string) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	return &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			DialContext:     d.DialContext,
			TLSClientConfig: &tls.Config{RootCAs: pool},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// response is what a request answered.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request and reads the whole answer.
func do(t testing.TB, c *http.Client, method, u string, header http.Header, body string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, u, err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

// resolve resolves a link of a page at base.
func resolve(t testing.TB, base, ref string) string {
	t.Helper()
	b, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		t.Fatalf("link %q: %v", ref, err)
	}
	return b.ResolveReference(r).String()
}

// xmppConn is the least of an XMPP client stream that the tests need: STARTTLS, then
// raw stanzas, each answer read up to a closing tag.
type xmppConn struct {
	c   net.Conn
	buf []byte
}

// dialXMPP opens a client stream to addr for domain and negotiates TLS (any
// certificate: xmppd's is self-signed).
func dialXMPP(t testing.TB, addr, domain string) *xmppConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	x := &xmppConn{c: c}
	header := `<?xml version='1.0'?><stream:stream to='` + domain + `' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`
	x.send(t, header)
	x.until(t, "</stream:features>")
	x.send(t, `<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	x.until(t, "<proceed")
	tc := tls.Client(c, &tls.Config{ServerName: domain, InsecureSkipVerify: true}) // #nosec G402 -- a test of xmppd's self-signed certificate
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS with %s: %v", addr, err)
	}
	x.c, x.buf = tc, nil
	x.send(t, header)
	x.until(t, "</stream:features>")
	return x
}

func (x *xmppConn) send(t testing.TB, s string) {
	t.Helper()
	_ = x.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(x.c, s); err != nil {
		t.Fatalf("writing to the stream: %v", err)
	}
}

// until reads until the stream holds end and returns what it read up to it.
func (x *xmppConn) until(t testing.TB, end string) string {
	t.Helper()
	_ = x.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var b [4096]byte
	for {
		if i := bytes.Index(x.buf, []byte(end)); i >= 0 {
			out := string(x.buf[:i+len(end)])
			x.buf = x.buf[i+len(end):]
			return out
		}
		n, err := x.c.Read(b[:])
		if err != nil {
			t.Fatalf("reading the stream for %q: %v (read %q)", end, err, x.buf)
		}
		x.buf = append(x.buf, b[:n]...)
	}
}

// iq sends an IQ and returns the answer, up to its end.
func (x *xmppConn) iq(t testing.TB, stanza string) string {
	t.Helper()
	x.send(t, stanza)
	return x.until(t, "</iq>")
}
