package page_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/xmpp-invites/invites/internal/page"
)

// The browser tests run in a real headless Chromium (Debian's chromium package),
// installed by scripts/install-chromium.sh when missing.
//
//	INVITES_BROWSER_TESTS=off      skip them, for local use only: under CI (CI set)
//	                               it is an error, so that CI never skips them silently
//	INVITES_CHROMIUM=/path         the browser to use
//	INVITES_SCREENSHOTS=/dir       where the screenshots go (default: a directory
//	                               in the system's temporary directory, logged)

// browser returns a chromedp context on a fresh headless Chromium, or fails the test
// saying why.
func browser(t *testing.T) context.Context {
	t.Helper()
	if os.Getenv("INVITES_BROWSER_TESTS") == "off" {
		if os.Getenv("CI") != "" {
			t.Fatal("INVITES_BROWSER_TESTS=off is for local use only: CI runs the browser tests")
		}
		t.Skip("INVITES_BROWSER_TESTS=off: browser tests skipped (local use only)")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "install-chromium.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("no Chromium for the browser tests (%v): %s\ninstall Debian's chromium package (bash scripts/install-chromium.sh as root), or set INVITES_BROWSER_TESTS=off locally", err, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	exe := lines[len(lines)-1]

	var out bytes.Buffer
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless, // --headless, and hidden scroll bars
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("password-store", "basic"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.CombinedOutput(&out),
	)
	bctx, bcancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		bcancel()
		allocCancel()
	})
	// Start the browser now, without a deadline (one would stop the browser).
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v\n%s", exe, err, out.String())
	}
	return bctx
}

// screenshotDir returns where the screenshots go, made if missing.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("INVITES_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "invites-page-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// viewport is a device the pages are looked at on.
type viewport struct {
	name          string
	width, height int64
	scale         float64
	mobile        bool
	ua            string
	lang          string
}

// emulate sets the viewport, User-Agent and Accept-Language of the tab.
func emulate(v viewport) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: v.ua, AcceptLanguage: v.lang}); err != nil {
			return fmt.Errorf("setting the User-Agent: %w", err)
		}
		if _, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: v.width, Height: v.height, DeviceScaleFactor: v.scale, Mobile: v.mobile,
		}); err != nil {
			return fmt.Errorf("setting the viewport: %w", err)
		}
		return nil
	})
}

// shoot saves a full-page PNG screenshot as dir/name.png.
func shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// evalTrue fails the test unless the JavaScript expression (run by DevTools, not by
// the page, whose policy allows no script) is true.
func evalTrue(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !ok {
		t.Errorf("%s: false", what)
	}
}

// TestBrowser opens an invite in Chromium on a phone and on a desktop: the page shows
// the QR code and the "open in app" button, its link leads to web registration, the
// form registers the account and the success page names it; the same token is dead
// afterwards. Screenshots of each page go to screenshotDir.
func TestBrowser(t *testing.T) {
	ctx := browser(t)
	dir := screenshotDir(t)
	t.Logf("screenshots in %s", dir)

	var fx *fixture
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fx.h.ServeHTTP(w, r) }))
	defer srv.Close()
	fx = newFixture(t, page.Options{
		SiteName:  "Example Chat",
		BaseURL:   srv.URL,
		LoginNote: "Server: chat.example.org, port 5222. Your app may ask to trust the server’s certificate once: its fingerprint is on the operator’s home page.",
		Now:       time.Now,
	})
	fx.now = time.Now()

	viewports := []viewport{
		{name: "phone", width: 390, height: 844, scale: 2, mobile: true, ua: uaAndroid, lang: "en"},
		{name: "desktop", width: 1280, height: 900, scale: 1, ua: uaLinux, lang: "en"},
		{name: "phone-de", width: 390, height: 844, scale: 2, mobile: true, ua: uaIPhone, lang: "de"},
	}
	for i, v := range viewports {
		t.Run(v.name, func(t *testing.T) {
			token := fx.host.add(fmt.Sprintf("BBBBBBBBBBBBbrowserToken%012d", i), page.Invite{Kind: page.KindAccount, ExpiresAt: time.Now().Add(7*24*time.Hour + time.Minute)})
			user := "juliet" + strings.TrimPrefix(v.name, "phone-")
			tab, cancel := chromedp.NewContext(ctx)
			defer cancel()
			tab, cancelT := context.WithTimeout(tab, 60*time.Second)
			defer cancelT()
			suffix := v.name
			steps := []chromedp.Action[chromedp.Void]{
				emulate(v),
				chromedp.Navigate(srv.URL + "/invite?" + token),
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
			evalTrue(t, tab, "style applied", `getComputedStyle(document.querySelector('.card')).borderTopLeftRadius === '12px'`)
			evalTrue(t, tab, "QR code drawn", `document.querySelector('svg.qr path').getAttribute('d').length > 100 && document.querySelector('svg.qr').getBoundingClientRect().width >= 150`)
			evalTrue(t, tab, "no horizontal scrolling", `document.documentElement.scrollWidth <= window.innerWidth`)
			evalTrue(t, tab, "alternate link", `document.querySelector('link[rel=alternate]').getAttribute('href').startsWith('xmpp:')`)
			if v.lang == "de" {
				evalTrue(t, tab, "German page", `document.documentElement.lang === 'de' && document.querySelector('h1').textContent.includes('eingeladen')`)
			}
			shoot(t, tab, dir, "invite-"+suffix)

			if err := chromedp.Do(tab,
				chromedp.Click(chromedp.CSS("#register-link")),
				chromedp.WaitVisible(chromedp.CSS("#username")),
			); err != nil {
				t.Fatalf("following the link to web registration: %v", err)
			}
			evalTrue(t, tab, "fields labelled", `[...document.querySelectorAll('input:not([type=hidden])')].every(i => i.labels.length === 1)`)
			evalTrue(t, tab, "no horizontal scrolling on the form", `document.documentElement.scrollWidth <= window.innerWidth`)
			if err := chromedp.Do(tab,
				chromedp.SendKeys(chromedp.CSS("#username"), user),
				chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
				chromedp.SendKeys(chromedp.CSS("#password_confirm"), "correct horse battery"),
			); err != nil {
				t.Fatalf("filling the form: %v", err)
			}
			shoot(t, tab, dir, "register-"+suffix)
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
			shoot(t, tab, dir, "register-error-"+suffix)
			if err := chromedp.Do(tab,
				chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
				chromedp.SendKeys(chromedp.CSS("#password_confirm"), "correct horse battery"),
			); err != nil {
				t.Fatalf("filling the form again: %v", err)
			}
			if err := chromedp.Do(tab,
				chromedp.Click(chromedp.CSS("#submit")),
				chromedp.WaitVisible(chromedp.CSS("#registered-jid")),
			); err != nil {
				t.Fatalf("submitting the form: %v", err)
			}
			jid, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#registered-jid")))
			if want := user + "@example.org"; err != nil || jid != want {
				t.Errorf("success page names %q (%v), want %s", jid, err, want)
			}
			shoot(t, tab, dir, "success-"+suffix)
			fx.host.mu.Lock()
			pw := fx.host.accounts[user+"@example.org"]
			fx.host.mu.Unlock()
			if pw != "correct horse battery" {
				t.Errorf("account %s@example.org not made with the password typed", user)
			}

			// The token is spent: the page is the short 404.
			resp, err := chromedp.Run(tab, chromedp.NavigateResponse(srv.URL+"/invite?"+token))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != http.StatusNotFound {
				t.Errorf("the used invite answers %d, want 404", resp.Status)
			}
			evalTrue(t, tab, "dead page", `document.querySelector('#error-heading') !== null && document.querySelector('#open-app') === null`)
			if v.name == "phone" {
				shoot(t, tab, dir, "dead-"+suffix)
			}
		})
	}
}
