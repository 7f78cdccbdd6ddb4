package password_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/password"
)

// rulesOf lists the rules err names, in order.
func rulesOf(err error) []password.Rule {
	var out []password.Rule
	for _, e := range password.Reasons(err) {
		out = append(out, e.Rule)
	}
	return out
}

// TestCheckDefaults: the four passwords issue 22 found accepted are refused by the
// default policy, each for the rule that fits, and good ones pass.
func TestCheckDefaults(t *testing.T) {
	p, err := password.New(password.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range [...]struct {
		password, username string
		want               []password.Rule
	}{
		0:  {"12345678", "juliet", []password.Rule{password.RuleCommon}},
		1:  {"        ", "juliet", []password.Rule{password.RuleBlank}},
		2:  {"aaaaaaaa", "juliet", []password.Rule{password.RuleDistinct}},
		3:  {"juliet-rocks", "juliet", []password.Rule{password.RuleUsername}},
		4:  {"My JULIET 2026!", "juliet", []password.Rule{password.RuleUsername}},
		5:  {"uliet", "juliet", []password.Rule{password.RuleTooShort, password.RuleUsername}}, // contained in the name
		6:  {"PASSWORD", "", []password.Rule{password.RuleCommon}},                             // case-insensitive
		7:  {"iloveyou", "romeo", []password.Rule{password.RuleCommon}},
		8:  {"abc", "", []password.Rule{password.RuleTooShort, password.RuleDistinct}},
		9:  {"", "juliet", []password.Rule{password.RuleTooShort}},
		10: {"\t \u00a0\u3000 \n  ", "", []password.Rule{password.RuleBlank}},
		11: {strings.Repeat("ab", 513), "", []password.Rule{password.RuleTooLong, password.RuleDistinct}},
		12: {"12121212", "", []password.Rule{password.RuleDistinct}},
		13: {"correct horse battery", "juliet", nil},
		14: {"Ünïcödé wörter", "jürgen", nil},
		15: {"al-al-al-9-x", "al", nil},                                                                        // a 2-letter name is only compared whole
		16: {"al", "al", []password.Rule{password.RuleTooShort, password.RuleDistinct, password.RuleUsername}}, // whole
		17: {"STRASSE-gasse", "straße", []password.Rule{password.RuleUsername}},                                // full case folding: ß is ss
		18: {"Σίσυφος-2026", "ΣΊΣΥΦΟΣ", []password.Rule{password.RuleUsername}},
		19: {"  spaces around  ", "", nil},
	} {
		err := p.Check(tc.password, tc.username)
		if got := rulesOf(err); !slices.Equal(got, tc.want) {
			t.Errorf("%d: Check(%q, %q) = %v (%v), want %v", i, tc.password, tc.username, got, err, tc.want)
		}
		if (err != nil) != errors.Is(err, password.ErrRefused) {
			t.Errorf("%d: %v does not match ErrRefused", i, err)
		}
	}
}

// TestCheckParameters: each Error carries its rule's bound, and a policy with the
// extra rules off lets the same passwords through.
func TestCheckParameters(t *testing.T) {
	p, err := password.New(password.Config{MinLength: 12, MinDistinct: 7})
	if err != nil {
		t.Fatal(err)
	}
	rs := password.Reasons(p.Check("abcabc", ""))
	if len(rs) != 2 || *rs[0] != (password.Error{Rule: password.RuleTooShort, Min: 12}) || *rs[1] != (password.Error{Rule: password.RuleDistinct, Min: 7}) {
		t.Errorf("reasons = %v", rs)
	}
	if p.MinLength() != 12 {
		t.Errorf("MinLength = %d", p.MinLength())
	}
	var one *password.Error
	if !errors.As(p.Check(strings.Repeat("x", 2000), ""), &one) || one.Rule != password.RuleTooLong || one.Max != password.MaxLength {
		t.Errorf("too long: %v", one)
	}

	lax, err := password.New(password.Config{MinLength: 4, MinDistinct: 1, AllowUsername: true, AllowCommon: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"12345678", "aaaaaaaa", "juliet-rocks", "password"} {
		if err := lax.Check(pw, "juliet"); err != nil {
			t.Errorf("the lax policy refuses %q: %v", pw, err)
		}
	}
	if err := lax.Check("    ", ""); !slices.Equal(rulesOf(err), []password.Rule{password.RuleBlank}) {
		t.Errorf("white space is refused by every policy: %v", err)
	}
}

// TestNormalize: defaults are filled, bounds are checked with the key named.
func TestNormalize(t *testing.T) {
	for i, tc := range [...]struct {
		in      password.Config
		want    password.Config
		wantErr string
	}{
		0: {in: password.Config{}, want: password.Config{MinLength: 8, MinDistinct: 5}},
		1: {in: password.Config{MinLength: 3}, want: password.Config{MinLength: 3, MinDistinct: 3}},
		2: {in: password.Config{MinLength: 20, MinDistinct: 1}, want: password.Config{MinLength: 20, MinDistinct: 1}},
		3: {in: password.Config{MinLength: -1}, wantErr: "min_length: -1 is not between 1 and 1024"},
		4: {in: password.Config{MinLength: 1025}, wantErr: "min_length"},
		5: {in: password.Config{MinDistinct: 9}, wantErr: "min_distinct: 9 is not between 1 (no such rule) and min_length (8)"},
		6: {in: password.Config{MinLength: 100, MinDistinct: 65}, wantErr: "min_distinct"},
		7: {in: password.Config{MinDistinct: -2}, wantErr: "min_distinct"},
	} {
		c := tc.in
		err := c.Normalize()
		switch {
		case tc.wantErr == "" && (err != nil || c != tc.want):
			t.Errorf("%d: %+v, %v; want %+v", i, c, err, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%d: err = %v, want %q", i, err, tc.wantErr)
		}
		if _, err2 := password.New(tc.in); (err2 == nil) != (tc.wantErr == "") {
			t.Errorf("%d: New: %v", i, err2)
		}
	}
}

// TestErrorText: the English text of each rule says what is wrong, with its bound.
func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		e    password.Error
		want string
	}{
		{password.Error{Rule: password.RuleTooShort, Min: 8}, "fewer than 8 characters"},
		{password.Error{Rule: password.RuleTooLong, Max: 1024}, "more than 1024 characters"},
		{password.Error{Rule: password.RuleDistinct, Min: 5}, "fewer than 5 different characters"},
		{password.Error{Rule: password.RuleBlank}, "only white space"},
		{password.Error{Rule: password.RuleUsername}, "contains the username"},
		{password.Error{Rule: password.RuleCommon}, "most common passwords"},
	} {
		if got := tc.e.Error(); !strings.Contains(got, tc.want) {
			t.Errorf("%v: %q lacks %q", tc.e.Rule, got, tc.want)
		}
	}
}

// BenchmarkCheck measures one check with every rule on (the common list's binary
// search and the case folding dominate).
func BenchmarkCheck(b *testing.B) {
	p, err := password.New(password.Config{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = p.Check("correct horse battery", "juliet")
	}
}

// BenchmarkNew measures building a policy, which decompresses the common list.
func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := password.New(password.Config{}); err != nil {
			b.Fatal(err)
		}
	}
}
