package commands

import (
	"testing"
	"unicode/utf8"
)

// FuzzParsePage: a page name reads back what pageName wrote, and anything else is an
// error, never a panic nor a negative offset. Seeds are in testdata/fuzz/FuzzParsePage.
func FuzzParsePage(f *testing.F) {
	f.Add("")
	f.Add("50:AAAAAAAAAAA-P8FYS2sSFQu")
	f.Add("-1:x")
	f.Add("12")
	f.Fuzz(func(t *testing.T, s string) {
		offset, cursor, err := parsePage(s)
		if err != nil {
			return
		}
		if offset < 0 {
			t.Fatalf("%q: offset %d", s, offset)
		}
		if s != "" {
			o2, c2, err := parsePage(pageName(offset, cursor))
			if err != nil || o2 != offset || c2 != cursor {
				t.Fatalf("%q: round trip %d %q %v", s, o2, c2, err)
			}
		}
	})
}

// FuzzClip: clip never returns more than n characters, keeps a short text whole, and
// ends a clipped one with "…".
func FuzzClip(f *testing.F) {
	f.Add("a note", 3)
	f.Add("ünïcødé text that goes on", 10)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 1 || n > 1000 || !utf8.ValidString(s) {
			return
		}
		got := clip(s, n)
		switch c := utf8.RuneCountInString(got); {
		case c > n:
			t.Fatalf("clip(%q, %d) = %q, %d characters", s, n, got, c)
		case utf8.RuneCountInString(s) <= n && got != s:
			t.Fatalf("clip(%q, %d) = %q, want it whole", s, n, got)
		}
	})
}
