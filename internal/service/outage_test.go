package service_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
	"github.com/xmpp-invites/invites/plugin"
)

// TestStoreOutage (issue 21, LOW 4): while PostgreSQL is away, every request gets
// "try again" from the first failed store call, not an internal error until the health
// checks notice: the HTTP API and the page 503 with Retry-After, the ad-hoc commands
// service-unavailable, in-band redemption plugin.ErrUnavailable.
func TestStoreOutage(t *testing.T) {
	_, dsn := pgtest.Schema(t)
	proxy, through := pgtest.NewProxy(t, dsn)
	ctx := ctxT(t)

	// A key and an invite, made directly on the database.
	st, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	c, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, cred, err := c.CreateKey(ctx, core.KeySpec{Host: "example.com", Name: "outage"})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := c.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: core.Actor{Kind: core.ActorCLI}})
	if err != nil {
		t.Fatal(err)
	}

	s, _ := configure(t, t.TempDir(), "store = \""+through+"\"\nlanding_page = \"builtin\"\n", &registrar{}, "example.com")
	api := func() *httptest.ResponseRecorder {
		r := httptest.NewRequestWithContext(ctx, "GET", "/invites_api?key="+cred, nil)
		r.Header.Set("Accept", "application/json")
		return serve(t, s, r)
	}
	if w := api(); w.Code != http.StatusCreated {
		t.Fatalf("before the outage: %d %s", w.Code, w.Body)
	}

	proxy.Close() // PostgreSQL is away from here on

	w := api()
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" ||
		!strings.Contains(w.Body.String(), "try again") || strings.Contains(w.Body.String(), "127.0.0.1") {
		t.Errorf("the first API request with the store away = %d, Retry-After %q, %s; want 503 with Retry-After",
			w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	w = serve(t, s, httptest.NewRequestWithContext(ctx, "GET", "/invites_api/invites/"+inv.ID+"?key="+cred, nil))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("GET an invite with the store away = %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	w = serve(t, s, httptest.NewRequestWithContext(ctx, "GET", "/invite?"+inv.Token, nil))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("the invite page with the store away = %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	_, err = s.Execute(ctx, "example.com", adhoc.Request{Node: "urn:xmpp-invites:keys#list", Requester: "admin@example.com/r", Role: adhoc.RoleAdmin})
	if ae, ok := errors.AsType[*adhoc.Error](err); !ok || ae.Condition != adhoc.CondServiceUnavailable {
		t.Errorf("an ad-hoc command with the store away = %v, want service-unavailable", err)
	}
	if _, err := s.CheckInvite(ctx, "example.com", inv.Token); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("CheckInvite with the store away = %v, want plugin.ErrUnavailable", err)
	}
	if _, err := s.RedeemInvite(ctx, redemption("example.com", inv.Token, "alice")); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("RedeemInvite with the store away = %v, want plugin.ErrUnavailable", err)
	}
}
