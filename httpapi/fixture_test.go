package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// countingStore is the real SQLite store, counting the invites it commits.
type countingStore struct {
	*sqlite.Store
	invites atomic.Int64
}

func (s *countingStore) CreateInvite(ctx context.Context, inv core.Invite, w core.InviteWrite) error {
	err := s.Store.CreateInvite(ctx, inv, w)
	if err == nil {
		s.invites.Add(1)
	}
	return err
}

// clock is a settable time source shared by the service and the handler.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Hosts of the fixture.
const (
	plainHost   = "example.com"     // no landing page: Location is the xmpp: URI
	landingHost = "landing.example" // with a landing page
	goneHost    = "gone.example"    // served when its key is made, then dropped
	landingTmpl = "https://landing.example/invite?{token}"
)

// fixture is a core service over a real SQLite store in a temporary directory, with
// keys of every kind the tests need.
type fixture struct {
	st    *countingStore
	svc   *core.Service
	clock *clock
	// creds maps a key's name to its credential ID/SECRET.
	creds map[string]string
}

// newFixture opens the store and makes the keys:
//
//	good     example.com, no limits
//	landing  landing.example
//	short    example.com, invites of at most 1h
//	limited  example.com, 1 invite an hour
//	expired  example.com, expired an hour ago
//	revoked  example.com, deleted
//	gone     gone.example, a host no longer served
//	manage   example.com, sees and changes every invite of its host
//	other    example.com, another ordinary key
//	lmanage  landing.example, sees every invite of its host
//	unknown  well formed, never created
//	wrong    good's ID with another secret
func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "invites.db"), sqlite.Options{})
	if err != nil {
		tb.Fatalf("opening store: %v", err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	f := &fixture{
		st:    &countingStore{Store: st},
		clock: &clock{t: time.Now().UTC().Truncate(time.Second)},
		creds: map[string]string{},
	}
	hosts := []core.HostConfig{
		{Domain: plainHost},
		{Domain: landingHost, LandingPage: landingTmpl},
	}
	f.svc, err = core.NewService(core.Options{
		Store: f.st,
		Hosts: append(hosts, core.HostConfig{Domain: goneHost}),
		Now:   f.clock.Now,
		Mail:  true, // invites may be mailed (delivery_test.go)
	})
	if err != nil {
		tb.Fatalf("new service: %v", err)
	}
	mk := func(name string, spec core.KeySpec) core.Key {
		tb.Helper()
		k, cred, err := f.svc.CreateKey(ctx, spec)
		if err != nil {
			tb.Fatalf("creating key %s: %v", name, err)
		}
		f.creds[name] = cred
		return k
	}
	now := f.clock.Now()
	f.clock.Set(now.Add(-2 * time.Hour))
	mk("expired", core.KeySpec{Host: plainHost, ExpiresIn: time.Hour})
	f.clock.Set(now)
	good := mk("good", core.KeySpec{Host: plainHost, Name: "test"})
	mk("landing", core.KeySpec{Host: landingHost})
	mk("short", core.KeySpec{Host: plainHost, MaxTTL: time.Hour})
	mk("limited", core.KeySpec{Host: plainHost, Rate: core.Rate{N: 1, Period: time.Hour}})
	revoked := mk("revoked", core.KeySpec{Host: plainHost})
	if err := f.svc.DeleteKey(ctx, core.Actor{Kind: core.ActorCLI}, plainHost, revoked.ID); err != nil {
		tb.Fatalf("deleting key: %v", err)
	}
	mk("gone", core.KeySpec{Host: goneHost})
	mk("manage", core.KeySpec{Host: plainHost, Manage: true})
	mk("other", core.KeySpec{Host: plainHost})
	mk("lmanage", core.KeySpec{Host: landingHost, Manage: true})
	if err := f.svc.SetHosts(hosts); err != nil {
		tb.Fatalf("set hosts: %v", err)
	}
	f.creds["unknown"] = strings.Repeat("A", core.KeyIDLen) + "/" + strings.Repeat("A", core.KeySecretLen)
	f.creds["wrong"] = good.ID + "/" + strings.Repeat("B", core.KeySecretLen)
	return f
}

// expand replaces each {name} in s by the credential of that key.
func (f *fixture) expand(s string) string {
	for name, cred := range f.creds {
		s = strings.ReplaceAll(s, "{"+name+"}", cred)
	}
	return s
}

// secrets returns the secret halves of every key, which must never be logged.
func (f *fixture) secrets() []string {
	var out []string
	for _, cred := range f.creds {
		_, secret, _ := strings.Cut(cred, "/")
		out = append(out, secret)
	}
	return out
}

// specServer serves h over real HTTP on loopback and checks every exchange against
// openapi.yaml: the response as h wrote it, and the request as the client sent it,
// which must be valid unless it was refused (4xx) for what the spec refuses too.
// The client tests go through it, so that the Client speaks the API as it is
// described, and the API answers the Client as it is described.
func specServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	spec := openAPI(t)
	var mu sync.Mutex // the validator is not documented as safe for concurrent use
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading the request: %v", err)
			return
		}
		rec := httptest.NewRecorder()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(rec, r)
		resp := rec.Result()

		vreq := r.Clone(r.Context())
		vreq.Body = io.NopCloser(bytes.NewReader(body))
		mu.Lock()
		if ok, errs := spec.ValidateHttpRequest(vreq); !ok && (resp.StatusCode < 400 || resp.StatusCode >= 500) {
			for _, e := range errs {
				t.Errorf("openapi.yaml: %s %s: the request: %s: %s", r.Method, r.URL, e.Message, e.Reason)
			}
		}
		vreq.Body = io.NopCloser(bytes.NewReader(body))
		if ok, errs := spec.ValidateHttpResponse(vreq, resp); !ok {
			for _, e := range errs {
				t.Errorf("openapi.yaml: %s %s: the response %d: %s: %s", r.Method, r.URL, resp.StatusCode, e.Message, e.Reason)
			}
		}
		mu.Unlock()
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}))
	t.Cleanup(srv.Close)
	return srv
}

// client returns a Client of the API at srv with the fixture key named.
func (f *fixture) client(t *testing.T, srv *httptest.Server, keyName string) *httpapi.Client {
	t.Helper()
	c, err := httpapi.NewClient(srv.URL+httpapi.DefaultBasePath, f.creds[keyName], srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	return c
}
