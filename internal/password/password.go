package password

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
)

// Config is the password policy: the [password] table of the plugin's config.
// The zero value of each field means its documented default; Normalize fills them.
type Config struct {
	// MinLength is the fewest characters (Unicode code points) a password has.
	// Default [DefaultMinLength]; from 1 to [MaxLength].
	MinLength int `toml:"min_length"`
	// MinDistinct is the fewest different characters a password has: "aaaaaaaa" has 1,
	// "12121212" 2. Default [DefaultMinDistinct], or MinLength when that is smaller;
	// from 1 (the rule off) to MinLength or [maxDistinct], whichever is smaller.
	MinDistinct int `toml:"min_distinct"`
	// AllowUsername lets a password be the username, contain it or be contained in it.
	// Default false: such passwords are refused.
	AllowUsername bool `toml:"allow_username"`
	// AllowCommon lets a password be one of the 10,000 most common passwords shipped
	// with the project. Default false: they are refused.
	AllowCommon bool `toml:"allow_common"`
}

// Defaults and bounds of Config.
const (
	// DefaultMinLength is the default of Config.MinLength, in characters.
	DefaultMinLength = 8
	// DefaultMinDistinct is the default of Config.MinDistinct, in characters.
	DefaultMinDistinct = 5
	// MaxLength is the longest password any registration path takes, in characters.
	MaxLength = 1024
	// maxDistinct bounds Config.MinDistinct.
	maxDistinct = 64
	// minContained is the shortest username a password may not contain; a shorter one
	// is only compared whole.
	minContained = 3
)

// Normalize fills the defaults of c and checks it; each error names its key.
func (c *Config) Normalize() error {
	var errs []error
	switch {
	case c.MinLength == 0:
		c.MinLength = DefaultMinLength
	case c.MinLength < 1 || c.MinLength > MaxLength:
		errs = append(errs, fmt.Errorf("min_length: %d is not between 1 and %d characters", c.MinLength, MaxLength))
	}
	switch {
	case c.MinDistinct == 0:
		c.MinDistinct = min(DefaultMinDistinct, max(c.MinLength, 1))
	case c.MinDistinct < 1 || c.MinDistinct > min(max(c.MinLength, 1), maxDistinct):
		errs = append(errs, fmt.Errorf("min_distinct: %d is not between 1 (no such rule) and min_length (%d) or %d, whichever is smaller", c.MinDistinct, c.MinLength, maxDistinct))
	}
	return errors.Join(errs...)
}

// Rule names a rule of the policy.
type Rule string

// The rules a password can break.
const (
	// RuleTooShort: fewer than Error.Min characters.
	RuleTooShort Rule = "too_short"
	// RuleTooLong: more than Error.Max characters.
	RuleTooLong Rule = "too_long"
	// RuleBlank: only white space.
	RuleBlank Rule = "blank"
	// RuleDistinct: fewer than Error.Min different characters.
	RuleDistinct Rule = "distinct"
	// RuleUsername: the username, or containing it, or contained in it.
	RuleUsername Rule = "username"
	// RuleCommon: one of the most common passwords.
	RuleCommon Rule = "common"
)

// ErrRefused is what every Error matches with errors.Is.
var ErrRefused = errors.New("password refused by the password policy")

// Error is one rule a password breaks, with the rule's parameters, for each edge to
// word in its own language.
type Error struct {
	// Rule is the rule broken.
	Rule Rule
	// Min is the bound of RuleTooShort and RuleDistinct, in characters.
	Min int
	// Max is the bound of RuleTooLong, in characters.
	Max int
}

// Error says in English which rule the password breaks.
func (e *Error) Error() string {
	switch e.Rule {
	case RuleTooShort:
		return fmt.Sprintf("the password has fewer than %d characters", e.Min)
	case RuleTooLong:
		return fmt.Sprintf("the password has more than %d characters", e.Max)
	case RuleBlank:
		return "the password is only white space"
	case RuleDistinct:
		return fmt.Sprintf("the password has fewer than %d different characters", e.Min)
	case RuleUsername:
		return "the password contains the username"
	case RuleCommon:
		return "the password is one of the most common passwords"
	}
	return "the password breaks the rule " + string(e.Rule)
}

// Is makes every Error match ErrRefused.
func (e *Error) Is(target error) bool { return target == ErrRefused }

// Reasons returns every Error that err holds (Check joins them), in order.
func Reasons(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		var e *Error
		switch x := err.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			for _, in := range x.Unwrap() {
				walk(in)
			}
		default:
			if errors.As(err, &e) {
				out = append(out, e)
			}
		}
	}
	walk(err)
	return out
}

//go:embed common.txt.gz
var commonGz []byte // read-only

// Policy checks new passwords; build it with New. It is safe for concurrent use.
type Policy struct {
	cfg    Config
	common []string // sorted, lower case; nil when AllowCommon
}

// New returns the policy of c, normalized; it fails on a Config that Normalize refuses.
func New(c Config) (*Policy, error) {
	if err := c.Normalize(); err != nil {
		return nil, err
	}
	p := &Policy{cfg: c}
	if !c.AllowCommon {
		list, err := readCommon(commonGz)
		if err != nil {
			return nil, err
		}
		p.common = list
	}
	return p, nil
}

// readCommon reads a gzipped, sorted list of passwords, one a line.
func readCommon(gz []byte) ([]string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("reading the list of common passwords: %w", err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the list of common passwords: %w", err)
	}
	rest := string(b) // one allocation the entries share
	list := make([]string, 0, 10000)
	for rest != "" {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		if line != "" {
			list = append(list, line)
		}
	}
	if !slices.IsSorted(list) {
		return nil, errors.New("reading the list of common passwords: it is not sorted")
	}
	return list, nil
}

// Config returns the policy's normalized settings.
func (p *Policy) Config() Config { return p.cfg }

// MinLength returns the fewest characters a password has.
func (p *Policy) MinLength() int { return p.cfg.MinLength }

// Check returns nil when password may be the password of the account username (its
// localpart; "" when unknown), else every rule it breaks: one *Error, or several
// joined (see Reasons), each matching ErrRefused.
// A password of only white space breaks RuleBlank alone.
func (p *Policy) Check(password, username string) error {
	if password != "" && strings.TrimFunc(password, unicode.IsSpace) == "" {
		return &Error{Rule: RuleBlank}
	}
	var errs []error
	n := utf8.RuneCountInString(password)
	switch {
	case n < p.cfg.MinLength:
		errs = append(errs, &Error{Rule: RuleTooShort, Min: p.cfg.MinLength})
	case n > MaxLength:
		errs = append(errs, &Error{Rule: RuleTooLong, Max: MaxLength})
	}
	if password == "" {
		return errors.Join(errs...)
	}
	if distinct(password) < p.cfg.MinDistinct {
		errs = append(errs, &Error{Rule: RuleDistinct, Min: p.cfg.MinDistinct})
	}
	folded := cases.Fold().String(password)
	if !p.cfg.AllowUsername && username != "" && similar(folded, cases.Fold().String(username)) {
		errs = append(errs, &Error{Rule: RuleUsername})
	}
	if p.common != nil {
		if _, found := slices.BinarySearch(p.common, folded); found {
			errs = append(errs, &Error{Rule: RuleCommon})
		}
	}
	return errors.Join(errs...)
}

// similar reports whether a folded password and a folded username are alike: equal,
// or one containing the other when the username is long enough to tell.
func similar(password, username string) bool {
	if password == username {
		return true
	}
	if utf8.RuneCountInString(username) < minContained {
		return false
	}
	return strings.Contains(password, username) || strings.Contains(username, password)
}

// distinct counts the different characters of s, up to maxDistinct.
func distinct(s string) int {
	seen := make([]rune, 0, 16)
	for _, r := range s {
		if !slices.Contains(seen, r) {
			seen = append(seen, r)
			if len(seen) >= maxDistinct {
				break
			}
		}
	}
	return len(seen)
}
