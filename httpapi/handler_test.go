package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/testlog"
)

var _ http.Handler = (*httpapi.Handler)(nil)

// invite is the JSON body of a 201 or 303, and of an invite shown, changed or listed.
type invite struct {
	ID          string   `json:"id"`
	Token       string   `json:"token"`
	URI         string   `json:"uri"`
	LandingPage string   `json:"landing_page"`
	Host        string   `json:"host"`
	CreatedAt   string   `json:"created_at"`
	ExpiresAt   string   `json:"expires_at"`
	Kind        string   `json:"kind"`
	Status      string   `json:"status"`
	CreatedBy   string   `json:"created_by"`
	Note        string   `json:"note"`
	Username    string   `json:"username"`
	Inviter     string   `json:"inviter"`
	MaxUses     *int     `json:"max_uses"`
	Uses        int      `json:"uses"`
	Groups      []string `json:"groups"`
	Redemptions *[]struct {
		JID string `json:"jid"`
		At  string `json:"at"`
	} `json:"redemptions"`
	RevokedAt string               `json:"revoked_at"`
	Email     *httpapi.InviteEmail `json:"email"`
	Welcome   string               `json:"welcome"`
	Funnel    *core.Funnel         `json:"funnel"`
}

// problem is an RFC 9457 body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field  string `json:"field"`
		Detail string `json:"detail"`
	} `json:"errors"`
}

// Location prefixes.
const (
	xmppPlain   = "xmpp:example.com?register;preauth="
	xmppAlice   = "xmpp:alice@example.com?register;preauth="
	landingPage = "https://landing.example/invite?"
)

// Limits of the handlers under test, small so that the cases stay small.
const (
	testMaxBody   = 1024
	testMaxURL    = 2048
	testMaxHeader = 4096
	testFailures  = 3 // failed authentications allowed per hour
)

// openAPI returns a validator for openapi.yaml, after checking the document itself.
func openAPI(t *testing.T) validator.Validator {
	t.Helper()
	spec, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatalf("parsing openapi.yaml: %v", err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("openapi.yaml is OpenAPI %s, want 3.1", v)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	if len(errs) > 0 {
		t.Fatalf("building validator: %v", errors.Join(errs...))
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("openapi.yaml: %s: %s", e.Message, e.Reason)
		}
		t.FailNow()
	}
	return v
}

// TestHandler runs every behaviour of SPEC's "HTTP API" against a real SQLite store:
// each case asserts the status, the Location, the headers, the body, the stored effect
// (an invite created or not, and what it holds), the log (no secret, keys redacted),
// and that the response matches openapi.yaml.
func TestHandler(t *testing.T) {
	f := newFixture(t)
	spec := openAPI(t)
	ctx := context.Background()
	var logs testlog.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	base := httpapi.Options{
		MaxBodyBytes:    testMaxBody,
		MaxURLBytes:     testMaxURL,
		MaxHeaderBytes:  testMaxHeader,
		FailedAuthCount: testFailures, FailedAuthPeriod: time.Hour,
		Logger: logger,
		Now:    f.clock.Now,
	}
	proxied := base
	proxied.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}

	// broken is the same service over a store that has been closed: every call fails.
	brokenStore := newFixture(t)
	_ = brokenStore.st.Close()

	withAccounts := base
	withAccounts.Accounts = accountSet{"romeo@example.com": true}
	accountsDown := base
	accountsDown.Accounts = accountSet{"": true}
	handlers := map[string]http.Handler{
		"":             httpapi.New(f.svc, base),
		"proxied":      httpapi.New(f.svc, proxied),
		"broken":       httpapi.New(brokenStore.svc, base),
		"accounts":     httpapi.New(f.svc, withAccounts),
		"accountsDown": httpapi.New(f.svc, accountsDown),
	}

	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	jsonAccept := map[string]string{"Accept": "application/json"}
	bearer := func(cred string) map[string]string { return map[string]string{"Authorization": cred} }

	type testCase struct {
		name    string
		handler string // key of handlers; "" is the default
		method  string // default GET
		target  string // path and query; {name} is a key's credential
		header  map[string]string
		body    string
		chunked bool   // send the body without a Content-Length
		remote  string // default: an address of its own

		// Requests sent first from the same address, whose answers are not checked.
		priorN      int
		priorTarget string            // default "/invites_api?key={wrong}"
		priorHeader map[string]string // default: header
		priorRemote string            // default: remote

		status   int
		location string // prefix of Location; "" means no Location at all
		created  bool   // exactly one invite is stored, else none
		jsonBody bool   // a JSON body (invite or problem) rather than empty or text
		username string // the stored invite's fixed username
		maxUses  int    // the stored invite's max_uses, when not 1 (-1 for 0)
		note     string // the stored invite's note
		groups   []string
		ttl      time.Duration
		detail   string            // part of the error's detail
		fields   []string          // the fields of the problem's errors, in order (JSON only)
		headers  map[string]string // exact values of further response headers
		log      string            // part of the log lines of this request
		noSpec   bool              // a method OpenAPI cannot describe
	}
	tests := []testCase{
		// Credentials.
		{name: "key query parameter", target: "/invites_api?key={good}",
			status: 201, location: xmppPlain, created: true, log: "key=REDACTED"},
		{name: "bearer", target: "/invites_api", header: bearer("Bearer {good}"),
			status: 201, location: xmppPlain, created: true},
		{name: "bearer scheme lower case", target: "/invites_api", header: bearer("bearer {good}"),
			status: 201, location: xmppPlain, created: true},
		{name: "bearer scheme upper case, extra spaces", target: "/invites_api", header: bearer("BEARER   {good} "),
			status: 201, location: xmppPlain, created: true},
		{name: "POST bearer no body", method: "POST", target: "/invites_api", header: bearer("Bearer {good}"),
			status: 201, location: xmppPlain, created: true},
		{name: "POST form key", method: "POST", target: "/invites_api", header: form, body: "key={good}",
			status: 201, location: xmppPlain, created: true},
		{name: "POST form key, chunked", method: "POST", target: "/invites_api", header: form, body: "key={good}", chunked: true,
			status: 201, location: xmppPlain, created: true},
		{name: "POST form key with form charset", method: "POST", target: "/invites_api",
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body: "key={good}&ttl=1h",
			status: 201, location: xmppPlain, created: true, ttl: time.Hour},
		{name: "POST query key", method: "POST", target: "/invites_api?key={good}",
			status: 201, location: xmppPlain, created: true},
		{name: "same key twice", target: "/invites_api?key={good}&key={good}", header: bearer("Bearer {good}"),
			status: 201, location: xmppPlain, created: true},
		{name: "other scheme ignored, key in query", target: "/invites_api?key={good}", header: bearer("Basic dXNlcjpwYXNz"),
			status: 201, location: xmppPlain, created: true},
		{name: "escaped key parameter name is redacted", target: "/invites_api?%6Bey={good}",
			status: 201, location: xmppPlain, created: true, log: "%6Bey=REDACTED"},
		{name: "no query string at all", target: "/invites_api",
			status: 403, detail: "missing API key"},
		{name: "no key, JSON accepted", target: "/invites_api", header: jsonAccept,
			status: 403, jsonBody: true, detail: "missing API key"},
		{name: "empty key", target: "/invites_api?key=",
			status: 403, detail: "missing API key"},
		{name: "other scheme only", target: "/invites_api", header: bearer("Basic dXNlcjpwYXNz"),
			status: 403, detail: "missing API key"},
		{name: "bearer without token", target: "/invites_api", header: bearer("Bearer"),
			status: 403, detail: "malformed API key"},
		{name: "malformed key", target: "/invites_api?key=abc",
			status: 403, detail: "malformed API key"},
		{name: "malformed key, no slash", target: "/invites_api", header: bearer("Bearer AAAAAAAAAAAAAAAAAAAAAAAA"),
			status: 403, detail: "malformed API key"},
		{name: "unknown key", target: "/invites_api?key={unknown}",
			status: 403, detail: "invalid API key"},
		{name: "wrong secret", target: "/invites_api", header: bearer("Bearer {wrong}"),
			status: 403, detail: "invalid API key"},
		{name: "expired key", target: "/invites_api?key={expired}", header: jsonAccept,
			status: 403, jsonBody: true, detail: "API key expired"},
		{name: "revoked key", target: "/invites_api?key={revoked}",
			status: 403, detail: "invalid API key"},
		{name: "key of a host no longer served", target: "/invites_api?key={gone}",
			status: 403, detail: "host is not served"},
		{name: "conflicting keys", target: "/invites_api?key={landing}", header: bearer("Bearer {good}"),
			status: 400, detail: "conflicting API keys"},
		{name: "conflicting keys, query and form", method: "POST", target: "/invites_api?key={landing}", header: form, body: "key={good}",
			status: 400, detail: "conflicting API keys"},
		{name: "key pasted as the whole query is redacted", target: "/invites_api?{good}",
			status: 403, detail: "missing API key", log: "url=/invites_api?REDACTED"},

		// Location, landing pages and the JSON body.
		{name: "landing page", target: "/invites_api?key={landing}",
			status: 201, location: landingPage, created: true},
		{name: "landing page, JSON", target: "/invites_api?key={landing}", header: jsonAccept,
			status: 201, location: landingPage, created: true, jsonBody: true},
		{name: "JSON", target: "/invites_api?key={good}", header: jsonAccept,
			status: 201, location: xmppPlain, created: true, jsonBody: true},
		{name: "JSON among others", target: "/invites_api?key={good}", header: map[string]string{"Accept": "text/html, application/json;q=0.5"},
			status: 201, location: xmppPlain, created: true, jsonBody: true},
		{name: "JSON refused", target: "/invites_api?key={good}", header: map[string]string{"Accept": "application/json;q=0"},
			status: 201, location: xmppPlain, created: true},
		{name: "wildcard is not JSON", target: "/invites_api?key={good}", header: map[string]string{"Accept": "*/*"},
			status: 201, location: xmppPlain, created: true},

		// redirect.
		{name: "redirect bare", target: "/invites_api?key={good}&redirect",
			status: 303, location: xmppPlain, created: true},
		{name: "redirect empty", target: "/invites_api?key={good}&redirect=",
			status: 303, location: xmppPlain, created: true},
		{name: "redirect true", target: "/invites_api?key={good}&redirect=true",
			status: 303, location: xmppPlain, created: true},
		{name: "redirect 1", target: "/invites_api?key={good}&redirect=1",
			status: 303, location: xmppPlain, created: true},
		{name: "redirect yes", target: "/invites_api?key={good}&redirect=yes",
			status: 303, location: xmppPlain, created: true},
		{name: "redirect on", target: "/invites_api?key={good}&redirect=on",
			status: 303, location: xmppPlain, created: true},
		{name: "redirect TRUE", target: "/invites_api?key={good}&redirect=TRUE",
			status: 303, location: xmppPlain, created: true},
		{name: "redirect to landing page with JSON", target: "/invites_api?key={landing}&redirect", header: jsonAccept,
			status: 303, location: landingPage, created: true, jsonBody: true},
		{name: "redirect in form", method: "POST", target: "/invites_api", header: form, body: "key={good}&redirect=yes",
			status: 303, location: xmppPlain, created: true},
		{name: "redirect false", target: "/invites_api?key={good}&redirect=false",
			status: 201, location: xmppPlain, created: true},
		{name: "redirect 0", target: "/invites_api?key={good}&redirect=0",
			status: 201, location: xmppPlain, created: true},
		{name: "redirect no", target: "/invites_api?key={good}&redirect=no",
			status: 201, location: xmppPlain, created: true},
		{name: "redirect off", target: "/invites_api?key={good}&redirect=off",
			status: 201, location: xmppPlain, created: true},
		{name: "redirect other", target: "/invites_api?key={good}&redirect=maybe",
			status: 400, detail: "redirect: must be"},
		{name: "redirect other, JSON", target: "/invites_api?key={good}&redirect=2", header: jsonAccept,
			status: 400, jsonBody: true, detail: "redirect: must be"},

		// ttl.
		{name: "ttl seconds", target: "/invites_api?key={good}&ttl=3600",
			status: 201, location: xmppPlain, created: true, ttl: time.Hour},
		{name: "ttl duration", target: "/invites_api?key={good}&ttl=48h",
			status: 201, location: xmppPlain, created: true, ttl: 48 * time.Hour},
		{name: "ttl days", target: "/invites_api?key={good}&ttl=7d",
			status: 201, location: xmppPlain, created: true, ttl: 7 * 24 * time.Hour},
		{name: "ttl empty means default", target: "/invites_api?key={good}&ttl=",
			status: 201, location: xmppPlain, created: true, ttl: core.DefaultInviteTTL},
		{name: "ttl at the host maximum", target: "/invites_api?key={good}&ttl=90d",
			status: 201, location: xmppPlain, created: true, ttl: core.DefaultMaxInviteTTL},
		{name: "ttl over the host maximum", target: "/invites_api?key={good}&ttl=91d",
			status: 400, detail: "longer than the maximum"},
		{name: "ttl within the key maximum", target: "/invites_api?key={short}&ttl=30m",
			status: 201, location: xmppPlain, created: true, ttl: 30 * time.Minute},
		{name: "ttl default bounded by the key", target: "/invites_api?key={short}",
			status: 201, location: xmppPlain, created: true, ttl: time.Hour},
		{name: "ttl over the key maximum", target: "/invites_api?key={short}&ttl=2h", header: jsonAccept,
			status: 400, jsonBody: true, detail: "longer than the maximum of 1 hour"},
		{name: "ttl zero", target: "/invites_api?key={good}&ttl=0",
			status: 400, detail: "ttl"},
		{name: "ttl negative", target: "/invites_api?key={good}&ttl=-5",
			status: 400, detail: "ttl"},
		{name: "ttl malformed", target: "/invites_api?key={good}&ttl=soon",
			status: 400, detail: "ttl"},
		{name: "ttl huge", target: "/invites_api?key={good}&ttl=99999999999999999999",
			status: 400, detail: "ttl"},
		{name: "ttl twice, same", target: "/invites_api?key={good}&ttl=1h&ttl=1h",
			status: 201, location: xmppPlain, created: true, ttl: time.Hour},
		{name: "ttl twice, different", target: "/invites_api?key={good}&ttl=1h&ttl=2h",
			status: 400, detail: "ttl: given twice"},
		{name: "ttl in query and form", method: "POST", target: "/invites_api?ttl=2h", header: form, body: "key={good}",
			status: 201, location: xmppPlain, created: true, ttl: 2 * time.Hour},
		{name: "ttl in query and form, different", method: "POST", target: "/invites_api?ttl=2h", header: form, body: "key={good}&ttl=3h",
			status: 400, detail: "ttl: given twice"},

		// username.
		{name: "username", target: "/invites_api?key={good}&username=alice",
			status: 201, location: xmppAlice, created: true, username: "alice"},
		{name: "username case-folded", target: "/invites_api?key={good}&username=Alice", header: jsonAccept,
			status: 201, location: xmppAlice, created: true, username: "alice", jsonBody: true},
		{name: "username in form", method: "POST", target: "/invites_api", header: form, body: "key={good}&username=alice",
			status: 201, location: xmppAlice, created: true, username: "alice"},
		{name: "username with landing page", target: "/invites_api?key={landing}&username=alice",
			status: 201, location: landingPage, created: true, username: "alice"},
		{name: "username empty means any", target: "/invites_api?key={good}&username=",
			status: 201, location: xmppPlain, created: true},
		{name: "username with @", target: "/invites_api?key={good}&username=a%40b",
			status: 400, detail: "username"},
		{name: "username with space", target: "/invites_api?key={good}&username=a+b", header: jsonAccept,
			status: 400, jsonBody: true, detail: "username"},
		{name: "username too long", target: "/invites_api?key={good}&username=" + strings.Repeat("a", 1100),
			status: 400, detail: "username"},

		// max_uses, note, group.
		{name: "max_uses", target: "/invites_api?key={good}&max_uses=5", header: jsonAccept,
			status: 201, location: xmppPlain, created: true, jsonBody: true, maxUses: 5},
		{name: "max_uses 0: until it expires", target: "/invites_api?key={good}&max_uses=0",
			status: 201, location: xmppPlain, created: true, maxUses: -1},
		{name: "max_uses empty means 1", target: "/invites_api?key={good}&max_uses=",
			status: 201, location: xmppPlain, created: true},
		{name: "max_uses negative", target: "/invites_api?key={good}&max_uses=-1",
			status: 400, detail: "max_uses: write a whole number"},
		{name: "max_uses too large", target: "/invites_api?key={good}&max_uses=1000001",
			status: 400, detail: "max_uses: write a whole number"},
		{name: "max_uses not a number", target: "/invites_api?key={good}&max_uses=two", header: jsonAccept,
			status: 400, jsonBody: true, detail: "max_uses"},
		{name: "note", target: "/invites_api?key={good}&note=spring+course", header: jsonAccept,
			status: 201, location: xmppPlain, created: true, jsonBody: true, note: "spring course"},
		{name: "note in form", method: "POST", target: "/invites_api", header: form, body: "key={good}&note=caf%C3%A9",
			status: 201, location: xmppPlain, created: true, note: "café"},
		{name: "note too long", target: "/invites_api?key={good}&note=" + strings.Repeat("n", core.MaxNoteLen+1),
			status: 400, detail: "note"},
		{name: "note with a bidi control", target: "/invites_api?key={good}&note=a%E2%80%AEb",
			status: 400, detail: "note"},
		{name: "groups", target: "/invites_api?key={good}&group=team&group=staff", header: jsonAccept,
			status: 201, location: xmppPlain, created: true, jsonBody: true, groups: []string{"team", "staff"}},
		{name: "groups in query and form", method: "POST", target: "/invites_api?group=team", header: form, body: "key={good}&group=staff&group=",
			status: 201, location: xmppPlain, created: true, groups: []string{"team", "staff"}},
		{name: "group twice", target: "/invites_api?key={good}&group=team&group=team",
			status: 400, detail: "group"},
		{name: "too many groups", target: "/invites_api?key={good}" + strings.Repeat("&group=g", core.MaxGroups+1),
			status: 400, detail: "group: 17 groups given; at most 16"},
		{name: "all of them with a username, JSON", method: "POST", target: "/invites_api", header: map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
			body:   "key={good}&username=Alice&max_uses=1&note=for+alice&group=team&ttl=2d",
			status: 201, location: xmppAlice, created: true, jsonBody: true, username: "alice", note: "for alice", groups: []string{"team"}, ttl: 48 * time.Hour},

		// Every refusal of one request at once, each naming its field (issues 22, 26).
		{name: "every refusal at once", target: "/invites_api?key={good}&ttl=100d&max_uses=two&note=a%07b&group=&group=x&group=x&redirect=maybe",
			header: jsonAccept, status: 400, jsonBody: true, detail: "max_uses: write a whole number",
			fields: []string{"max_uses", "redirect", "ttl", "note", "group"}},
		{name: "every refusal at once, text", target: "/invites_api?key={good}&ttl=1s&note=a%07b",
			status: 400, detail: "ttl: a lifetime of 1 second is too short: invites live at least 1 minute; note: the note contains"},
		{name: "fixed username with several uses", target: "/invites_api?key={good}&username=alice&max_uses=3", header: jsonAccept,
			status: 400, jsonBody: true, detail: "max_uses: an invite for the fixed username alice makes one account", fields: []string{"max_uses"}},
		{name: "fixed username with any number of uses", target: "/invites_api?key={good}&username=alice&max_uses=0",
			status: 400, detail: "max_uses: an invite for the fixed username alice"},
		{name: "username taken and a bad note", handler: "accounts", target: "/invites_api?key={good}&username=Romeo&note=%E2%80%AE", header: jsonAccept,
			status: 400, jsonBody: true, detail: "username: the account romeo@example.com already exists; note:", fields: []string{"username", "note"}},

		// A fixed username that is already an account (issue 16).
		{name: "username taken", handler: "accounts", target: "/invites_api?key={good}&username=Romeo", header: jsonAccept,
			status: 409, jsonBody: true, detail: "the account romeo@example.com already exists"},
		{name: "username free with an account checker", handler: "accounts", target: "/invites_api?key={good}&username=juliet",
			status: 201, location: "xmpp:juliet@example.com?register;preauth=", created: true, username: "juliet"},
		{name: "account lookup failing lets the invite be made", handler: "accountsDown", target: "/invites_api?key={good}&username=romeo",
			status: 201, location: "xmpp:romeo@example.com?register;preauth=", created: true, username: "romeo"},

		// Other parameters and malformed input.
		{name: "unknown parameter ignored", target: "/invites_api?key={good}&color=blue",
			status: 201, location: xmppPlain, created: true},
		{name: "malformed escape in query", target: "/invites_api?key={good}&x=%zz",
			status: 400, detail: "malformed query"},
		{name: "semicolon in query", target: "/invites_api?key={good};ttl=1h",
			status: 400, detail: "malformed query", log: "key=REDACTED;ttl=1h"},
		{name: "malformed form body", method: "POST", target: "/invites_api", header: form, body: "key=%zz",
			status: 400, detail: "malformed form"},
		{name: "body too large", method: "POST", target: "/invites_api", header: form,
			body:   "key={good}&pad=" + strings.Repeat("x", testMaxBody),
			status: 413},
		{name: "body too large, chunked", method: "POST", target: "/invites_api", header: form, chunked: true,
			body:   "key={good}&pad=" + strings.Repeat("x", testMaxBody),
			status: 413},
		{name: "body not a form", method: "POST", target: "/invites_api", header: map[string]string{"Content-Type": "application/json"},
			body: `{"key":"{good}"}`, status: 415},
		{name: "body without a type", method: "POST", target: "/invites_api", body: "key={good}",
			status: 415},
		{name: "empty body of any type", method: "POST", target: "/invites_api?key={good}",
			header: map[string]string{"Content-Type": "application/json"},
			status: 201, location: xmppPlain, created: true},
		{name: "GET body ignored", target: "/invites_api?key={good}", body: "junk",
			status: 201, location: xmppPlain, created: true},
		{name: "URL too long", target: "/invites_api?key={good}&pad=" + strings.Repeat("x", testMaxURL),
			status: 414},
		{name: "headers too large", target: "/invites_api?key={good}",
			header: map[string]string{"X-Pad": strings.Repeat("x", testMaxHeader)}, status: 431},

		// Methods and CORS.
		{name: "OPTIONS preflight", method: "OPTIONS", target: "/invites_api",
			header: map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
				"Access-Control-Request-Headers": "authorization, content-type"},
			status: 204, headers: map[string]string{"Allow": "GET, POST, OPTIONS"}},
		{name: "OPTIONS with a bad key", method: "OPTIONS", target: "/invites_api?key=abc",
			status: 204, headers: map[string]string{"Allow": "GET, POST, OPTIONS"}},
		{name: "PUT", method: "PUT", target: "/invites_api?key={good}",
			status: 405, headers: map[string]string{"Allow": "GET, POST, OPTIONS"}},
		{name: "DELETE, JSON", method: "DELETE", target: "/invites_api?key={good}", header: jsonAccept,
			status: 405, jsonBody: true, headers: map[string]string{"Allow": "GET, POST, OPTIONS"}},
		{name: "HEAD", method: "HEAD", target: "/invites_api?key={good}",
			status: 405, headers: map[string]string{"Allow": "GET, POST, OPTIONS"}},
		{name: "PATCH", method: "PATCH", target: "/invites_api?key={good}",
			status: 405, headers: map[string]string{"Allow": "GET, POST, OPTIONS"}},
		{name: "unknown method", method: "PROPFIND", target: "/invites_api?key={good}",
			status: 405, headers: map[string]string{"Allow": "GET, POST, OPTIONS"}, noSpec: true},

		// The key's rate.
		{name: "key rate exceeded", target: "/invites_api?key={limited}", priorN: 1, priorTarget: "/invites_api?key={limited}",
			status: 429, detail: "rate limit", headers: map[string]string{"Retry-After": "3600"}},
		{name: "key rate exceeded, JSON", target: "/invites_api?key={limited}", header: jsonAccept,
			status: 429, jsonBody: true, detail: "rate limit", headers: map[string]string{"Retry-After": "3600"}},

		// Failed authentications from one address.
		{name: "failures under the budget", target: "/invites_api?key={good}", priorN: testFailures - 1,
			status: 201, location: xmppPlain, created: true},
		{name: "failures over the budget block a good key", target: "/invites_api?key={good}", priorN: testFailures,
			status: 429, detail: "failed authentications", headers: map[string]string{"Retry-After": "1200"}},
		{name: "missing keys are not failures", target: "/invites_api?key={good}",
			priorN: 2 * testFailures, priorTarget: "/invites_api",
			status: 201, location: xmppPlain, created: true},
		{name: "IPv6 addresses share their /64", target: "/invites_api?key={good}", remote: "[2001:db8:1:2::99]:4444",
			priorN: testFailures, priorRemote: "[2001:db8:1:2::1]:5555",
			status: 429, detail: "failed authentications"},
		{name: "IPv4-mapped IPv6 is IPv4", target: "/invites_api?key={good}", remote: "[::ffff:198.51.100.77]:4444",
			priorN: testFailures, priorRemote: "198.51.100.77:5555",
			status: 429, detail: "failed authentications"},
		{name: "X-Forwarded-For not trusted by default", target: "/invites_api?key={good}", remote: "10.2.0.1:80",
			header: map[string]string{"X-Forwarded-For": "203.0.113.10"},
			priorN: testFailures, priorHeader: map[string]string{"X-Forwarded-For": "203.0.113.9"},
			status: 429, detail: "failed authentications"},
		{name: "X-Forwarded-For from a trusted proxy: other client", handler: "proxied",
			target: "/invites_api?key={good}", remote: "10.3.0.1:80",
			header: map[string]string{"X-Forwarded-For": "203.0.113.20"},
			priorN: testFailures, priorHeader: map[string]string{"X-Forwarded-For": "203.0.113.21"},
			status: 201, location: xmppPlain, created: true},
		{name: "X-Forwarded-For from a trusted proxy: same client", handler: "proxied",
			target: "/invites_api?key={good}", remote: "10.3.0.2:80",
			header: map[string]string{"X-Forwarded-For": "203.0.113.30, 10.9.9.9"},
			priorN: testFailures, priorHeader: map[string]string{"X-Forwarded-For": "203.0.113.30"},
			status: 429, detail: "failed authentications"},
		{name: "X-Forwarded-For forged behind a trusted proxy", handler: "proxied",
			target: "/invites_api?key={good}", remote: "10.3.0.3:80",
			header: map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.40"},
			priorN: testFailures, priorHeader: map[string]string{"X-Forwarded-For": "198.51.100.2, 203.0.113.40"},
			status: 429, detail: "failed authentications"},

		// A store that is away (here: closed, the plugin stopping): try again (issue 21).
		{name: "store down", handler: "broken", target: "/invites_api?key={good}",
			status: 503, detail: "try again", headers: map[string]string{"Retry-After": "2"}},
		{name: "store down, JSON", handler: "broken", target: "/invites_api?key={good}", header: jsonAccept,
			status: 503, jsonBody: true, detail: "the invite store is unavailable; try again shortly", headers: map[string]string{"Retry-After": "2"}},
	}

	newRequest := func(tc testCase, target, remote string, header map[string]string) *http.Request {
		method := tc.method
		if method == "" {
			method = http.MethodGet
		}
		var body io.Reader
		if tc.body != "" {
			body = strings.NewReader(f.expand(tc.body))
		}
		r := httptest.NewRequestWithContext(ctx, method, f.expand(target), body)
		if tc.chunked {
			r.ContentLength = -1
		}
		r.RemoteAddr = remote
		for k, v := range header {
			r.Header.Set(k, f.expand(v))
		}
		return r
	}
	seen := map[string]bool{}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if seen[tc.name] {
				t.Fatalf("duplicate case name")
			}
			seen[tc.name] = true
			h := handlers[tc.handler]
			remote := tc.remote
			if remote == "" {
				remote = fmt.Sprintf("192.0.2.%d:%d", i%250+1, 40000+i)
			}
			logs.Reset()
			if tc.priorN > 0 {
				pt, ph, pr := tc.priorTarget, tc.priorHeader, tc.priorRemote
				if pt == "" {
					pt = "/invites_api?key={wrong}"
				}
				if ph == nil {
					ph = tc.header
				}
				if pr == "" {
					pr = remote
				}
				for range tc.priorN {
					pc := tc
					pc.body, pc.chunked = "", false
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, newRequest(pc, pt, pr, ph))
					if rec.Code >= 500 {
						t.Fatalf("prior request: status %d", rec.Code)
					}
				}
			}

			before := f.st.invites.Load()
			req := newRequest(tc, tc.target, remote, tc.header)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			resp := rec.Result()
			body := rec.Body.Bytes()
			after := f.st.invites.Load()

			// Status and the headers of every response.
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body %q", resp.StatusCode, tc.status, body)
			}
			for k, want := range map[string]string{
				"Cache-Control":                 "no-store",
				"Access-Control-Allow-Origin":   "*",
				"Access-Control-Allow-Methods":  "GET, POST, OPTIONS",
				"Access-Control-Allow-Headers":  "Authorization, Content-Type",
				"Access-Control-Expose-Headers": "Location, Retry-After",
				"Access-Control-Max-Age":        "7200",
			} {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			for k, want := range tc.headers {
				if got := resp.Header.Get(k); got != want {
					t.Errorf("%s: %q, want %q", k, got, want)
				}
			}
			if resp.StatusCode == 429 {
				if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 1 {
					t.Errorf("Retry-After %q, want a positive number of seconds", resp.Header.Get("Retry-After"))
				}
			}

			// Location.
			loc := resp.Header.Get("Location")
			switch {
			case tc.location == "" && loc != "":
				t.Errorf("Location %q, want none", loc)
			case tc.location != "" && !strings.HasPrefix(loc, tc.location):
				t.Errorf("Location %q, want prefix %q", loc, tc.location)
			}

			// The stored effect.
			switch n := after - before; {
			case tc.created && n != 1:
				t.Fatalf("%d invites stored, want 1", n)
			case !tc.created && n != 0:
				t.Fatalf("%d invites stored, want none", n)
			}

			// The body.
			ct := resp.Header.Get("Content-Type")
			var got invite
			switch {
			case tc.status == 204 || tc.status < 400 && !tc.jsonBody:
				if len(body) != 0 || ct != "" {
					t.Errorf("body %q (%s), want none", body, ct)
				}
			case tc.status < 400:
				if ct != "application/json" {
					t.Errorf("Content-Type %q, want application/json", ct)
				}
				dec := json.NewDecoder(bytes.NewReader(body))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&got); err != nil {
					t.Fatalf("decoding %q: %v", body, err)
				}
				if got.URI == "" || loc != got.URI && loc != got.LandingPage {
					t.Errorf("Location %q is neither uri %q nor landing_page %q", loc, got.URI, got.LandingPage)
				}
				if tc.location == landingPage && got.LandingPage == "" ||
					tc.location != landingPage && bytes.Contains(body, []byte("landing_page")) {
					t.Errorf("landing_page %q with Location %q", got.LandingPage, loc)
				}
			case tc.jsonBody:
				if ct != "application/problem+json" {
					t.Errorf("Content-Type %q, want application/problem+json", ct)
				}
				var p problem
				if err := json.Unmarshal(body, &p); err != nil {
					t.Fatalf("decoding %q: %v", body, err)
				}
				if p.Status != tc.status || p.Title != http.StatusText(tc.status) || p.Type != "about:blank" {
					t.Errorf("problem %+v, want status %d", p, tc.status)
				}
				if !strings.Contains(p.Detail, tc.detail) {
					t.Errorf("detail %q, want it to contain %q", p.Detail, tc.detail)
				}
				var fields []string
				for _, e := range p.Errors {
					fields = append(fields, e.Field)
					if e.Detail == "" || !strings.Contains(p.Detail, e.Field+": "+e.Detail) {
						t.Errorf("error %+v is not in the detail %q", e, p.Detail)
					}
				}
				if tc.fields != nil && !slices.Equal(fields, tc.fields) {
					t.Errorf("errors name %q, want %q", fields, tc.fields)
				}
			default:
				if ct != "text/plain; charset=utf-8" {
					t.Errorf("Content-Type %q, want text/plain", ct)
				}
				if !strings.Contains(string(body), tc.detail) || len(body) > 400 {
					t.Errorf("body %q, want short text containing %q", body, tc.detail)
				}
			}
			if tc.status == 500 && (bytes.Contains(body, []byte("sqlite")) || bytes.Contains(body, []byte("closed"))) {
				t.Errorf("500 body leaks internals: %q", body)
			}

			// What the store holds.
			if tc.created {
				token := tokenOf(t, loc, got)
				k, err := f.svc.Authenticate(ctx, credentialOf(f, tc.target, tc.body, tc.header))
				if err != nil {
					t.Fatal(err)
				}
				inv, err := f.svc.CheckInvite(ctx, k.Host, token)
				if err != nil {
					t.Fatalf("CheckInvite(%q): %v", token, err)
				}
				if want := "api/token/" + k.ID; inv.CreatedBy != want {
					t.Errorf("created by %q, want %q", inv.CreatedBy, want)
				}
				if inv.Host != k.Host || inv.Kind != core.KindAccount || inv.Username != tc.username {
					t.Errorf("stored %+v, want host %s, account, username %q", inv, k.Host, tc.username)
				}
				wantUses := 1
				switch {
				case tc.maxUses > 0:
					wantUses = tc.maxUses
				case tc.maxUses < 0:
					wantUses = 0
				}
				if inv.MaxUses != wantUses || inv.Note != tc.note || !slices.Equal(inv.Groups, tc.groups) {
					t.Errorf("stored max_uses %d, note %q, groups %q; want %d, %q, %q", inv.MaxUses, inv.Note, inv.Groups, wantUses, tc.note, tc.groups)
				}
				if tc.ttl != 0 {
					if d := inv.ExpiresAt.Sub(inv.CreatedAt); d != tc.ttl {
						t.Errorf("lifetime %s, want %s", d, tc.ttl)
					}
				}
				if tc.jsonBody {
					if got.ID != inv.ID || got.Token != token || got.Host != inv.Host ||
						got.CreatedAt != inv.CreatedAt.UTC().Truncate(time.Second).Format(time.RFC3339) ||
						got.ExpiresAt != inv.ExpiresAt.UTC().Truncate(time.Second).Format(time.RFC3339) ||
						got.URI != f.svc.InviteURI(inv) || got.Kind != "account" || got.Status != "pending" ||
						got.CreatedBy != inv.CreatedBy || got.MaxUses == nil || *got.MaxUses != inv.MaxUses || got.Uses != 0 ||
						got.Note != inv.Note || got.Username != inv.Username || !slices.Equal(got.Groups, inv.Groups) && len(inv.Groups) > 0 ||
						got.Groups == nil || got.Redemptions != nil || got.RevokedAt != "" {
						t.Errorf("body %+v does not describe the stored %+v", got, inv)
					}
				}
			}

			// The log: one line for the request, no secret, keys redacted.
			logged := logs.String()
			if !strings.Contains(logged, "invites api request") {
				t.Errorf("request not logged: %s", logged)
			}
			for _, s := range f.secrets() {
				if strings.Contains(logged, s) {
					t.Errorf("a key's secret was logged: %s", logged)
				}
			}
			if tc.log != "" && !strings.Contains(logged, tc.log) {
				t.Errorf("log lacks %q:\n%s", tc.log, logged)
			}

			// The contract.
			if !tc.noSpec {
				resp.Body = io.NopCloser(bytes.NewReader(body))
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

	// Key bookkeeping: the uses of the good key reach the store with its last use.
	if err := f.svc.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	id, _, _ := strings.Cut(f.creds["good"], "/")
	k, err := f.st.Key(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if k.Uses < 10 || !k.LastUsed.Equal(f.clock.Now()) {
		t.Errorf("good key: %d uses, last used %s; want many, at %s", k.Uses, k.LastUsed, f.clock.Now())
	}
}

// tokenOf returns the invite token from a JSON body, or else from the Location.
func tokenOf(t *testing.T, loc string, body invite) string {
	t.Helper()
	if body.Token != "" {
		return body.Token
	}
	if _, tok, ok := strings.Cut(loc, "preauth="); ok {
		return tok
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q: %v", loc, err)
	}
	return u.RawQuery
}

// credentialOf returns the credential of the key a case names.
func credentialOf(f *fixture, target, body string, header map[string]string) string {
	all := target + " " + body + " " + fmt.Sprint(header)
	for name, cred := range f.creds {
		if strings.Contains(all, "{"+name+"}") {
			return cred
		}
	}
	return ""
}

// TestFailedAuthMemoryBound floods the failed-authentication limiter with more client
// addresses than it may remember: it forgets some rather than grow, so at most
// MaxClients addresses stay blocked, and the latest offender is among them.
func TestFailedAuthMemoryBound(t *testing.T) {
	f := newFixture(t)
	const maxClients, clients = 4, 100
	h := httpapi.New(f.svc, httpapi.Options{
		FailedAuthCount: 1, FailedAuthPeriod: time.Hour,
		MaxClients: maxClients,
		Now:        f.clock.Now,
	})
	do := func(i int, cred string) int {
		r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/invites_api?key="+cred, nil)
		r.RemoteAddr = fmt.Sprintf("198.51.100.%d:1", i)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	for i := range clients {
		if code := do(i, f.creds["wrong"]); code != http.StatusForbidden {
			t.Fatalf("client %d: first failure answered %d, want 403", i, code)
		}
	}
	blocked := 0
	for i := range clients {
		if do(i, f.creds["good"]) == http.StatusTooManyRequests {
			blocked++
		}
	}
	if blocked < 1 || blocked > maxClients {
		t.Errorf("%d clients blocked, want between 1 and %d", blocked, maxClients)
	}
}

// accountSet plays the host's account lookup (plugin.HostAPI.AccountExists): the bare
// JIDs that exist; holding "" makes every lookup fail.
type accountSet map[string]bool

func (a accountSet) AccountExists(_ context.Context, jid string) (bool, error) {
	if a[""] {
		return false, errors.New("the host does not answer")
	}
	return a[jid], nil
}

// TestRefusalsBounded: a request with every parameter wrong, and as many groups as it
// can carry, gets every refusal in a bounded answer that echoes none of its huge input.
func TestRefusalsBounded(t *testing.T) {
	f := newFixture(t)
	h := httpapi.New(f.svc, httpapi.Options{})
	huge := strings.Repeat("\u202e", 200)
	q := url.Values{"key": {f.creds["good"]}, "ttl": {huge}, "max_uses": {huge}, "note": {huge}, "username": {huge}, "redirect": {huge}}
	for i := range core.MaxGroups {
		q.Add("group", huge+strconv.Itoa(i))
	}
	r := httptest.NewRequest("POST", "/invites_api", strings.NewReader(q.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var p problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Code != 400 {
		t.Fatalf("%d %s: %v", w.Code, w.Body, err)
	}
	t.Logf("%d refusals in %d bytes", len(p.Errors), w.Body.Len())
	if len(p.Errors) < 6 || w.Body.Len() > 8192 || strings.Contains(w.Body.String(), strings.Repeat("\u202e", 40)) {
		t.Errorf("%d refusals in %d bytes: %s", len(p.Errors), w.Body.Len(), w.Body)
	}
}
