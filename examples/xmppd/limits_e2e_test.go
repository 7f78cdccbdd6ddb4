package main_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
)

// TestHTTPConnectionBounds: xmppd's HTTP listener holds at most
// -http-max-connections-per-addr connections of one client address; the next is
// answered 503 saying why, and the server goes on serving once they close.
func TestHTTPConnectionBounds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	srv, _ := startAdminServer(t, nil, "-http-max-connections-per-addr", "2")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var d net.Dialer
	var held []net.Conn
	for range 2 {
		c, err := d.DialContext(ctx, "tcp", srv.http)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	c, err := d.DialContext(ctx, "tcp", srv.http)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	_ = c.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		string(body) != "too many connections from your address (at most 2)\n" {
		t.Fatalf("a third connection: %s %q %q", resp.Status, resp.Header.Get("Retry-After"), body)
	}
	for _, c := range held {
		_ = c.Close()
	}
	if !eventually(10*time.Second, func() bool {
		resp, err := http.Get("http://" + srv.http + "/healthz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatal("the server does not serve once the connections closed")
	}
	if !strings.Contains(srv.stderr.String(), "HTTP connection refused: too many connections from your address") {
		t.Errorf("the refusal is not logged:\n%s", srv.stderr.String())
	}
}

// TestWebRegistrationLookalike: web registration (HostAPI.Register) refuses a name
// that looks like an administrator's, and the invite stays usable.
func TestWebRegistrationLookalike(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	s := startPageSite(t, binaries(t), pageSiteOptions{users: []string{"admin admin-pass"}, args: []string{"-admin", "admin@localhost"}})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, token := s.invite(t, ctx, httpapi.CreateParams{})
	for _, name := range []string{"аdmin", "ᴀdmin", "postmaster"} {
		if r := s.register(t, ctx, token, s.form(t, ctx, token), name, "a good password"); r.code != http.StatusConflict {
			t.Errorf("registering %q on the web: %d", name, r.code)
		}
	}
	if got := s.exists(t, ctx, "аdmin", "ᴀdmin", "postmaster"); len(got) != 0 {
		t.Fatalf("lookalike accounts made: %q", got)
	}
	if r := s.register(t, ctx, token, s.form(t, ctx, token), "romeo", "a good password"); r.code != http.StatusOK {
		t.Fatalf("the invite after the refusals: %d", r.code)
	}
}
