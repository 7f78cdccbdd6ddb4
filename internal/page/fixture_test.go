package page_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/page"
)

// memHost is an in-memory invite store and account database: the Invites and the
// Registrar of the tests. Register is atomic: of concurrent registrations with one
// token exactly one wins.
type memHost struct {
	mu       sync.Mutex
	invites  map[string]page.Invite
	dead     map[string]bool   // used or revoked tokens
	inactive map[string]bool   // tokens whose inviter is no longer in good standing
	accounts map[string]string // bare JID → password
	notes    map[string]string // bare JID → the note for the administrators
	calls    int               // Register calls
	// fail, when set, is returned by Register instead of doing anything.
	fail error
	// lookupFail, when set, is returned by Invite.
	lookupFail error
	// gate, when set, holds each Register until it is closed (or the context ends).
	gate chan struct{}
	now  func() time.Time
}

func newMemHost() *memHost {
	return &memHost{
		invites:  make(map[string]page.Invite),
		dead:     make(map[string]bool),
		inactive: make(map[string]bool),
		accounts: make(map[string]string),
		notes:    make(map[string]string),
		now:      time.Now,
	}
}

// add stores an invite under token and returns token; the URI is made as the core
// makes it.
func (m *memHost) add(token string, inv page.Invite) string {
	if inv.Host == "" {
		inv.Host = "example.org"
	}
	if inv.ExpiresAt.IsZero() {
		inv.ExpiresAt = m.now().Add(7 * 24 * time.Hour)
	}
	if inv.URI == "" {
		switch inv.Kind {
		case core.KindContact:
			inv.URI = "xmpp:" + inv.Inviter + "?roster;preauth=" + token
			if inv.CanRegister {
				inv.URI += ";ibr=y"
			}
		case core.KindReset:
			inv.URI = "xmpp:" + inv.Username + "@" + inv.Host + "?register;preauth=" + token
		default:
			if inv.Username != "" {
				inv.URI = "xmpp:" + inv.Username + "@" + inv.Host + "?register;preauth=" + token
			} else {
				inv.URI = "xmpp:" + inv.Host + "?register;preauth=" + token
			}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.invites[token] = inv
	return token
}

func (m *memHost) Invite(ctx context.Context, token string) (page.Invite, error) {
	if err := ctx.Err(); err != nil {
		return page.Invite{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lookupFail != nil {
		return page.Invite{}, m.lookupFail
	}
	inv, ok := m.invites[token]
	if !ok || m.dead[token] || !m.now().Before(inv.ExpiresAt) {
		return page.Invite{}, fmt.Errorf("checking invite %s: %w", token, page.ErrInviteDead)
	}
	if m.inactive[token] {
		return page.Invite{}, fmt.Errorf("checking invite %s: %w", token, page.ErrInviterInactive)
	}
	return inv, nil
}

var localpartRE = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)

func (m *memHost) Register(ctx context.Context, r page.Registration) (page.Account, error) {
	if err := ctx.Err(); err != nil {
		return page.Account{}, err
	}
	m.mu.Lock()
	gate := m.gate
	if gate != nil {
		m.calls++ // counted on entry, for tests that wait for a held call
	}
	m.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return page.Account{}, ctx.Err()
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if gate == nil {
		m.calls++
	}
	if m.fail != nil {
		return page.Account{}, m.fail
	}
	inv, ok := m.invites[r.Token]
	if !ok || m.dead[r.Token] || !m.now().Before(inv.ExpiresAt) || inv.Host != r.Host {
		return page.Account{}, page.ErrInviteDead
	}
	if m.inactive[r.Token] {
		return page.Account{}, page.ErrInviterInactive
	}
	name := strings.ToLower(r.Username)
	if inv.Username != "" && name != inv.Username {
		return page.Account{}, page.ErrNameNotAllowed
	}
	if !localpartRE.MatchString(name) {
		return page.Account{}, page.ErrInvalidName
	}
	if r.Password == "refused-password" {
		return page.Account{}, page.ErrInvalidPassword
	}
	jid := name + "@" + r.Host
	_, exists := m.accounts[jid]
	switch {
	case inv.Kind == core.KindReset && !exists:
		return page.Account{}, page.ErrInviteDead
	case inv.Kind != core.KindReset && exists:
		return page.Account{}, page.ErrNameTaken
	}
	m.accounts[jid] = r.Password
	m.notes[jid] = r.Note
	m.dead[r.Token] = true // single use
	return page.Account{JID: jid, Pending: inv.Approval}, nil
}

var (
	_ page.Invites   = (*memHost)(nil)
	_ page.Registrar = (*memHost)(nil)
)

// Tokens of the tests: 36 base64url characters, like the core's.
const (
	tokAccount  = "AAAAAAAAAAAAaccountTokenXXXXXXXXXXXX"
	tokFixed    = "AAAAAAAAAAAAfixedNameTokenXXXXXXXXXX"
	tokContact  = "AAAAAAAAAAAAcontactTokenXXXXXXXXXXXX"
	tokContactR = "AAAAAAAAAAAAcontactRegTokenXXXXXXXXX"
	tokReset    = "AAAAAAAAAAAAresetTokenXXXXXXXXXXXXXX"
	tokUnknown  = "AAAAAAAAAAAAunknownTokenXXXXXXXXXXXX"
	tokApproval = "AAAAAAAAAAAAapprovalTokenXXXXXXXXXXX"
	tokInactive = "AAAAAAAAAAAAinactiveTokenXXXXXXXXXXX"
)

// fixture is a Handler over a memHost with a fake clock and a captured log.
type fixture struct {
	t    testing.TB
	host *memHost
	h    *page.Handler
	logs *bytes.Buffer
	now  time.Time
	mu   sync.Mutex // guards now
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// newFixture builds the handler; opts.Now, Logger and ClientAddr are set unless given.
// The client address is the X-Test-Addr header, else the peer.
func newFixture(t testing.TB, opts page.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, host: newMemHost(), logs: new(bytes.Buffer), now: time.Date(2026, 3, 5, 14, 0, 0, 0, time.UTC)}
	f.host.now = f.clock
	f.host.add(tokAccount, page.Invite{Kind: core.KindAccount})
	f.host.add(tokFixed, page.Invite{Kind: core.KindAccount, Username: "juliet"})
	f.host.add(tokContact, page.Invite{Kind: core.KindContact, Inviter: "romeo@example.org"})
	f.host.add(tokContactR, page.Invite{Kind: core.KindContact, Inviter: "romeo@example.org", CanRegister: true})
	f.host.add(tokReset, page.Invite{Kind: core.KindReset, Username: "nurse"})
	f.host.add(tokApproval, page.Invite{Kind: core.KindAccount, Approval: true})
	f.host.add(tokInactive, page.Invite{Kind: core.KindContact, Inviter: "tybalt@example.org", CanRegister: true})
	f.host.inactive[tokInactive] = true
	f.host.accounts["nurse@example.org"] = "old password"
	if opts.Now == nil {
		opts.Now = f.clock
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.ClientAddr == nil {
		opts.ClientAddr = func(r *http.Request) netip.Addr {
			if a, err := netip.ParseAddr(r.Header.Get("X-Test-Addr")); err == nil {
				return a
			}
			ap, _ := netip.ParseAddrPort(r.RemoteAddr)
			return ap.Addr()
		}
	}
	if opts.BaseURL == "" {
		opts.BaseURL = "https://chat.example.org"
	}
	h, err := page.New(f.host, f.host, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.h = h
	return f
}

// request is one request to the fixture's handler.
type request struct {
	method string
	target string
	form   url.Values // POST body, when set
	header map[string]string
}

// response is a recorded answer with its body as text.
type response struct {
	code   int
	header http.Header
	body   string
}

func (f *fixture) do(rq request) response {
	f.t.Helper()
	if rq.method == "" {
		rq.method = http.MethodGet
		if rq.form != nil {
			rq.method = http.MethodPost
		}
	}
	var body io.Reader
	if rq.form != nil {
		body = strings.NewReader(rq.form.Encode())
	}
	r := httptest.NewRequest(rq.method, "https://chat.example.org"+rq.target, body)
	if rq.form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range rq.header {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	res := w.Result()
	b, _ := io.ReadAll(res.Body)
	return response{code: res.StatusCode, header: res.Header, body: string(b)}
}

// get is a GET of target with extra headers as name, value pairs.
func (f *fixture) get(target string, kv ...string) response {
	f.t.Helper()
	rq := request{target: target, header: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		rq.header[kv[i]] = kv[i+1]
	}
	return f.do(rq)
}

var styleRE = regexp.MustCompile(`(?s)<style[^>]*>.*?</style>`)

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// formFor fetches the registration form of token and returns its csrf value.
func (f *fixture) formFor(token string) string {
	f.t.Helper()
	res := f.get("/register?t=" + token)
	if res.code != http.StatusOK {
		f.t.Fatalf("GET /register: %d\n%s", res.code, res.body)
	}
	m := csrfRE.FindStringSubmatch(res.body)
	if m == nil {
		f.t.Fatalf("no csrf field in the form:\n%s", res.body)
	}
	return m[1]
}

// post submits the registration form with the given fields (t and csrf are filled
// from a fresh form unless given).
func (f *fixture) post(token string, fields map[string]string, kv ...string) response {
	f.t.Helper()
	form := url.Values{"t": {token}}
	if _, ok := fields["csrf"]; !ok {
		form.Set("csrf", f.formFor(token))
	}
	for k, v := range fields {
		form.Set(k, v)
	}
	rq := request{target: "/register", form: form, header: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		rq.header[kv[i]] = kv[i+1]
	}
	return f.do(rq)
}

// mustContain fails unless body holds each of wants.
func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", styleRE.ReplaceAllString(body, "<style>…</style>"))
	}
}

// mustNotContain fails if body holds any of bad.
func mustNotContain(t *testing.T, body string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(body, b) {
			t.Errorf("page holds %q", b)
		}
	}
}

var errBoom = errors.New("boom")
