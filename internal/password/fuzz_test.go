package password

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzCheck: any password and username is checked without a panic; a refusal always
// matches ErrRefused and names known rules with their bounds, and a password the
// policy takes is long enough.
func FuzzCheck(f *testing.F) {
	for _, s := range [][2]string{
		{"12345678", "juliet"}, {"        ", ""}, {"aaaaaaaa", "a"}, {"juliet-rocks", "JULIET"},
		{"correct horse battery", "juliet"}, {"\xff\xfe", "\x00"}, {"Σίσυφος", "ΣΊΣΥΦΟΣ"},
	} {
		f.Add(s[0], s[1])
	}
	p, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pw, user string) {
		err := p.Check(pw, user)
		if err == nil {
			if n := utf8.RuneCountInString(pw); n < p.MinLength() || n > MaxLength {
				t.Fatalf("%q (%d characters) taken", pw, n)
			}
			return
		}
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("%v does not match ErrRefused", err)
		}
		rs := Reasons(err)
		if len(rs) == 0 {
			t.Fatalf("%v names no rule", err)
		}
		for _, r := range rs {
			switch r.Rule {
			case RuleTooShort, RuleDistinct:
				if r.Min < 1 {
					t.Fatalf("%v without its bound", r)
				}
			case RuleTooLong:
				if r.Max != MaxLength {
					t.Fatalf("%v without its bound", r)
				}
			case RuleBlank, RuleUsername, RuleCommon:
			default:
				t.Fatalf("unknown rule %q", r.Rule)
			}
		}
	})
}

// TestReadCommon: the shipped list reads, is sorted and holds the passwords issue 22
// found accepted; a damaged list is an error, not a panic.
func TestReadCommon(t *testing.T) {
	list, err := readCommon(commonGz)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 10000 {
		t.Errorf("%d entries, want 10000", len(list))
	}
	if _, err := readCommon([]byte("not gzip")); err == nil {
		t.Error("a damaged list reads")
	}
}
