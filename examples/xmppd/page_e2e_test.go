package main_test

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mellium.im/sasl"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/testclient"
	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/page/browsertest"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
)

// The invite page and web registration (issue 12) against the real stack: xmppd,
// the invites-plugin process it loads, and the plugin's store (SQLite, or PostgreSQL).
// The browser test drives them with headless Chromium (page_browser_e2e_test.go);
// these tests speak HTTP.

// pageSite is an xmppd with the built-in page on.
type pageSite struct {
	srv    *proc
	domain string
	data   string
	cli    pluginCLI
	key    string        // an API key of domain
	store  store.Store   // the plugin's store, opened by the test
	invs   *core.Service // the core over the plugin's store, for what the API cannot make
	past   *core.Service // the same, an hour ago: for invites that have expired
	client *http.Client  // never follows redirects
}

// pageSiteOptions say how to start a pageSite.
type pageSiteOptions struct {
	domain  string   // default localhost
	config  string   // more of the plugin's TOML, after landing_page and [page]
	page    string   // keys of [page]
	dsn     string   // the plugin's store; "" is its SQLite file
	args    []string // more xmppd flags
	users   []string // "user password" accounts made before the start
	configs map[string]string
}

// startPageSite writes the plugin's config (landing_page = "builtin"), starts xmppd
// with it, makes an API key, and opens a core over the plugin's store.
func startPageSite(t *testing.T, bin string, o pageSiteOptions) *pageSite {
	t.Helper()
	if o.domain == "" {
		o.domain = "localhost"
	}
	work := t.TempDir()
	data := filepath.Join(work, "data")
	for name, text := range o.configs {
		writeFile(t, work, name, text)
	}
	var env []string
	if o.dsn != "" {
		env = []string{"INVITES_STORE=" + o.dsn}
	}
	conf := writeFile(t, work, "invites.toml", "landing_page = \"builtin\"\n"+o.config+"\n[page]\n"+o.page+"\n")
	for _, u := range o.users {
		name, pass, _ := strings.Cut(u, " ")
		addUser(t, bin, data, name+"@"+o.domain, pass)
	}
	args := append([]string{"-data", data, "-domain", o.domain, "-plugin-config", conf, "-max-unauthenticated-per-addr", "200"}, o.args...)
	srv := startServerEnv(t, bin, work, env, args...)
	s := &pageSite{srv: srv, domain: o.domain, data: data,
		cli:    pluginCLI{bin: bin, env: env, args: []string{"-data", data, "-config", conf}},
		client: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := s.cli.run(ctx, "keys", "create", o.domain, "page e2e")
	if err != nil {
		t.Fatal(err)
	}
	s.key = strings.TrimSpace(out)
	dsn := o.dsn
	if dsn == "" {
		dsn = filepath.Join(data, "invites.db")
	}
	st, err := store.Open(ctx, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	s.store = st
	if s.invs, err = core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: o.domain}}}); err != nil {
		t.Fatal(err)
	}
	hourAgo := func() time.Time { return time.Now().Add(-time.Hour) }
	if s.past, err = core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: o.domain}}, Now: hourAgo}); err != nil {
		t.Fatal(err)
	}
	return s
}

// base is where the test reaches the HTTP server.
func (s *pageSite) base() string { return "http://" + s.srv.http }

// invite creates an account invite with the HTTP API (through httpapi's client) and
// returns its location (its page) and token.
func (s *pageSite) invite(t *testing.T, ctx context.Context, p httpapi.CreateParams) (location, token string) {
	t.Helper()
	c, err := httpapi.NewClient(s.base()+"/invites_api", s.key, s.client)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := c.Create(ctx, p)
	if err != nil {
		t.Fatalf("creating an invite: %v", err)
	}
	location = inv.LandingPage
	if location == "" {
		location = inv.URI
	}
	return location, inv.Token
}

// api sends a request to the HTTP API at path with key (s.key when "") and body (JSON;
// "" for none), decodes a JSON answer into out and returns the status.
func (s *pageSite) api(t *testing.T, ctx context.Context, method, path, key, body string, out any) int {
	t.Helper()
	if key == "" {
		key = s.key
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "application/json")
	r := s.do(t, req)
	if r.code < 300 && out != nil {
		if err := json.Unmarshal([]byte(r.body), out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, r.body)
		}
	}
	return r.code
}

// coreInvite creates an invite the HTTP API cannot make (max_uses, reset, contact)
// with the core, on the plugin's store, as the command line would.
func (s *pageSite) coreInvite(t *testing.T, ctx context.Context, spec core.InviteSpec) string {
	t.Helper()
	spec.Host = s.domain
	spec.Actor = core.Actor{Kind: core.ActorCLI, Manage: true}
	inv, err := s.invs.CreateInvite(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	return inv.Token
}

// pageResponse is one answer of the page.
type pageResponse struct {
	code   int
	header http.Header
	body   string
}

// get sends GET (or HEAD) to path on the server, with the headers given as
// "Name: value".
func (s *pageSite) get(t *testing.T, ctx context.Context, method, path string, headers ...string) pageResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, s.base()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Add(k, v)
	}
	return s.do(t, req)
}

func (s *pageSite) do(t *testing.T, req *http.Request) pageResponse {
	t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return pageResponse{resp.StatusCode, resp.Header, string(b)}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// form shows the registration form of token and returns its form token.
func (s *pageSite) form(t *testing.T, ctx context.Context, token string) string {
	t.Helper()
	r := s.get(t, ctx, "GET", "/register?t="+token)
	m := csrfField.FindStringSubmatch(r.body)
	if r.code != http.StatusOK || m == nil {
		t.Fatalf("GET /register: %d\n%s", r.code, r.body)
	}
	return m[1]
}

// post sends the registration form.
func (s *pageSite) post(t *testing.T, ctx context.Context, form url.Values, headers ...string) pageResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base()+"/register", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	return s.do(t, req)
}

// register fills and sends the form of token for user.
func (s *pageSite) register(t *testing.T, ctx context.Context, token, csrf, user, pass string) pageResponse {
	t.Helper()
	return s.post(t, ctx, url.Values{"t": {token}, "csrf": {csrf}, "username": {user}, "password": {pass}, "password_confirm": {pass}})
}

// exists reports which of the names are accounts, from the server's account store.
func (s *pageSite) exists(t *testing.T, ctx context.Context, names ...string) []string {
	t.Helper()
	st, err := accounts.Open(ctx, filepath.Join(s.data, accounts.FileName), accounts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []string
	for _, n := range names {
		ok, err := st.Exists(ctx, n+"@"+s.domain)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			out = append(out, n)
		}
	}
	return out
}

// login logs user in over XMPP (STARTTLS, SASL PLAIN, bind) with the repository's
// test client.
func (s *pageSite) login(ctx context.Context, user, pass string) error {
	c, err := testclient.Dial(ctx, s.srv.c2s, s.domain, testclient.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Plain(user, pass, "")
	return err
}

// preauth sends the XEP-0445 pre-auth IQ with token on a new stream and returns the
// answer.
func (s *pageSite) preauth(ctx context.Context, token string) (testclient.Element, error) {
	c, err := testclient.Dial(ctx, s.srv.c2s, s.domain, testclient.Options{})
	if err != nil {
		return testclient.Element{}, err
	}
	defer c.Close()
	return c.IQ(`<iq type='set' id='pa'><preauth xmlns='urn:xmpp:pars:0' token='` + token + `'/></iq>`)
}

// checkPageHeaders checks the headers SPEC asks of every page.
func checkPageHeaders(t *testing.T, what string, r pageResponse) {
	t.Helper()
	for k, want := range map[string]string{
		"Cache-Control":          "no-store",
		"Referrer-Policy":        "no-referrer",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := r.header.Get(k); got != want {
			t.Errorf("%s: %s = %q, want %q", what, k, got, want)
		}
	}
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") ||
		strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "script-src") {
		t.Errorf("%s: Content-Security-Policy %q", what, csp)
	}
	if strings.Contains(r.body, "<script") {
		t.Errorf("%s: the page has a script", what)
	}
}

// pageClients is the operator's client list of the HTTP tests, read from a file
// named relatively to the plugin's config.
const pageClients = `[
 {"name": "Conversations", "website": "https://conversations.im/", "platforms": ["android"], "takes_invites": true,
  "links": [{"label": "Google Play", "url": "https://play.google.com/store/apps/details?id=eu.siacs.conversations&referrer={uri}"}]},
 {"name": "Example Desktop Client", "platforms": ["linux", "windows"], "takes_invites": false}
]`

// TestPageHTTP checks every SPEC line of the page and web registration over HTTP,
// against xmppd with the plugin on SQLite, then on PostgreSQL.
func TestPageHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)
	t.Run("sqlite", func(t *testing.T) { pageHTTP(t, bin, "") })
	t.Run("postgres", func(t *testing.T) {
		_, dsn := pgtest.Schema(t)
		pageHTTP(t, bin, dsn)
	})
}

func pageHTTP(t *testing.T, bin, dsn string) {
	s := startPageSite(t, bin, pageSiteOptions{
		dsn:     dsn,
		page:    "site_name = \"Example Chat\"\nclients_file = \"clients.json\"\nfailed_attempt_rate = \"off\"\nlogin_note = \"Server: localhost\"",
		configs: map[string]string{"clients.json": pageClients},
		users:   []string{"dave old password", "admin admin secret", "alice alice secret"},
		args:    []string{"-admin", "admin@localhost"},
		// alice's contact invite registers an account on the web below: users'
		// invites may register only when the operator allows it (issue 15).
		config: "allow_user_invites = true",
	})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var tokens []string // every token used: none may reach a log
	var pwMu sync.Mutex
	passwords := []string{"old password"}
	usePassword := func(p string) string {
		pwMu.Lock()
		defer pwMu.Unlock()
		passwords = append(passwords, p)
		return p
	}

	t.Run("command line prints the page", func(t *testing.T) {
		// The command line reads the server's base URL from the store, so that it
		// prints the link the server's API would answer with, not the xmpp: URI.
		out, err := s.cli.run(ctx, "invites", "create", s.domain)
		if err != nil {
			t.Fatal(err)
		}
		link := strings.TrimSpace(out)
		if !strings.HasPrefix(link, s.base()+"/invite?") {
			t.Fatalf("invites create printed %q, want the invite page under %s", link, s.base())
		}
		token := strings.TrimPrefix(link, s.base()+"/invite?")
		tokens = append(tokens, token)
		if r := s.get(t, ctx, "GET", "/invite?"+token); r.code != http.StatusOK {
			t.Errorf("the printed page answers %d", r.code)
		}
	})

	t.Run("page", func(t *testing.T) {
		loc, token := s.invite(t, ctx, httpapi.CreateParams{})
		tokens = append(tokens, token)
		if want := s.base() + "/invite?" + token; loc != want {
			t.Fatalf("Location %q, want %q", loc, want)
		}
		uri := "xmpp:" + s.domain + "?register;preauth=" + token
		for _, method := range []string{"GET", "HEAD"} {
			r := s.get(t, ctx, method, "/invite?"+token, "User-Agent: "+browsertest.UAAndroid)
			if r.code != http.StatusOK || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Errorf("%s: %d %q", method, r.code, r.header.Get("Content-Type"))
			}
			// The first <…> of the first Link is the URI: what Conversations reads.
			if links := r.header.Values("Link"); len(links) == 0 || !strings.HasPrefix(links[0], "<"+uri+`>; rel="alternate"`) {
				t.Errorf("%s: Link %q", method, links)
			}
			if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Access-Control-Expose-Headers") != "Link" {
				t.Errorf("%s: CORS %v", method, r.header)
			}
			checkPageHeaders(t, method+" /invite", r)
			if method == "HEAD" && r.body != "" {
				t.Errorf("HEAD has a body")
			}
		}
		r := s.get(t, ctx, "GET", "/invite?"+token, "User-Agent: "+browsertest.UAAndroid)
		for _, want := range []string{
			`<link rel="alternate" href="` + uri + `">`,
			`id="open-app" href="` + uri + `"`,
			`<svg class="qr"`,
			`href="register?t=` + token + `"`,
			"Example Chat",
			"<time datetime=",
			// The operator's list, its store link carrying the URI as install referrer.
			"referrer=" + url.QueryEscape(uri),
		} {
			if !strings.Contains(r.body, want) {
				t.Errorf("the page lacks %s", want)
			}
		}
		if strings.Contains(r.body, "Example Desktop Client") {
			t.Error("an Android visitor is shown a desktop client")
		}
		if r := s.get(t, ctx, "GET", "/invite?"+token+"&platform=all"); !strings.Contains(r.body, "Example Desktop Client") || strings.Contains(r.body, "Gajim") {
			t.Error("the operator's client list is not the one shown")
		}
		if r := s.get(t, ctx, "GET", "/invite?"+token, "Accept-Language: de-DE,de;q=0.9"); r.header.Get("Content-Language") != "de" || !strings.Contains(r.body, `lang="de"`) {
			t.Errorf("German: %q", r.header.Get("Content-Language"))
		}
	})

	t.Run("commands", func(t *testing.T) {
		// The XEP-0401 commands' result forms give the page as landing-url.
		sess, err := testclient.Login(ctx, s.srv.c2s, "admin", "admin secret", sasl.ScramSha256)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		admin := commander{sess}
		first, err := admin.execute(ctx, nodeCreateAccount)
		if err != nil {
			t.Fatal(err)
		}
		done, err := admin.complete(ctx, first, nil)
		if err != nil || done.Form == nil {
			t.Fatalf("create-account: %+v, %v", done, err)
		}
		token := preauthToken(done.Form.Value("uri"))
		tokens = append(tokens, token)
		if got := done.Form.Value("landing-url"); got != s.base()+"/invite?"+token {
			t.Errorf("landing-url %q", got)
		}
		// A contact invite: the page names the inviter, and an account made on the
		// web gets the inviter in its roster, as in-band (XEP-0401 §5.5).
		sess2, err := testclient.Login(ctx, s.srv.c2s, "alice", "alice secret", sasl.ScramSha256)
		if err != nil {
			t.Fatal(err)
		}
		defer sess2.Close()
		done, err = commander{sess2}.execute(ctx, nodeInvite)
		if err != nil || done.Form == nil {
			t.Fatalf("invite: %+v, %v", done, err)
		}
		contact := preauthToken(done.Form.Value("uri"))
		tokens = append(tokens, contact)
		if got := done.Form.Value("landing-url"); got != s.base()+"/invite?"+contact {
			t.Errorf("contact landing-url %q", got)
		}
		r := s.get(t, ctx, "GET", "/invite?"+contact)
		if r.code != http.StatusOK || !strings.Contains(r.body, "alice@localhost") ||
			!strings.HasPrefix(r.header.Get("Link"), "<xmpp:alice@localhost?roster;preauth="+contact+";ibr=y>") {
			t.Fatalf("the contact invite's page: %d, Link %q", r.code, r.header.Get("Link"))
		}
		pass := usePassword("a passphrase for Ben")
		if r := s.register(t, ctx, contact, s.form(t, ctx, contact), "benvolio", pass); r.code != http.StatusOK {
			t.Fatalf("registering with the contact invite: %d", r.code)
		}
		ben := rawLogin(t, ctx, s.srv.c2s, "benvolio", pass)
		if el, err := ben.IQ(`<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>`); err != nil || !hasItem("alice@localhost", "both")(el) {
			t.Errorf("benvolio's roster: %v %v", el, err)
		}
	})

	t.Run("dead", func(t *testing.T) {
		used := s.coreInvite(t, ctx, core.InviteSpec{})
		if r := s.register(t, ctx, used, s.form(t, ctx, used), "first", usePassword("opening passphrase")); r.code != http.StatusOK {
			t.Fatalf("registering: %d", r.code)
		}
		revoked := s.coreInvite(t, ctx, core.InviteSpec{})
		if _, err := s.invs.RevokeInvite(ctx, core.Actor{Kind: core.ActorCLI, Manage: true}, s.domain, core.TokenID(revoked)); err != nil {
			t.Fatal(err)
		}
		old, err := s.past.CreateInvite(ctx, core.InviteSpec{Host: s.domain, TTL: time.Minute, Actor: core.Actor{Kind: core.ActorCLI, Manage: true}})
		if err != nil {
			t.Fatal(err)
		}
		expired := old.Token
		_, live := s.invite(t, ctx, httpapi.CreateParams{})
		wrong := live[:core.IDLen] + strings.Repeat("A", core.TokenLen-core.IDLen)
		tokens = append(tokens, used, revoked, expired, live)
		for what, tok := range map[string]string{"used": used, "revoked": revoked, "expired": expired, "wrong secret": wrong, "unknown": strings.Repeat("B", core.TokenLen), "malformed": "x"} {
			for _, path := range []string{"/invite?" + tok, "/register?t=" + tok} {
				for _, method := range []string{"GET", "HEAD"} {
					r := s.get(t, ctx, method, path)
					if r.code != http.StatusNotFound || len(r.header.Values("Link")) != 0 {
						t.Errorf("%s %s (%s): %d, Link %q", method, path, what, r.code, r.header.Values("Link"))
					}
					checkPageHeaders(t, what, r)
				}
			}
		}
		// In-band, the used token is dead too.
		if el, err := s.preauth(ctx, used); err != nil || el.Attr("type") != "error" || !strings.Contains(el.Inner, "item-not-found") {
			t.Errorf("pre-auth with the used token: %v %v", el, err)
		}
	})

	t.Run("register", func(t *testing.T) {
		_, token := s.invite(t, ctx, httpapi.CreateParams{})
		tokens = append(tokens, token)
		csrf := s.form(t, ctx, token)
		pass := usePassword("Montague passphrase")
		r := s.register(t, ctx, token, csrf, "Romeo", pass)
		if r.code != http.StatusOK || !strings.Contains(r.body, `id="registered-jid">romeo@`+s.domain+"<") || !strings.Contains(r.body, "Server: localhost") {
			t.Fatalf("registering: %d\n%s", r.code, r.body)
		}
		checkPageHeaders(t, "success", r)
		if err := s.login(ctx, "romeo", pass); err != nil {
			t.Errorf("the new account cannot log in: %v", err)
		}
		sess, err := testclient.Login(ctx, s.srv.c2s, "romeo", pass, sasl.ScramSha256)
		if err != nil {
			t.Errorf("SCRAM-SHA-256 login: %v", err)
		} else {
			_ = sess.Close()
		}
		// Taken names: 409, and the invite is not spent.
		_, token2 := s.invite(t, ctx, httpapi.CreateParams{})
		tokens = append(tokens, token2)
		csrf2 := s.form(t, ctx, token2)
		if r := s.register(t, ctx, token2, csrf2, "romeo", usePassword("another password")); r.code != http.StatusConflict {
			t.Errorf("a taken name: %d", r.code)
		}
		if r := s.register(t, ctx, token2, csrf2, "dave", "another password"); r.code != http.StatusConflict {
			t.Errorf("an existing account's name: %d", r.code)
		}
		if r := s.register(t, ctx, token2, csrf2, "bad name", "another password"); r.code != http.StatusBadRequest {
			t.Errorf("an invalid name: %d", r.code)
		}
		if r := s.post(t, ctx, url.Values{"t": {token2}, "csrf": {csrf2}, "username": {"x"}, "password": {"one password"}, "password_confirm": {"another"}}); r.code != http.StatusBadRequest {
			t.Errorf("passwords that differ: %d", r.code)
		}
		if r := s.register(t, ctx, token2, csrf2, "mercutio", usePassword("Queen Mab speech")); r.code != http.StatusOK {
			t.Errorf("the invite was spent by refused forms: %d", r.code)
		}
	})

	t.Run("csrf", func(t *testing.T) {
		_, token := s.invite(t, ctx, httpapi.CreateParams{})
		_, other := s.invite(t, ctx, httpapi.CreateParams{})
		tokens = append(tokens, token, other)
		csrf, otherCSRF := s.form(t, ctx, token), s.form(t, ctx, other)
		pass := usePassword("Capulet cousin pass")
		form := func(csrf string) url.Values {
			return url.Values{"t": {token}, "csrf": {csrf}, "username": {"tybalt"}, "password": {pass}, "password_confirm": {pass}}
		}
		for what, r := range map[string]pageResponse{
			"no form token":              s.post(t, ctx, url.Values{"t": {token}, "username": {"tybalt"}, "password": {pass}, "password_confirm": {pass}}),
			"a forged form token":        s.post(t, ctx, form(strings.Repeat("A", len(csrf)))),
			"another invite's token":     s.post(t, ctx, form(otherCSRF)),
			"a cross-site POST":          s.post(t, ctx, form(csrf), "Sec-Fetch-Site: cross-site"),
			"a POST from another origin": s.post(t, ctx, form(csrf), "Origin: https://evil.example"),
		} {
			if r.code != http.StatusForbidden {
				t.Errorf("%s: %d", what, r.code)
			}
		}
		if got := s.exists(t, ctx, "tybalt"); len(got) != 0 {
			t.Fatal("a refused form made the account")
		}
		if r := s.post(t, ctx, form(csrf), "Sec-Fetch-Site: same-origin", "Origin: "+s.base()); r.code != http.StatusOK {
			t.Errorf("the form itself: %d", r.code)
		}
	})

	t.Run("fixed username", func(t *testing.T) {
		loc, token := s.invite(t, ctx, httpapi.CreateParams{Username: "juliet"})
		tokens = append(tokens, token)
		if !strings.HasSuffix(loc, "/invite?"+token) {
			t.Fatalf("Location %q", loc)
		}
		if r := s.get(t, ctx, "GET", "/invite?"+token); !strings.Contains(r.body, "xmpp:juliet@"+s.domain+"?register;preauth="+token) {
			t.Error("the page does not carry the fixed name's URI")
		}
		r := s.get(t, ctx, "GET", "/register?t="+token)
		if strings.Contains(r.body, `id="username"`) || !strings.Contains(r.body, `id="account">juliet@`+s.domain) {
			t.Error("the form asks for a name the invite fixes")
		}
		csrf := s.form(t, ctx, token)
		pass := usePassword("balcony passphrase")
		if r := s.register(t, ctx, token, csrf, "paris", pass); r.code != http.StatusBadRequest {
			t.Errorf("another name: %d", r.code)
		}
		if r := s.register(t, ctx, token, csrf, "", pass); r.code != http.StatusOK || !strings.Contains(r.body, "juliet@"+s.domain) {
			t.Fatalf("the fixed name: %d", r.code)
		}
		if got := s.exists(t, ctx, "juliet", "paris"); strings.Join(got, ",") != "juliet" {
			t.Errorf("accounts %v", got)
		}
		if err := s.login(ctx, "juliet", pass); err != nil {
			t.Error(err)
		}
	})

	t.Run("50 at once", func(t *testing.T) {
		_, token := s.invite(t, ctx, httpapi.CreateParams{})
		tokens = append(tokens, token)
		csrf := s.form(t, ctx, token)
		pass := usePassword("racing password")
		codes := make([]int, 50)
		names := make([]string, 50)
		var wg sync.WaitGroup
		for i := range codes {
			names[i] = fmt.Sprintf("racer%02d", i)
			wg.Go(func() { codes[i] = s.register(t, ctx, token, csrf, names[i], pass).code })
		}
		wg.Wait()
		won := countCodes(codes)
		if won[http.StatusOK] != 1 || won[http.StatusNotFound] != 49 {
			t.Errorf("statuses %v, want one 200 and 49 404", won)
		}
		if got := s.exists(t, ctx, names...); len(got) != 1 {
			t.Errorf("accounts %v, want exactly one", got)
		}
	})

	t.Run("web and in-band", func(t *testing.T) {
		_, token := s.invite(t, ctx, httpapi.CreateParams{})
		tokens = append(tokens, token)
		csrf := s.form(t, ctx, token)
		pass := usePassword("mixed password")
		// Twelve streams pre-authenticated with the token first, so that every
		// in-band registration races the web ones at the redemption itself.
		streams := make([]*testclient.Client, 12)
		for i := range streams {
			c, err := testclient.Dial(ctx, s.srv.c2s, s.domain, testclient.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if el, err := c.IQ(`<iq type='set' id='pa'><preauth xmlns='urn:xmpp:pars:0' token='` + token + `'/></iq>`); err != nil || el.Attr("type") != "result" {
				t.Fatalf("pre-auth: %v %v", el, err)
			}
			streams[i] = c
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won, names []string
		for i, c := range streams {
			web, band := fmt.Sprintf("web%02d", i), fmt.Sprintf("band%02d", i)
			names = append(names, web, band)
			wg.Go(func() {
				switch r := s.register(t, ctx, token, csrf, web, pass); r.code {
				case http.StatusOK:
					mu.Lock()
					won = append(won, web)
					mu.Unlock()
				case http.StatusNotFound:
				default:
					t.Errorf("web: %d", r.code)
				}
			})
			wg.Go(func() {
				el, err := c.IQ(registerIQ(band, pass))
				switch {
				case err != nil:
					t.Errorf("in-band: %v", err)
				case el.Attr("type") == "result":
					mu.Lock()
					won = append(won, band)
					mu.Unlock()
				case !strings.Contains(el.Inner, "item-not-found"):
					t.Errorf("in-band: %v", el)
				}
			})
		}
		wg.Wait()
		got := s.exists(t, ctx, names...)
		if len(won) != 1 || len(got) != 1 || got[0] != won[0] {
			t.Errorf("winners %v, accounts %v: want exactly one", won, got)
		}
	})

	t.Run("max_uses 3", func(t *testing.T) {
		token := s.coreInvite(t, ctx, core.InviteSpec{MaxUses: new(3)})
		tokens = append(tokens, token)
		csrf := s.form(t, ctx, token)
		pass := usePassword("group password")
		codes := make([]int, 10)
		names := make([]string, 10)
		var wg sync.WaitGroup
		for i := range codes {
			names[i] = fmt.Sprintf("member%d", i)
			wg.Go(func() { codes[i] = s.register(t, ctx, token, csrf, names[i], pass).code })
		}
		wg.Wait()
		if won := countCodes(codes); won[http.StatusOK] != 3 || won[http.StatusNotFound] != 7 {
			t.Errorf("statuses %v, want three 200 and seven 404", won)
		}
		if got := s.exists(t, ctx, names...); len(got) != 3 {
			t.Errorf("accounts %v, want exactly three", got)
		}
		if r := s.get(t, ctx, "GET", "/invite?"+token); r.code != http.StatusNotFound {
			t.Errorf("the used-up invite: %d", r.code)
		}
	})

	t.Run("reset", func(t *testing.T) {
		token := s.coreInvite(t, ctx, core.InviteSpec{Kind: core.KindReset, Username: "dave"})
		tokens = append(tokens, token)
		r := s.get(t, ctx, "GET", "/invite?"+token)
		if r.code != http.StatusOK || !strings.Contains(r.body, `id="register-link" href="register?t=`+token+`"`) || !strings.Contains(r.body, "dave@"+s.domain) {
			t.Fatalf("the reset invite's page: %d\n%s", r.code, r.body)
		}
		csrf := s.form(t, ctx, token)
		if r := s.get(t, ctx, "GET", "/register?t="+token); strings.Contains(r.body, `id="username"`) {
			t.Error("the reset form asks for a name")
		}
		pass := usePassword("fresh passphrase 42")
		if r := s.register(t, ctx, token, csrf, "eve", pass); r.code != http.StatusBadRequest {
			t.Errorf("another account: %d", r.code)
		}
		if r := s.register(t, ctx, token, csrf, "", pass); r.code != http.StatusOK || !strings.Contains(r.body, "dave@"+s.domain) {
			t.Fatalf("the reset: %d\n%s", r.code, r.body)
		}
		if err := s.login(ctx, "dave", "old password"); !errors.Is(err, testclient.ErrAuth) {
			t.Errorf("the old password: %v", err)
		}
		if err := s.login(ctx, "dave", pass); err != nil {
			t.Errorf("the new password: %v", err)
		}
		if r := s.get(t, ctx, "GET", "/invite?"+token); r.code != http.StatusNotFound {
			t.Errorf("the used reset invite: %d", r.code)
		}
		// In-band: pre-auth, then the account's name and a new password (XEP-0077).
		token2 := s.coreInvite(t, ctx, core.InviteSpec{Kind: core.KindReset, Username: "dave"})
		tokens = append(tokens, token2)
		pass2 := usePassword("the third password")
		if el, err := registerWithTokenOn(ctx, s.srv.c2s, s.domain, token2, "dave", pass2); err != nil || el.Attr("type") != "result" {
			t.Fatalf("in-band reset: %v %v", el, err)
		}
		if err := s.login(ctx, "dave", pass2); err != nil {
			t.Errorf("after the in-band reset: %v", err)
		}
		if err := s.login(ctx, "dave", pass); !errors.Is(err, testclient.ErrAuth) {
			t.Errorf("the web reset's password still works: %v", err)
		}
	})

	// Issue 22 through the real stack: the password policy, the same form sent twice,
	// compression.
	t.Run("password policy", func(t *testing.T) {
		_, token := s.invite(t, ctx, httpapi.CreateParams{})
		tokens = append(tokens, token)
		csrf := s.form(t, ctx, token)
		for _, tc := range []struct{ user, pass, want string }{
			{"apothecary", "12345678", "one of the most common passwords"},
			{"apothecary", "        ", "cannot be only spaces"},
			{"apothecary", "aaaaaaaa", "at least 5 different characters"},
			{"apothecary", "Apothecary-2026", "must not contain your username"},
		} {
			usePassword(tc.pass)
			if r := s.register(t, ctx, token, csrf, tc.user, tc.pass); r.code != http.StatusBadRequest || !strings.Contains(r.body, tc.want) {
				t.Errorf("%q: %d, want 400 with %q", tc.pass, r.code, tc.want)
			}
		}
		if got := s.exists(t, ctx, "apothecary"); len(got) != 0 {
			t.Error("a refused password made the account")
		}
	})
	t.Run("sent twice", func(t *testing.T) {
		_, token := s.invite(t, ctx, httpapi.CreateParams{})
		tokens = append(tokens, token)
		csrf, other := s.form(t, ctx, token), s.form(t, ctx, token)
		pass := usePassword("Verona by night")
		for i := range 2 {
			if r := s.register(t, ctx, token, csrf, "rosaline", pass); r.code != http.StatusOK || !strings.Contains(r.body, `id="registered-jid">rosaline@`+s.domain+`<`) {
				t.Fatalf("sending %d: %d\n%s", i+1, r.code, r.body)
			}
		}
		// Another form of the spent invite is refused as before.
		if r := s.register(t, ctx, token, other, "friar", pass); r.code != http.StatusNotFound {
			t.Errorf("a new form of the spent invite: %d", r.code)
		}
		if err := s.login(ctx, "rosaline", pass); err != nil {
			t.Errorf("logging in as rosaline: %v", err)
		}
	})
	t.Run("gzip", func(t *testing.T) {
		_, token := s.invite(t, ctx, httpapi.CreateParams{})
		tokens = append(tokens, token)
		r := s.get(t, ctx, "GET", "/invite?"+token, "Accept-Encoding: gzip")
		if r.code != http.StatusOK || r.header.Get("Content-Encoding") != "gzip" || !strings.Contains(r.header.Get("Vary"), "Accept-Encoding") {
			t.Fatalf("GET with Accept-Encoding: gzip: %d %v", r.code, r.header)
		}
		zr, err := gzip.NewReader(strings.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil || !strings.Contains(string(plain), "preauth="+token) {
			t.Errorf("the gzipped page: %v\n%s", err, plain)
		}
		if f := s.get(t, ctx, "GET", "/register?t="+token, "Accept-Encoding: gzip"); f.header.Get("Content-Encoding") != "" {
			t.Error("the form, with its form token, is compressed")
		}
	})

	// No token and no password reached the log of xmppd or of the plugin, which
	// both wrote at debug level all along.
	log := s.srv.stderr.String()
	if !strings.Contains(log, `msg="page request"`) || !strings.Contains(log, `msg="web registration"`) {
		t.Fatalf("the plugin's page log is missing: the check below would prove nothing\n%s", log)
	}
	for _, tok := range tokens {
		if strings.Contains(log, tok) {
			t.Errorf("token %s… in the log", tok[:core.IDLen])
		}
	}
	for _, p := range passwords {
		if strings.Contains(log, p) {
			t.Errorf("password %q in the log", p)
		}
	}
}

// TestPageClientAddress: the page's failed-attempt limit counts the client address
// the host forwards over the data path, and X-Forwarded-For only from a trusted
// proxy (http.trusted_proxies), as the HTTP API does.
func TestPageClientAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)
	s := startPageSite(t, bin, pageSiteOptions{
		config: "[http]\ntrusted_proxies = [\"127.0.0.1\"]",
		page:   "failed_attempt_rate = \"3/h\"",
	})
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	dead := "/invite?" + strings.Repeat("B", core.TokenLen)
	for i := range 3 {
		if r := s.get(t, ctx, "GET", dead, "X-Forwarded-For: 198.51.100.7"); r.code != http.StatusNotFound {
			t.Fatalf("attempt %d: %d", i+1, r.code)
		}
	}
	r := s.get(t, ctx, "GET", dead, "X-Forwarded-For: 198.51.100.7")
	if r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("the fourth failure: %d, Retry-After %q", r.code, r.header.Get("Retry-After"))
	}
	// Another client behind the same proxy has its own budget.
	if r := s.get(t, ctx, "GET", dead, "X-Forwarded-For: 203.0.113.9"); r.code != http.StatusNotFound {
		t.Errorf("another client: %d", r.code)
	}
}

// TestPageConfigError: a client list the plugin cannot use stops xmppd at start,
// saying which key and file.
func TestPageConfigError(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)
	work := t.TempDir()
	writeFile(t, work, "clients.json", `[{"name": "X", "platforms": ["amiga"]}]`)
	conf := writeFile(t, work, "invites.toml", "landing_page = \"builtin\"\n[page]\nclients_file = \"clients.json\"\n")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "xmppd"), "-data", filepath.Join(work, "data"), "-c2s", "127.0.0.1:0", "-http", "127.0.0.1:0", "-plugin-config", conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("xmppd: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "page.clients_file "+filepath.Join(work, "clients.json")) || !strings.Contains(string(out), "amiga") {
		t.Errorf("the error does not say what is wrong:\n%s", out)
	}
}

// countCodes counts the statuses.
func countCodes(codes []int) map[int]int {
	m := map[int]int{}
	for _, c := range codes {
		m[c]++
	}
	return m
}

// registerWithTokenOn registers user on domain at addr the XEP-0445 way, as
// registerWithToken does on localhost.
func registerWithTokenOn(ctx context.Context, addr, domain, token, user, pass string) (testclient.Element, error) {
	c, err := testclient.Dial(ctx, addr, domain, testclient.Options{})
	if err != nil {
		return testclient.Element{}, err
	}
	defer c.Close()
	if el, err := c.IQ(`<iq type='set' id='pa'><preauth xmlns='urn:xmpp:pars:0' token='` + token + `'/></iq>`); err != nil || el.Attr("type") != "result" {
		return el, fmt.Errorf("pre-auth: %v %v", el, err)
	}
	return c.IQ(registerIQ(user, pass))
}
