package deploy_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/doctest"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// TestPromtool checks the shipped rules with Debian's promtool: their syntax (check
// rules) and their behaviour on series (test rules, the unit tests in
// invites-rules.test.yml).
func TestPromtool(t *testing.T) {
	promtool := tool(t, "promtool")
	dir := filepath.Join(repoRoot(t), "deploy", "prometheus")
	for _, args := range [][]string{{"check", "rules", "invites-rules.yml"}, {"test", "rules", "invites-rules.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestMetricNames scrapes a running xmppd with its plugin, after making it export every
// family (invites created, changed, revoked, expired, redeemed, refused; a failed
// authentication, a 429; a webhook delivered), and fails if a rule, a series of the
// rules' unit tests, or an expression of the Grafana dashboard names a metric it does
// not export (recording rules aside, and "up", which Prometheus makes).
func TestMetricNames(t *testing.T) {
	exported := scrapeAll(t)

	rules := readFile(t, "deploy/prometheus/invites-rules.yml")
	if regexp.MustCompile(`(?m)^\s*expr:\s*[|>]`).MatchString(rules) {
		t.Fatal("invites-rules.yml: keep each expr on one line")
	}
	recorded := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s*- record:\s*(\S+)`).FindAllStringSubmatch(rules, -1) {
		recorded[m[1]] = true
	}
	var exprs []string
	for _, m := range regexp.MustCompile(`(?m)^\s*(?:- )?expr:\s*(.+)$`).FindAllStringSubmatch(rules, -1) {
		exprs = append(exprs, strings.Trim(m[1], `'"`))
	}
	tests := readFile(t, "deploy/prometheus/invites-rules.test.yml")
	for _, m := range regexp.MustCompile(`(?m)^\s*- series:\s*'([^']+)'`).FindAllStringSubmatch(tests, -1) {
		exprs = append(exprs, m[1])
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal([]byte(readFile(t, "deploy/grafana/invites-dashboard.json")), &dash); err != nil {
		t.Fatalf("the Grafana dashboard: %v", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	if len(exprs) < 30 {
		t.Fatalf("only %d expressions found", len(exprs))
	}
	checked := 0
	for _, e := range exprs {
		for _, name := range promqlMetrics(e) {
			checked++
			if !exported[name] && !recorded[name] && name != "up" {
				t.Errorf("%q names %s, which the server does not export", e, name)
			}
		}
	}
	t.Logf("%d expressions, %d metric references, %d series names exported", len(exprs), checked, len(exported))
	metricsTable(t, exported)
}

// metricsTable checks the metrics table of docs/operator.md against the server: every
// invites_ family it exports is in the table (a histogram by its name, without the
// _bucket, _sum and _count of its series), and every name the table gives is one the
// code defines (some families have no series until their event happens).
func metricsTable(t *testing.T, exported map[string]bool) {
	t.Helper()
	_, text, ok := strings.Cut(doctest.PageAt(t, "docs/operator.md").Text, "\n### Metrics\n")
	if !ok {
		t.Fatal("docs/operator.md has no section Metrics")
	}
	text, _, _ = strings.Cut(text, "\n#")
	documented := map[string]bool{}
	for line := range strings.Lines(text) {
		if first, ok := strings.CutPrefix(line, "| `invites_"); ok {
			first, _, _ = strings.Cut("`invites_"+first, " |")
			for _, m := range regexp.MustCompile("`(invites_[a-z_]+)`").FindAllStringSubmatch(first, -1) {
				documented[m[1]] = true
			}
		}
	}
	if len(documented) < 20 {
		t.Fatalf("docs/operator.md's metrics table names %d metrics", len(documented))
	}
	for name := range exported {
		base := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && documented[b] {
				base = b
			}
		}
		if strings.HasPrefix(name, "invites_") && !documented[base] {
			t.Errorf("the server exports %s, which docs/operator.md's metrics table does not name", name)
		}
	}
	defined := map[string]bool{}
	literal := regexp.MustCompile(`"(invites_[a-z_]+)"`)
	for _, dir := range []string{"host", "internal/metrics"} {
		files, err := filepath.Glob(filepath.Join(repoRoot(t), dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			for _, m := range literal.FindAllStringSubmatch(readFile(t, filepath.Join(dir, filepath.Base(f))), -1) {
				defined[m[1]] = true
			}
		}
	}
	for name := range documented {
		if !defined[name] {
			t.Errorf("docs/operator.md's metrics table names %s, which neither host nor internal/metrics defines", name)
		}
	}
}

// scrapeAll starts xmppd on a data directory holding an invite that expired
// yesterday, drives it until every family of its metrics has a series, and returns the
// names of the series its /metrics serves.
func scrapeAll(t *testing.T) map[string]bool {
	t.Helper()
	bin := binaries(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	st, err := sqlite.Open(t.Context(), filepath.Join(data, config.StoreFile), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	past, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "localhost"}},
		Now: func() time.Time { return time.Now().Add(-48 * time.Hour) }})
	if err == nil {
		_, err = past.CreateInvite(t.Context(), core.InviteSpec{Host: "localhost", TTL: 24 * time.Hour, Actor: core.Actor{Kind: core.ActorCLI}})
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	var delivered atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		delivered.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()
	cfg := writeFile(t, dir, "invites.toml", fmt.Sprintf(`landing_page = "builtin"
[[webhook]]
name = "test"
url = %q
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
`, hook.URL))
	srv := startServer(t, serverOptions{data: data, args: []string{"-http-url", "http://127.0.0.1", "-plugin-config", cfg}})
	base := "http://" + srv.http
	c := client(nil, "127.0.0.1")
	key := cli(t, bin, data, "keys", "create", "localhost", "metrics")
	limited := cli(t, bin, data, "keys", "create", "localhost", "limited", "--rate", "1/h")
	json := http.Header{"Accept": {"application/json"}}
	auth := func(k string) http.Header {
		return http.Header{"Authorization": {"Bearer " + k}, "Accept": {"application/json"}, "Content-Type": {"application/merge-patch+json"}}
	}
	var invs []created
	for range 3 {
		r := do(t, c, "POST", base+"/invites_api", auth(key), "")
		var inv created
		if r.status != http.StatusCreated || jsonDecode(r.body, &inv) != nil {
			t.Fatalf("create: %d %s", r.status, r.body)
		}
		invs = append(invs, inv)
	}
	steps := []struct {
		method, path string
		header       http.Header
		body         string
		want         int
	}{
		{"PATCH", "/invites_api/invites/" + invs[0].ID, auth(key), `{"note":"changed"}`, http.StatusOK},
		{"DELETE", "/invites_api/invites/" + invs[0].ID, auth(key), "", http.StatusNoContent},
		{"POST", "/invites_api", auth("AAAAAAAAAAAA/" + strings.Repeat("A", 36)), "", http.StatusForbidden},
		{"POST", "/invites_api", auth(limited), "", http.StatusCreated},
		{"POST", "/invites_api", auth(limited), "", http.StatusTooManyRequests},
		{"GET", "/invite?" + invs[0].Token, json, "", http.StatusNotFound},
	}
	for _, s := range steps {
		if r := do(t, c, s.method, base+s.path, s.header, s.body); r.status != s.want {
			t.Fatalf("%s %s: %d, want %d: %s", s.method, s.path, r.status, s.want, r.body)
		}
	}
	// In-band registration (XEP-0445) begins with the invite's token; the invite is
	// used on the web meanwhile, then the in-band registration is refused (used-up).
	x := dialXMPP(t, srv.c2s, "localhost")
	if a := x.iq(t, `<iq type='set' id='pa'><preauth xmlns='urn:xmpp:pars:0' token='`+invs[1].Token+`'/></iq>`); !strings.Contains(a, "type='result'") && !strings.Contains(a, `type="result"`) {
		t.Fatalf("pre-auth: %s", a)
	}
	// Web registration: one account made, then the same name refused with another
	// invite (a registration the host refuses).
	register(t, c, base, invs[1].Token, "alice", http.StatusOK)
	register(t, c, base, invs[2].Token, "alice", http.StatusConflict)
	if a := x.iq(t, `<iq type='set' id='reg'><query xmlns='jabber:iq:register'><username>bob</username><password>correct horse battery</password></query></iq>`); !strings.Contains(a, "error") {
		t.Fatalf("in-band registration with a used invite: %s", a)
	}
	for deadline := time.Now().Add(30 * time.Second); delivered.Load() == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no webhook delivered after 30 s")
		}
	}
	names := map[string]bool{}
	var missing []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := do(t, c, "GET", base+"/metrics", nil, "")
		if r.status != http.StatusOK {
			t.Fatalf("/metrics: %d", r.status)
		}
		for line := range strings.Lines(r.body) {
			if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			names[line[:strings.IndexAny(line, "{ ")]] = true
		}
		missing = missing[:0]
		for _, family := range []string{"invites_expired_total", "invites_webhook_deliveries_total", "invites_redemptions_refused_total",
			"invites_registrations_refused_total", "invites_updated_total", "invites_revoked_total", "invites_http_rate_limited_total",
			"invites_auth_failures_total", "invites_redeemed_total", "invites_webhook_outbox_given_up"} {
			if !names[family] {
				missing = append(missing, family)
			}
		}
		if len(missing) == 0 {
			return names
		}
		if time.Now().After(deadline) {
			t.Fatalf("families without a series after driving the server: %v\n%s", missing, r.body)
		}
	}
}

// register posts the web registration form of the invite token as user and checks
// the status.
func register(t *testing.T, c *http.Client, base, token, user string, want int) {
	t.Helper()
	r := do(t, c, "GET", base+"/register?t="+url.QueryEscape(token), nil, "")
	form := url.Values{"username": {user}, "password": {"correct horse battery"}, "password_confirm": {"correct horse battery"}}
	for _, h := range hiddenIn.FindAllStringSubmatch(r.body, -1) {
		form.Set(h[1], h[2])
	}
	form.Set("t", token)
	r = do(t, c, "POST", base+"/register", http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, form.Encode())
	if r.status != want {
		t.Fatalf("registering %s: %d, want %d", user, r.status, want)
	}
}

func jsonDecode(s string, v any) error { return json.Unmarshal([]byte(s), v) }

var (
	promStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promVariables = regexp.MustCompile(`\$(?:\{[^}]*\}|\w+)`)
	promIdent     = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
	promKeywords  = []string{"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan", "Inf", "NaN"}
)

// promqlMetrics returns the metric names a PromQL expression selects: its
// identifiers, less label matchers, ranges, grouping labels, functions, aggregations,
// keywords, numbers and Grafana's variables.
func promqlMetrics(expr string) []string {
	s := promVariables.ReplaceAllString(expr, " ")
	s = promStrings.ReplaceAllString(s, " ")
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRanges.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promIdent.FindAllStringSubmatchIndex(s, -1) {
		if loc[2] >= 0 { // followed by "(": a function or an aggregation
			continue
		}
		if loc[0] > 0 && (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.') {
			continue // the exponent or unit of a number, such as 1e3
		}
		name := s[loc[0]:loc[1]]
		if !slices.Contains(promKeywords, name) && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// TestPromqlMetrics checks the reader of metric names that TestMetricNames relies on.
func TestPromqlMetrics(t *testing.T) {
	for i, tc := range []struct {
		expr string
		want []string
	}{
		0: {`invites_plugin_up == 0`, []string{"invites_plugin_up"}},
		1: {`up{job="invites"} == 0`, []string{"up"}},
		2: {`histogram_quantile(0.99, sum by (job, op, le) (rate(invites_store_duration_seconds_bucket[5m]))) > 1`, []string{"invites_store_duration_seconds_bucket"}},
		3: {`sum by (job, route) (rate(invites_http_requests_total{code=~"5..", route="/invite"}[5m])) / sum by (job, route) (rate(invites_http_requests_total[5m]))`, []string{"invites_http_requests_total"}},
		4: {`increase(invites_plugin_restarts_total[15m]) > 3 and on (instance) invites_plugin_up`, []string{"invites_plugin_restarts_total", "invites_plugin_up"}},
		5: {`sum(rate(invites_created_total{host="$host"}[$__rate_interval])) * 1e3`, []string{"invites_created_total"}},
		6: {`invites:http_5xx:ratio_rate5m{route="/invites_api"} > bool 0.1 offset 5m`, []string{"invites:http_5xx:ratio_rate5m"}},
		7: {`sum without (instance) (invites_pending) or vector(0)`, []string{"invites_pending"}},
	} {
		if got := promqlMetrics(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("%d: %q, want %q", i, got, tc.want)
		}
	}
}
