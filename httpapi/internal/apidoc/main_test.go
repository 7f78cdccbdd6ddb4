package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDocIsCurrent fails when docs/http-api.md is not what openapi.yaml makes.
func TestDocIsCurrent(t *testing.T) {
	spec, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../../docs/http-api.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		i := 0
		for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
			i++
		}
		line := func(l []string) string {
			if i < len(l) {
				return l[i]
			}
			return "(the end)"
		}
		t.Fatalf("docs/http-api.md is stale: run go generate ./httpapi\nline %d is\n\t%s\nopenapi.yaml makes\n\t%s", i+1, line(gl), line(wl))
	}
}

// TestRender: every link of the page leads to one of its headings, every operation
// served has its section, each x-codeSamples source is shown whole, and the answers'
// headers are listed once with their values.
func TestRender(t *testing.T) {
	spec, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := Render(spec)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(out)
	anchors := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^#+ (.+)$`).FindAllStringSubmatch(doc, -1) {
		anchors[anchor(m[1])] = true
	}
	links := regexp.MustCompile(`\]\(#([^)]+)\)`).FindAllStringSubmatch(doc, -1)
	if len(links) < 10 {
		t.Fatalf("only %d links", len(links))
	}
	for _, l := range links {
		if !anchors[l[1]] {
			t.Errorf("link to #%s, which no heading has", l[1])
		}
	}
	for _, want := range []string{
		"## POST /invites_api\n", "## GET /invites_api/invites\n", "## PATCH /invites_api/invites/{id}\n",
		"## DELETE /invites_api/invites/{id}\n", "### Invite\n", "### Problem\n",
		"`PUT /invites_api`", // refused methods, summed up
		"-d \"{\\\"expires_at\\\":\\\"$(date -u -d '+30 days' +%FT%TZ)\\\",\\\"max_uses\\\":5}\" http://127.0.0.1:5280/invites_api/invites/$ID\n```",
		"| `429 Too Many Requests` |", "`Retry-After`: Seconds to wait",
		"## Headers\n", "| `Access-Control-Max-Age` | `7200` |", "| `Cache-Control` | `no-store` |", // once, with their values
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(doc, "## PUT /invites_api") {
		t.Error("a refused method has a section")
	}
	if _, err := Render([]byte("swagger: '2.0'\ninfo: {title: x, version: '1'}\npaths: {}\n")); err == nil {
		t.Error("a Swagger 2 document was rendered")
	}
}
