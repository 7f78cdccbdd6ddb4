package doctest_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/doctest"
)

func TestBlocks(t *testing.T) {
	for i, tc := range []struct {
		text string
		want []doctest.Block
	}{
		0: {"text\n```sh\ncurl x\n```\n", []doctest.Block{{Lang: "sh", Text: "curl x\n", Line: 2}}},
		1: {"```toml title\na = 1\n\nb = 2\n```", []doctest.Block{{Lang: "toml", Text: "a = 1\n\nb = 2\n", Line: 1}}},
		// A shorter fence or one with an info string does not close the block.
		2: {"````\n```go\n```\n````\n", []doctest.Block{{Text: "```go\n```\n", Line: 1}}},
		3: {"~~~\n```\n~~~\nafter\n", []doctest.Block{{Text: "```\n", Line: 1}}},
		// Indented four spaces is no fence; an unclosed block runs to the end.
		4: {"    ```\nx\n  ```json\n{}", []doctest.Block{{Lang: "json", Text: "{}\n", Line: 3}}},
		5: {"no code", nil},
	} {
		if got := doctest.Blocks(tc.text); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%d: %+v, want %+v", i, got, tc.want)
		}
	}
}

func TestAnchors(t *testing.T) {
	text := "# invites\n## 1. Install\n### `[user_quota]`\n## GET /invites_api/invites/{id}\n" +
		"## The example server, `xmppd`\n## Who invited whom?\n## Who invited whom?\n" +
		"```\n## not a heading\n```\n## [Linked](other.md) heading ##\n#no-space\n"
	want := map[string]bool{"invites": true, "1-install": true, "user_quota": true, "get-invites_apiinvitesid": true,
		"the-example-server-xmppd": true, "who-invited-whom": true, "who-invited-whom-1": true, "linked-heading": true}
	if got := doctest.Anchors(text); !reflect.DeepEqual(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
}

func TestLinksOf(t *testing.T) {
	text := "See [the guide](docs/operator.md#2-configure) and ![a shot](docs/s.png \"title\").\n" +
		"`[not](a-link.md)` and [site](https://example.com), [mail](mailto:a@b)\n" +
		"```\n[code](x.md)\n```\n[here](#five-minutes)\n"
	got := doctest.Links(text)
	want := []doctest.Link{{"docs/operator.md#2-configure", 1}, {"docs/s.png", 1}, {"https://example.com", 2}, {"mailto:a@b", 2}, {"#five-minutes", 6}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for i, tc := range []struct {
		link           doctest.Link
		page           string
		relative       bool
		file, fragment string
	}{
		0: {got[0], "README.md", true, "docs/operator.md", "2-configure"},
		1: {doctest.Link{Target: "../deploy"}, "docs/operator.md", true, "deploy", ""},
		2: {doctest.Link{Target: "configuration.md#page"}, "docs/xmpp.md", true, "docs/configuration.md", "page"},
		3: {got[4], "docs/x.md", true, "docs/x.md", "five-minutes"},
		4: {got[2], "README.md", false, "", ""},
		5: {got[3], "README.md", false, "", ""},
	} {
		if r := tc.link.Relative(); r != tc.relative {
			t.Errorf("%d: relative %v", i, r)
		}
		if !tc.relative {
			continue
		}
		if f, frag := tc.link.Resolve(tc.page); f != tc.file || frag != tc.fragment {
			t.Errorf("%d: %s #%s, want %s #%s", i, f, frag, tc.file, tc.fragment)
		}
	}
}

// TestLinks: every relative link and image of README.md and docs/*.md leads to a
// file or directory of the repository, and to one of its headings where it names one.
func TestLinks(t *testing.T) {
	root, err := doctest.Root()
	if err != nil {
		t.Fatal(err)
	}
	pages := doctest.Pages(t)
	if len(pages) < 2 {
		t.Fatalf("%d pages", len(pages))
	}
	anchors := map[string]map[string]bool{}
	checked := 0
	for _, p := range pages {
		for _, l := range doctest.Links(p.Text) {
			if !l.Relative() {
				continue
			}
			checked++
			file, fragment := l.Resolve(p.Path)
			if strings.HasPrefix(file, "../") {
				t.Errorf("%s:%d: %s leads out of the repository", p.Path, l.Line, l.Target)
				continue
			}
			if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(file))); err != nil {
				t.Errorf("%s:%d: %s: no such file (%s)", p.Path, l.Line, l.Target, file)
				continue
			}
			if fragment == "" {
				continue
			}
			if !strings.HasSuffix(file, ".md") {
				t.Errorf("%s:%d: %s: a fragment of a file that is not Markdown", p.Path, l.Line, l.Target)
				continue
			}
			if anchors[file] == nil {
				text, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
				if err != nil {
					t.Fatal(err)
				}
				anchors[file] = doctest.Anchors(string(text))
			}
			if !anchors[file][fragment] {
				t.Errorf("%s:%d: %s: %s has no heading #%s", p.Path, l.Line, l.Target, file, fragment)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative link found: the parser is broken")
	}
}
