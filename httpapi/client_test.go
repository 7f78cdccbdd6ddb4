package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
)

func ptr[T any](v T) *T { return &v }

// TestClient drives every method of the Client against the real handler and store
// over HTTP on loopback, each exchange checked against openapi.yaml: creation with
// every parameter, the list with its status filter and its pages, show, each change of
// a merge patch, revocation; what each returns is checked against the store.
func TestClient(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	h := httpapi.New(f.svc, httpapi.Options{FailedAuthCount: -1, Now: f.clock.Now, Accounts: accountSet{"romeo@example.com": true}})
	srv := specServer(t, h)
	c := f.client(t, srv, "good")
	now := f.clock.Now()

	// Creation, every parameter.
	inv, err := c.Create(ctx, httpapi.CreateParams{TTL: 48 * time.Hour, MaxUses: ptr(3), Note: "spring course", Groups: []string{"team", "choir"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Token) != 36 || inv.URI != "xmpp:example.com?register;preauth="+inv.Token || inv.LandingPage != "" ||
		inv.Host != plainHost || inv.Kind != "account" || inv.Status != "pending" || inv.MaxUses != 3 || inv.Uses != 0 ||
		inv.Note != "spring course" || !slices.Equal(inv.Groups, []string{"team", "choir"}) ||
		!inv.CreatedAt.Equal(now) || !inv.ExpiresAt.Equal(now.Add(48*time.Hour)) || inv.CreatedBy != "api/token/"+keyIDOf(f.creds["good"]) {
		t.Fatalf("created %+v", inv)
	}
	stored, err := f.svc.Invite(ctx, core.Actor{Kind: core.ActorCLI, Manage: true}, plainHost, inv.ID)
	if err != nil || stored.MaxUses != 3 || stored.Note != "spring course" || !slices.Equal(stored.Groups, []string{"team", "choir"}) ||
		!stored.ExpiresAt.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("stored %+v %v", stored, err)
	}
	fixed, err := c.Create(ctx, httpapi.CreateParams{Username: "juliet", TTL: 90 * time.Minute})
	if err != nil || fixed.Username != "juliet" || fixed.MaxUses != 1 || fixed.URI != "xmpp:juliet@example.com?register;preauth="+fixed.Token ||
		!fixed.ExpiresAt.Equal(now.Add(90*time.Minute)) {
		t.Fatalf("fixed username: %+v %v", fixed, err)
	}
	open, err := c.Create(ctx, httpapi.CreateParams{MaxUses: ptr(0), Redirect: true})
	if err != nil || open.MaxUses != 0 || open.Token == "" || !open.ExpiresAt.Equal(now.Add(core.DefaultInviteTTL)) {
		t.Fatalf("any number, redirect: %+v %v", open, err)
	}
	// A redirect to a landing page is an answer, not followed (landing.example does not
	// exist).
	landing, err := f.client(t, srv, "landing").Create(ctx, httpapi.CreateParams{Redirect: true})
	if err != nil || landing.LandingPage != "https://landing.example/invite?"+landing.Token {
		t.Fatalf("redirect to the landing page: %+v %v", landing, err)
	}

	// Every refusal of a creation, each naming its field.
	_, err = c.Create(ctx, httpapi.CreateParams{TTL: 100 * 24 * time.Hour, Note: "bad\u202e", Username: "romeo"})
	var e *httpapi.Error
	if !errors.As(err, &e) || !errors.Is(err, httpapi.ErrBadRequest) || e.Status != 400 || len(e.Errors) != 3 ||
		!strings.HasPrefix(err.Error(), "creating an invite: 400 Bad Request: ") ||
		!strings.Contains(err.Error(), "ttl: a lifetime of 100 days is longer than the maximum of 90 days") {
		t.Fatalf("refused creation: %#v %v", e, err)
	}
	fields := []string{e.Errors[0].Field, e.Errors[1].Field, e.Errors[2].Field}
	slices.Sort(fields)
	if !slices.Equal(fields, []string{"note", "ttl", "username"}) {
		t.Errorf("refused fields %v", fields)
	}
	if _, err := c.Create(ctx, httpapi.CreateParams{Username: "romeo"}); !errors.Is(err, httpapi.ErrConflict) ||
		!strings.Contains(err.Error(), "the account romeo@example.com already exists") {
		t.Errorf("an existing account: %v", err)
	}
	if _, err := c.Create(ctx, httpapi.CreateParams{TTL: 1500 * time.Millisecond}); !errors.Is(err, httpapi.ErrBadRequest) {
		t.Errorf("a lifetime of 1.5s: %v", err)
	}

	// Lists: the status filter, pages, the iterator.
	l, err := c.List(ctx, httpapi.ListParams{Status: "pending", Limit: 2})
	if err != nil || len(l.Invites) != 2 || l.Invites[0].ID != open.ID || l.Invites[1].ID != fixed.ID || l.NextCursor == "" ||
		l.Invites[0].Token != "" || l.Invites[0].URI != "" {
		t.Fatalf("first page: %+v %v", l, err)
	}
	l, err = c.List(ctx, httpapi.ListParams{Status: "pending", Limit: 2, Cursor: l.NextCursor})
	if err != nil || len(l.Invites) != 1 || l.Invites[0].ID != inv.ID || l.NextCursor != "" {
		t.Fatalf("second page: %+v %v", l, err)
	}
	var all []string
	for got, err := range c.Invites(ctx, httpapi.ListParams{Limit: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, got.ID)
	}
	if !slices.Equal(all, []string{open.ID, fixed.ID, inv.ID}) {
		t.Errorf("every invite, a page each: %v", all)
	}
	if _, err := c.List(ctx, httpapi.ListParams{Status: "lost"}); !errors.Is(err, httpapi.ErrBadRequest) ||
		!strings.Contains(err.Error(), "status: unknown status") {
		t.Errorf("an unknown status: %v", err)
	}

	// Changes: each field of the merge patch, the note removed, refusals.
	expires := now.Add(30 * 24 * time.Hour)
	changed, err := c.Update(ctx, inv.ID, httpapi.Patch{ExpiresAt: expires.In(time.FixedZone("CEST", 2*3600)), MaxUses: ptr(5)})
	if err != nil || !changed.ExpiresAt.Equal(expires) || changed.MaxUses != 5 || changed.Note != "spring course" {
		t.Fatalf("extended: %+v %v", changed, err)
	}
	changed, err = c.Update(ctx, inv.ID, httpapi.Patch{Note: ptr("")})
	if err != nil || changed.Note != "" || changed.MaxUses != 5 {
		t.Fatalf("note removed: %+v %v", changed, err)
	}
	changed, err = c.Update(ctx, inv.ID, httpapi.Patch{})
	if err != nil || changed.ID != inv.ID || !changed.ExpiresAt.Equal(expires) {
		t.Fatalf("no change: %+v %v", changed, err)
	}
	if _, err := c.Update(ctx, inv.ID, httpapi.Patch{ExpiresAt: now.Add(200 * 24 * time.Hour)}); !errors.Is(err, httpapi.ErrBadRequest) ||
		!errors.As(err, &e) || len(e.Errors) != 1 || e.Errors[0].Field != "expires_at" {
		t.Errorf("beyond the maximum: %v", err)
	}

	// Redemptions show; revocation, twice; a revoked invite refuses a change.
	for _, name := range []string{"ann", "ben"} {
		if _, err := f.svc.Redeem(ctx, core.Redemption{Host: plainHost, Token: inv.Token, Username: name}); err != nil {
			t.Fatal(err)
		}
	}
	shown, err := c.Show(ctx, inv.ID)
	if err != nil || shown.Uses != 2 || len(shown.Redemptions) != 2 || shown.Redemptions[0].JID != "ann@example.com" ||
		!shown.Redemptions[1].At.Equal(now) || shown.Token != "" {
		t.Fatalf("shown: %+v %v", shown, err)
	}
	for range 2 {
		if err := c.Revoke(ctx, inv.ID); err != nil {
			t.Fatal(err)
		}
	}
	shown, err = c.Show(ctx, inv.ID)
	if err != nil || shown.Status != "revoked" || !shown.RevokedAt.Equal(now) {
		t.Fatalf("revoked: %+v %v", shown, err)
	}
	if _, err := c.Update(ctx, inv.ID, httpapi.Patch{Note: ptr("again")}); !errors.Is(err, httpapi.ErrConflict) {
		t.Errorf("changing a revoked invite: %v", err)
	}
	if _, err := f.svc.Redeem(ctx, core.Redemption{Host: plainHost, Token: inv.Token, Username: "cat"}); err == nil {
		t.Error("the revoked invite was redeemed")
	}

	// Another key's view: 404 for each operation on an invite it did not make.
	other := f.client(t, srv, "other")
	if _, err := other.Show(ctx, fixed.ID); !errors.Is(err, httpapi.ErrNotFound) || err.Error() != "showing invite "+fixed.ID+": 404 Not Found: no such invite" {
		t.Errorf("show another key's invite: %v", err)
	}
	if _, err := other.Update(ctx, fixed.ID, httpapi.Patch{Note: ptr("mine")}); !errors.Is(err, httpapi.ErrNotFound) {
		t.Errorf("change another key's invite: %v", err)
	}
	if err := other.Revoke(ctx, fixed.ID); !errors.Is(err, httpapi.ErrNotFound) {
		t.Errorf("revoke another key's invite: %v", err)
	}
	if _, err := other.Show(ctx, "not/an/id"); !errors.Is(err, httpapi.ErrNotFound) {
		t.Errorf("an ID with slashes: %v", err)
	}
}

// TestClientErrors: each way the API refuses a key or a request comes back as an
// *Error with its status, its detail, its sentinel and, when the answer has one, its
// Retry-After.
func TestClientErrors(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	srv := specServer(t, httpapi.New(f.svc, httpapi.Options{FailedAuthCount: 3, FailedAuthPeriod: time.Hour, Now: f.clock.Now}))
	closed := newFixture(t)
	_ = closed.st.Close()
	down := specServer(t, httpapi.New(closed.svc, httpapi.Options{}))

	for i, tc := range []struct {
		srv     *httptest.Server
		key     string
		call    func(c *httpapi.Client) error
		status  int
		is      error
		detail  string
		retried bool // a Retry-After
	}{
		0: {srv, "wrong", create, 403, httpapi.ErrForbidden, "invalid API key", false},
		1: {srv, "expired", create, 403, httpapi.ErrForbidden, "API key expired", false},
		2: {srv, "revoked", list, 403, httpapi.ErrForbidden, "invalid API key", false},
		// The address's budget of 3 failures is spent: a key it does not know gets 429.
		3: {srv, "unknown", create, 429, httpapi.ErrRateLimited, "too many failed authentications from this address", true},
		// The key's rate: 1 an hour.
		4: {srv, "limited", create, 0, nil, "", false},
		5: {srv, "limited", create, 429, httpapi.ErrRateLimited, "this API key's rate limit is exceeded", true},
		6: {srv, "good", func(c *httpapi.Client) error { _, err := c.Show(ctx, "AAAAAAAAAAAA"); return err }, 404, httpapi.ErrNotFound, "no such invite", false},
		7: {down, "good", create, 503, httpapi.ErrUnavailable, "the invite store is unavailable; try again shortly", true},
	} {
		c, err := httpapi.NewClient(tc.srv.URL+"/invites_api/", f.creds[tc.key], nil)
		if err != nil {
			t.Fatal(err)
		}
		err = tc.call(c)
		if tc.status == 0 {
			if err != nil {
				t.Errorf("%d: %v", i, err)
			}
			continue
		}
		var e *httpapi.Error
		if !errors.As(err, &e) || e.Status != tc.status || e.Detail != tc.detail || !errors.Is(err, tc.is) || (e.RetryAfter > 0) != tc.retried {
			t.Errorf("%d: %#v (%v), want %d %q", i, e, err, tc.status, tc.detail)
		}
	}
}

func create(c *httpapi.Client) error {
	_, err := c.Create(context.Background(), httpapi.CreateParams{})
	return err
}

func list(c *httpapi.Client) error {
	_, err := c.List(context.Background(), httpapi.ListParams{})
	return err
}

// TestClientOtherServers: answers that are not the API's own (a proxy's error page, a
// text answer with an HTTP date in Retry-After, a server whose pages never end) still
// come back as errors saying what happened, and the iterator's loop ends.
func TestClientOtherServers(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	retry := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/proxy/invites_api": // as nginx answers when xmppd is down
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		case "/text/invites_api":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Retry-After", retry)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, "down for maintenance\nback soon\n")
		case "/loop/invites_api/invites":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"invites":[],"next_cursor":"again"}`)
		case "/garbage/invites_api/invites":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"invites":`)
		}
	}))
	defer srv.Close()
	client := func(prefix string) *httpapi.Client {
		c, err := httpapi.NewClient(srv.URL+prefix+"/invites_api", f.creds["good"], srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var e *httpapi.Error
	if err := create(client("/proxy")); !errors.As(err, &e) || e.Status != 502 || e.Detail != "" || err.Error() != "creating an invite: 502 Bad Gateway" {
		t.Errorf("a proxy's page: %v", err)
	}
	if err := create(client("/text")); !errors.As(err, &e) || e.Detail != "down for maintenance" || !errors.Is(err, httpapi.ErrUnavailable) ||
		e.RetryAfter < 80*time.Second || e.RetryAfter > 91*time.Second {
		t.Errorf("a text answer: %#v %v", e, err)
	}
	n := 0
	var last error
	for _, err := range client("/loop").Invites(ctx, httpapi.ListParams{}) {
		n++
		last = err
	}
	if n != 1 || last == nil || !strings.Contains(last.Error(), "the same page twice") {
		t.Errorf("a server whose pages never end: %d rounds, %v", n, last)
	}
	if err := list(client("/garbage")); err == nil || !strings.Contains(err.Error(), "listing invites: the answer (200 OK) is not the JSON expected") {
		t.Errorf("a truncated answer: %v", err)
	}
}

// TestNewClient: an unusable URL or key is refused before any request, saying what
// is accepted.
func TestNewClient(t *testing.T) {
	const key = "AAAAAAAAAAAA/" + "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
	for i, tc := range []struct {
		url, key, err string
	}{
		0: {"https://chat.example/invites_api", key, ""},
		1: {"http://127.0.0.1:5280/invites_api/", key, ""},
		2: {"chat.example/invites_api", key, "must be an http or https URL"},
		3: {"ftp://chat.example/invites_api", key, "must be an http or https URL"},
		4: {"https://chat.example/invites_api?key=x", key, "without a query"},
		5: {"https://chat.example/invites_api", "secret", "must be of the form ID/SECRET"},
		6: {"https://chat.example/invites_api", key + "\r\nX: y", "must be of the form ID/SECRET"},
	} {
		_, err := httpapi.NewClient(tc.url, tc.key, nil)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%d: %v, want %q", i, err, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), "BBBB") {
			t.Errorf("%d: the error quotes the key: %v", i, err)
		}
	}
}

// keyIDOf is the ID half of a credential.
func keyIDOf(cred string) string {
	id, _, _ := strings.Cut(cred, "/")
	return id
}
