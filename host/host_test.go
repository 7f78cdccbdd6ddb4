package host_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/host"
	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/testlog"
	"github.com/xmpp-invites/invites/plugin"
)

// TestRealPlugin runs the real plugin binary (built by TestMain) behind the host.
func TestRealPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the plugin binary")
	}
	bin := pluginBinary(t)
	for _, tc := range []struct {
		name string
		test func(*testing.T, string)
	}{
		{"KillAndRestart", testKillAndRestart},
		{"NeverGivesUp", testNeverGivesUp},
		{"RecoversAfterFailedStarts", testRecovers},
		{"Hung", testHung},
		{"TruncatedBody", testTruncatedBody},
		{"StaleSockets", testStaleSockets},
		{"Mount", testMount},
		{"CleanClose", testCleanClose},
		{"LoadFails", testLoadFails},
		// boundary_test.go: the bounds on request bodies, a client that half-closes, a
		// store that does not answer at the first start, a squatted socket directory,
		// plugins of other protocol versions.
		{"BodyLimits", testBodyLimits},
		{"HalfClose", testHalfClose},
		{"StoreUnreachableAtStart", testStoreUnreachableAtStart},
		{"SquattedSocketDir", testSquattedSocketDir},
		{"OtherVersions", testOtherVersions},
		// events_test.go: protocol 3's host features, events and password check.
		{"Features", testFeatures},
		{"Events", testEvents},
		{"CheckPassword", testCheckPassword},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, bin) })
	}
}

// load starts the real plugin on dataDir, logging into the returned buffer, which is
// printed if the test fails.
func load(t *testing.T, bin, dataDir string, tune func(*host.Config)) (*host.Plugin, *testlog.Buffer) {
	t.Helper()
	logs := &testlog.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	cfg := host.Config{
		PluginPath:     bin,
		Plugin:         plugin.Config{Domains: []string{"localhost"}, DataDir: dataDir},
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SocketDir:      t.TempDir(),
		HealthInterval: 200 * time.Millisecond,
		StartTimeout:   20 * time.Second,
	}
	if tune != nil {
		tune(&cfg)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	p, err := host.Load(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p, logs
}

// createInvite asks for one invite; it returns the status and, on 201, the token.
func createInvite(ctx context.Context, c *http.Client, url, cred string) (int, string, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/invites_api", nil)
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Authorization", "Bearer "+cred)
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", resp.Header, err
	}
	if resp.StatusCode != http.StatusCreated {
		return resp.StatusCode, "", resp.Header, nil
	}
	var created struct{ Token string }
	if err := json.Unmarshal(body, &created); err != nil || created.Token == "" {
		return resp.StatusCode, "", resp.Header, errors.New("201 without a token: " + string(body))
	}
	return resp.StatusCode, created.Token, resp.Header, nil
}

// testKillAndRestart runs the real plugin binary behind the host, SIGKILLs it while
// invites are being created, and checks that it is back within 2 s by itself, that
// requests meanwhile got 503 with Retry-After, and that every invite answered 201 is in
// the store.
func testKillAndRestart(t *testing.T, bin string) {
	dataDir := t.TempDir()
	cred := newKey(t, dataDir)
	p, logs := load(t, bin, dataDir, nil)
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var (
		mu        sync.Mutex
		tokens    []string
		codes     = map[int]int{}
		noRetry   int
		createdAt []time.Time
		failures  []error
	)
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(tokens)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	const workers = 8
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, token, h, err := createInvite(ctx, srv.Client(), srv.URL, cred)
				mu.Lock()
				switch {
				case err != nil:
					failures = append(failures, err)
				case code == http.StatusCreated:
					tokens = append(tokens, token)
					createdAt = append(createdAt, time.Now())
				case code == http.StatusServiceUnavailable && h.Get("Retry-After") == "":
					noRetry++
				}
				codes[code]++
				mu.Unlock()
				if code == http.StatusServiceUnavailable {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	if !waitFor(20*time.Second, func() bool { return count() >= 100 }) {
		t.Fatalf("only %d invites created before the kill", count())
	}
	pid := p.PID()
	if pid == 0 {
		t.Fatal("no plugin process")
	}
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { n := p.PID(); return n != 0 && n != pid }) {
		t.Fatal("plugin not restarted within 10 s")
	}
	restarted := time.Since(killed)
	// The first invite created by the new process.
	var served time.Duration
	if waitFor(10*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, at := range createdAt {
			if at.After(killed.Add(restarted)) {
				served = at.Sub(killed)
				return true
			}
		}
		return false
	}) {
		t.Logf("plugin back %v after SIGKILL (first invite through it after %v)", restarted.Round(time.Millisecond), served.Round(time.Millisecond))
	} else {
		t.Error("no invite created after the restart")
	}
	if restarted > 2*time.Second {
		t.Errorf("restart took %v, want at most 2 s", restarted)
	}
	before := count()
	if !waitFor(10*time.Second, func() bool { return count() >= before+100 }) {
		t.Errorf("only %d invites created after the restart", count()-before)
	}
	close(stop)
	wg.Wait()
	stop = make(chan struct{})

	mu.Lock()
	t.Logf("responses: %v", codes)
	if codes[http.StatusServiceUnavailable] == 0 {
		t.Error("no 503 while the plugin was down")
	}
	if noRetry > 0 {
		t.Errorf("%d 503s without Retry-After", noRetry)
	}
	for code, n := range codes {
		if code != http.StatusCreated && code != http.StatusServiceUnavailable {
			t.Errorf("%d responses with status %d", n, code)
		}
	}
	// A response cut when the process died after sending its last message but before
	// the end of the stream is aborted, not passed off as whole: at most one per worker.
	if len(failures) > workers {
		t.Errorf("%d requests failed, first: %v", len(failures), failures[0])
	} else if len(failures) > 0 {
		t.Logf("%d responses aborted by the kill: %v", len(failures), failures[0])
	}
	all := tokens
	mu.Unlock()

	// The plugin's own log reached the host's logger, at its level.
	var configured, restartedLog bool
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, `msg="invites plugin configured"`) {
			configured = strings.Contains(line, "level=INFO") && strings.Contains(line, "logger=invites-plugin") &&
				strings.Contains(line, "hosts=[localhost]")
		}
		restartedLog = restartedLog || strings.Contains(line, `msg="invites plugin restarted"`)
	}
	if !configured || !restartedLog {
		t.Errorf("plugin log line (%v) or supervision log line (%v) missing", configured, restartedLog)
	}
	// The other calls work on the new process.
	if err := p.Health(ctx); err != nil {
		t.Errorf("Health = %v", err)
	}
	if cmds, err := p.Commands(ctx, "localhost", "alice@localhost/phone", adhoc.RoleUser); err != nil || len(cmds) == 0 {
		t.Errorf("Commands = %v, %v", cmds, err)
	}
	if inv, err := p.CheckInvite(ctx, "localhost", all[len(all)-1]); err != nil || inv.Host != "localhost" {
		t.Errorf("CheckInvite = %+v, %v", inv, err)
	}
	if _, err := p.RedeemInvite(ctx, plugin.Redemption{Host: "localhost", Token: "AAAAAAAAAAAAAAAAAAAAAAAA", Username: "alice"}); !errors.Is(err, plugin.ErrInviteNotFound) || strings.Contains(err.Error(), "rpc error") {
		t.Errorf("RedeemInvite unknown = %v", err)
	}

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	checkDown(t, p, srv.URL, cred)

	st, err := store.Open(ctx, filepath.Join(dataDir, config.StoreFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "localhost"}}})
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, tok := range all {
		if _, err := svc.CheckInvite(ctx, "localhost", tok); err != nil {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d invites answered 201 are not in the store", missing, len(all))
	}
	t.Logf("%d invites answered 201, all in the store", len(all))
}

// checkDown checks every operation of a plugin that is down.
func checkDown(t *testing.T, p *host.Plugin, url, cred string) {
	t.Helper()
	ctx := t.Context()
	code, _, h, err := createInvite(ctx, http.DefaultClient, url, cred)
	if err != nil || code != http.StatusServiceUnavailable {
		t.Errorf("HTTP while down = %d, %v", code, err)
	}
	if n, err := strconv.Atoi(h.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After = %q", h.Get("Retry-After"))
	}
	if h.Get("Content-Type") != "application/problem+json" {
		t.Errorf("Content-Type = %q", h.Get("Content-Type"))
	}
	if _, err := p.Commands(ctx, "localhost", "a@localhost/r", adhoc.RoleUser); !isUnavailable(err) {
		t.Errorf("Commands while down = %v", err)
	}
	if _, err := p.Execute(ctx, "localhost", adhoc.Request{Node: "urn:xmpp:invite#invite"}); !isUnavailable(err) {
		t.Errorf("Execute while down = %v", err)
	}
	if _, err := p.CheckInvite(ctx, "localhost", "x"); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("CheckInvite while down = %v", err)
	}
	if _, err := p.RedeemInvite(ctx, plugin.Redemption{Host: "localhost", Token: "x", Username: "y"}); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("RedeemInvite while down = %v", err)
	}
	if err := p.Health(ctx); !errors.Is(err, plugin.ErrUnavailable) {
		t.Errorf("Health while down = %v", err)
	}
	if p.PID() != 0 {
		t.Errorf("PID while down = %d", p.PID())
	}
}

func isUnavailable(err error) bool {
	ae, ok := errors.AsType[*adhoc.Error](err)
	return ok && ae.Condition == adhoc.CondServiceUnavailable
}

// testCleanClose checks that Close lets the plugin write what it holds: the key's
// use count, kept in memory between flushes, is in the store afterwards.
func testCleanClose(t *testing.T, bin string) {
	dataDir := t.TempDir()
	cred := newKey(t, dataDir)
	p, _ := load(t, bin, dataDir, func(c *host.Config) { c.Plugin.ConfigTOML = "[http]\nmax_body_bytes = 1024\n" })
	srv := httptest.NewServer(p.Handler())
	defer srv.Close()

	// A body over the route's bound, which the plugin declares, never reaches it.
	resp, err := srv.Client().Post(srv.URL+"/invites_api", "application/x-www-form-urlencoded", strings.NewReader(strings.Repeat("a", 2<<10)))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("large body: %d, want 413", resp.StatusCode)
	}

	const n = 5
	for i := range n {
		code, _, _, err := createInvite(t.Context(), srv.Client(), srv.URL, cred)
		if err != nil || code != http.StatusCreated {
			t.Fatalf("%d: %d, %v", i, code, err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	st, err := store.Open(t.Context(), filepath.Join(dataDir, config.StoreFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	id, _, _ := strings.Cut(cred, "/")
	k, err := st.Key(t.Context(), id)
	if err != nil || k.Uses != n {
		t.Errorf("key uses after Close = %d, %v; want %d", k.Uses, err, n)
	}
}

func testLoadFails(t *testing.T, bin string) {
	ctx := t.Context()
	if _, err := host.Load(ctx, host.Config{}); err == nil {
		t.Error("Load without a path succeeded")
	}
	if _, err := host.Load(ctx, host.Config{PluginPath: filepath.Join(t.TempDir(), "nothing")}); err == nil {
		t.Error("Load of a missing binary succeeded")
	}
	_, err := host.Load(ctx, host.Config{
		PluginPath: bin,
		Plugin:     plugin.Config{DataDir: t.TempDir(), ConfigTOML: "no_such_key = 1"},
		SocketDir:  t.TempDir(),
	})
	if err == nil || !strings.Contains(err.Error(), "no_such_key") || strings.Contains(err.Error(), "rpc error") {
		t.Errorf("Load with a bad config = %v", err)
	}
}
