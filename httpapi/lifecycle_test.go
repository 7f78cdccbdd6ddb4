package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
)

// inviteList is the JSON body of a list.
type inviteList struct {
	Invites    []invite `json:"invites"`
	NextCursor string   `json:"next_cursor"`
}

// lifecycleFixture is the fixture with invites of several keys, named for the cases.
type lifecycleFixture struct {
	*fixture
	h   http.Handler
	ids map[string]string // name → invite ID
}

// newLifecycleFixture makes, oldest first:
//
//	used     by good, max_uses 2, redeemed by ann and ben
//	revoked  by good, revoked
//	other    by other
//	landing  by landing (landing.example)
//	team     by good, note "spring course", group team, max_uses 2
func newLifecycleFixture(t testing.TB) *lifecycleFixture {
	t.Helper()
	f := newFixture(t)
	ctx := context.Background()
	lf := &lifecycleFixture{fixture: f, ids: map[string]string{}}
	lf.h = httpapi.New(f.svc, httpapi.Options{MaxBodyBytes: testMaxBody, FailedAuthCount: -1, Now: f.clock.Now})
	two := 2
	mk := func(name, keyName string, spec core.InviteSpec) core.Invite {
		t.Helper()
		k, err := f.svc.Authenticate(ctx, f.creds[keyName])
		if err != nil {
			t.Fatal(err)
		}
		inv, err := f.svc.CreateKeyInvite(ctx, k, spec)
		if err != nil {
			t.Fatal(err)
		}
		lf.ids[name] = inv.ID
		f.clock.Set(f.clock.Now().Add(time.Second)) // newest first is then unambiguous
		return inv
	}
	used := mk("used", "good", core.InviteSpec{MaxUses: &two})
	for _, name := range []string{"ann", "ben"} {
		if _, err := f.svc.Redeem(ctx, core.Redemption{Host: plainHost, Token: used.Token, Username: name}); err != nil {
			t.Fatal(err)
		}
	}
	mk("revoked", "good", core.InviteSpec{})
	if _, err := f.svc.RevokeInvite(ctx, core.Actor{Kind: core.ActorCLI, Manage: true}, plainHost, lf.ids["revoked"]); err != nil {
		t.Fatal(err)
	}
	mk("other", "other", core.InviteSpec{})
	mk("landing", "landing", core.InviteSpec{})
	mk("team", "good", core.InviteSpec{MaxUses: &two, Note: "spring course", Groups: []string{"team"}})
	return lf
}

// expand fills {name} with a key's credential and [name] with an invite's ID.
func (lf *lifecycleFixture) expand(s string) string {
	s = lf.fixture.expand(s)
	for name, id := range lf.ids {
		s = strings.ReplaceAll(s, "["+name+"]", id)
	}
	return s
}

// names maps invite IDs back to the fixture's names.
func (lf *lifecycleFixture) names(invs []invite) []string {
	var out []string
	for _, inv := range invs {
		name := inv.ID
		for n, id := range lf.ids {
			if id == inv.ID {
				name = n
			}
		}
		out = append(out, name)
	}
	return out
}

// TestLifecycle runs the lifecycle endpoints of SPEC ("Invite lifecycle") in order over
// one store: list, show, change, revoke, with key scoping; each response is checked
// for its status, the headers every response carries, its body, and against
// openapi.yaml.
func TestLifecycle(t *testing.T) {
	lf := newLifecycleFixture(t)
	spec := openAPI(t)
	ctx := context.Background()
	jsonAccept := map[string]string{"Accept": "application/json"}
	mergePatch := map[string]string{"Content-Type": "application/merge-patch+json", "Accept": "application/json"}
	bearer := func(cred string) map[string]string { return map[string]string{"Authorization": "Bearer " + cred} }
	expires := lf.clock.Now().Add(48 * time.Hour).UTC().Truncate(time.Second).Format(time.RFC3339)

	type testCase struct {
		name   string
		method string // default GET
		target string // {key} and [invite] are expanded
		header map[string]string
		body   string
		status int
		list   []string // a list's invites, by name, in order
		next   bool     // the list has a next_cursor
		check  func(inv invite) error
		detail string // part of an error's detail
		allow  string // Allow, for 204 and 405
		noSpec bool   // a path OpenAPI does not describe
	}
	tests := []testCase{
		// Lists: the key's own invites, newest first, without tokens or redemptions.
		{name: "list", target: "/invites_api/invites?key={good}", status: 200, list: []string{"team", "revoked", "used"}},
		{name: "list, bearer", target: "/invites_api/invites", header: bearer("{good}"), status: 200, list: []string{"team", "revoked", "used"}},
		{name: "list pending", target: "/invites_api/invites?key={good}&status=pending", status: 200, list: []string{"team"}},
		{name: "list used", target: "/invites_api/invites?key={good}&status=used", status: 200, list: []string{"used"}},
		{name: "list revoked", target: "/invites_api/invites?key={good}&status=revoked", status: 200, list: []string{"revoked"}},
		{name: "list all", target: "/invites_api/invites?key={good}&status=all", status: 200, list: []string{"team", "revoked", "used"}},
		{name: "list expired: none", target: "/invites_api/invites?key={good}&status=expired", status: 200, list: []string{}},
		{name: "list a page", target: "/invites_api/invites?key={good}&limit=2", status: 200, list: []string{"team", "revoked"}, next: true},
		{name: "list of another key", target: "/invites_api/invites?key={other}", status: 200, list: []string{"other"}},
		{name: "list of a managing key: its host only", target: "/invites_api/invites?key={manage}", status: 200,
			list: []string{"team", "other", "revoked", "used"}},
		{name: "list of a managing key of another host", target: "/invites_api/invites?key={lmanage}", status: 200, list: []string{"landing"}},
		{name: "list, unknown status", target: "/invites_api/invites?key={good}&status=lost", header: jsonAccept, status: 400, detail: "status: unknown status"},
		{name: "list, limit 0", target: "/invites_api/invites?key={good}&limit=0", status: 400, detail: "limit: must be"},
		{name: "list, limit too large", target: "/invites_api/invites?key={good}&limit=501", status: 400, detail: "limit: must be"},
		{name: "list, limit not a number", target: "/invites_api/invites?key={good}&limit=ten", status: 400, detail: "limit: must be"},
		{name: "list, bad cursor", target: "/invites_api/invites?key={good}&cursor=garbage", header: jsonAccept, status: 400, detail: "cursor"},
		{name: "list, two statuses", target: "/invites_api/invites?key={good}&status=used&status=pending", status: 400, detail: "status: given twice"},
		{name: "list without a key", target: "/invites_api/invites", header: jsonAccept, status: 403, detail: "missing API key"},
		{name: "list with a wrong key", target: "/invites_api/invites?key={wrong}", status: 403, detail: "invalid API key"},
		{name: "list with an expired key", target: "/invites_api/invites?key={expired}", status: 403, detail: "API key expired"},
		{name: "list, POST", method: "POST", target: "/invites_api/invites?key={good}", status: 405, allow: "GET, OPTIONS"},
		{name: "list, DELETE", method: "DELETE", target: "/invites_api/invites?key={good}", header: jsonAccept, status: 405, allow: "GET, OPTIONS"},
		{name: "list, preflight", method: "OPTIONS", target: "/invites_api/invites", header: map[string]string{
			"Origin": "https://portal.example", "Access-Control-Request-Method": "GET"}, status: 204, allow: "GET, OPTIONS"},

		// One invite, with its redemptions.
		{name: "show", target: "/invites_api/invites/[team]?key={good}", status: 200, check: func(inv invite) error {
			if inv.Note != "spring course" || !slices.Equal(inv.Groups, []string{"team"}) || *inv.MaxUses != 2 || inv.Uses != 0 ||
				inv.Status != "pending" || inv.Kind != "account" || inv.Redemptions != nil ||
				inv.Token != "" || inv.URI != "" || !strings.HasPrefix(inv.CreatedBy, "api/token/") {
				return fmt.Errorf("%+v", inv)
			}
			return nil
		}},
		{name: "show the used one: who used it", target: "/invites_api/invites/[used]", header: bearer("{good}"), status: 200, check: func(inv invite) error {
			if inv.Status != "used" || inv.Uses != 2 || inv.Redemptions == nil || len(*inv.Redemptions) != 2 ||
				(*inv.Redemptions)[0].JID != "ann@example.com" || (*inv.Redemptions)[1].JID != "ben@example.com" || (*inv.Redemptions)[0].At == "" {
				return fmt.Errorf("%+v", inv)
			}
			return nil
		}},
		{name: "show the revoked one", target: "/invites_api/invites/[revoked]?key={good}", status: 200, check: func(inv invite) error {
			if inv.Status != "revoked" || inv.RevokedAt == "" {
				return fmt.Errorf("%+v", inv)
			}
			return nil
		}},
		{name: "show another key's invite: 404", target: "/invites_api/invites/[other]?key={good}", header: jsonAccept, status: 404, detail: "no such invite"},
		{name: "show another key's invite to a managing key", target: "/invites_api/invites/[other]?key={manage}", status: 200, check: func(inv invite) error {
			if inv.ID == "" || inv.Status != "pending" {
				return fmt.Errorf("%+v", inv)
			}
			return nil
		}},
		{name: "show another host's invite to a managing key: 404", target: "/invites_api/invites/[landing]?key={manage}", status: 404},
		{name: "show an unknown invite", target: "/invites_api/invites/AAAAAAAAAAAA?key={good}", status: 404},
		{name: "show a malformed ID", target: "/invites_api/invites/not-an-id?key={good}", status: 404},
		{name: "show without a key", target: "/invites_api/invites/[team]", status: 403},
		{name: "show, preflight", method: "OPTIONS", target: "/invites_api/invites/[team]", status: 204, allow: "GET, PATCH, DELETE, OPTIONS"},
		{name: "PUT an invite", method: "PUT", target: "/invites_api/invites/[team]?key={good}", status: 405, allow: "GET, PATCH, DELETE, OPTIONS"},
		{name: "a path below an invite", target: "/invites_api/invites/[team]/uses?key={good}", status: 404, noSpec: true},
		{name: "another path below the API", target: "/invites_api/keys?key={good}", header: jsonAccept, status: 404, detail: "no such endpoint", noSpec: true},
		{name: "the list with a slash", target: "/invites_api/invites/?key={good}", status: 404, noSpec: true},

		// Changes: a JSON merge patch of expires_at, max_uses and note.
		{name: "patch the note", method: "PATCH", target: "/invites_api/invites/[team]?key={good}", header: mergePatch,
			body: `{"note":"autumn course"}`, status: 200, check: func(inv invite) error {
				if inv.Note != "autumn course" || *inv.MaxUses != 2 || inv.Redemptions != nil {
					return fmt.Errorf("%+v", inv)
				}
				return nil
			}},
		{name: "patch the expiry and max_uses, application/json", method: "PATCH", target: "/invites_api/invites/[team]", header: map[string]string{
			"Content-Type": "application/json; charset=utf-8", "Authorization": "Bearer {good}"},
			body: `{"expires_at":"EXPIRES","max_uses":3}`, status: 200, check: func(inv invite) error {
				if inv.ExpiresAt != expires || *inv.MaxUses != 3 || inv.Status != "pending" {
					return fmt.Errorf("%+v", inv)
				}
				return nil
			}},
		{name: "patch: remove the note", method: "PATCH", target: "/invites_api/invites/[team]?key={good}", header: mergePatch,
			body: `{"note":null}`, status: 200, check: func(inv invite) error {
				if inv.Note != "" {
					return fmt.Errorf("%+v", inv)
				}
				return nil
			}},
		{name: "patch: nothing", method: "PATCH", target: "/invites_api/invites/[team]?key={good}", header: mergePatch,
			body: `{}`, status: 200},
		{name: "patch: max_uses below the uses", method: "PATCH", target: "/invites_api/invites/[used]?key={good}", header: mergePatch,
			body: `{"max_uses":1}`, status: 409, detail: "below the 2 uses"},
		{name: "patch: max_uses 0 makes a used invite pending", method: "PATCH", target: "/invites_api/invites/[used]?key={good}", header: mergePatch,
			body: `{"max_uses":0}`, status: 200, check: func(inv invite) error {
				if inv.Status != "pending" || *inv.MaxUses != 0 || len(*inv.Redemptions) != 2 {
					return fmt.Errorf("%+v", inv)
				}
				return nil
			}},
		{name: "patch a revoked invite", method: "PATCH", target: "/invites_api/invites/[revoked]?key={good}", header: mergePatch,
			body: `{"note":"again"}`, status: 409, detail: "revoked"},
		{name: "patch: expiry beyond the maximum", method: "PATCH", target: "/invites_api/invites/[team]?key={good}", header: mergePatch,
			body: `{"expires_at":"2999-01-01T00:00:00Z"}`, status: 400, detail: "longer than the maximum"},
		{name: "patch: every refusal at once", method: "PATCH", target: "/invites_api/invites/[used]?key={good}", header: mergePatch,
			body:   `{"max_uses":1,"expires_at":"2999-01-01T00:00:00Z","note":"\u202e","color":"red"}`,
			status: 400, detail: `"errors":[{"field":"color","detail":"cannot be changed: only expires_at, max_uses and note can"},{"field":"note","detail":"the note contains the control character U+202E`},
		{name: "patch: an unknown member", method: "PATCH", target: "/invites_api/invites/[team]?key={good}", header: mergePatch,
			body: `{"username":"mallory"}`, status: 400, detail: "cannot be changed"},
		{name: "patch: max_uses as text", method: "PATCH", target: "/invites_api/invites/[team]?key={good}", header: mergePatch,
			body: `{"max_uses":"3"}`, status: 400, detail: "max_uses"},
		{name: "patch: not an object", method: "PATCH", target: "/invites_api/invites/[team]?key={good}", header: mergePatch,
			body: `[1]`, status: 400},
		{name: "patch: empty body", method: "PATCH", target: "/invites_api/invites/[team]?key={good}", header: mergePatch,
			status: 400, detail: "JSON object"},
		{name: "patch: a form", method: "PATCH", target: "/invites_api/invites/[team]?key={good}",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, body: "note=x", status: 415},
		{name: "patch: too large", method: "PATCH", target: "/invites_api/invites/[team]?key={good}", header: mergePatch,
			body: `{"note":"` + strings.Repeat("x", testMaxBody) + `"}`, status: 413},
		{name: "patch another key's invite", method: "PATCH", target: "/invites_api/invites/[other]?key={good}", header: mergePatch,
			body: `{"note":"mine now"}`, status: 404},
		{name: "patch another key's invite with a managing key", method: "PATCH", target: "/invites_api/invites/[other]?key={manage}", header: mergePatch,
			body: `{"note":"seen by the manager"}`, status: 200, check: func(inv invite) error {
				if inv.Note != "seen by the manager" {
					return fmt.Errorf("%+v", inv)
				}
				return nil
			}},

		// Revocation.
		{name: "revoke another key's invite", method: "DELETE", target: "/invites_api/invites/[other]?key={good}", status: 404},
		{name: "revoke another host's invite with a managing key", method: "DELETE", target: "/invites_api/invites/[landing]?key={manage}", status: 404},
		{name: "revoke", method: "DELETE", target: "/invites_api/invites/[team]?key={good}", status: 204},
		{name: "revoke again", method: "DELETE", target: "/invites_api/invites/[team]", header: bearer("{good}"), status: 204},
		{name: "revoke with a managing key", method: "DELETE", target: "/invites_api/invites/[other]?key={manage}", status: 204},
		{name: "revoke without a key", method: "DELETE", target: "/invites_api/invites/[used]", status: 403},
		{name: "revoked, then listed", target: "/invites_api/invites?key={good}&status=revoked", status: 200, list: []string{"team", "revoked"}},
		{name: "revoked, then shown", target: "/invites_api/invites/[team]?key={good}", status: 200, check: func(inv invite) error {
			if inv.Status != "revoked" || inv.RevokedAt == "" || inv.Note != "" {
				return fmt.Errorf("%+v", inv)
			}
			return nil
		}},
	}

	seen := map[string]bool{}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if seen[tc.name] {
				t.Fatal("duplicate case name")
			}
			seen[tc.name] = true
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(strings.ReplaceAll(tc.body, "EXPIRES", expires))
			}
			req := httptest.NewRequestWithContext(ctx, method, lf.expand(tc.target), body)
			req.RemoteAddr = fmt.Sprintf("198.51.100.%d:%d", i%250+1, 30000+i)
			for k, v := range tc.header {
				req.Header.Set(k, lf.expand(v))
			}
			rec := httptest.NewRecorder()
			lf.h.ServeHTTP(rec, req)
			resp := rec.Result()
			data := rec.Body.Bytes()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.status, data)
			}
			methods := "GET, POST, OPTIONS"
			switch {
			case strings.HasPrefix(req.URL.Path, "/invites_api/invites/") && !tc.noSpec:
				methods = "GET, PATCH, DELETE, OPTIONS"
			case req.URL.Path == "/invites_api/invites":
				methods = "GET, OPTIONS"
			}
			for k, want := range map[string]string{
				"Cache-Control":                 "no-store",
				"Access-Control-Allow-Origin":   "*",
				"Access-Control-Allow-Methods":  methods,
				"Access-Control-Allow-Headers":  "Authorization, Content-Type",
				"Access-Control-Expose-Headers": "Location, Retry-After",
				"X-Content-Type-Options":        "nosniff",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if got := resp.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if resp.Header.Get("Location") != "" {
				t.Errorf("Location %q", resp.Header.Get("Location"))
			}
			ct := resp.Header.Get("Content-Type")
			switch {
			case tc.status == 204:
				if len(data) != 0 {
					t.Errorf("204 with a body %q", data)
				}
			case tc.status == 200 && tc.list != nil:
				var l inviteList
				dec := json.NewDecoder(bytes.NewReader(data))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&l); err != nil || ct != "application/json" {
					t.Fatalf("list %s (%s): %v", data, ct, err)
				}
				if got := lf.names(l.Invites); !slices.Equal(got, tc.list) && !(len(got) == 0 && len(tc.list) == 0) {
					t.Errorf("listed %v, want %v", got, tc.list)
				}
				if (l.NextCursor != "") != tc.next {
					t.Errorf("next_cursor %q, want one: %v", l.NextCursor, tc.next)
				}
				for _, inv := range l.Invites {
					if inv.Token != "" || inv.URI != "" || inv.Redemptions != nil || inv.Groups == nil {
						t.Errorf("a listed invite shows %+v", inv)
					}
				}
				if !bytes.Contains(data, []byte(`"invites":[`)) {
					t.Errorf("no invites array in %s", data)
				}
			case tc.status == 200:
				var inv invite
				dec := json.NewDecoder(bytes.NewReader(data))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&inv); err != nil || ct != "application/json" {
					t.Fatalf("invite %s (%s): %v", data, ct, err)
				}
				if tc.check != nil {
					if err := tc.check(inv); err != nil {
						t.Errorf("invite: %v", err)
					}
				}
			default:
				if !strings.Contains(string(data), tc.detail) {
					t.Errorf("error %s, want %q in it", data, tc.detail)
				}
			}
			for _, s := range lf.secrets() {
				if bytes.Contains(data, []byte(s)) {
					t.Errorf("the body holds a key's secret: %s", data)
				}
			}
			if !tc.noSpec {
				resp.Body = io.NopCloser(bytes.NewReader(data))
				vreq := httptest.NewRequestWithContext(ctx, req.Method, req.URL.Path, nil)
				vreq.Header = req.Header
				if ok, errs := spec.ValidateHttpResponse(vreq, resp); !ok {
					for _, e := range errs {
						t.Errorf("openapi.yaml: %s: %s", e.Message, e.Reason)
					}
				}
			}
		})
	}
}

// TestLifecyclePaging follows next_cursor through every page of a managing key's
// list, through the Client: each invite once, newest first, whatever the page size.
func TestLifecyclePaging(t *testing.T) {
	lf := newLifecycleFixture(t)
	ctx := context.Background()
	for i := range 7 {
		k, err := lf.svc.Authenticate(ctx, lf.creds["other"])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lf.svc.CreateKeyInvite(ctx, k, core.InviteSpec{Note: fmt.Sprint("extra ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	c := lf.client(t, specServer(t, lf.h), "manage")
	var all []string
	for _, limit := range []int{1, 3, 500} {
		var ids []string
		p := httpapi.ListParams{Limit: limit}
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("no end to the pages")
			}
			l, err := c.List(ctx, p)
			if err != nil || len(l.Invites) > limit {
				t.Fatalf("limit %d: %d invites, %v", limit, len(l.Invites), err)
			}
			for _, inv := range l.Invites {
				ids = append(ids, inv.ID)
			}
			if l.NextCursor == "" {
				break
			}
			p.Cursor = l.NextCursor
		}
		if len(ids) != 11 || !slices.IsSortedFunc(ids, func(a, b string) int { return strings.Compare(b, a) }) {
			t.Errorf("limit %d: %d invites %v, want 11, newest first", limit, len(ids), ids)
		}
		if all != nil && !slices.Equal(all, ids) {
			t.Errorf("limit %d lists %v, limit 1 %v", limit, ids, all)
		}
		all = ids
	}
}

// TestLifecycleRedeemRevoke: an invite for two, made through the Client and redeemed
// twice, shows both accounts, and once revoked cannot be redeemed; the HTTP API and
// redemption share the store.
func TestLifecycleRedeemRevoke(t *testing.T) {
	lf := newLifecycleFixture(t)
	ctx := context.Background()
	c := lf.client(t, specServer(t, lf.h), "good")
	two := 2
	created, err := c.Create(ctx, httpapi.CreateParams{MaxUses: &two, Note: "pair", Groups: []string{"team"}})
	if err != nil || created.Token == "" || created.MaxUses != 2 {
		t.Fatalf("create: %+v %v", created, err)
	}
	for _, name := range []string{"carol", "dave"} {
		if _, err := lf.svc.Redeem(ctx, core.Redemption{Host: plainHost, Token: created.Token, Username: name}); err != nil {
			t.Fatal(err)
		}
	}
	shown, err := c.Show(ctx, created.ID)
	if err != nil || shown.Status != "used" || len(shown.Redemptions) != 2 {
		t.Fatalf("show: %+v %v", shown, err)
	}
	three := 3
	if _, err := c.Update(ctx, created.ID, httpapi.Patch{MaxUses: &three}); err != nil {
		t.Fatalf("patch: %v", err)
	}
	if err := c.Revoke(ctx, created.ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if _, err := lf.svc.Redeem(ctx, core.Redemption{Host: plainHost, Token: created.Token, Username: "erin"}); err == nil {
		t.Fatal("a revoked invite was redeemed")
	}

	// An invite for a fixed username makes one account: PATCH cannot raise its uses
	// (issue 22), and says so naming the field.
	created, err = c.Create(ctx, httpapi.CreateParams{Username: "frank"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	for _, max := range []int{2, 0} {
		_, err := c.Update(ctx, created.ID, httpapi.Patch{MaxUses: &max})
		var e *httpapi.Error
		if !errors.As(err, &e) || e.Status != 400 || len(e.Errors) != 1 || e.Errors[0].Field != "max_uses" ||
			!strings.Contains(e.Errors[0].Detail, "fixed username frank makes one account") {
			t.Errorf("patch max_uses %d of a fixed-username invite: %v", max, err)
		}
	}
}
