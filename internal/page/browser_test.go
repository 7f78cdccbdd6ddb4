package page_test

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	goqr "github.com/piglig/go-qr"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/internal/page/browsertest"
)

// The browser tests run in a real headless Chromium (package browsertest says how it
// is found and how the environment controls the tests).

// testLogo is the operator's logo of the browser test: a speech bubble.
const testLogo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" rx="9" fill="#0b57a4"/>` +
	`<path d="M10 12h20a3 3 0 0 1 3 3v10a3 3 0 0 1-3 3H19l-6 5v-5h-3a3 3 0 0 1-3-3V15a3 3 0 0 1 3-3z" fill="#fff"/></svg>`

// TestBrowser opens an invite in Chromium on a phone and on a desktop: the page shows
// the QR code and the "open in app" button, its link leads to web registration, the
// form registers the account and the success page names it; the same token is dead
// afterwards. Screenshots of each page go to screenshotDir.
func TestBrowser(t *testing.T) {
	dir := browsertest.ScreenshotDir(t)
	t.Logf("screenshots in %s", dir)

	var fx *fixture
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/logo.svg" { // the operator's logo, served beside the pages
			w.Header().Set("Content-Type", "image/svg+xml")
			w.Write([]byte(testLogo))
			return
		}
		fx.h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	// The browser reaches the test server as chat.example.org, so that the pages (and
	// the screenshots) show a real-looking address that is still their own.
	const site = "http://chat.example.org"
	ctx := browsertest.Browser(t, chromedp.Flag("host-resolver-rules", "MAP chat.example.org:80 "+strings.TrimPrefix(srv.URL, "http://")))
	fx = newFixture(t, page.Options{
		SiteName:  "Example Chat",
		LogoURL:   "/logo.svg",
		BaseURL:   site,
		LoginNote: "Server: chat.example.org, port 5222. Your app may ask to trust the server’s certificate once: its fingerprint is on the operator’s home page.",
		Now:       time.Now,
	})
	fx.now = time.Now()

	tokens := []string{"AZrT0kq9bXw2mP7vLc4sNf8hYd1eJg6uQa3o", "AZrT0kr1Hn5cVt2xQe7pLm4kWs9gBy6dFa8j", "AZrT0ks4Pq8nMz3wKd6tRv1hXc5bGj7eLu2y"}
	viewports := []browsertest.Viewport{browsertest.Phone(), browsertest.Desktop(), browsertest.PhoneDE()}
	for i, v := range viewports {
		t.Run(v.Name, func(t *testing.T) {
			token := fx.host.add(tokens[i], page.Invite{Kind: core.KindAccount, ExpiresAt: time.Now().Add(7*24*time.Hour + time.Minute)})
			user := "juliet" + strings.TrimPrefix(v.Name, "phone-")
			tab, cancel := chromedp.NewContext(ctx)
			defer cancel()
			tab, cancelT := context.WithTimeout(tab, 60*time.Second)
			defer cancelT()
			suffix := v.Name
			steps := []chromedp.Action[chromedp.Void]{
				browsertest.Emulate(v),
				chromedp.Navigate(site + "/invite?" + token),
				chromedp.WaitVisible(chromedp.CSS("#open-app")),
				chromedp.WaitVisible(chromedp.CSS("svg.qr")),
			}
			if err := chromedp.Do(tab, steps...); err != nil {
				t.Fatalf("opening the invite page: %v", err)
			}
			href, err := chromedp.Run(tab, chromedp.AttributeValue(chromedp.CSS("#open-app"), "href"))
			if err != nil || href.Value != "xmpp:example.org?register;preauth="+token {
				t.Errorf("open-in-app button: %q, %v", href.Value, err)
			}
			// The style applied (the policy's nonce works), the QR code drawn, nothing
			// wider than the screen, every field labelled.
			browsertest.EvalTrue(t, tab, "style applied", `getComputedStyle(document.querySelector('.card')).borderTopLeftRadius === '12px'`)
			browsertest.EvalTrue(t, tab, "QR code drawn", `document.querySelector('svg.qr path').getAttribute('d').length > 100 && document.querySelector('svg.qr').getBoundingClientRect().width >= 150`)
			browsertest.EvalTrue(t, tab, "no horizontal scrolling", `document.documentElement.scrollWidth <= window.innerWidth`)
			browsertest.CheckContrast(t, tab)
			if err := chromedp.Do(tab, chromedp.KeyEvent("\t")); err != nil {
				t.Fatal(err)
			}
			browsertest.EvalTrue(t, tab, "the first Tab reaches the skip link", `document.activeElement.className === 'skip'`)
			browsertest.EvalTrue(t, tab, "blur", `(document.activeElement.blur(), true)`)
			browsertest.EvalTrue(t, tab, "no positive tabindex", `document.querySelectorAll('[tabindex]:not([tabindex="-1"]):not([tabindex="0"])').length === 0`)
			browsertest.EvalTrue(t, tab, "logo shown", `document.querySelector('img.logo').naturalWidth > 0`)
			browsertest.EvalTrue(t, tab, "alternate link", `document.querySelector('link[rel=alternate]').getAttribute('href').startsWith('xmpp:')`)
			if v.Lang == "de" {
				browsertest.EvalTrue(t, tab, "German page", `document.documentElement.lang === 'de' && document.querySelector('h1').textContent.includes('eingeladen')`)
			}
			browsertest.Shoot(t, tab, dir, "invite-"+suffix)
			// The QR code as the browser draws it scans to the page's own URL.
			qrPNG, err := chromedp.Run(tab, chromedp.Screenshot(chromedp.CSS("svg.qr")))
			if err != nil {
				t.Fatalf("screenshot of the QR code: %v", err)
			}
			img, err := png.Decode(bytes.NewReader(qrPNG))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := goqr.Decode(img); err != nil || got != site+"/invite?"+token {
				t.Errorf("the QR code on screen reads %q (%v), want %s", got, err, site+"/invite?"+token)
			}

			if err := chromedp.Do(tab,
				chromedp.Click(chromedp.CSS("#register-link")),
				chromedp.WaitVisible(chromedp.CSS("#username")),
			); err != nil {
				t.Fatalf("following the link to web registration: %v", err)
			}
			browsertest.EvalTrue(t, tab, "fields labelled", `[...document.querySelectorAll('input:not([type=hidden])')].every(i => i.labels.length === 1)`)
			browsertest.EvalTrue(t, tab, "no horizontal scrolling on the form", `document.documentElement.scrollWidth <= window.innerWidth`)
			if err := chromedp.Do(tab,
				chromedp.SendKeys(chromedp.CSS("#username"), user),
				chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
				chromedp.SendKeys(chromedp.CSS("#password_confirm"), "correct horse battery"),
			); err != nil {
				t.Fatalf("filling the form: %v", err)
			}
			browsertest.Shoot(t, tab, dir, "register-"+suffix)
			// A mistake first: the form comes back with the reason and the name kept.
			if err := chromedp.Do(tab,
				chromedp.SendKeys(chromedp.CSS("#password_confirm"), "!"),
				chromedp.Click(chromedp.CSS("#submit")),
				chromedp.WaitVisible(chromedp.CSS("#form-errors")),
			); err != nil {
				t.Fatalf("submitting a mismatched form: %v", err)
			}
			if got, _ := chromedp.Run(tab, chromedp.Value(chromedp.CSS("#username"))); got != user {
				t.Errorf("the username typed is not kept: %q", got)
			}
			browsertest.Shoot(t, tab, dir, "register-error-"+suffix)
			// With the keyboard only: the refused field has the focus; type, Tab, type,
			// Enter.
			browsertest.EvalTrue(t, tab, "focus on the refused field", `document.activeElement && document.activeElement.id === 'password'`)
			if err := chromedp.Do(tab,
				chromedp.KeyEvent("correct horse battery"),
				chromedp.KeyEvent("\t"),
				chromedp.KeyEvent("correct horse battery"),
				chromedp.KeyEvent("\r"),
				chromedp.WaitVisible(chromedp.CSS("#registered-jid")),
			); err != nil {
				t.Fatalf("submitting the form with the keyboard: %v", err)
			}
			jid, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#registered-jid")))
			if want := user + "@example.org"; err != nil || jid != want {
				t.Errorf("success page names %q (%v), want %s", jid, err, want)
			}
			browsertest.Shoot(t, tab, dir, "success-"+suffix)
			fx.host.mu.Lock()
			pw := fx.host.accounts[user+"@example.org"]
			fx.host.mu.Unlock()
			if pw != "correct horse battery" {
				t.Errorf("account %s@example.org not made with the password typed", user)
			}

			// The token is spent: the page is the short 404.
			resp, err := chromedp.Run(tab, chromedp.NavigateResponse(site+"/invite?"+token))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != http.StatusNotFound {
				t.Errorf("the used invite answers %d, want 404", resp.Status)
			}
			browsertest.EvalTrue(t, tab, "dead page", `document.querySelector('#error-heading') !== null && document.querySelector('#open-app') === null`)
			if v.Name == "phone" {
				browsertest.Shoot(t, tab, dir, "dead-"+suffix)
			}
		})
	}
}

// TestBrowserSlowDoubleClick is issue 22's slow double click: on a throttled
// connection (DevTools network throttling) the visitor double-clicks "Create
// account"; the browser sends the form twice, the first POST makes the account, and
// the page the visitor ends on must still be the success page naming the address,
// not the second POST's "this invitation is not valid".
func TestBrowserSlowDoubleClick(t *testing.T) {
	var fx *fixture
	var mu sync.Mutex
	posts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			mu.Lock()
			posts++
			mu.Unlock()
		}
		fx.h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	ctx := browsertest.Browser(t)
	fx = newFixture(t, page.Options{BaseURL: srv.URL, Now: time.Now})
	fx.now = time.Now()
	token := fx.host.add("AZrT0kt7Wm2qLx5cNe8vKd3hPb6gYs1uJa4o", page.Invite{Kind: core.KindAccount, ExpiresAt: time.Now().Add(24 * time.Hour)})

	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	tab, cancelT := context.WithTimeout(tab, 90*time.Second)
	defer cancelT()
	if err := chromedp.Do(tab,
		browsertest.Emulate(browsertest.Phone()),
		chromedp.Navigate(srv.URL+"/register?t="+token),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "juliet"),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.SendKeys(chromedp.CSS("#password_confirm"), "correct horse battery"),
		chromedp.ScrollIntoView(chromedp.CSS("#submit")),
		// A slow mobile connection: 2 s before each answer, 20 kB/s.
		browsertest.Throttle(2*time.Second, 20_000),
	); err != nil {
		t.Fatalf("filling the form: %v", err)
	}
	if err := browsertest.DoubleClick(tab, "#submit"); err != nil {
		t.Fatalf("double-clicking the form: %v", err)
	}
	// Wait for the navigation to settle on a page that is not the form.
	settle, cancelS := context.WithTimeout(tab, 30*time.Second)
	defer cancelS()
	if err := chromedp.Do(settle, chromedp.WaitReady(chromedp.CSS("#success-heading, #error-heading, #form-errors"))); err != nil {
		t.Fatalf("no answer page after the double click: %v", err)
	}
	time.Sleep(3 * time.Second) // a later answer would replace the page: let it come
	if err := chromedp.Do(settle, chromedp.WaitReady(chromedp.CSS("#success-heading, #error-heading, #form-errors"))); err != nil {
		t.Fatalf("no answer page after the double click: %v", err)
	}
	mu.Lock()
	n := posts
	mu.Unlock()
	if n < 2 {
		t.Fatalf("the browser sent the form %d times: the test did not double-submit", n)
	}
	text, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		t.Fatal(err)
	}
	jid, err := chromedp.Run(tab, chromedp.Evaluate[string](`(document.querySelector('#registered-jid') || {textContent: ''}).textContent`))
	if err != nil || jid != "juliet@example.org" {
		t.Errorf("after a slow double click the page shows %q, not the address juliet@example.org (%v); page text:\n%s", jid, err, text)
	}
	fx.host.mu.Lock()
	defer fx.host.mu.Unlock()
	if fx.host.accounts["juliet@example.org"] != "correct horse battery" || fx.host.calls != 1 {
		t.Errorf("accounts %v after %d host calls, want juliet@example.org made once", fx.host.accounts, fx.host.calls)
	}
}

// TestBrowserFirstScreen: on issue 22's 412×915 phone and 1280×800 desktop, the
// invite page's main action is visible without scrolling: "Open in app" where the
// platform's apps open invitations (Android), "Create account on the web" where
// they do not (Linux), for account, contact and reset invites; the icon loads under
// the page's policy.
func TestBrowserFirstScreen(t *testing.T) {
	var fx *fixture
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fx.h.ServeHTTP(w, r) }))
	defer srv.Close()
	ctx := browsertest.Browser(t)
	fx = newFixture(t, page.Options{BaseURL: srv.URL, SiteName: "Example Chat", Now: time.Now})
	fx.now = time.Now()
	// The fixture's invites again, expiring a week from the real now.
	for tok, inv := range map[string]page.Invite{
		tokAccount:  {Kind: core.KindAccount},
		tokFixed:    {Kind: core.KindAccount, Username: "juliet"},
		tokContact:  {Kind: core.KindContact, Inviter: "romeo@example.org"},
		tokContactR: {Kind: core.KindContact, Inviter: "romeo@example.org", CanRegister: true},
		tokReset:    {Kind: core.KindReset, Username: "nurse"},
	} {
		inv.ExpiresAt = time.Now().Add(7*24*time.Hour + time.Minute)
		fx.host.add(tok, inv)
	}
	dir := browsertest.ScreenshotDir(t)
	for _, tc := range []struct {
		v       browsertest.Viewport
		token   string
		primary string
	}{
		{browsertest.PhoneTall(), tokAccount, "#open-app"},
		{browsertest.PhoneTall(), tokFixed, "#open-app"},
		{browsertest.PhoneTall(), tokContact, "#open-app"},
		{browsertest.PhoneTall(), tokContactR, "#open-app"},
		{browsertest.PhoneTall(), tokReset, "#register-link"},
		{browsertest.Laptop(), tokAccount, "#register-link"},
		{browsertest.Laptop(), tokContact, "#open-app"},
		{browsertest.Laptop(), tokContactR, "#register-link"},
		{browsertest.Laptop(), tokReset, "#register-link"},
	} {
		t.Run(tc.v.Name+"/"+tc.token[12:20], func(t *testing.T) {
			tab, cancel := chromedp.NewContext(ctx)
			defer cancel()
			tab, cancelT := context.WithTimeout(tab, 15*time.Second)
			defer cancelT()
			if err := chromedp.Do(tab,
				browsertest.Emulate(tc.v),
				chromedp.Navigate(srv.URL+"/invite?"+tc.token),
				chromedp.WaitVisible(chromedp.CSS(tc.primary)),
			); err != nil {
				t.Fatalf("opening the invite page: %v", err)
			}
			browsertest.EvalTrue(t, tab, "the primary action is "+tc.primary, `document.querySelector('.intro .button.primary') === document.querySelector('`+tc.primary+`')`)
			browsertest.InFirstScreen(t, tab, tc.primary)
			browsertest.IconLoads(t, tab)
			if tc.token == tokAccount {
				browsertest.Shoot(t, tab, dir, "first-screen-"+tc.v.Name)
			}
		})
	}
}
