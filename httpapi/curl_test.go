package httpapi_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/doctest"
)

// TestCurlExamples runs every curl command of the documentation (README.md and
// docs/*.md: the five-minute path, the operator's guide, docs/http-api.md), as a
// reader would paste it, with real curl against the handler over HTTP (each exchange
// checked against openapi.yaml): each must get the success its operation answers in
// openapi.yaml. $KEY (or the demo's KEY) is an API key of the host, $ID an invite it
// made; http://127.0.0.1:5280 is the test's server.
func TestCurlExamples(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed: bash scripts/install-test-deps.sh installs it")
	}
	success := successes(t)
	var commands []string
	for _, p := range doctest.Pages(t) {
		found := curlCommands(p.Text)
		if p.Path == "docs/http-api.md" && len(found) < 5 {
			t.Fatalf("%s: %d curl commands, want the five of the lifecycle at least", p.Path, len(found))
		}
		commands = append(commands, found...)
	}
	// What curl says of each exchange, in place of the body.
	const wrapper = `curl() { command curl -sS -o /dev/null -w '%{method} %{url_effective} %{http_code}\n' "$@"; }` + "\n"
	for i, cmd := range commands {
		// A fresh store each time: the commands may make the same fixed username.
		f := newFixture(t)
		srv := specServer(t, httpapi.New(f.svc, httpapi.Options{FailedAuthCount: -1, Now: f.clock.Now}))
		k, err := f.svc.Authenticate(context.Background(), f.creds["good"])
		if err != nil {
			t.Fatal(err)
		}
		inv, err := f.svc.CreateKeyInvite(context.Background(), k, core.InviteSpec{})
		if err != nil {
			t.Fatal(err)
		}
		script := strings.ReplaceAll(cmd, "http://127.0.0.1:5280", srv.URL)
		script = strings.ReplaceAll(script, "Bearer KEY'", "Bearer "+f.creds["good"]+"'")
		c := exec.CommandContext(t.Context(), "bash", "-euo", "pipefail", "-c", wrapper+script)
		c.Env = append(os.Environ(), "KEY="+f.creds["good"], "ID="+inv.ID)
		out, err := c.CombinedOutput()
		fields := strings.Fields(string(out))
		if err != nil || len(fields) != 3 {
			t.Errorf("%d: %s\n%s %v", i, cmd, out, err)
			continue
		}
		method, target, status := fields[0], strings.TrimPrefix(fields[1], srv.URL), fields[2]
		path, _, _ := strings.Cut(target, "?")
		want, ok := success[method+" "+templateOf(path)]
		if !ok {
			t.Errorf("%d: %s: %s %s is no operation of openapi.yaml", i, cmd, method, path)
			continue
		}
		if status != want {
			t.Errorf("%d: %s\nanswered %s, want %s", i, cmd, status, want)
		}
	}
}

// curlCommands returns the curl commands of a Markdown text's code blocks, each with
// its continuation lines.
func curlCommands(text string) []string {
	var out []string
	for _, b := range doctest.Blocks(text) {
		cont := false
		for line := range strings.Lines(b.Text) {
			trimmed := strings.TrimSpace(line)
			switch {
			case cont:
				out[len(out)-1] += line
			case strings.HasPrefix(trimmed, "curl "):
				out = append(out, line)
			default:
				continue
			}
			cont = strings.HasSuffix(trimmed, `\`)
		}
	}
	return out
}

// successes maps "METHOD /path/{template}" to the success status openapi.yaml gives
// the operation (its lowest 2xx).
func successes(t *testing.T) map[string]string {
	spec, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for path, item := range m.Model.Paths.PathItems.FromOldest() {
		for method, op := range item.GetOperations().FromOldest() {
			best := 0
			for code := range op.Responses.Codes.KeysFromOldest() {
				if n, _ := strconv.Atoi(code); n >= 200 && n < 300 && (best == 0 || n < best) {
					best = n
				}
			}
			if best != 0 {
				out[strings.ToUpper(method)+" "+path] = strconv.Itoa(best)
			}
		}
	}
	return out
}

// templateOf turns a concrete path of the API into its template in openapi.yaml.
func templateOf(path string) string {
	return regexp.MustCompile(`^/invites_api/invites/[^/]+$`).ReplaceAllString(path, "/invites_api/invites/{id}")
}
