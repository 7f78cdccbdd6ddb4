package doctest_test

import (
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/doctest"
)

// FuzzParse feeds any text to the Markdown readers: they never panic, every block's
// line is within the text, and every link's target is in the text, and
// no anchor holds a space or punctuation.
func FuzzParse(f *testing.F) {
	f.Add("# t\n```sh\ncurl x\n```\n[a](b.md#c)\n")
	f.Add("````\n```\n[x](y)\n")
	f.Add("## `a` [b](c) ##\n![i](d \"t\")")
	f.Fuzz(func(t *testing.T, text string) {
		lines := strings.Count(text, "\n") + 1
		for _, b := range doctest.Blocks(text) {
			if b.Line < 1 || b.Line > lines {
				t.Fatalf("block at line %d of %d", b.Line, lines)
			}
		}
		for _, l := range doctest.Links(text) {
			if !strings.Contains(text, l.Target) || l.Line < 1 || l.Line > lines {
				t.Fatalf("link %+v", l)
			}
			l.Resolve("docs/x.md")
		}
		for a := range doctest.Anchors(text) {
			if strings.ContainsAny(a, " \t#`[]()") {
				t.Fatalf("anchor %q is not a slug", a)
			}
		}
	})
}
