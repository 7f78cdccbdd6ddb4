package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/service"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/plugin"
)

// openCore opens a core over the SQLite store in dataDir, beside the Service under test.
func openCore(t *testing.T, dataDir string, now func() time.Time) *core.Service {
	t.Helper()
	st, err := store.Open(ctxT(t), filepath.Join(dataDir, config.StoreFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestServiceUnconfigured(t *testing.T) {
	s := service.New(nil)
	ctx := ctxT(t)
	if err := s.Health(ctx); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("Health = %v", err)
	}
	if _, err := s.CheckInvite(ctx, "example.com", "x"); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("CheckInvite = %v", err)
	}
	if _, err := s.RedeemInvite(ctx, plugin.Redemption{Host: "example.com", Token: "x", Username: "alice"}); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("RedeemInvite = %v", err)
	}
	if _, err := s.Commands(ctx, "example.com", "a@example.com/r", adhoc.RoleUser); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("Commands = %v", err)
	}
	_, err := s.Execute(ctx, "example.com", adhoc.Request{Node: "x"})
	if ae, ok := errors.AsType[*adhoc.Error](err); !ok || ae.Condition != adhoc.CondServiceUnavailable {
		t.Errorf("Execute = %v", err)
	}
	w := httptest.NewRecorder()
	if err := s.ServeHTTP(ctx, w, httptest.NewRequest("GET", "/invites_api", nil)); err != nil || w.Code != http.StatusServiceUnavailable {
		t.Errorf("ServeHTTP = %d, %v", w.Code, err)
	}
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close = %v", err)
	}
}

func TestServiceConfig(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxT(t)
	s := service.New(nil)
	defer func() { _ = s.Close(ctx) }()
	if _, err := s.Configure(ctx, plugin.Config{DataDir: dir, ConfigFile: "x.toml", ConfigTOML: "a = 1"}, nil); err == nil {
		t.Error("file and inline config both accepted")
	}
	if _, err := s.Configure(ctx, plugin.Config{DataDir: dir, ConfigTOML: "nonsense = 1"}, nil); err == nil || !strings.Contains(err.Error(), "nonsense") || strings.Contains(err.Error(), "plugin:") {
		t.Errorf("unknown key: %v", err)
	}
	if _, err := s.Configure(ctx, plugin.Config{DataDir: dir, ConfigFile: filepath.Join(dir, "missing.toml")}, nil); err == nil {
		t.Error("missing file accepted")
	}
	// A relative data_dir is resolved against the host's data directory.
	file := filepath.Join(dir, "invites.toml")
	if err := os.WriteFile(file, []byte("data_dir = \"sub\"\n[[host]]\ndomain = \"example.net\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := s.Configure(ctx, plugin.Config{DataDir: dir, ConfigFile: file, Domains: []string{"example.com"}}, fakeHost{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []plugin.Route{{Path: plugin.PathAPI, MaxBodyBytes: 64 << 10}, {Path: plugin.PathAPI + "/", MaxBodyBytes: 64 << 10}}; !slices.Equal(m.Routes, want) {
		t.Errorf("routes %+v, want %+v", m.Routes, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub", config.StoreFile)); err != nil {
		t.Errorf("store not in the resolved data dir: %v", err)
	}
	known, err := config.KnownDomains(filepath.Join(dir, "sub"))
	if err != nil || !slices.Contains(known, "example.com") {
		t.Errorf("known domains = %v, %v", known, err)
	}
	// The store records them too, every host served with the policy applied to it,
	// for the command line of any node (issues 16, 22).
	st, err := store.Open(ctx, filepath.Join(dir, "sub", config.StoreFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := st.RecordedHosts(ctx)
	_ = st.Close()
	want := []core.RecordedHost{
		{Domain: "example.com", DefaultTTL: core.DefaultInviteTTL, MaxTTL: core.DefaultMaxInviteTTL},
		{Domain: "example.net", DefaultTTL: core.DefaultInviteTTL, MaxTTL: core.DefaultMaxInviteTTL},
	}
	if err != nil || !slices.Equal(recorded, want) {
		t.Errorf("hosts recorded in the store = %+v, %v; want %+v", recorded, err, want)
	}
	if err := s.Health(ctx); err != nil {
		t.Errorf("Health = %v", err)
	}
	// Configure succeeds once per process: the host starts a new process instead.
	if _, err := s.Configure(ctx, plugin.Config{DataDir: dir, ConfigFile: file, Domains: []string{"example.org"}}, fakeHost{}); err == nil {
		t.Error("second Configure accepted")
	}
	if err := s.Health(ctx); err != nil {
		t.Errorf("Health after a refused Configure = %v", err)
	}
}

func TestService(t *testing.T) {
	dir := t.TempDir()
	ctx := ctxT(t)
	s := service.New(nil)
	if _, err := s.Configure(ctx, plugin.Config{DataDir: dir, Domains: []string{"example.com"}}, fakeHost{}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(ctx); err != nil {
			t.Error(err)
		}
	}()
	c := openCore(t, dir, nil)
	_, cred, err := c.CreateKey(ctx, core.KeySpec{Host: "example.com", Name: "test"})
	if err != nil {
		t.Fatal(err)
	}

	// HTTP: the invite API.
	r := httptest.NewRequestWithContext(ctx, "POST", "/invites_api", strings.NewReader("username=alice"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", "Bearer "+cred)
	r.Header.Set("Accept", "application/json")
	w := httptest.NewRecorder()
	if err := s.ServeHTTP(ctx, w, r); err != nil {
		t.Fatal(err)
	}
	if w.Code != http.StatusCreated {
		t.Fatalf("POST = %d %s", w.Code, w.Body)
	}
	var created struct{ Token, Host string }
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || created.Token == "" {
		t.Fatalf("body %q: %v", w.Body, err)
	}

	// A fixed username that is an account already: the host says so (issue 16).
	r = httptest.NewRequestWithContext(ctx, "GET", "/invites_api?username=Romeo&key="+cred, nil)
	w = httptest.NewRecorder()
	if err := s.ServeHTTP(ctx, w, r); err != nil || w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "romeo@example.com already exists") {
		t.Errorf("GET for an existing account = %d %s, %v", w.Code, w.Body, err)
	}

	// The lifecycle below the API: the invite is listed.
	w = httptest.NewRecorder()
	if err := s.ServeHTTP(ctx, w, httptest.NewRequestWithContext(ctx, "GET", "/invites_api/invites?key="+cred, nil)); err != nil ||
		w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"username":"alice"`) {
		t.Errorf("GET /invites_api/invites = %d %s, %v", w.Code, w.Body, err)
	}
	// Other paths: below the API, nothing else; elsewhere, nothing of ours.
	for _, path := range []string{"/invites_api/keys", "/elsewhere"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequestWithContext(ctx, "GET", path+"?key="+cred, nil)
		if err := s.ServeHTTP(ctx, w, r); err != nil || w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, %v", path, w.Code, err)
		}
	}

	// Redemption.
	inv, err := s.CheckInvite(ctx, "example.com", created.Token)
	if err != nil || inv.Username != "alice" || inv.Kind != "account" || !inv.CanRegister || inv.Host != "example.com" || inv.ExpiresAt.Before(time.Now()) {
		t.Errorf("CheckInvite = %+v, %v", inv, err)
	}
	if _, err := s.CheckInvite(ctx, "example.org", created.Token); !errors.Is(err, plugin.ErrInviteNotFound) {
		t.Errorf("CheckInvite on another host = %v", err)
	}
	if _, err := s.RedeemInvite(ctx, redemption("example.org", created.Token, "alice")); !errors.Is(err, plugin.ErrInviteNotFound) {
		t.Errorf("RedeemInvite on another host = %v", err)
	}
	if _, err := s.CheckInvite(ctx, "example.com", "not-a-token"); !errors.Is(err, plugin.ErrInviteNotFound) {
		t.Errorf("CheckInvite malformed = %v", err)
	}
	if _, err := s.RedeemInvite(ctx, redemption("example.com", created.Token, "bob")); !errors.Is(err, plugin.ErrUsernameNotAllowed) {
		t.Errorf("RedeemInvite other name = %v", err)
	}
	if _, err := s.RedeemInvite(ctx, redemption("example.com", created.Token, "a b@")); !errors.Is(err, plugin.ErrInvalidUsername) {
		t.Errorf("RedeemInvite invalid name = %v", err)
	}
	r2 := redemption("example.com", created.Token, "alice")
	r2.Purpose = plugin.PurposeSubscribe
	if _, err := s.RedeemInvite(ctx, r2); !errors.Is(err, plugin.ErrUsernameNotAllowed) {
		t.Errorf("RedeemInvite to subscribe = %v", err)
	}
	if inv, err := s.RedeemInvite(ctx, redemption("example.com", created.Token, "Alice")); err != nil || inv.Username != "alice" {
		t.Errorf("RedeemInvite = %+v, %v", inv, err)
	}
	if _, err := s.RedeemInvite(ctx, redemption("example.com", created.Token, "alice")); !errors.Is(err, plugin.ErrInviteNotFound) {
		t.Errorf("RedeemInvite twice = %v", err)
	}
	past := openCore(t, dir, func() time.Time { return time.Now().Add(-time.Hour) })
	old, err := past.CreateInvite(ctx, core.InviteSpec{Host: "example.com", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckInvite(ctx, "example.com", old.Token); !errors.Is(err, plugin.ErrInviteExpired) {
		t.Errorf("CheckInvite expired = %v", err)
	}
	if _, err := s.RedeemInvite(ctx, redemption("example.com", old.Token, "carol")); !errors.Is(err, plugin.ErrInviteExpired) {
		t.Errorf("RedeemInvite expired = %v", err)
	}
	contact, err := c.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Kind: core.KindContact, Inviter: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if inv, err := s.CheckInvite(ctx, "example.com", contact.Token); err != nil || inv.CanRegister || inv.Inviter != "bob@example.com" {
		t.Errorf("CheckInvite contact = %+v, %v", inv, err)
	}
	if _, err := s.RedeemInvite(ctx, redemption("example.com", contact.Token, "dave")); !errors.Is(err, plugin.ErrUsernameNotAllowed) {
		t.Errorf("RedeemInvite contact without ibr = %v", err)
	}

	// Ad-hoc commands, with the host saying who is an admin.
	admin, err := s.Commands(ctx, "example.com", "admin@example.com/res", adhoc.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	user, err := s.Commands(ctx, "example.com", "bob@example.com/res", adhoc.RoleUser)
	if err != nil {
		t.Fatal(err)
	}
	if len(admin) <= len(user) || len(user) == 0 {
		t.Errorf("admin sees %v, user %v", admin, user)
	}
	resp, err := s.Execute(ctx, "example.com", adhoc.Request{Requester: "admin@example.com/res", Role: adhoc.RoleAdmin, Node: "urn:xmpp-invites:keys#list"})
	if err != nil || resp.Status != adhoc.StatusCompleted || resp.Form == nil {
		t.Fatalf("list keys = %+v, %v", resp, err)
	}
	// One key, as a single-item form every client shows (no table: Gajim crashes on one).
	if ids, _ := resp.Form.Field("id"); len(ids.Values) != 1 || len(resp.Form.Items) != 0 {
		t.Errorf("list keys form = %+v", resp.Form)
	}
	_, err = s.Execute(ctx, "example.com", adhoc.Request{Requester: "bob@example.com/res", Role: adhoc.RoleUser, Node: "urn:xmpp-invites:keys#list"})
	if ae, ok := errors.AsType[*adhoc.Error](err); !ok || ae.Condition != adhoc.CondForbidden {
		t.Errorf("list keys as user = %v", err)
	}
	if err := s.Health(ctx); err != nil {
		t.Errorf("Health = %v", err)
	}
}

// fakeHost stands in for the XMPP server's callbacks: romeo@example.com is the one
// account.
type fakeHost struct{}

var _ plugin.HostAPI = fakeHost{}

func (fakeHost) AccountExists(_ context.Context, jid string) (bool, error) {
	return jid == "romeo@example.com", nil
}

func (fakeHost) Register(context.Context, plugin.Registration) (string, error) {
	return "", errors.ErrUnsupported
}

func redemption(host, token, username string) plugin.Redemption {
	return plugin.Redemption{Host: host, Token: token, Username: username}
}

// ctxT returns a context that ends with the test or after ten seconds.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
