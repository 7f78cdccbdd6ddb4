package page_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/xmpp-invites/invites/internal/page"
)

const (
	uaAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	uaLinux   = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	uaWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
)

// checkSecurityHeaders checks the headers SPEC asks of every page.
func checkSecurityHeaders(t *testing.T, res response) {
	t.Helper()
	for k, want := range map[string]string{
		"Cache-Control":          "no-store",
		"Referrer-Policy":        "no-referrer",
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
	} {
		if got := res.header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	csp := res.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "script-src", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("Content-Security-Policy %q has %q", csp, bad)
		}
	}
	if res.code != http.StatusNoContent && res.body != "" {
		// The inline style carries the policy's nonce, and nothing else is inline.
		m := regexp.MustCompile(`style-src 'nonce-([A-Za-z0-9_-]+)'`).FindStringSubmatch(csp)
		if m == nil {
			t.Fatalf("Content-Security-Policy %q has no style nonce", csp)
		}
		if !strings.Contains(res.body, `<style nonce="`+m[1]+`">`) {
			t.Errorf("the <style> element does not carry the nonce %s", m[1])
		}
		for _, bad := range []string{"<script", " style=", "javascript:"} {
			if strings.Contains(res.body, bad) {
				t.Errorf("page has %q", bad)
			}
		}
	}
}

func TestInvitePage(t *testing.T) {
	f := newFixture(t, page.Options{SiteName: "Example Chat"})
	uri := "xmpp:example.org?register;preauth=" + tokAccount
	res := f.get("/invite?"+tokAccount, "User-Agent", uaAndroid)
	if res.code != http.StatusOK {
		t.Fatalf("status %d, want 200\n%s", res.code, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if got, want := res.header.Values("Link")[0], "<"+uri+`>; rel="alternate"`; got != want {
		t.Errorf("first Link = %q, want %q", got, want)
	}
	if got := res.header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("Access-Control-Allow-Origin = %q", got)
	}
	if got := res.header.Get("Access-Control-Expose-Headers"); got != "Link" {
		t.Errorf("Access-Control-Expose-Headers = %q", got)
	}
	checkSecurityHeaders(t, res)
	mustContain(t, res.body,
		`<html lang="en">`,
		`<link rel="alternate" href="`+uri+`">`,
		`id="open-app" href="`+uri+`"`,
		`<svg class="qr"`,
		`href="register?t=`+tokAccount+`"`,
		"You are invited to join example.org",
		"Example Chat",
		`This invitation expires on 12 March 2026, 14:00 UTC (in 7 days).`,
		`datetime="2026-03-12T14:00:00Z"`,
		"https://chat.example.org/invite?"+tokAccount,
		// Android: Conversations with the install referrer carrying the URI.
		"Conversations",
		"https://play.google.com/store/apps/details?id=eu.siacs.conversations&amp;referrer="+url.QueryEscape(url.QueryEscape(uri))[0:0]+url.QueryEscape(uri),
		"Opens invitations",
	)
	mustNotContain(t, res.body, "Gajim", "Dino")
}

func TestInviteHEAD(t *testing.T) {
	f := newFixture(t, page.Options{})
	get := f.get("/invite?" + tokAccount)
	head := f.do(request{method: http.MethodHead, target: "/invite?" + tokAccount})
	if head.code != http.StatusOK {
		t.Fatalf("HEAD status %d", head.code)
	}
	if head.body != "" {
		t.Errorf("HEAD has a body of %d bytes", len(head.body))
	}
	for _, k := range []string{"Link", "Content-Type", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers", "Cache-Control", "Referrer-Policy", "X-Content-Type-Options"} {
		if g, h := get.header.Get(k), head.header.Get(k); g != h || h == "" {
			t.Errorf("%s: GET %q, HEAD %q", k, g, h)
		}
	}
	checkSecurityHeaders(t, head)
	// A dead token: HEAD is a 404 without Link too.
	dead := f.do(request{method: http.MethodHead, target: "/invite?" + tokUnknown})
	if dead.code != http.StatusNotFound || dead.header.Get("Link") != "" {
		t.Errorf("HEAD of a dead token: %d, Link %q", dead.code, dead.header.Get("Link"))
	}
}

// TestInviteFirstLink checks the xmpp: URI comes before any Link a middleware set.
func TestInviteFirstLink(t *testing.T) {
	f := newFixture(t, page.Options{})
	mw := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Link", `</style.css>; rel="preload"`)
		f.h.ServeHTTP(w, r)
	})
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		r, _ := http.NewRequest(method, "https://chat.example.org/invite?"+tokAccount, nil)
		w := newRecorder()
		mw.ServeHTTP(w, r)
		links := w.Header().Values("Link")
		if len(links) != 2 || !strings.HasPrefix(links[0], "<xmpp:example.org?register;preauth=") {
			t.Errorf("%s: Link = %q, want the xmpp: URI first", method, links)
		}
	}
}

func TestDeadInvite(t *testing.T) {
	f := newFixture(t, page.Options{})
	f.host.add("AAAAAAAAAAAAexpiredTokenXXXXXXXXXXXX", page.Invite{ExpiresAt: f.now.Add(-time.Second)})
	f.host.add("AAAAAAAAAAAAusedTokenXXXXXXXXXXXXXXX", page.Invite{})
	f.host.dead["AAAAAAAAAAAAusedTokenXXXXXXXXXXXXXXX"] = true
	for _, target := range []string{
		"/invite?" + tokUnknown,
		"/invite?AAAAAAAAAAAAexpiredTokenXXXXXXXXXXXX",
		"/invite?AAAAAAAAAAAAusedTokenXXXXXXXXXXXXXXX",
		"/invite?short",
		"/invite?not%20a%20token%20at%20all%20really",
		"/invite",
		"/invite?=&&",
		"/register?t=" + tokUnknown,
		"/register",
	} {
		res := f.get(target)
		if res.code != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", target, res.code)
		}
		if l := res.header.Values("Link"); len(l) != 0 {
			t.Errorf("%s: Link %q on a dead token", target, l)
		}
		checkSecurityHeaders(t, res)
		mustContain(t, res.body, "This invitation is not valid")
		mustNotContain(t, res.body, "xmpp:", "<svg")
	}
}

func TestContactInvite(t *testing.T) {
	f := newFixture(t, page.Options{})
	res := f.get("/invite?" + tokContact)
	mustContain(t, res.body, "romeo@example.org invites you to chat", "add romeo@example.org to your contacts")
	mustNotContain(t, res.body, "register?t=", "This invitation also lets you create one")
	// Issue 22: an invite that cannot make accounts never sends the person to web
	// registration; it says to add the inviter by hand, on every platform.
	for _, p := range []string{"android", "ios", "linux", "windows", "macos", "all"} {
		res := f.get("/invite?" + tokContact + "&platform=" + p)
		mustNotContain(t, strings.ToLower(res.body), "on the web", "create your account")
		mustContain(t, res.body, `id="open-app"`, "add romeo@example.org to your contacts yourself",
			`id="inviter">romeo@example.org<`, "choose to add a contact and enter this address")
	}
	if !strings.HasPrefix(res.header.Get("Link"), "<xmpp:romeo@example.org?roster;preauth=") {
		t.Errorf("Link %q", res.header.Get("Link"))
	}
	// Without ibr=y the form is refused.
	if res := f.get("/register?t=" + tokContact); res.code != http.StatusBadRequest {
		t.Errorf("GET /register of a contact-only invite: %d, want 400", res.code)
	}
	res = f.get("/invite?" + tokContactR)
	mustContain(t, res.body, "romeo@example.org invites you to chat", "lets you create one on example.org", "register?t="+tokContactR)
}

func TestClientList(t *testing.T) {
	f := newFixture(t, page.Options{})
	cases := []struct {
		ua, query string
		want      []string
		notWant   []string
	}{
		{uaAndroid, "", []string{"Conversations", "Cheogram", "Monocles", "F-Droid", "Apps for Android"}, []string{"Gajim", "Monal", "Siskin"}},
		{uaIPhone, "", []string{"Monal", "Siskin IM", "apps.apple.com/app/id317711500", "Apps for iPhone and iPad"}, []string{"Conversations", "Gajim", "id1637078500"}},
		{uaLinux, "", []string{"Gajim", "Dino", "Create your account on the web first"}, []string{"Conversations", "Siskin"}},
		{uaWindows, "", []string{"Gajim"}, []string{"Dino", "Conversations"}},
		{uaLinux, "&platform=all", []string{"Conversations", "Monal", "Siskin IM", "Gajim", "Dino", "Apps for every platform"}, nil},
		{uaLinux, "&platform=android", []string{"Conversations"}, []string{"Dino"}},
		{"curl/8.0", "", []string{"Conversations", "Gajim", "Apps for every platform"}, nil},
	}
	for i, c := range cases {
		res := f.get("/invite?"+tokAccount+c.query, "User-Agent", c.ua)
		if res.code != http.StatusOK {
			t.Fatalf("%d: status %d", i, res.code)
		}
		mustContain(t, res.body, c.want...)
		mustNotContain(t, res.body, c.notWant...)
	}
	// Clients taking invite links come first.
	res := f.get("/invite?"+tokAccount+"&platform=all", "User-Agent", uaLinux)
	if strings.Index(res.body, "Gajim") < strings.Index(res.body, "Siskin IM") {
		t.Error("Gajim listed before Siskin IM: clients taking invites should come first")
	}
	// Where no client takes invite links, web registration comes first.
	order := func(ua string) bool {
		b := f.get("/invite?"+tokAccount, "User-Agent", ua).body
		return strings.Index(b, `id="register-link"`) < strings.Index(b, `id="open-app"`)
	}
	if !order(uaLinux) || !order(uaWindows) {
		t.Error("desktop: web registration should come before the open-in-app button")
	}
	if order(uaAndroid) || order(uaIPhone) {
		t.Error("phones: the open-in-app button should come first")
	}
	mustContain(t, f.get("/invite?"+tokAccount, "User-Agent", uaLinux).body, `class="button primary" id="register-link"`, "Create your account on the web")
	// The links to the other platforms keep the token first.
	mustContain(t, res.body, `href="invite?`+tokAccount+`&amp;platform=android#apps"`)
}

func TestOperatorClients(t *testing.T) {
	clients, err := page.ReadClients(strings.NewReader(`[{"name":"OurChat","platforms":["android"],"takes_invites":true,
		"links":[{"label":"Store","url":"https://store.example/ourchat?ref={uri}"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, page.Options{Clients: clients})
	res := f.get("/invite?"+tokAccount, "User-Agent", uaAndroid)
	mustContain(t, res.body, "OurChat", "https://store.example/ourchat?ref=xmpp%3Aexample.org%3Fregister%3Bpreauth%3D"+tokAccount)
	mustNotContain(t, res.body, "Conversations")

	for _, bad := range []string{
		`[{"name":"X","platforms":["amiga"]}]`,
		`[{"name":"X","platforms":[]}]`,
		`[{"platforms":["linux"]}]`,
		`[{"name":"X","platforms":["linux"],"links":[{"label":"L","url":"javascript:alert(1)"}]}]`,
		`[{"name":"X","platforms":["linux"],"links":[{"label":"L","url":"https://x.example/","platforms":["ios"]}]}]`,
		`[{"name":"X","platforms":["linux"],"colour":"red"}]`,
		`{"name":"X"}`,
	} {
		if _, err := page.ReadClients(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadClients(%s): no error", bad)
		}
	}
	if _, err := page.New(newMemHost(), newMemHost(), page.Options{Clients: []page.Client{{Name: "X"}}}); err == nil {
		t.Error("New took a client without platforms")
	}
	if err := page.CheckClients(page.DefaultClients()); err != nil {
		t.Errorf("embedded client list: %v", err)
	}
}

func TestLanguages(t *testing.T) {
	f := newFixture(t, page.Options{})
	cases := []struct {
		accept, query string
		lang          string
		want          []string
	}{
		{"", "", "en", []string{"You are invited to join example.org", "12 March 2026"}},
		{"de-DE,de;q=0.9,en;q=0.8", "", "de", []string{"Du bist zu example.org eingeladen", "12. März 2026", "in 7 Tagen", "In der App öffnen", "Konto im Web anlegen"}},
		{"fr-CH, fr;q=0.9", "", "fr", []string{"Vous êtes invité·e à rejoindre example.org", "12 mars 2026", "dans 7 jours", "Ouvrir dans l’application"}},
		{"ja, zh;q=0.5", "", "en", []string{"You are invited"}},
		{"de", "&lang=fr", "fr", []string{"Vous êtes invité·e"}},
		{"de", "&lang=xx-nope", "de", []string{"Du bist zu"}},
		// Issue 22: a regional variant gets its language, by parameter and by header.
		{"", "&lang=de-CH", "de", []string{"Du bist zu"}},
		{"en", "&lang=fr-BE", "fr", []string{"Vous êtes invité·e"}},
		{"de-CH", "", "de", []string{"Du bist zu"}},
		{"de-AT;q=0.9, en;q=0.5", "", "de", []string{"Du bist zu"}},
		{"fr-CA", "&lang=nope", "fr", []string{"Vous êtes invité·e"}},
	}
	for _, c := range cases {
		res := f.get("/invite?"+tokAccount+c.query, "Accept-Language", c.accept)
		if res.code != http.StatusOK {
			t.Fatalf("%q: status %d", c.accept, res.code)
		}
		mustContain(t, res.body, append(c.want, `<html lang="`+c.lang+`">`)...)
		if got := res.header.Get("Content-Language"); got != c.lang {
			t.Errorf("%q: Content-Language %q, want %s", c.accept, got, c.lang)
		}
	}
	// The form and its errors in German.
	res := f.get("/register?t="+tokAccount, "Accept-Language", "de")
	mustContain(t, res.body, `<html lang="de">`, "Konto anlegen", "Benutzername", "Passwort wiederholen", "Mindestens 8 Zeichen, nicht dein Benutzername", `name="lang" value="de"`)
	res = f.post(tokAccount, map[string]string{"username": "romeo", "password": "correct horse", "password_confirm": "battery staple", "lang": "de"})
	if res.code != http.StatusBadRequest {
		t.Fatalf("mismatch: %d", res.code)
	}
	mustContain(t, res.body, `<html lang="de">`, "Die beiden Passwörter stimmen nicht überein.")
	// The dead page in French.
	res = f.get("/invite?"+tokUnknown, "Accept-Language", "fr")
	mustContain(t, res.body, `<html lang="fr">`, "Cette invitation n’est pas valable")
	// Only the offered languages.
	g := newFixture(t, page.Options{Languages: []string{"de"}})
	res = g.get("/invite?"+tokAccount, "Accept-Language", "en, fr")
	mustContain(t, res.body, `<html lang="de">`)
	mustNotContain(t, res.body, `hreflang=`) // one language: no switcher
	if _, err := page.New(newMemHost(), newMemHost(), page.Options{Languages: []string{"it"}}); err == nil {
		t.Error("New offered Italian without its messages")
	}
}

func TestRegister(t *testing.T) {
	f := newFixture(t, page.Options{LoginNote: "Server: chat.example.org, port 5222."})
	res := f.get("/register?t=" + tokAccount)
	if res.code != http.StatusOK {
		t.Fatalf("GET /register: %d", res.code)
	}
	checkSecurityHeaders(t, res)
	mustContain(t, res.body,
		`<form method="post" action="register"`,
		`<label for="username">Username</label>`,
		`<label for="password">Password</label>`,
		`<label for="password_confirm">Password again</label>`,
		`name="t" value="`+tokAccount+`"`,
		`autocomplete="new-password"`,
		"@example.org",
	)
	res = f.post(tokAccount, map[string]string{"username": "Romeo", "password": "correct horse", "password_confirm": "correct horse"})
	if res.code != http.StatusOK {
		t.Fatalf("POST /register: %d\n%s", res.code, res.body)
	}
	checkSecurityHeaders(t, res)
	mustContain(t, res.body, `id="registered-jid">romeo@example.org<`, "Your account is ready", "Server: chat.example.org, port 5222.")
	if f.host.accounts["romeo@example.org"] != "correct horse" {
		t.Errorf("account not made: %v", f.host.accounts)
	}
	// The token is spent: the same form again is a 404.
	res = f.do(request{target: "/register", form: url.Values{"t": {tokAccount}, "username": {"romeo2"}, "password": {"correct horse"}, "password_confirm": {"correct horse"}, "csrf": {"x"}}})
	if res.code != http.StatusNotFound {
		t.Errorf("second POST: %d, want 404", res.code)
	}
	if res := f.get("/invite?" + tokAccount); res.code != http.StatusNotFound || res.header.Get("Link") != "" {
		t.Errorf("invite page after use: %d, Link %q", res.code, res.header.Get("Link"))
	}
	// "name@host" typed in full is the name.
	f.host.add("AAAAAAAAAAAAsecondTokenXXXXXXXXXXXXX", page.Invite{})
	res = f.post("AAAAAAAAAAAAsecondTokenXXXXXXXXXXXXX", map[string]string{"username": "benvolio@example.org", "password": "correct horse", "password_confirm": "correct horse"})
	mustContain(t, res.body, `id="registered-jid">benvolio@example.org<`)
}

func TestRegisterErrors(t *testing.T) {
	good := map[string]string{"username": "mercutio", "password": "correct horse", "password_confirm": "correct horse"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		m[k] = v
		return m
	}
	f := newFixture(t, page.Options{})
	f.host.accounts["tybalt@example.org"] = "x"
	cases := []struct {
		name   string
		fields map[string]string
		fail   error
		code   int
		want   string
	}{
		{"mismatch", with("password_confirm", "correct horsE"), nil, 400, "The two passwords are not the same."},
		{"short", map[string]string{"username": "m", "password": "short", "password_confirm": "short"}, nil, 400, "at least 8 characters"},
		{"no password", with("password", ""), nil, 400, "Please choose a password."},
		{"no username", with("username", ""), nil, 400, "Please choose a username."},
		{"bad username", with("username", "a<b"), nil, 400, "This username is not allowed"},
		{"space in username", with("username", "a b"), nil, 400, "This username is not allowed"},
		{"host refuses name", with("username", "UPPER€"), nil, 400, "This username is not allowed"},
		{"taken", with("username", "tybalt"), nil, 409, "This username is taken."},
		{"password refused", map[string]string{"username": "m", "password": "refused-password", "password_confirm": "refused-password"}, nil, 400, "The server does not accept this password."},
		{"too long", with("password", strings.Repeat("xy", 513)), nil, 400, "The password must have at most 1024 characters."},
		{"far too long", with("password", strings.Repeat("x", 4097)), nil, 400, "The password is too long."},
		// Issue 22: the four passwords that were accepted, each refused with its rule.
		{"common", map[string]string{"username": "m", "password": "12345678", "password_confirm": "12345678"}, nil, 400, "This password is one of the most common passwords"},
		{"spaces", map[string]string{"username": "m", "password": "        ", "password_confirm": "        "}, nil, 400, "The password cannot be only spaces."},
		{"repeated", map[string]string{"username": "m", "password": "aaaaaaaa", "password_confirm": "aaaaaaaa"}, nil, 400, "at least 5 different characters"},
		{"username in it", map[string]string{"username": "Mercutio", "password": "mercutio-2026", "password_confirm": "mercutio-2026"}, nil, 400, "The password must not contain your username."},
		{"several rules", map[string]string{"username": "m", "password": "aaaa", "password_confirm": "aaaa"}, nil, 400, "<li>The password must have at least 8 characters.</li><li>The password must have at least 5 different characters"},
		{"twice", with("username", "a"), nil, 0, ""}, // replaced below
		{"unavailable", good, fmt.Errorf("registering: %w", page.ErrUnavailable), 503, "The server cannot answer right now."},
		{"timeout", good, context.DeadlineExceeded, 503, "The server cannot answer right now."},
		{"internal", good, errBoom, 500, "Something went wrong on our side."},
		{"dead meanwhile", good, page.ErrInviteDead, 404, "This invitation is not valid"},
	}
	for _, c := range cases {
		if c.name == "twice" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			f.host.fail = c.fail
			defer func() { f.host.fail = nil }()
			res := f.post(tokAccount, c.fields, "X-Test-Addr", "192.0.2.1")
			if res.code != c.code {
				t.Fatalf("status %d, want %d\n%s", res.code, c.code, res.body)
			}
			checkSecurityHeaders(t, res)
			mustContain(t, res.body, c.want)
			if c.code == 400 || c.code == 409 {
				// The form again, with the name typed and a fresh form token, never the
				// passwords.
				mustContain(t, res.body, `role="alert"`, `name="csrf" value="`)
				if c.fields["password"] != "" {
					mustNotContain(t, res.body, `value="`+c.fields["password"]+`"`)
				}
			}
			if c.code == 503 && res.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
		f = newFixture(t, page.Options{}) // a fresh budget and invite each time
		f.host.accounts["tybalt@example.org"] = "x"
	}
	// A field twice, a wrong type, a large body.
	form := url.Values{"t": {tokAccount}, "username": {"a", "b"}, "password": {"correct horse"}, "password_confirm": {"correct horse"}, "csrf": {f.formFor(tokAccount)}}
	if res := f.do(request{target: "/register", form: form}); res.code != http.StatusBadRequest {
		t.Errorf("username twice: %d", res.code)
	}
	res := f.do(request{method: http.MethodPost, target: "/register", header: map[string]string{"Content-Type": "application/json"}})
	if res.code != http.StatusUnsupportedMediaType {
		t.Errorf("JSON body: %d", res.code)
	}
	big := url.Values{"t": {tokAccount}, "x": {strings.Repeat("y", 20<<10)}}
	if res := f.do(request{target: "/register", form: big}); res.code != http.StatusRequestEntityTooLarge {
		t.Errorf("20 KiB body: %d", res.code)
	}
	if res := f.do(request{target: "/register", form: url.Values{"t": {"%%%"}}}); res.code != http.StatusNotFound {
		t.Errorf("malformed token: %d", res.code)
	}
	if len(f.host.accounts) != 2 {
		t.Errorf("accounts made by refused forms: %v", f.host.accounts)
	}
}

func TestCSRF(t *testing.T) {
	f := newFixture(t, page.Options{})
	fields := map[string]string{"username": "paris", "password": "correct horse", "password_confirm": "correct horse"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for a, b := range fields {
			m[a] = b
		}
		return m
	}
	otherCSRF := f.formFor(tokContactR) // a valid token of another invite
	cases := []struct {
		name   string
		fields map[string]string
		header []string
	}{
		{"missing", with("csrf", ""), nil},
		{"garbage", with("csrf", "not-a-token"), nil},
		{"forged", with("csrf", fmt.Sprintf("%d.AAAAAAAAAAAAAAAAAAAAAA", f.now.Unix())), nil},
		{"another invite's", with("csrf", otherCSRF), nil},
		{"from another process", with("csrf", func() string {
			g := newFixture(t, page.Options{})
			return g.formFor(tokAccount)
		}()), nil},
		{"cross-site fetch", fields, []string{"Sec-Fetch-Site", "cross-site"}},
		{"same-site fetch", fields, []string{"Sec-Fetch-Site", "same-site"}},
		{"other origin", fields, []string{"Origin", "https://evil.example"}},
	}
	for _, c := range cases {
		res := f.post(tokAccount, c.fields, append(c.header, "X-Test-Addr", "192.0.2."+fmt.Sprint(len(c.name)))...)
		if res.code != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", c.name, res.code)
			continue
		}
		mustContain(t, res.body, "This form has expired or did not come from this site.", `name="csrf" value="`)
	}
	if f.host.calls != 0 || len(f.host.accounts) != 1 {
		t.Fatalf("Register called %d times on refused forms", f.host.calls)
	}
	// Expired: a form older than FormTTL.
	csrf := f.formFor(tokAccount)
	f.advance(page.DefaultFormTTL + time.Minute)
	f.host.invites[tokAccount] = page.Invite{Host: "example.org", ExpiresAt: f.now.Add(time.Hour), URI: "xmpp:example.org?register;preauth=" + tokAccount}
	if res := f.post(tokAccount, with("csrf", csrf)); res.code != http.StatusForbidden {
		t.Errorf("expired form: %d, want 403", res.code)
	}
	// Same origin, null origin (no-referrer) and no Fetch metadata pass.
	for _, h := range [][]string{{"Sec-Fetch-Site", "same-origin", "Origin", "null"}, {"Origin", "https://chat.example.org"}, nil} {
		g := newFixture(t, page.Options{})
		if res := g.post(tokAccount, fields, h...); res.code != http.StatusOK {
			t.Errorf("headers %q: %d, want 200", h, res.code)
		}
	}
	// One key shared by two nodes: a form of one is good on the other.
	key := []byte("0123456789abcdef0123456789abcdef")
	a, b := newFixture(t, page.Options{CSRFKey: key}), newFixture(t, page.Options{CSRFKey: key})
	if res := b.post(tokAccount, with("csrf", a.formFor(tokAccount))); res.code != http.StatusOK {
		t.Errorf("shared key: %d", res.code)
	}
	if _, err := page.New(newMemHost(), newMemHost(), page.Options{CSRFKey: []byte("short")}); err == nil {
		t.Error("New took a 5-byte CSRF key")
	}
}

func TestFixedUsername(t *testing.T) {
	f := newFixture(t, page.Options{})
	res := f.get("/invite?" + tokFixed)
	mustContain(t, res.body, "This invitation is for the address juliet@example.org.")
	res = f.get("/register?t=" + tokFixed)
	mustContain(t, res.body, `id="account">juliet@example.org<`, "Your account will be juliet@example.org. Choose a password.",
		// The address, for the browser's password manager to save the password with.
		`<input type="text" name="username" value="juliet@example.org" autocomplete="username" readonly hidden>`)
	mustNotContain(t, res.body, "Choose a username")
	// Another name is refused before the host is asked.
	res = f.post(tokFixed, map[string]string{"username": "romeo", "password": "correct horse", "password_confirm": "correct horse"})
	if res.code != http.StatusBadRequest {
		t.Fatalf("another name: %d", res.code)
	}
	mustContain(t, res.body, "This invitation is for another username.")
	if f.host.calls != 0 {
		t.Errorf("Register called for another name")
	}
	// The hidden address the form sends registers the fixed name.
	res = f.post(tokFixed, map[string]string{"username": "juliet@example.org", "password": "correct horse", "password_confirm": "correct horse"})
	if res.code != http.StatusOK {
		t.Fatalf("fixed name: %d\n%s", res.code, res.body)
	}
	mustContain(t, res.body, `id="registered-jid">juliet@example.org<`)
}

func TestResetInvite(t *testing.T) {
	f := newFixture(t, page.Options{})
	res := f.get("/invite?" + tokReset)
	mustContain(t, res.body, "Set a new password", "the account nurse@example.org", `id="register-link" href="register?t=`+tokReset+`"`)
	mustNotContain(t, res.body, "Conversations")
	res = f.get("/register?t=" + tokReset)
	mustContain(t, res.body, "Choose a new password", "Set new password", `id="account">nurse@example.org<`,
		`<input type="text" name="username" value="nurse@example.org" autocomplete="username" readonly hidden>`)
	res = f.post(tokReset, map[string]string{"username": "nurse@example.org", "password": "new password!", "password_confirm": "new password!"})
	if res.code != http.StatusOK {
		t.Fatalf("reset: %d\n%s", res.code, res.body)
	}
	mustContain(t, res.body, "Your password is changed", "nurse@example.org")
	if f.host.accounts["nurse@example.org"] != "new password!" {
		t.Errorf("password not set: %q", f.host.accounts["nurse@example.org"])
	}
}

func TestLimit(t *testing.T) {
	f := newFixture(t, page.Options{FailedAttempts: 3, FailedPeriod: 3 * time.Minute})
	addr := []string{"X-Test-Addr", "2001:db8:1:2::10"}
	for i := range 3 {
		if res := f.get("/invite?"+tokUnknown, addr...); res.code != http.StatusNotFound {
			t.Fatalf("attempt %d: %d", i, res.code)
		}
	}
	// The budget is spent for the whole /64, on every path, even for a good token.
	for _, target := range []string{"/invite?" + tokAccount, "/register?t=" + tokAccount} {
		res := f.get(target, "X-Test-Addr", "2001:db8:1:2:ffff::1")
		if res.code != http.StatusTooManyRequests {
			t.Fatalf("%s: %d, want 429", target, res.code)
		}
		if ra := res.header.Get("Retry-After"); ra != "60" {
			t.Errorf("Retry-After %q, want 60", ra)
		}
		checkSecurityHeaders(t, res)
		mustContain(t, res.body, "Too many attempts", "in 1 minute")
		mustNotContain(t, res.body, "xmpp:")
	}
	form := url.Values{"t": {tokAccount}, "username": {"x"}, "password": {"correct horse"}, "password_confirm": {"correct horse"}, "csrf": {"x"}}
	if res := f.do(request{target: "/register", form: form, header: map[string]string{"X-Test-Addr": "2001:db8:1:2::10"}}); res.code != http.StatusTooManyRequests {
		t.Errorf("POST while limited: %d", res.code)
	}
	// Another /64 and an IPv4 address are not limited.
	if res := f.get("/invite?"+tokAccount, "X-Test-Addr", "2001:db8:1:3::10"); res.code != http.StatusOK {
		t.Errorf("another /64: %d", res.code)
	}
	if res := f.get("/invite?"+tokAccount, "X-Test-Addr", "192.0.2.7"); res.code != http.StatusOK {
		t.Errorf("IPv4: %d", res.code)
	}
	// A minute later one more attempt is allowed.
	f.advance(time.Minute)
	if res := f.get("/invite?"+tokAccount, addr...); res.code != http.StatusOK {
		t.Errorf("after a minute: %d", res.code)
	}
	// Refused forms count too.
	g := newFixture(t, page.Options{FailedAttempts: 2})
	for range 2 {
		g.post(tokAccount, map[string]string{"username": "x", "password": "a", "password_confirm": "a"}, "X-Test-Addr", "192.0.2.9")
	}
	if res := g.get("/register?t="+tokAccount, "X-Test-Addr", "192.0.2.9"); res.code != http.StatusTooManyRequests {
		t.Errorf("after two refused forms: %d, want 429", res.code)
	}
	// Off.
	h := newFixture(t, page.Options{FailedAttempts: -1})
	for range 30 {
		h.get("/invite?" + tokUnknown)
	}
	if res := h.get("/invite?" + tokAccount); res.code != http.StatusOK {
		t.Errorf("limit off: %d", res.code)
	}
}

// TestNoSecretsInLogs drives every path with a debug logger and errors that quote the
// token and the password, and looks for them in the log.
func TestNoSecretsInLogs(t *testing.T) {
	const password = "very secret password"
	f := newFixture(t, page.Options{FailedAttempts: -1})
	f.get("/invite?"+tokAccount, "User-Agent", uaAndroid)
	f.do(request{method: http.MethodHead, target: "/invite?" + tokAccount})
	f.get("/invite?" + tokUnknown)
	f.get("/register?t=" + tokAccount)
	f.host.lookupFail = fmt.Errorf("store down while reading %s: %w", tokAccount, page.ErrUnavailable)
	f.get("/invite?" + tokAccount)
	f.host.lookupFail = fmt.Errorf("store broken while reading %s", tokAccount)
	f.get("/invite?" + tokAccount)
	f.host.lookupFail = nil
	for _, fail := range []error{
		fmt.Errorf("registering %s with %s: %w", tokAccount, password, page.ErrUnavailable),
		fmt.Errorf("registering %s with %s", tokAccount, password),
	} {
		f.host.fail = fail
		f.post(tokAccount, map[string]string{"username": "romeo", "password": password, "password_confirm": password})
	}
	f.host.fail = nil
	f.post(tokAccount, map[string]string{"username": "romeo", "password": password, "password_confirm": password + "x"})
	res := f.post(tokAccount, map[string]string{"username": "romeo", "password": password, "password_confirm": password})
	if res.code != http.StatusOK {
		t.Fatalf("registration: %d", res.code)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "web registration") || !strings.Contains(logs, "path=/invite") {
		t.Fatalf("the log misses lines:\n%s", logs)
	}
	for _, secret := range []string{tokAccount, tokUnknown, password, "preauth"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
}

// TestConcurrentRegistrations races 50 web registrations of one single-use token: one
// account, one 200, and every loser is told the invite is used (404) or the name
// taken (409), never a server error.
func TestConcurrentRegistrations(t *testing.T) {
	f := newFixture(t, page.Options{})
	const n = 50
	csrf := f.formFor(tokAccount)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			name := fmt.Sprintf("racer%d", i)
			if i%2 == 1 {
				name = "racer" // half of them want the same name
			}
			// Each racer its own password: the same form with the same fields is one
			// sending (TestFormSentTwice).
			pass := fmt.Sprintf("correct horse %d", i)
			form := url.Values{"t": {tokAccount}, "username": {name}, "password": {pass}, "password_confirm": {pass}, "csrf": {csrf}}
			res := f.do(request{target: "/register", form: form, header: map[string]string{"X-Test-Addr": fmt.Sprintf("198.51.100.%d", i)}})
			codes[i] = res.code
		})
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[200] != 1 || count[404]+count[409] != n-1 {
		t.Errorf("status counts %v, want one 200 and %d 404 or 409", count, n-1)
	}
	if len(f.host.accounts) != 2 { // nurse and the winner
		t.Errorf("accounts: %v", f.host.accounts)
	}
}

func TestMethodsAndPaths(t *testing.T) {
	f := newFixture(t, page.Options{})
	cases := []struct {
		method, target string
		code           int
		allow          string
	}{
		{http.MethodPost, "/invite?" + tokAccount, 405, "GET, HEAD, OPTIONS"},
		{http.MethodDelete, "/invite?" + tokAccount, 405, "GET, HEAD, OPTIONS"},
		{http.MethodPut, "/register", 405, "GET, HEAD, POST"},
		{http.MethodOptions, "/invite?" + tokAccount, 204, "GET, HEAD, OPTIONS"},
		{http.MethodGet, "/elsewhere", 404, ""},
		{http.MethodGet, "/invite/", 404, ""},
	}
	for _, c := range cases {
		res := f.do(request{method: c.method, target: c.target})
		if res.code != c.code || res.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow %q, want %d %q", c.method, c.target, res.code, res.header.Get("Allow"), c.code, c.allow)
		}
		checkSecurityHeaders(t, res)
		if res.header.Get("Link") != "" {
			t.Errorf("%s %s: Link %q", c.method, c.target, res.header.Get("Link"))
		}
	}
	res := f.do(request{method: http.MethodOptions, target: "/invite?" + tokAccount})
	if res.header.Get("Access-Control-Allow-Origin") != "*" || res.header.Get("Access-Control-Allow-Methods") != "GET, HEAD" {
		t.Errorf("OPTIONS CORS headers: %v", res.header)
	}
}

func TestStoreErrors(t *testing.T) {
	f := newFixture(t, page.Options{})
	f.host.lookupFail = page.ErrUnavailable
	res := f.get("/invite?" + tokAccount)
	if res.code != http.StatusServiceUnavailable || res.header.Get("Retry-After") == "" || res.header.Get("Link") != "" {
		t.Errorf("unavailable: %d Retry-After %q Link %q", res.code, res.header.Get("Retry-After"), res.header.Get("Link"))
	}
	f.host.lookupFail = errBoom
	if res := f.get("/invite?" + tokAccount); res.code != http.StatusInternalServerError {
		t.Errorf("broken store: %d", res.code)
	}
	// A client that went away is no server error.
	f.host.lookupFail = nil
	f.logs.Reset()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/invite?"+tokAccount, nil)
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	if w.Code != http.StatusServiceUnavailable || strings.Contains(f.logs.String(), "level=ERROR") {
		t.Errorf("gone client: %d\n%s", w.Code, f.logs.String())
	}
}

func TestTemplatesOverride(t *testing.T) {
	over := fstest.MapFS{
		"error.html":   {Data: []byte(`{{define "title"}}Oops{{end}}{{define "main"}}<p class="custom">{{.Error.Heading}} — {{.T.Get "custom.help"}}</p>{{end}}`)},
		"lang/en.json": {Data: []byte(`{"custom.help": "Write to help@example.org.", "error.dead.heading": "Gone"}`)},
		"style.css":    {Data: []byte(`body{color:#123}`)},
	}
	f := newFixture(t, page.Options{Templates: over, LogoURL: "https://static.example.net/logo.svg"})
	res := f.get("/invite?" + tokUnknown)
	mustContain(t, res.body, `<p class="custom">Gone — Write to help@example.org.</p>`, "body{color:#123}", `src="https://static.example.net/logo.svg"`)
	if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' https://static.example.net data:;") {
		t.Errorf("CSP %q does not allow the logo's origin", csp)
	}
	// The other pages keep the embedded templates.
	mustContain(t, f.get("/invite?"+tokAccount).body, "You are invited to join")

	for name, bad := range map[string]fstest.MapFS{
		"syntax":     {"invite.html": {Data: []byte(`{{define "main"}}{{.Nope`)}},
		"no layout":  {"layout.html": {Data: []byte(`<p>hi</p>`)}},
		"bad json":   {"lang/en.json": {Data: []byte(`{`)}},
		"style ends": {"style.css": {Data: []byte(`</style><script>`)}},
	} {
		if _, err := page.New(newMemHost(), newMemHost(), page.Options{Templates: bad}); err == nil {
			t.Errorf("%s: New took a broken template", name)
		}
	}
	for _, logo := range []string{"javascript:alert(1)", "//evil.example/x.png", "logo.png"} {
		if _, err := page.New(newMemHost(), newMemHost(), page.Options{LogoURL: logo}); err == nil {
			t.Errorf("New took logo %q", logo)
		}
	}
}

// TestMessagesComplete checks every shipped language has every English key with the
// same placeholders.
func TestMessagesComplete(t *testing.T) {
	f := newFixture(t, page.Options{})
	en := f.get("/invite?"+tokAccount, "Accept-Language", "en").body
	for _, lang := range []string{"de", "fr"} {
		body := styleRE.ReplaceAllString(f.get("/invite?"+tokAccount, "Accept-Language", lang).body, "")
		if body == en {
			t.Errorf("%s page is the English one", lang)
		}
		// A key the language lacks would show as its name.
		for _, k := range regexp.MustCompile(`\b(?:invite|step|button|web|clients?|platform|qr|form|error|rel|month|date)\.[a-z_.]+\b`).FindAllString(body, -1) {
			t.Errorf("%s: untranslated key %s", lang, k)
		}
	}
}

// newRecorder is an httptest.ResponseRecorder (a function so that the import stays in
// one file).
func newRecorder() *recorder { return &recorder{header: http.Header{}} }

type recorder struct {
	header http.Header
	code   int
	body   strings.Builder
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

// TestFormSentTwice: issue 22's double click. The same form (same form token) sent
// again after it made the account, or while the first sending is still running,
// answers the success page with the address; the host is asked once. A new form for
// the spent invite is still refused, and a sending that made no account does not
// stand in the way of the next.
func TestFormSentTwice(t *testing.T) {
	fields := func(f *fixture, user string) url.Values {
		return url.Values{"t": {tokAccount}, "csrf": {f.formFor(tokAccount)}, "username": {user},
			"password": {"correct horse battery"}, "password_confirm": {"correct horse battery"}}
	}
	t.Run("after", func(t *testing.T) {
		f := newFixture(t, page.Options{})
		form := fields(f, "juliet")
		other := f.formFor(tokAccount)
		for i := range 3 {
			res := f.do(request{target: "/register", form: form})
			if res.code != http.StatusOK {
				t.Fatalf("sending %d: %d\n%s", i+1, res.code, res.body)
			}
			mustContain(t, res.body, `id="registered-jid">juliet@example.org<`)
		}
		if f.host.calls != 1 {
			t.Errorf("%d host calls, want 1", f.host.calls)
		}
		// Another form of the spent invite: dead, as before.
		if res := f.do(request{target: "/register", form: url.Values{"t": {tokAccount}, "csrf": {other},
			"username": {"romeo"}, "password": {"correct horse battery"}, "password_confirm": {"correct horse battery"}}}); res.code != http.StatusNotFound {
			t.Errorf("a new form of the spent invite: %d", res.code)
		}
	})
	t.Run("during", func(t *testing.T) {
		f := newFixture(t, page.Options{})
		form := fields(f, "juliet")
		f.host.gate = make(chan struct{})
		var wg sync.WaitGroup
		res := make([]response, 2)
		for i := range res {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = f.do(request{target: "/register", form: form})
			}()
		}
		// Both sendings are in: one in Register, one waiting for it.
		for deadline := time.Now().Add(10 * time.Second); ; {
			f.host.mu.Lock()
			calls := f.host.calls
			f.host.mu.Unlock()
			if calls == 1 || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		close(f.host.gate)
		wg.Wait()
		for i, r := range res {
			if r.code != http.StatusOK || !strings.Contains(r.body, `id="registered-jid">juliet@example.org<`) {
				t.Errorf("sending %d: %d\n%s", i+1, r.code, r.body)
			}
		}
		if f.host.calls != 1 {
			t.Errorf("%d host calls, want 1", f.host.calls)
		}
	})
	t.Run("refused first", func(t *testing.T) {
		f := newFixture(t, page.Options{})
		f.host.accounts["tybalt@example.org"] = "x"
		form := fields(f, "tybalt")
		for i := range 2 {
			if res := f.do(request{target: "/register", form: form}); res.code != http.StatusConflict {
				t.Fatalf("sending %d: %d", i+1, res.code)
			}
		}
		form.Set("username", "juliet")
		if res := f.do(request{target: "/register", form: form}); res.code != http.StatusOK {
			t.Errorf("the same form with a free name: %d", res.code)
		}
		if f.host.calls != 3 {
			t.Errorf("%d host calls, want 3", f.host.calls)
		}
	})
	t.Run("client gone", func(t *testing.T) {
		// The browser gives up on the first sending: the account is still made, and
		// the second sending shows it.
		f := newFixture(t, page.Options{})
		form := fields(f, "juliet")
		ctx, cancel := context.WithCancel(context.Background())
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, "https://chat.example.org/register", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		f.host.gate = make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			f.h.ServeHTTP(httptest.NewRecorder(), r)
		}()
		cancel()
		time.Sleep(10 * time.Millisecond)
		close(f.host.gate)
		<-done
		if res := f.do(request{target: "/register", form: form}); res.code != http.StatusOK || !strings.Contains(res.body, "juliet@example.org") {
			t.Errorf("second sending: %d\n%s", res.code, res.body)
		}
		if f.host.accounts["juliet@example.org"] == "" {
			t.Error("the account was not made")
		}
	})
}

// TestCompression: pages are gzipped for clients that take gzip, except those with a
// form token (the registration form, shown again with what was typed), so that
// BREACH has no secret to guess at; every page says it varies by Accept-Encoding.
func TestCompression(t *testing.T) {
	f := newFixture(t, page.Options{})
	gz := func(target string, form map[string]string) (response, string) {
		t.Helper()
		var res response
		if form != nil {
			res = f.post(tokAccount, form, "Accept-Encoding", "gzip, deflate, br")
		} else {
			res = f.get(target, "Accept-Encoding", "gzip, deflate, br")
		}
		if !strings.Contains(res.header.Get("Vary"), "Accept-Encoding") {
			t.Errorf("%s: Vary %q", target, res.header.Get("Vary"))
		}
		if res.header.Get("Content-Encoding") != "gzip" {
			return res, res.body
		}
		if res.header.Get("Content-Length") != strconv.Itoa(len(res.body)) {
			t.Errorf("%s: Content-Length %s for %d bytes", target, res.header.Get("Content-Length"), len(res.body))
		}
		zr, err := gzip.NewReader(strings.NewReader(res.body))
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		return res, string(plain)
	}
	for _, tc := range []struct {
		name, target string
		form         map[string]string
		compressed   bool
		want         string
	}{
		{"invite", "/invite?" + tokAccount, nil, true, "You are invited to join example.org"},
		{"dead", "/invite?" + tokUnknown, nil, true, "This invitation is not valid"},
		{"form", "/register?t=" + tokAccount, nil, false, `name="csrf"`},
		{"refused form", "", map[string]string{"username": "romeo", "password": "x", "password_confirm": "x"}, false, `name="csrf"`},
		{"success", "", map[string]string{"username": "romeo", "password": "correct horse", "password_confirm": "correct horse"}, true, "romeo@example.org"},
	} {
		res, plain := gz(tc.target, tc.form)
		if got := res.header.Get("Content-Encoding") == "gzip"; got != tc.compressed {
			t.Errorf("%s: compressed %v, want %v", tc.name, got, tc.compressed)
		}
		mustContain(t, plain, tc.want)
		if tc.compressed && len(res.body)*2 > len(plain) {
			t.Errorf("%s: %d bytes for %d", tc.name, len(res.body), len(plain))
		}
	}
	// Without Accept-Encoding, or with gzip refused: plain.
	for _, ae := range []string{"", "identity", "gzip;q=0", "br", "*;q=0"} {
		if res := f.get("/invite?"+tokFixed, "Accept-Encoding", ae); res.header.Get("Content-Encoding") != "" || !strings.Contains(res.body, "You are invited") {
			t.Errorf("Accept-Encoding %q: %d, Content-Encoding %q", ae, res.code, res.header.Get("Content-Encoding"))
		}
	}
	// The 429 page of an address past its failed attempts: plain, whatever is accepted
	// (a flood gets it; gzip would double its cost).
	l := newFixture(t, page.Options{FailedAttempts: 1})
	l.get("/invite?"+tokUnknown, "Accept-Encoding", "gzip")
	if res := l.get("/invite?"+tokAccount, "Accept-Encoding", "gzip"); res.code != http.StatusTooManyRequests || res.header.Get("Content-Encoding") != "" {
		t.Errorf("past the failed attempts: %d, Content-Encoding %q; want 429, plain", res.code, res.header.Get("Content-Encoding"))
	}
}

// TestIcon: every page has an icon within its Content-Security-Policy: the built-in
// one as a data: image, or the operator's logo.
func TestIcon(t *testing.T) {
	f := newFixture(t, page.Options{})
	res := f.get("/invite?" + tokAccount)
	mustContain(t, res.body, `<link rel="icon" href="data:image/svg&#43;xml,%3Csvg`)
	if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data:;") {
		t.Errorf("CSP %q", csp)
	}
	g := newFixture(t, page.Options{LogoURL: "/logo.svg"})
	mustContain(t, g.get("/nothing").body, `<link rel="icon" href="/logo.svg">`)
}

// BenchmarkInvitePage measures the invite page, plain and gzipped, and reports the
// bytes sent.
func BenchmarkInvitePage(b *testing.B) {
	for _, ae := range []string{"", "gzip"} {
		name := "plain"
		if ae != "" {
			name = ae
		}
		b.Run(name, func(b *testing.B) {
			f := newFixture(b, page.Options{FailedAttempts: -1})
			var n int
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, "https://chat.example.org/invite?"+tokAccount, nil)
				r.Header.Set("Accept-Encoding", ae)
				w := httptest.NewRecorder()
				f.h.ServeHTTP(w, r)
				n = w.Body.Len()
			}
			b.ReportMetric(float64(n), "bytes/page")
		})
	}
}

// BenchmarkLimitedPage measures the 429 page an address past its failed attempts gets
// (what a flood of bad tokens costs the plugin), asked for plain and gzipped: it is
// never compressed, so both cost the same.
func BenchmarkLimitedPage(b *testing.B) {
	for _, ae := range []string{"", "gzip"} {
		name := "plain"
		if ae != "" {
			name = ae
		}
		b.Run(name, func(b *testing.B) {
			f := newFixture(b, page.Options{FailedAttempts: 1})
			f.get("/invite?" + strings.Repeat("A", 36)) // spends the address's one attempt
			var n int
			for b.Loop() {
				r := httptest.NewRequest(http.MethodGet, "https://chat.example.org/invite?"+strings.Repeat("B", 36), nil)
				r.Header.Set("Accept-Encoding", ae)
				w := httptest.NewRecorder()
				f.h.ServeHTTP(w, r)
				if w.Code != http.StatusTooManyRequests || w.Header().Get("Content-Encoding") != "" {
					b.Fatalf("%d, Content-Encoding %q: want an uncompressed 429", w.Code, w.Header().Get("Content-Encoding"))
				}
				n = w.Body.Len()
			}
			b.ReportMetric(float64(n), "bytes/page")
		})
	}
}

// TestApproval (issue 24): an invite whose accounts wait for approval says so on its
// page and its form, the form takes a note for the administrators, checked like an
// invite's note (a refused one is shown again with the reason), which reaches the
// registrar; the success page says the account awaits approval. Without approval the
// form has no note and a note sent anyway is dropped.
func TestApproval(t *testing.T) {
	f := newFixture(t, page.Options{})
	res := f.get("/invite?" + tokApproval)
	mustContain(t, res.body, `id="approval"`, "approves new accounts")
	res = f.get("/register?t=" + tokApproval)
	mustContain(t, res.body, `name="note"`, `maxlength="280"`, "A note for the administrators")
	for i, tc := range []struct {
		note string
		code int
		want string
	}{
		{strings.Repeat("é", 281), http.StatusBadRequest, "at most 280 characters"},
		{"hidden\u202etext", http.StatusBadRequest, "at most 280 characters"},
		{"Romeo,\r\nJuliet's   friend", http.StatusOK, "Your account awaits approval"},
	} {
		res := f.post(tokApproval, map[string]string{"username": "romeo", "password": "correct horse",
			"password_confirm": "correct horse", "note": tc.note})
		if res.code != tc.code {
			t.Fatalf("%d: POST = %d, want %d\n%s", i, res.code, tc.code, res.body)
		}
		mustContain(t, res.body, tc.want)
		if tc.code == http.StatusBadRequest {
			mustContain(t, res.body, `aria-invalid="true" autofocus>`)
		}
	}
	if got := f.host.notes["romeo@example.org"]; got != "Romeo, Juliet's friend" {
		t.Errorf("note reached the registrar as %q", got)
	}
	res = f.get("/register?t=" + tokAccount)
	mustNotContain(t, res.body, `name="note"`, `id="approval"`)
	res = f.post(tokAccount, map[string]string{"username": "mercutio", "password": "correct horse",
		"password_confirm": "correct horse", "note": "not asked for"})
	if res.code != http.StatusOK || f.host.notes["mercutio@example.org"] != "" {
		t.Errorf("a note without approval: %d, kept %q", res.code, f.host.notes["mercutio@example.org"])
	}
	mustContain(t, res.body, "Your account is ready")
}

// TestInviterInactive (issue 24): an invite whose inviter is no longer in good
// standing is refused on the page, the form and its submission, with a page that
// says so plainly, and no Link header; it counts as no failed attempt.
func TestInviterInactive(t *testing.T) {
	f := newFixture(t, page.Options{FailedAttempts: 1, FailedPeriod: time.Hour})
	for i, res := range []response{
		f.get("/invite?" + tokInactive),
		f.do(request{method: http.MethodHead, target: "/invite?" + tokInactive}),
		f.get("/register?t=" + tokInactive),
	} {
		if res.code != http.StatusForbidden || res.header.Get("Link") != "" {
			t.Errorf("%d: %d, Link %q", i, res.code, res.header.Get("Link"))
		}
		if i != 1 {
			mustContain(t, res.body, "The person who invited you can no longer invite people here")
		}
	}
	// The invite goes bad between the form and its submission.
	f.host.inactive[tokInactive] = false
	csrf := f.formFor(tokInactive)
	f.host.mu.Lock()
	f.host.inactive[tokInactive] = true
	f.host.mu.Unlock()
	res := f.post(tokInactive, map[string]string{"csrf": csrf, "username": "benvolio", "password": "correct horse", "password_confirm": "correct horse"})
	if res.code != http.StatusForbidden {
		t.Fatalf("POST = %d\n%s", res.code, res.body)
	}
	mustContain(t, res.body, "The person who invited you can no longer invite people here")
	if res := f.get("/invite?" + tokAccount); res.code != http.StatusOK {
		t.Errorf("after the refusals, a good invite: %d (counted as failed attempts?)", res.code)
	}
}
