package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"github.com/ncruces/go-sqlite3/driver"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunInProcess runs the harness's in-process groups at tiny sizes and checks the
// report has their rows; no speed is asserted.
func TestRunInProcess(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-runs", "ceiling,inprocess", "-faults=false",
		"-duration", "300ms", "-requests", "50", "-concurrency", "1,4", "-tmp", t.TempDir()}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"| ceiling: bare net/http 201 | 1 |", "| " + nameInProcess + " | 4 |", "Machine:", "Reproduce:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// TestUsage checks that bad flags are usage errors.
func TestUsage(t *testing.T) {
	for i, args := range [][]string{
		{"-runs", "nope"},
		{"-concurrency", "0"},
		{"-duration", "0s"},
		{"extra"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%d: %q: exit %d, want 2", i, args, code)
		}
	}
}

// TestTokensRedeemable creates invites through the in-process API, collecting their
// tokens, and checks them in the store as the fault runs do; then it seeds a few rows.
func TestTokensRedeemable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ip, err := startInProcess(ctx, dir, slog.LevelInfo)
	if err != nil {
		t.Fatal(err)
	}
	res, err := runLoad(ctx, loadSpec{URL: ip.URL, Credential: ip.Credential, Concurrency: 4,
		MaxRequests: 40, MaxDuration: 10 * time.Second, Tokens: true, Events: true})
	if err != nil {
		t.Fatal(err)
	}
	bad, err := runLoad(ctx, loadSpec{URL: ip.URL, Credential: wrongSecret(ip.Credential), Concurrency: 2,
		MaxRequests: 10, MaxDuration: 10 * time.Second, Expect: http.StatusForbidden})
	if err != nil {
		t.Fatal(err)
	}
	if err := ip.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if res.OK != 40 || len(res.Tokens) != 40 || len(res.Events) != 40 || len(res.Latencies) != 40 {
		t.Fatalf("ok %d, tokens %d, events %d, latencies %d; want 40 each (%s)",
			res.OK, len(res.Tokens), len(res.Events), len(res.Latencies), res.statusSummary(201))
	}
	if bad.OK != 10 {
		t.Errorf("bad key: %d of 10 got 403 (%s)", bad.OK, bad.statusSummary(http.StatusForbidden))
	}
	db := filepath.Join(dir, "invites.db")
	missing, detail, err := checkTokens(ctx, db, res.Tokens)
	if err != nil || missing != 0 {
		t.Fatalf("checkTokens: %d missing, %v: %s", missing, err, detail)
	}
	missing, _, err = checkTokens(ctx, db, []string{"AAAAAAAAAAAAAAAAAAAAAAAA"})
	if err != nil || missing != 1 {
		t.Fatalf("checkTokens of an unknown token: %d missing, %v", missing, err)
	}
	if err := seedInvites(ctx, db, 1500); err != nil {
		t.Fatal(err)
	}
	if n, err := countInvites(ctx, db); err != nil || n != 1540 {
		t.Fatalf("after seeding: %d invites, %v; want 1540", n, err)
	}
	checkSeededKeys(t, db)
}

// checkSeededKeys checks, when the table has a token_key column, that each seeded row's
// key is the first 8 bytes of its hash, big-endian, as the store derives it.
func checkSeededKeys(t *testing.T, path string) {
	t.Helper()
	db, err := driver.Open("file:" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT token_key, token_hash FROM invites WHERE source = 'bench/seed' LIMIT 200`)
	if err != nil {
		if strings.Contains(err.Error(), "no such column") {
			return
		}
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var k int64
		var h []byte
		if err := rows.Scan(&k, &h); err != nil {
			t.Fatal(err)
		}
		if len(h) != 32 || int64(binary.BigEndian.Uint64(h[:8])) != k {
			t.Fatalf("seeded row: key %d, hash %x", k, h)
		}
		n++
	}
	if err := rows.Err(); err != nil || n == 0 {
		t.Fatalf("%d seeded rows read, %v", n, err)
	}
}

func TestPercentile(t *testing.T) {
	s := make([]time.Duration, 100)
	for i := range s {
		s[i] = time.Duration(i+1) * time.Millisecond
	}
	for i, tc := range []struct {
		q    float64
		want time.Duration
	}{
		{0.50, 50 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{1, 100 * time.Millisecond},
		{0, time.Millisecond},
	} {
		if got := percentile(s, tc.q); got != tc.want {
			t.Errorf("%d: p%v = %s, want %s", i, tc.q, got, tc.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("empty: %s", got)
	}
}

func TestTokenFromLocation(t *testing.T) {
	for i, tc := range []struct{ in, want string }{
		{"xmpp:example.com?register;preauth=abc", "abc"},
		{"xmpp:u@example.com?register;preauth=abc;ibr=y", "abc"},
		{"https://example.com/invite?x", ""},
	} {
		if got := tokenFromLocation(tc.in); got != tc.want {
			t.Errorf("%d: %q → %q, want %q", i, tc.in, got, tc.want)
		}
	}
}

func TestChildren(t *testing.T) {
	kids, err := children(1)
	if err != nil {
		t.Fatal(err)
	}
	_ = kids // any number; the parse must not fail
	if rss, err := peakRSS(os.Getpid()); err != nil || rss <= 0 {
		t.Fatalf("peakRSS(self) = %d, %v", rss, err)
	}
}

// TestMain serves instead of testing when the harness starts this test binary as one of
// its server children.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		if err := serveChild(context.Background(), mode, os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString("bench child: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestStoreCreate runs one store-level measurement in a child process on a copy of an
// empty store, as the growth group does; no speed is asserted.
func TestStoreCreate(t *testing.T) {
	dir := t.TempDir()
	template := filepath.Join(dir, "empty.db")
	if err := seedInvites(t.Context(), template, 0); err != nil {
		t.Fatal(err)
	}
	h := &harness{}
	r, err := h.storeCreate(t.Context(), template, filepath.Join(dir, "run.db"), 500, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.Invites != 500 || r.Elapsed <= 0 || r.PeakRSS <= 0 {
		t.Fatalf("store-level run: %+v; want 500 invites, a time and a peak RSS", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "run.db")); err == nil {
		t.Error("the run's copy of the store was left behind")
	}
	rw := storeRow(nameStore, "", []storeResult{r, r})
	if rw.Result.OK != 1000 || rw.Concurrency != storeWorkers {
		t.Errorf("row of two runs: %+v", rw)
	}
}

// TestProsodyConfig checks the Prosody config names the ports, the host and SQLite.
func TestProsodyConfig(t *testing.T) {
	c := prosodyConfig("/d", 1111, 2222, prosodyAPI)
	for _, want := range []string{"c2s_ports = { 1111 }", "http_ports = { 2222 }", `VirtualHost "localhost"`,
		`driver = "SQLite3"`, `"invites_api"`, `data_path = "/d/data"`, "daemonize = false"} {
		if !strings.Contains(c, want) {
			t.Errorf("config lacks %q:\n%s", want, c)
		}
	}
	if c := prosodyConfig("/d", 1111, 2222, prosodyRegisterWeb); !strings.Contains(c, `"invites_register_web"`) ||
		!strings.Contains(c, `plugin_paths = { "/d/modules" }`) {
		t.Errorf("web registration config:\n%s", c)
	}
}

// TestBodyFlood is issue 21's test of memory bounded by configuration: 64 concurrent
// POSTs of 15 MB to the real xmppd and plugin (built by the harness), with a
// Content-Length, chunked, and trickled. Every answer must be 413, both processes must
// stay within 64 MiB of their resident set before, and the plugin must be back within
// 4 MiB of it within a minute (faultBodies).
func TestBodyFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs xmppd and the plugin")
	}
	var out, errOut bytes.Buffer
	code := run(t.Context(), []string{"-runs", runBodies, "-tmp", t.TempDir()}, &out, &errOut)
	t.Logf("report:\n%s", out.String())
	if code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", code, errOut.String())
	}
	if n := strings.Count(out.String(), "**PASS** fault: 64 × 15 MB bodies"); n != 3 {
		t.Errorf("%d of 3 flood checks passed", n)
	}
}
