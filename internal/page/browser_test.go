package page_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
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
	goqr "github.com/piglig/go-qr"

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
// Extra flags are passed to Chromium as --name=value.
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
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
	opts := []chromedp.ExecAllocatorOption{
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
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), append(opts, extra...)...)
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

// testLogo is the operator's logo of the browser test: a speech bubble.
const testLogo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><rect width="40" height="40" rx="9" fill="#0b57a4"/>` +
	`<path d="M10 12h20a3 3 0 0 1 3 3v10a3 3 0 0 1-3 3H19l-6 5v-5h-3a3 3 0 0 1-3-3V15a3 3 0 0 1 3-3z" fill="#fff"/></svg>`

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

// contrastJS returns the text elements whose contrast with their background is below
// 4.5:1 (WCAG 2 AA for normal text), as "selector: ratio" strings.
const contrastJS = `(() => {
  const rgb = s => s.match(/[\d.]+/g).map(Number);
  const lum = c => { const v = c.slice(0, 3).map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); });
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const bg = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor); if (c.length < 4 || c[3] > 0) return c; } return [255, 255, 255]; };
  const bad = [];
  for (const el of document.querySelectorAll('h1, h2, p, li, a, label, span, button, time, input')) {
    if (!el.textContent.trim() && el.tagName !== 'INPUT') continue;
    if (el.getClientRects().length === 0) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) bad.push(el.tagName.toLowerCase() + '.' + el.className + ': ' + ratio.toFixed(2));
  }
  return bad;
})()`

// checkContrast fails the test for each text of the page below 4.5:1, in light and
// dark colour schemes.
func checkContrast(t *testing.T, ctx context.Context) {
	t.Helper()
	for _, scheme := range []string{"dark", "light"} {
		err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
			})
			return err
		}))
		if err != nil {
			t.Fatalf("emulating %s mode: %v", scheme, err)
		}
		bad, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](contrastJS))
		if err != nil {
			t.Fatalf("measuring contrast: %v", err)
		}
		for _, b := range bad {
			t.Errorf("%s mode: contrast below 4.5:1: %s", scheme, b)
		}
	}
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
	dir := screenshotDir(t)
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
	ctx := browser(t, chromedp.Flag("host-resolver-rules", "MAP chat.example.org:80 "+strings.TrimPrefix(srv.URL, "http://")))
	fx = newFixture(t, page.Options{
		SiteName:  "Example Chat",
		LogoURL:   "/logo.svg",
		BaseURL:   site,
		LoginNote: "Server: chat.example.org, port 5222. Your app may ask to trust the server’s certificate once: its fingerprint is on the operator’s home page.",
		Now:       time.Now,
	})
	fx.now = time.Now()

	tokens := []string{"AZrT0kq9bXw2mP7vLc4sNf8hYd1eJg6uQa3o", "AZrT0kr1Hn5cVt2xQe7pLm4kWs9gBy6dFa8j", "AZrT0ks4Pq8nMz3wKd6tRv1hXc5bGj7eLu2y"}
	viewports := []viewport{
		{name: "phone", width: 390, height: 844, scale: 2, mobile: true, ua: uaAndroid, lang: "en"},
		{name: "desktop", width: 1280, height: 900, scale: 1, ua: uaLinux, lang: "en"},
		{name: "phone-de", width: 390, height: 844, scale: 2, mobile: true, ua: uaIPhone, lang: "de"},
	}
	for i, v := range viewports {
		t.Run(v.name, func(t *testing.T) {
			token := fx.host.add(tokens[i], page.Invite{Kind: page.KindAccount, ExpiresAt: time.Now().Add(7*24*time.Hour + time.Minute)})
			user := "juliet" + strings.TrimPrefix(v.name, "phone-")
			tab, cancel := chromedp.NewContext(ctx)
			defer cancel()
			tab, cancelT := context.WithTimeout(tab, 60*time.Second)
			defer cancelT()
			suffix := v.name
			steps := []chromedp.Action[chromedp.Void]{
				emulate(v),
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
			evalTrue(t, tab, "style applied", `getComputedStyle(document.querySelector('.card')).borderTopLeftRadius === '12px'`)
			evalTrue(t, tab, "QR code drawn", `document.querySelector('svg.qr path').getAttribute('d').length > 100 && document.querySelector('svg.qr').getBoundingClientRect().width >= 150`)
			evalTrue(t, tab, "no horizontal scrolling", `document.documentElement.scrollWidth <= window.innerWidth`)
			checkContrast(t, tab)
			if err := chromedp.Do(tab, chromedp.KeyEvent("\t")); err != nil {
				t.Fatal(err)
			}
			evalTrue(t, tab, "the first Tab reaches the skip link", `document.activeElement.className === 'skip'`)
			evalTrue(t, tab, "blur", `(document.activeElement.blur(), true)`)
			evalTrue(t, tab, "no positive tabindex", `document.querySelectorAll('[tabindex]:not([tabindex="-1"]):not([tabindex="0"])').length === 0`)
			evalTrue(t, tab, "logo shown", `document.querySelector('img.logo').naturalWidth > 0`)
			evalTrue(t, tab, "alternate link", `document.querySelector('link[rel=alternate]').getAttribute('href').startsWith('xmpp:')`)
			if v.lang == "de" {
				evalTrue(t, tab, "German page", `document.documentElement.lang === 'de' && document.querySelector('h1').textContent.includes('eingeladen')`)
			}
			shoot(t, tab, dir, "invite-"+suffix)
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
			// With the keyboard only: the refused field has the focus; type, Tab, type,
			// Enter.
			evalTrue(t, tab, "focus on the refused field", `document.activeElement && document.activeElement.id === 'password'`)
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
			shoot(t, tab, dir, "success-"+suffix)
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
			evalTrue(t, tab, "dead page", `document.querySelector('#error-heading') !== null && document.querySelector('#open-app') === null`)
			if v.name == "phone" {
				shoot(t, tab, dir, "dead-"+suffix)
			}
		})
	}
}
