package service_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/service"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/plugin"
)

// registrar is the host's plugin.HostAPI.Register as the page calls it: it records each
// registration and answers err (the real one is xmppd's, in its end-to-end tests).
type registrar struct {
	mu  sync.Mutex
	got []plugin.Registration
	err error
}

// calls returns how many registrations reached the host.
func (r *registrar) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

func (r *registrar) AccountExists(context.Context, string) (bool, error) { return false, nil }

func (r *registrar) Register(_ context.Context, reg plugin.Registration) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, reg)
	if r.err != nil {
		return "", r.err
	}
	return reg.Username + "@" + reg.Host, nil
}

// configure starts a Service on dir with the inline config and the domains given.
func configure(t *testing.T, dir, toml string, api plugin.HostAPI, domains ...string) (*service.Service, plugin.Manifest) {
	t.Helper()
	s := service.New(nil)
	m, err := s.Configure(ctxT(t), plugin.Config{DataDir: dir, Domains: domains, HTTPBaseURL: "https://chat.example.com", ConfigTOML: toml}, api)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s, m
}

// serve sends one request through the Service's HTTP side.
func serve(t *testing.T, s *service.Service, r *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	if err := s.ServeHTTP(r.Context(), w, r); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestPageRoutes(t *testing.T) {
	api := []plugin.Route{{Path: plugin.PathAPI, MaxBodyBytes: 64 << 10}, {Path: plugin.PathAPI + "/", MaxBodyBytes: 64 << 10}}
	pages := append(slices.Clone(api), plugin.Route{Path: plugin.PathInvite, MaxBodyBytes: 16 << 10},
		plugin.Route{Path: plugin.PathRegister, MaxBodyBytes: 16 << 10})
	for i, tc := range []struct {
		toml string
		want []plugin.Route
	}{
		{"", api},
		{`landing_page = "https://example.com/i?{token}"`, api},
		{`landing_page = "builtin"`, pages},
		{"[[host]]\ndomain = \"a.example\"\nlanding_page = \"builtin\"\n[[host]]\ndomain = \"b.example\"", pages},
		{"[page]\nsite_name = \"Unused\"", api}, // warned about, not refused
	} {
		_, m := configure(t, t.TempDir(), tc.toml, &registrar{}, "example.com")
		if !slices.Equal(m.Routes, tc.want) {
			t.Errorf("%d: routes %+v, want %+v", i, m.Routes, tc.want)
		}
	}
}

func TestPageConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "clients.json")
	if err := os.WriteFile(bad, []byte(`[{"name": "X", "platforms": ["amiga"]}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "invites.toml")
	if err := os.WriteFile(conf, []byte("landing_page = \"builtin\"\n[page]\nclients_file = \"clients.json\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := service.New(nil)
	defer func() { _ = s.Close(context.Background()) }()
	_, err := s.Configure(ctxT(t), plugin.Config{DataDir: dir, HTTPBaseURL: "https://chat.example.com", ConfigFile: conf}, &registrar{})
	if err == nil || !strings.Contains(err.Error(), "page.clients_file "+bad) || !strings.Contains(err.Error(), "amiga") {
		t.Errorf("bad client list: %v", err)
	}
	_, err = s.Configure(ctxT(t), plugin.Config{DataDir: dir, ConfigTOML: `landing_page = "builtin"`}, &registrar{})
	if err == nil || !strings.Contains(err.Error(), "HTTP base URL") {
		t.Errorf("no base URL: %v", err)
	}
	_, err = s.Configure(ctxT(t), plugin.Config{DataDir: dir, HTTPBaseURL: "https://chat.example.com",
		ConfigTOML: "landing_page = \"builtin\"\n[page]\nlanguages = [\"xx\"]"}, &registrar{})
	if err == nil || !strings.Contains(err.Error(), "page") || !strings.Contains(err.Error(), "xx") {
		t.Errorf("a language without messages: %v", err)
	}
}

// TestPage: an invite created through the API has the page as its Location; the page
// answers for it, registration goes to the host with the invite's host and the
// form's fields, and the host's errors reach the visitor as the page's statuses.
func TestPage(t *testing.T) {
	dir := t.TempDir()
	reg := &registrar{}
	toml := "[[host]]\ndomain = \"example.com\"\nlanding_page = \"builtin\"\n[[host]]\ndomain = \"other.example\"\n[page]\nfailed_attempt_rate = \"off\""
	s, _ := configure(t, dir, toml, reg)
	ctx := ctxT(t)
	c := openCoreHosts(t, dir, "example.com", "other.example")
	_, cred, err := c.CreateKey(ctx, core.KeySpec{Host: "example.com", Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequestWithContext(ctx, "GET", "/invites_api", nil)
	r.Header.Set("Authorization", "Bearer "+cred)
	w := serve(t, s, r)
	loc := w.Header().Get("Location")
	token, ok := strings.CutPrefix(loc, "https://chat.example.com/invite?")
	if w.Code != http.StatusCreated || !ok || !core.ValidToken(token) {
		t.Fatalf("created %d, Location %q", w.Code, loc)
	}

	for _, method := range []string{"GET", "HEAD"} {
		w = serve(t, s, httptest.NewRequestWithContext(ctx, method, "/invite?"+token, nil))
		if w.Code != http.StatusOK || w.Header().Get("Link") != "<xmpp:example.com?register;preauth="+token+`>; rel="alternate"` {
			t.Errorf("%s: %d, Link %q", method, w.Code, w.Header().Get("Link"))
		}
	}
	// The QR code and the links are made on the host's base URL.
	if w = serve(t, s, httptest.NewRequestWithContext(ctx, "GET", "/invite?"+token, nil)); !strings.Contains(w.Body.String(), "register?t="+token) {
		t.Errorf("no link to web registration:\n%s", w.Body)
	}
	// Another host's invite, a revoked one, a wrong secret, garbage: dead.
	other, err := c.CreateInvite(ctx, core.InviteSpec{Host: "other.example"})
	if err != nil {
		t.Fatal(err)
	}
	revoked, err := c.CreateInvite(ctx, core.InviteSpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RevokeInvite(ctx, core.Actor{}, "example.com", revoked.ID); err != nil {
		t.Fatal(err)
	}
	wrong := token[:core.IDLen] + strings.Repeat("A", core.TokenLen-core.IDLen)
	for _, tok := range []string{other.Token, revoked.Token, wrong, "garbage"} {
		w := serve(t, s, httptest.NewRequestWithContext(ctx, "GET", "/invite?"+tok, nil))
		if w.Code != http.StatusNotFound || w.Header().Get("Link") != "" {
			t.Errorf("%s: %d, Link %q", tok, w.Code, w.Header().Get("Link"))
		}
	}

	// Web registration: the host gets the invite's host and the fields typed.
	csrf := formToken(t, s, ctx, token)
	post := func(username string) *httptest.ResponseRecorder {
		form := url.Values{"t": {token}, "csrf": {csrf}, "username": {username}, "password": {"long enough"}, "password_confirm": {"long enough"}}
		r := httptest.NewRequestWithContext(ctx, "POST", "/register", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return serve(t, s, r)
	}
	for i, tc := range []struct {
		err  error
		want int
	}{
		{fmt.Errorf("registering: %w", plugin.ErrAccountExists), http.StatusConflict},
		{plugin.ErrInvalidUsername, http.StatusBadRequest},
		{plugin.ErrInvalidPassword, http.StatusBadRequest},
		{plugin.ErrUsernameNotAllowed, http.StatusBadRequest},
		{plugin.ErrInviteNotFound, http.StatusNotFound},
		{plugin.ErrInviteExpired, http.StatusNotFound},
		{plugin.ErrUnavailable, http.StatusServiceUnavailable},
		{errors.New("disk on fire"), http.StatusInternalServerError},
		{nil, http.StatusOK},
	} {
		reg.err = tc.err
		if w := post("juliet"); w.Code != tc.want {
			t.Errorf("%d: host error %v: status %d, want %d", i, tc.err, w.Code, tc.want)
		}
	}
	if n := len(reg.got); n != 9 || reg.got[n-1] != (plugin.Registration{Host: "example.com", Token: token, Username: "juliet", Password: "long enough"}) {
		t.Errorf("registrations %+v", reg.got)
	}
}

// TestPageWithoutHostAPI: a host that registers no accounts gets the page, and 503
// for web registration.
func TestPageWithoutHostAPI(t *testing.T) {
	dir := t.TempDir()
	s, _ := configure(t, dir, `landing_page = "builtin"`, nil, "example.com")
	ctx := ctxT(t)
	inv, err := openCore(t, dir, nil).CreateInvite(ctx, core.InviteSpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	csrf := formToken(t, s, ctx, inv.Token)
	form := url.Values{"t": {inv.Token}, "csrf": {csrf}, "username": {"juliet"}, "password": {"long enough"}, "password_confirm": {"long enough"}}
	r := httptest.NewRequestWithContext(ctx, "POST", "/register", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if w := serve(t, s, r); w.Code != http.StatusServiceUnavailable {
		t.Errorf("POST /register = %d", w.Code)
	}
}

// openCoreHosts opens a core serving hosts over the SQLite store in dataDir.
func openCoreHosts(t *testing.T, dataDir string, hosts ...string) *core.Service {
	t.Helper()
	st, err := store.Open(ctxT(t), filepath.Join(dataDir, config.StoreFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	var hc []core.HostConfig
	for _, h := range hosts {
		hc = append(hc, core.HostConfig{Domain: h})
	}
	svc, err := core.NewService(core.Options{Store: st, Hosts: hc})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// formToken shows the registration form of token and returns its form token.
func formToken(t *testing.T, s *service.Service, ctx context.Context, token string) string {
	t.Helper()
	w := serve(t, s, httptest.NewRequestWithContext(ctx, "GET", "/register?t="+token, nil))
	m := csrfRE.FindStringSubmatch(w.Body.String())
	if w.Code != http.StatusOK || m == nil {
		t.Fatalf("GET /register = %d\n%s", w.Code, w.Body)
	}
	return m[1]
}

// TestPageSharedCSRFKey: two nodes with the same csrf_key_file take each other's
// forms; a node with another key refuses them.
func TestPageSharedCSRFKey(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "csrf.key")
	if err := os.WriteFile(key, []byte(strings.Repeat("s", 48)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := "landing_page = \"builtin\"\n[page]\ncsrf_key_file = " + fmt.Sprintf("%q", key)
	a, _ := configure(t, dir, conf, &registrar{}, "example.com")
	b, _ := configure(t, dir, conf, &registrar{}, "example.com")
	other, _ := configure(t, dir, `landing_page = "builtin"`, &registrar{}, "example.com")
	ctx := ctxT(t)
	inv, err := openCore(t, dir, nil).CreateInvite(ctx, core.InviteSpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	csrf := formToken(t, a, ctx, inv.Token)
	for _, tc := range []struct {
		node *service.Service
		want int
	}{{other, http.StatusForbidden}, {b, http.StatusOK}} {
		form := url.Values{"t": {inv.Token}, "csrf": {csrf}, "username": {"juliet"}, "password": {"long enough"}, "password_confirm": {"long enough"}}
		r := httptest.NewRequestWithContext(ctx, "POST", "/register", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if w := serve(t, tc.node, r); w.Code != tc.want {
			t.Errorf("POST = %d, want %d", w.Code, tc.want)
		}
	}
}

// TestPagePasswordPolicy: the [password] table (and the deprecated
// page.min_password_length) reach web registration; a refused password reaches no
// host call.
func TestPagePasswordPolicy(t *testing.T) {
	for i, tc := range []struct {
		toml, pass string
		want       int
		text       string
	}{
		{"", "12345678", http.StatusBadRequest, "one of the most common passwords"},
		{"", "juliet-forever", http.StatusBadRequest, "must not contain your username"},
		{"[password]\nmin_length = 16", "long enough!", http.StatusBadRequest, "at least 16 characters"},
		{"[page]\nmin_password_length = 14", "long enough!", http.StatusBadRequest, "at least 14 characters"},
		{"[password]\nallow_common = true", "12345678", http.StatusOK, "juliet@example.com"},
		{"", "long enough!", http.StatusOK, "juliet@example.com"},
	} {
		dir := t.TempDir()
		reg := &registrar{}
		s, _ := configure(t, dir, "landing_page = \"builtin\"\n"+tc.toml, reg, "example.com")
		ctx := ctxT(t)
		inv, err := openCore(t, dir, nil).CreateInvite(ctx, core.InviteSpec{Host: "example.com"})
		if err != nil {
			t.Fatal(err)
		}
		form := url.Values{"t": {inv.Token}, "csrf": {formToken(t, s, ctx, inv.Token)}, "username": {"juliet"}, "password": {tc.pass}, "password_confirm": {tc.pass}}
		r := httptest.NewRequestWithContext(ctx, "POST", "/register", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := serve(t, s, r)
		if w.Code != tc.want || !strings.Contains(w.Body.String(), tc.text) {
			t.Errorf("%d: POST = %d, want %d with %q\n%s", i, w.Code, tc.want, tc.text, w.Body)
		}
		if calls := reg.calls(); (tc.want == http.StatusOK) != (calls == 1) {
			t.Errorf("%d: %d host calls", i, calls)
		}
	}
}
