package reference

import (
	"strings"
	"testing"
)

// FuzzDefaultSentence feeds the reading of a comment's default: it never panics; what
// literal takes is a prefix of its input, and a literal that reads as TOML writes back
// in one form.
func FuzzDefaultSentence(f *testing.F) {
	for _, s := range []string{`"20/m".`, `65536, at most 16 MiB.`, `false: such`, `["en", "de"]`, `-1 means`, `: the invite's host.`, `none`, `"`, `[`, `-`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lit, ok := literal(s)
		if ok && !strings.HasPrefix(s, lit) {
			t.Fatalf("literal(%q) = %q, not a prefix", s, lit)
		}
		if ok {
			if v, err := literalValue(lit, false); err == nil {
				if again, err := literalValue(v, false); err != nil || again != v {
					t.Fatalf("%q reads as %q, which reads as %q (%v)", lit, v, again, err)
				}
			}
		}
		if end := sentenceEnd(s); end >= len(s) {
			t.Fatalf("sentenceEnd(%q) = %d", s, end)
		}
	})
}
