// Package browsertest runs the real-browser tests of the invite page: a headless
// Chromium (Debian's chromium package, installed by scripts/install-chromium.sh when
// missing) driven with chromedp, with what those tests share: devices to emulate,
// full-page screenshots, a WCAG contrast check and DevTools-side assertions.
// It is used by internal/page (against in-test invites) and examples/xmppd (against
// the real server and plugin).
//
// The environment controls it:
//
//	INVITES_BROWSER_TESTS=off      skip the browser tests, for local use only: under CI
//	                               (CI set) it is an error, so that CI never skips them
//	INVITES_CHROMIUM=/path         the browser to use
//	INVITES_SCREENSHOTS=/dir       where the screenshots go (default: a directory in
//	                               the system's temporary directory, logged)
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// User-Agents of the devices the tests emulate.
const (
	UAAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
	UAIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	UALinux   = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
)

// Browser returns a chromedp context on a fresh headless Chromium, or fails the test
// saying why; the browser ends with the test.
// Extra flags are passed to Chromium, such as
// chromedp.Flag("host-resolver-rules", "MAP chat.example.org:80 127.0.0.1:8080").
func Browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if os.Getenv("INVITES_BROWSER_TESTS") == "off" {
		if os.Getenv("CI") != "" {
			t.Fatal("INVITES_BROWSER_TESTS=off is for local use only: CI runs the browser tests")
		}
		t.Skip("INVITES_BROWSER_TESTS=off: browser tests skipped (local use only)")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, "scripts", "install-chromium.sh"))
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

// moduleRoot finds the directory of go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("browsertest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// ScreenshotDir returns where the screenshots go (INVITES_SCREENSHOTS, else a
// directory in the system's temporary directory), made if missing.
func ScreenshotDir(t *testing.T) string {
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

// Viewport is a device the pages are looked at on.
type Viewport struct {
	// Name names it in subtests and screenshot files.
	Name string
	// Width and Height are the screen's size in CSS pixels.
	Width, Height int64
	// Scale is the device pixel ratio.
	Scale float64
	// Mobile emulates a phone (touch, meta viewport).
	Mobile bool
	// UA is the User-Agent.
	UA string
	// Lang is the Accept-Language.
	Lang string
}

// Phone is an Android phone, in English.
func Phone() Viewport {
	return Viewport{Name: "phone", Width: 390, Height: 844, Scale: 2, Mobile: true, UA: UAAndroid, Lang: "en"}
}

// Desktop is a Linux desktop, in English.
func Desktop() Viewport {
	return Viewport{Name: "desktop", Width: 1280, Height: 900, Scale: 1, UA: UALinux, Lang: "en"}
}

// PhoneTall is the 412×915 Android phone of issue 22, in English.
func PhoneTall() Viewport {
	return Viewport{Name: "phone-412x915", Width: 412, Height: 915, Scale: 2.625, Mobile: true, UA: UAAndroid, Lang: "en"}
}

// Laptop is the 1280×800 Linux desktop of issue 22, in English.
func Laptop() Viewport {
	return Viewport{Name: "desktop-1280x800", Width: 1280, Height: 800, Scale: 1, UA: UALinux, Lang: "en"}
}

// PhoneDE is an iPhone, in German.
func PhoneDE() Viewport {
	return Viewport{Name: "phone-de", Width: 390, Height: 844, Scale: 2, Mobile: true, UA: UAIPhone, Lang: "de"}
}

// Emulate sets the viewport, User-Agent and Accept-Language of the tab.
func Emulate(v Viewport) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: v.UA, AcceptLanguage: v.Lang}); err != nil {
			return fmt.Errorf("setting the User-Agent: %w", err)
		}
		if _, err := cdp.Call(ctx, t, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: v.Width, Height: v.Height, DeviceScaleFactor: v.Scale, Mobile: v.Mobile,
		}); err != nil {
			return fmt.Errorf("setting the viewport: %w", err)
		}
		return nil
	})
}

// Throttle makes the tab's network slow, as DevTools' network throttling does: each
// request waits latency before its answer starts, and bodies move at most bytesPerSec
// each way. It lasts until the tab closes.
func Throttle(latency time.Duration, bytesPerSec float64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return fmt.Errorf("enabling the network domain: %w", err)
		}
		_, err := cdp.Call(ctx, t, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{
				Latency:            float64(latency.Milliseconds()),
				DownloadThroughput: bytesPerSec,
				UploadThroughput:   bytesPerSec,
			}},
		})
		if err != nil {
			return fmt.Errorf("throttling the network: %w", err)
		}
		return nil
	})
}

// DoubleClick double-clicks the middle of the element selector names as a person
// does: a click, then within a double-click's interval a second one (Chromium sends
// a form twice when its submit button is clicked so; chromedp.DoubleClick sends one
// click with a count of two, which submits once).
func DoubleClick(ctx context.Context, selector string) error {
	at, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector(`+
		strconv.Quote(selector)+`).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`))
	if err != nil {
		return fmt.Errorf("finding %s: %w", selector, err)
	}
	if len(at) != 2 {
		return fmt.Errorf("finding %s: no position", selector)
	}
	return chromedp.Do(ctx,
		chromedp.MouseClickXY(at[0], at[1]),
		chromedp.Sleep(150*time.Millisecond),
		chromedp.MouseClickXY(at[0], at[1], chromedp.ClickCount(2)),
	)
}

// InFirstScreen fails the test unless the element selector names is wholly within
// the first screen of the page as loaded: visible without scrolling.
func InFirstScreen(t *testing.T, ctx context.Context, selector string) {
	t.Helper()
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { window.scrollTo(0, 0); const e = document.querySelector(`+
		strconv.Quote(selector)+`); if (!e) return []; const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom, window.innerWidth, window.innerHeight]; })()`))
	if err != nil {
		t.Fatalf("measuring %s: %v", selector, err)
	}
	if len(box) != 6 {
		t.Fatalf("no %s on the page", selector)
	}
	if box[0] < 0 || box[1] < 0 || box[2] > box[4] || box[3] > box[5] || box[2] <= box[0] || box[3] <= box[1] {
		t.Errorf("%s at (%.0f, %.0f)–(%.0f, %.0f) is not within the first %.0f×%.0f screen", selector, box[0], box[1], box[2], box[3], box[4], box[5])
	}
}

// IconLoads fails the test unless the page's icon (link rel=icon) loads as an image
// under the page's own Content-Security-Policy.
func IconLoads(t *testing.T, ctx context.Context) {
	t.Helper()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(async () => { const l = document.querySelector('link[rel=icon]'); if (!l) return false;
		const i = new Image(); i.src = l.href; try { await i.decode(); } catch (e) { return false; } return i.naturalWidth > 0; })()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("loading the icon: %v", err)
	}
	if !ok {
		t.Error("the page's icon does not load under its Content-Security-Policy")
	}
}

// Shoot saves a full-page PNG screenshot as dir/name.png.
func Shoot(t *testing.T, ctx context.Context, dir, name string) {
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

// CheckContrast fails the test for each text of the page below 4.5:1, in dark and
// light colour schemes (it leaves the light one on).
func CheckContrast(t *testing.T, ctx context.Context) {
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

// EvalTrue fails the test unless the JavaScript expression (run by DevTools, not by
// the page, whose policy allows no script) is true.
func EvalTrue(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !ok {
		t.Errorf("%s: false", what)
	}
}
