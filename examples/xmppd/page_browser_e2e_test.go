package main_test

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	goqr "github.com/piglig/go-qr"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/page/browsertest"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
)

// pageLogo is the operator's logo in the browser test, served from the operator's
// web site (another origin than the pages): a speech bubble.
const pageLogo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" rx="9" fill="#0b57a4"/>` +
	`<path d="M10 12h20a3 3 0 0 1 3 3v10a3 3 0 0 1-3 3H19l-6 5v-5h-3a3 3 0 0 1-3-3V15a3 3 0 0 1 3-3z" fill="#fff"/></svg>`

// readmeShots are the screenshots the README shows (docs/screenshots): a run with
// INVITES_SCREENSHOTS=docs/screenshots makes them again.
var readmeShots = []string{
	"page-invite-phone", "page-invite-desktop", "page-invite-phone-de",
	"page-register-phone", "page-register-desktop", "page-register-error-phone", "page-success-phone",
}

// TestPageBrowser is issue 12's browser test against the real stack: in headless
// Chromium, an invite created with the HTTP API is opened at its Location (the page),
// shows the QR code (which reads back as that Location) and the "open in app"
// button; its link leads to web registration, the form registers the account, which
// then logs in over XMPP; the same token is refused afterwards, by the page (404)
// and in-band (item-not-found). On SQLite on a phone, a desktop and a German phone,
// taking the README's screenshots; on PostgreSQL on a phone.
func TestPageBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)
	t.Run("sqlite", func(t *testing.T) {
		pageBrowser(t, bin, "", browsertest.Phone(), browsertest.Desktop(), browsertest.PhoneDE())
	})
	t.Run("postgres", func(t *testing.T) {
		_, dsn := pgtest.Schema(t)
		pageBrowser(t, bin, dsn, browsertest.Phone())
	})
}

func pageBrowser(t *testing.T, bin, dsn string, viewports ...browsertest.Viewport) {
	dir := browsertest.ScreenshotDir(t)
	logo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		_, _ = w.Write([]byte(pageLogo))
	}))
	defer logo.Close()
	// The server's public URL is http://chat.example.org and the operator's site
	// www.example.org: the browser reaches both on loopback, so that the pages and
	// the screenshots show real-looking addresses that are still their own.
	const site = "http://chat.example.org"
	s := startPageSite(t, bin, pageSiteOptions{
		domain: "example.org",
		dsn:    dsn,
		args:   []string{"-http-url", site},
		page: `site_name = "Example Chat"
logo_url = "http://www.example.org/logo.svg"
login_note = "Server: chat.example.org, port 5222. Your app may ask to trust the server’s certificate once: its fingerprint is on the operator’s home page."`,
	})
	rules := "MAP chat.example.org:80 " + s.srv.http + ", MAP www.example.org:80 " + strings.TrimPrefix(logo.URL, "http://")
	browser := browsertest.Browser(t, chromedp.Flag("host-resolver-rules", rules))
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	users := map[string]string{"phone": "juliet", "desktop": "romeo", "phone-de": "lena"}

	for _, v := range viewports {
		t.Run(v.Name, func(t *testing.T) {
			shoot := func(tab context.Context, name string) {
				if name = "page-" + name + "-" + v.Name; dsn == "" && slices.Contains(readmeShots, name) {
					browsertest.Shoot(t, tab, dir, name)
				}
			}
			loc, token := s.invite(t, ctx, httpapi.CreateParams{})
			if loc != site+"/invite?"+token {
				t.Fatalf("Location %q, want the page", loc)
			}
			user, pass := users[v.Name], "correct horse battery"
			tab, cancelTab := chromedp.NewContext(browser)
			defer cancelTab()
			tab, cancelT := context.WithTimeout(tab, 90*time.Second)
			defer cancelT()

			// The page: the button, the QR code, the operator's name and logo.
			if err := chromedp.Do(tab,
				browsertest.Emulate(v),
				chromedp.Navigate(loc),
				chromedp.WaitVisible(chromedp.CSS("#open-app")),
				chromedp.WaitVisible(chromedp.CSS("svg.qr")),
			); err != nil {
				t.Fatalf("opening the invite page: %v", err)
			}
			href, err := chromedp.Run(tab, chromedp.AttributeValue(chromedp.CSS("#open-app"), "href"))
			if want := "xmpp:example.org?register;preauth=" + token; err != nil || href.Value != want {
				t.Errorf("open-in-app button: %q, %v; want %s", href.Value, err, want)
			}
			browsertest.EvalTrue(t, tab, "style applied", `getComputedStyle(document.querySelector('.card')).borderTopLeftRadius === '12px'`)
			browsertest.EvalTrue(t, tab, "logo shown", `document.querySelector('img.logo').naturalWidth > 0`)
			browsertest.EvalTrue(t, tab, "site name", `document.title.includes('example.org') && document.body.textContent.includes('Example Chat')`)
			browsertest.EvalTrue(t, tab, "alternate link", `document.querySelector('link[rel=alternate]').getAttribute('href') === 'xmpp:example.org?register;preauth=`+token+`'`)
			browsertest.EvalTrue(t, tab, "no horizontal scrolling", `document.documentElement.scrollWidth <= window.innerWidth`)
			if v.Lang == "de" {
				browsertest.EvalTrue(t, tab, "German page", `document.documentElement.lang === 'de' && document.querySelector('h1').textContent.includes('eingeladen')`)
			}
			browsertest.CheckContrast(t, tab)
			shoot(tab, "invite")
			// The QR code as the browser draws it reads as the page's own address.
			qrPNG, err := chromedp.Run(tab, chromedp.Screenshot(chromedp.CSS("svg.qr")))
			if err != nil {
				t.Fatalf("screenshot of the QR code: %v", err)
			}
			img, err := png.Decode(bytes.NewReader(qrPNG))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := goqr.Decode(img); err != nil || got != loc {
				t.Errorf("the QR code on screen reads %q (%v), want %s", got, err, loc)
			}

			// Web registration, with one mistake first.
			if err := chromedp.Do(tab,
				chromedp.Click(chromedp.CSS("#register-link")),
				chromedp.WaitVisible(chromedp.CSS("#username")),
			); err != nil {
				t.Fatalf("following the link to web registration: %v", err)
			}
			browsertest.EvalTrue(t, tab, "fields labelled", `[...document.querySelectorAll('input:not([type=hidden])')].every(i => i.labels.length === 1)`)
			if err := chromedp.Do(tab,
				chromedp.SendKeys(chromedp.CSS("#username"), user),
				chromedp.SendKeys(chromedp.CSS("#password"), pass),
				chromedp.SendKeys(chromedp.CSS("#password_confirm"), pass),
			); err != nil {
				t.Fatalf("filling the form: %v", err)
			}
			shoot(tab, "register")
			if err := chromedp.Do(tab,
				chromedp.SendKeys(chromedp.CSS("#password_confirm"), "!"),
				chromedp.Click(chromedp.CSS("#submit")),
				chromedp.WaitVisible(chromedp.CSS("#form-errors")),
			); err != nil {
				t.Fatalf("submitting a mismatched form: %v", err)
			}
			shoot(tab, "register-error")
			if got := s.exists(t, ctx, user); len(got) != 0 {
				t.Fatal("a refused form made the account")
			}
			browsertest.EvalTrue(t, tab, "focus on the refused field", `document.activeElement && document.activeElement.id === 'password'`)
			if err := chromedp.Do(tab,
				chromedp.KeyEvent(pass),
				chromedp.KeyEvent("\t"),
				chromedp.KeyEvent(pass),
				chromedp.KeyEvent("\r"),
				chromedp.WaitVisible(chromedp.CSS("#registered-jid")),
			); err != nil {
				t.Fatalf("submitting the form with the keyboard: %v", err)
			}
			jid, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#registered-jid")))
			if want := user + "@example.org"; err != nil || jid != want {
				t.Errorf("success page names %q (%v), want %s", jid, err, want)
			}
			browsertest.EvalTrue(t, tab, "login note", `document.querySelector('.note').textContent.includes('chat.example.org, port 5222')`)
			shoot(tab, "success")

			// The account logs in over XMPP with the password typed in the browser.
			if err := s.login(ctx, user, pass); err != nil {
				t.Errorf("logging in as %s: %v", user, err)
			}
			// The token is spent: the page is the short 404, and in-band it is refused.
			resp, err := chromedp.Run(tab, chromedp.NavigateResponse(loc))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != http.StatusNotFound {
				t.Errorf("the used invite answers %d, want 404", resp.Status)
			}
			if _, ok := resp.Headers["Link"]; ok {
				t.Error("the used invite's page has a Link header")
			}
			browsertest.EvalTrue(t, tab, "dead page", `document.querySelector('#error-heading') !== null && document.querySelector('#open-app') === null`)
			if el, err := s.preauth(ctx, token); err != nil || el.Attr("type") != "error" || !strings.Contains(el.Inner, "item-not-found") {
				t.Errorf("pre-auth with the used token: %v %v", el, err)
			}
		})
	}
}

// TestPageBrowserSlowDoubleClick is issue 22's slow double click against the real
// stack: on a throttled connection a person double-clicks "Create account"; the
// browser sends the form twice, through xmppd to the plugin, and the page they end on
// is the success page naming their address; the account logs in over XMPP.
func TestPageBrowserSlowDoubleClick(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin := binaries(t)
	const site = "http://chat.example.org"
	s := startPageSite(t, bin, pageSiteOptions{domain: "example.org", args: []string{"-http-url", site}})
	browser := browsertest.Browser(t, chromedp.Flag("host-resolver-rules", "MAP chat.example.org:80 "+s.srv.http))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	loc, _ := s.invite(t, ctx, httpapi.CreateParams{})
	tab, cancelTab := chromedp.NewContext(browser)
	defer cancelTab()
	tab, cancelT := context.WithTimeout(tab, 90*time.Second)
	defer cancelT()
	const user, pass = "juliet", "correct horse battery"
	if err := chromedp.Do(tab,
		browsertest.Emulate(browsertest.PhoneTall()),
		chromedp.Navigate(loc),
		chromedp.Click(chromedp.CSS("#register-link")),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), user),
		chromedp.SendKeys(chromedp.CSS("#password"), pass),
		chromedp.SendKeys(chromedp.CSS("#password_confirm"), pass),
		chromedp.ScrollIntoView(chromedp.CSS("#submit")),
		// A slow mobile connection: 2 s before each answer, 20 kB/s.
		browsertest.Throttle(2*time.Second, 20_000),
	); err != nil {
		t.Fatalf("filling the form: %v", err)
	}
	if err := browsertest.DoubleClick(tab, "#submit"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(tab, chromedp.WaitReady(chromedp.CSS("#success-heading, #error-heading, #form-errors"))); err != nil {
		t.Fatalf("no answer page after the double click: %v", err)
	}
	time.Sleep(3 * time.Second) // a later answer would replace the page: let it come
	jid, err := chromedp.Run(tab, chromedp.Evaluate[string](`(document.querySelector('#registered-jid') || {textContent: document.body.innerText}).textContent`))
	if err != nil || jid != user+"@example.org" {
		t.Errorf("after a slow double click the page shows %q (%v), want the address %s@example.org", jid, err, user)
	}
	// The browser did send the form twice, and the first made the account.
	log := s.srv.stderr.String()
	if n := strings.Count(log, `method=POST path=/register`); n < 2 {
		t.Errorf("the plugin saw %d POST /register: the test did not double-submit", n)
	}
	if err := s.login(ctx, user, pass); err != nil {
		t.Errorf("logging in as %s: %v", user, err)
	}
}

// TestPageBrowserApproval (issue 24), on both stores: an invite made over HTTP with
// approval=true, opened in headless Chromium. The page says new accounts wait for
// approval; the registration form has the note field; the person leaves a note and
// the success page says the account awaits approval. Its login is refused with the
// reason; the administrators' pending list (HTTP, a --manage key) shows the account
// with its note; approved there, the account logs in.
func TestPageBrowserApproval(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	t.Parallel()
	bin := binaries(t)
	browser := browsertest.Browser(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			dsn := ""
			if backend == "postgres" {
				_, dsn = pgtest.Schema(t)
			}
			s := startPageSite(t, bin, pageSiteOptions{dsn: dsn})
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			manager, err := s.cli.createKey(ctx, "moderators", "--manage")
			if err != nil {
				t.Fatal(err)
			}
			c, err := httpapi.NewClient(s.base()+"/invites_api", s.key, s.client)
			if err != nil {
				t.Fatal(err)
			}
			inv, err := c.Create(ctx, httpapi.CreateParams{Approval: true})
			if err != nil || !inv.Approval || inv.LandingPage == "" {
				t.Fatalf("an invite whose accounts wait for approval: %+v %v", inv, err)
			}
			const user, pass, note = "juliet", "correct horse battery", "Romeo's friend, from Verona"
			tab, cancelTab := chromedp.NewContext(browser)
			defer cancelTab()
			tab, cancelT := context.WithTimeout(tab, 90*time.Second)
			defer cancelT()
			if err := chromedp.Do(tab,
				browsertest.Emulate(browsertest.Phone()),
				chromedp.Navigate(inv.LandingPage),
				chromedp.WaitVisible(chromedp.CSS("#register-link")),
			); err != nil {
				t.Fatalf("opening the invite page: %v", err)
			}
			browsertest.EvalTrue(t, tab, "the page says accounts wait for approval",
				`document.body.innerText.includes("An administrator of localhost approves new accounts")`)
			if err := chromedp.Do(tab,
				chromedp.Click(chromedp.CSS("#register-link")),
				chromedp.WaitVisible(chromedp.CSS("#note")),
			); err != nil {
				t.Fatalf("the registration form: %v", err)
			}
			browsertest.EvalTrue(t, tab, "the note field, labelled", `document.querySelector('#note').labels.length === 1`)
			if err := chromedp.Do(tab,
				chromedp.SendKeys(chromedp.CSS("#username"), user),
				chromedp.SendKeys(chromedp.CSS("#password"), pass),
				chromedp.SendKeys(chromedp.CSS("#password_confirm"), pass),
				chromedp.SendKeys(chromedp.CSS("#note"), note),
				chromedp.Click(chromedp.CSS("#submit")),
				chromedp.WaitVisible(chromedp.CSS("#pending")),
			); err != nil {
				t.Fatalf("registering with a note: %v", err)
			}
			heading, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#success-heading")))
			if err != nil || heading != "Your account awaits approval" {
				t.Errorf("success heading %q, %v", heading, err)
			}
			jid, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#registered-jid")))
			if err != nil || jid != user+"@localhost" {
				t.Errorf("success page names %q, %v", jid, err)
			}
			browsertest.EvalTrue(t, tab, "the success page says signing in waits",
				`document.querySelector('#pending').textContent.includes("You can sign in once they approve it")`)
			browsertest.CheckContrast(t, tab)

			// Pending: the login is refused saying why.
			if err := s.login(ctx, user, pass); err == nil || !strings.Contains(err.Error(), "<account-disabled/>") || !strings.Contains(err.Error(), "This account is waiting for an administrator") {
				t.Errorf("the pending account's login: %v", err)
			}
			// The administrators' queue over HTTP shows the note; approved there, the
			// account logs in.
			var queue httpapi.AccountList
			if code := s.api(t, ctx, http.MethodGet, "/invites_api/accounts?state=pending", manager, "", &queue); code != http.StatusOK ||
				len(queue.Accounts) != 1 || queue.Accounts[0].JID != user+"@localhost" || queue.Accounts[0].Note != note ||
				queue.Accounts[0].InviteID != inv.ID || queue.Accounts[0].State != "pending" {
				t.Fatalf("the pending list: %d %+v", code, queue)
			}
			var approved httpapi.Account
			if code := s.api(t, ctx, http.MethodPost, "/invites_api/accounts/"+user+"@localhost/approve", manager, "", &approved); code != http.StatusOK ||
				approved.State != "active" {
				t.Fatalf("approving: %d %+v", code, approved)
			}
			if !eventually(20*time.Second, func() bool { return s.login(ctx, user, pass) == nil }) {
				t.Errorf("the approved account cannot log in: %v", s.login(ctx, user, pass))
			}
		})
	}
}
