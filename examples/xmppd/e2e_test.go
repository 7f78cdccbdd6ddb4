package main_test

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/testlog"
)

// proc is a running xmppd.
type proc struct {
	cmd    *exec.Cmd
	stdout chan string
	stderr *testlog.Buffer
	c2s    string
	http   string
	lines  []string // stdout up to the ready line
	done   chan error
}

// startServer runs xmppd with args (ephemeral ports added) in dir and waits until
// it is ready. It is stopped with SIGTERM at the end of the test.
func startServer(t *testing.T, bin, dir string, args ...string) *proc {
	t.Helper()
	return startServerEnv(t, bin, dir, nil, args...)
}

// startServerEnv is startServer with env (KEY=VALUE) added to the test's
// environment; go-plugin hands xmppd's environment on to the plugin.
func startServerEnv(t *testing.T, bin, dir string, env []string, args ...string) *proc {
	t.Helper()
	readyLine := regexp.MustCompile(`^xmppd ready: domain=(\S+) c2s=(\S+) http=(\S+)$`)
	args = append([]string{"-c2s", "127.0.0.1:0", "-http", "127.0.0.1:0", "-log-level", "debug"}, args...)
	cmd := exec.Command(filepath.Join(bin, "xmppd"), args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	// Its own process group, so that a server that hangs is killed with its plugin.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &proc{cmd: cmd, stdout: make(chan string, 100), stderr: &testlog.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
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
			p.stdout <- sc.Text()
		}
		close(p.stdout)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("xmppd stderr:\n%s", p.stderr.String())
		}
	})
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-p.stdout:
			if !ok {
				t.Fatalf("xmppd exited before it was ready:\n%s", p.stderr.String())
			}
			p.lines = append(p.lines, line)
			if m := readyLine.FindStringSubmatch(line); m != nil {
				p.c2s, p.http = m[2], m[3]
				go func() {
					for range p.stdout {
					}
				}()
				return p
			}
		case <-timeout:
			t.Fatalf("xmppd not ready after 60s:\n%s", p.stderr.String())
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("xmppd exited with %v", err)
		}
		p.done <- err
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		t.Errorf("xmppd did not stop on SIGTERM")
	}
}

// commandResponse is the part of an XEP-0050 response the test reads.
type commandResponse struct {
	SessionID string `xml:"sessionid,attr"`
	Status    string `xml:"status,attr"`
	Fields    []struct {
		Var    string   `xml:"var,attr"`
		Values []string `xml:"value"`
	} `xml:"jabber:x:data x>field"`
}

func (r commandResponse) value(v string) string {
	for _, f := range r.Fields {
		if f.Var == v && len(f.Values) > 0 {
			return f.Values[0]
		}
	}
	return ""
}

// command sends one <command/> and decodes the answer.
func command(ctx context.Context, sess *xmpp.Session, payload string) (commandResponse, error) {
	var resp commandResponse
	err := sess.UnmarshalIQElement(ctx, xml.NewDecoder(strings.NewReader(payload)),
		stanza.IQ{Type: stanza.SetIQ, To: jid.MustParse("localhost")}, &resp)
	return resp, err
}

const nodeCreateKey = "urn:xmpp-invites:keys#create"

// createKeyByCommand runs the key creation command as sess and returns the key.
func createKeyByCommand(ctx context.Context, sess *xmpp.Session) (string, error) {
	first, err := command(ctx, sess, `<command xmlns='http://jabber.org/protocol/commands' node='`+nodeCreateKey+`' action='execute'/>`)
	if err != nil {
		return "", fmt.Errorf("execute: %w", err)
	}
	if first.Status != "executing" || first.SessionID == "" {
		return "", fmt.Errorf("execute: %+v", first)
	}
	done, err := command(ctx, sess, `<command xmlns='http://jabber.org/protocol/commands' node='`+nodeCreateKey+`' sessionid='`+first.SessionID+`' action='complete'>`+
		`<x xmlns='jabber:x:data' type='submit'><field var='name'><value>e2e</value></field></x></command>`)
	if err != nil {
		return "", fmt.Errorf("complete: %w", err)
	}
	key := done.value("key")
	if done.Status != "completed" || !strings.Contains(key, "/") {
		return "", fmt.Errorf("complete: %+v", done)
	}
	return key, nil
}

// createInvite asks the HTTP API for an invite and returns the status it answered and
// the invite's token.
func createInvite(ctx context.Context, base, key string) (int, string, error) {
	status, inv, err := getInvite(ctx, nil, base, key, httpapi.CreateParams{})
	if err == nil && !strings.HasPrefix(inv.URI, "xmpp:localhost?register;preauth=") {
		return status, "", fmt.Errorf("unexpected invite %+v", inv)
	}
	return status, inv.Token, err
}

// expectIQ sends an IQ on a raw client and checks the answer's type and text.
func expectIQ(t *testing.T, c *testclient.Client, send, wantType, wantIn string) {
	t.Helper()
	el, err := c.IQ(send)
	if err != nil {
		t.Fatalf("%s: %v", send, err)
	}
	if el.Attr("type") != wantType || !strings.Contains(el.Inner, wantIn) {
		t.Fatalf("%s:\ngot %v\nwant type %s containing %q", send, el, wantType, wantIn)
	}
}

// TestEndToEnd runs the real binaries on loopback.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)

	t.Run("server", func(t *testing.T) {
		work := t.TempDir()
		data := filepath.Join(work, "data")
		add := exec.Command(filepath.Join(bin, "xmppd"), "-data", data, "adduser", "admin@localhost", "-")
		add.Stdin = strings.NewReader("admin secret\n")
		if out, err := add.CombinedOutput(); err != nil || !strings.Contains(string(out), "Added admin@localhost") {
			t.Fatalf("adduser: %v %s", err, out)
		}
		srv := startServer(t, bin, work, "-data", data, "-admin", "admin@localhost", "-max-stanza-size", "65536")
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()

		// An administrator logs in with SCRAM-SHA-256 and creates a key by ad-hoc command.
		admin, err := testclient.Login(ctx, srv.c2s, "admin", "admin secret", sasl.ScramSha256)
		if err != nil {
			t.Fatalf("admin login: %v", err)
		}
		defer admin.Close()
		key, err := createKeyByCommand(ctx, admin)
		if err != nil {
			t.Fatalf("creating a key by ad-hoc command: %v", err)
		}

		// An HTTP request with that key creates an invite.
		status, token, err := createInvite(ctx, srv.http, key)
		if err != nil || status != http.StatusCreated || token == "" {
			t.Fatalf("creating an invite: %d %q %v", status, token, err)
		}
		wrong := key[:len(key)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(key, "A")]
		if status, _, err := createInvite(ctx, srv.http, wrong); status != http.StatusForbidden || !errors.Is(err, httpapi.ErrForbidden) {
			t.Fatalf("wrong key: %d %v", status, err)
		}

		// Without a token, registration is refused (invite-only is the default).
		c, err := testclient.Dial(ctx, srv.c2s, "localhost", testclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, ns := range []string{"urn:xmpp:ibr-token:0", "urn:xmpp:invite", "http://jabber.org/features/iq-register"} {
			if !strings.Contains(c.Features().Inner, `<register xmlns='`+ns+`'/>`) {
				t.Errorf("feature %s not advertised: %s", ns, c.Features().Inner)
			}
		}
		expectIQ(t, c, `<iq type='set' id='r0'><query xmlns='jabber:iq:register'><username>newbie</username><password>new secret</password></query></iq>`,
			"error", "registration is by invitation only")

		// With the token: pre-auth IQ (Conversations sends it without 'to'), form, set.
		expectIQ(t, c, `<iq type='set' id='r1'><preauth xmlns='urn:xmpp:pars:0' token='`+token+`'/></iq>`, "result", "")
		expectIQ(t, c, `<iq type='get' id='r2' to='localhost'><query xmlns='jabber:iq:register'/></iq>`, "result", `var="FORM_TYPE"`)
		expectIQ(t, c, `<iq type='set' id='r3'><query xmlns='jabber:iq:register'><username>newbie</username><password>new secret</password></query></iq>`,
			"result", "")
		_ = c.Close()

		// The new account logs in.
		newbie, err := testclient.Login(ctx, srv.c2s, "newbie", "new secret", sasl.ScramSha256)
		if err != nil {
			t.Fatalf("new account login: %v", err)
		}
		if err := ping.Send(ctx, newbie, jid.MustParse("localhost")); err != nil {
			t.Fatalf("new account ping: %v", err)
		}
		_ = newbie.Close()

		// The token is now rejected, with or without 'to'.
		c2, err := testclient.Dial(ctx, srv.c2s, "localhost", testclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		expectIQ(t, c2, `<iq type='set' id='t1' to='localhost'><preauth xmlns='urn:xmpp:pars:0' token='`+token+`'/></iq>`, "error", "item-not-found")
		expectIQ(t, c2, `<iq type='set' id='t2'><preauth xmlns='urn:xmpp:pars:0' token='`+token+`'/></iq>`, "error", "item-not-found")

		// A wrong password fails, with every mechanism.
		for _, mech := range []sasl.Mechanism{sasl.ScramSha256, sasl.ScramSha1, sasl.Plain} {
			if s, err := testclient.Login(ctx, srv.c2s, "newbie", "wrong", mech); err == nil {
				_ = s.Close()
				t.Fatalf("%s: a wrong password logged in", mech.Name)
			}
		}

		// A malformed or oversized stanza ends only that client's stream.
		for _, bad := range []struct{ name, stanza, want string }{
			{"oversized", `<message to='localhost'><body>` + strings.Repeat("x", 1<<20) + `</body></message>`, "policy-violation"},
			{"malformed", `<iq type='get' id='m'><ping xmlns='urn:xmpp:ping'></iq>`, "not-well-formed"},
		} {
			bc, err := testclient.Dial(ctx, srv.c2s, "localhost", testclient.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bc.Plain("newbie", "new secret", ""); err != nil {
				t.Fatalf("%s: login: %v", bad.name, err)
			}
			_ = bc.Send(bad.stanza)
			var got []string
			for {
				el, err := bc.Next()
				if err != nil {
					break
				}
				got = append(got, el.String())
			}
			if bad.want != "" && !strings.Contains(strings.Join(got, ""), bad.want) {
				t.Errorf("%s: got %v, want %s", bad.name, got, bad.want)
			}
			if _, err := bc.IQ(`<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>`); err == nil {
				t.Errorf("%s: the stream is still open", bad.name)
			}
			_ = bc.Close()
			if err := ping.Send(ctx, admin, jid.MustParse("localhost")); err != nil {
				t.Fatalf("%s: the other client lost its stream: %v", bad.name, err)
			}
		}

		// SIGTERM stops the server cleanly.
		srv.stop(t)
	})

	t.Run("demo", func(t *testing.T) {
		work := t.TempDir()
		creds := func(p *proc) (string, string) {
			var pass, key string
			for _, l := range p.lines {
				f := strings.Fields(l)
				switch {
				case len(f) >= 2 && f[0] == "Password":
					pass = f[1]
				case len(f) >= 3 && f[0] == "API" && f[1] == "key":
					key = f[2]
				}
			}
			if !strings.Contains(strings.Join(p.lines, "\n"), "curl -i -H 'Authorization: Bearer "+key+"' http://"+p.http+"/invites_api") {
				t.Fatalf("no curl line in:\n%s", strings.Join(p.lines, "\n"))
			}
			return pass, key
		}
		p1 := startServer(t, bin, work, "-demo")
		pass1, key1 := creds(p1)
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		if status, token, err := createInvite(ctx, p1.http, key1); status != http.StatusCreated || token == "" || err != nil {
			t.Fatalf("demo key: %d %v", status, err)
		}
		// The demo turns the invite page on: it prints an invite's page to open, and
		// the curl line's invites have their page as Location.
		var tryURL string
		for i, l := range p1.lines {
			if strings.HasPrefix(l, "An invite to try now") && i+1 < len(p1.lines) {
				tryURL = strings.TrimSpace(p1.lines[i+1])
			}
		}
		if !strings.HasPrefix(tryURL, "http://"+p1.http+"/invite?") {
			t.Fatalf("no invite page to try in:\n%s", strings.Join(p1.lines, "\n"))
		}
		// The phone hint names the ports given, not 5222 and 5280.
		_, httpPort, _ := net.SplitHostPort(p1.http)
		_, c2sPort, _ := net.SplitHostPort(p1.c2s)
		if hint := "-http 0.0.0.0:" + httpPort + " -http-url http://THIS-MACHINE:" + httpPort + " -c2s 0.0.0.0:" + c2sPort; !strings.Contains(strings.Join(p1.lines, "\n"), hint) {
			t.Errorf("the phone hint is not %q:\n%s", hint, strings.Join(p1.lines, "\n"))
		}
		for _, u := range []string{tryURL, ""} {
			if u == "" {
				_, inv, err := getInvite(ctx, nil, p1.http, key1, httpapi.CreateParams{})
				if err != nil {
					t.Fatal(err)
				}
				u = inv.LandingPage
			}
			resp, err := http.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Link"), "<xmpp:localhost?register;preauth=") {
				t.Errorf("the demo's invite page %s: %s, Link %q", u, resp.Status, resp.Header.Get("Link"))
			}
		}
		s, err := testclient.Login(ctx, p1.c2s, "admin", pass1, sasl.ScramSha256)
		if err != nil {
			t.Fatalf("demo admin login: %v", err)
		}
		_ = s.Close()
		p1.stop(t)
		if _, err := os.Stat(filepath.Join(work, "data", "tls", "cert.pem")); err != nil {
			t.Fatalf("self-signed certificate not kept: %v", err)
		}

		// A second run reuses the data and the key, and resets the password: runs do
		// not pile up keys that never expire (issue 15).
		p2 := startServer(t, bin, work, "-demo")
		pass2, key2 := creds(p2)
		if pass2 == pass1 {
			t.Fatal("the second run printed the same password")
		}
		if key2 != key1 {
			t.Fatalf("the second run made another key: %s, then %s", key1, key2)
		}
		cli := pluginCLI{bin: bin, args: []string{"-data", filepath.Join(work, "data")}}
		if keys, err := cli.keys(ctx); err != nil || len(keys) != 1 || keys[keyID(key1)].name != "demo" {
			t.Fatalf("keys after two demo runs: %v %v", keys, err)
		}
		if _, err := testclient.Login(ctx, p2.c2s, "admin", pass1, sasl.ScramSha256); err == nil {
			t.Fatal("the old demo password still works")
		}
		s, err = testclient.Login(ctx, p2.c2s, "admin", pass2, sasl.ScramSha256)
		if err != nil {
			t.Fatalf("second demo login: %v", err)
		}
		_ = s.Close()
		if status, _, _ := createInvite(ctx, p2.http, key1); status != http.StatusCreated {
			t.Fatalf("the first run's key no longer works: %d", status)
		}
	})
}
