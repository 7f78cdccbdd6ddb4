package core

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds of the free texts the core stores.
const (
	// MaxKeyNameLen bounds a key's name, in characters.
	MaxKeyNameLen = 200
	// MaxNoteLen bounds an invite's note, in characters.
	MaxNoteLen = 280
	// MaxGroups bounds how many groups an invite names.
	MaxGroups = 16
	// MaxGroupLen bounds a group's name, in characters.
	MaxGroupLen = 64
)

// unsafeRune reports whether r must not appear in a name or note that operators read in
// terminals, logs and clients: control characters (C0, DEL, C1), line and paragraph
// separators, and the bidirectional controls that can make text display in another
// order than it is stored ("Trojan Source").
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, 0x80 <= r && r < 0xa0:
		return true
	case r == '\u2028', r == '\u2029': // line and paragraph separators
		return true
	case r == '\u061c', r == '\u200e', r == '\u200f': // ALM, LRM, RLM
		return true
	case '\u202a' <= r && r <= '\u202e': // LRE, RLE, PDF, LRO, RLO
		return true
	case '\u2066' <= r && r <= '\u2069': // LRI, RLI, FSI, PDI
		return true
	case r == utf8.RuneError, r == '\ufeff':
		return true
	}
	return false
}

// checkText checks a free text against a length in characters and the unsafe runes;
// field names the field refused, what names it in the reason ("key name", "note").
func checkText(field, what, s string, maxLen int) error {
	if !utf8.ValidString(s) {
		return Refuse(ErrInvalid, field, "the %s is not valid UTF-8", what)
	}
	if n := utf8.RuneCountInString(s); n > maxLen {
		return Refuse(ErrInvalid, field, "the %s is %d characters long; at most %d are allowed", what, n, maxLen)
	}
	if i := strings.IndexFunc(s, unsafeRune); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return Refuse(ErrInvalid, field, "the %s contains the control character U+%04X; line breaks, control and bidirectional formatting characters are not allowed", what, r)
	}
	return nil
}

// CheckGroups checks the group names of an invite: at most MaxGroups, each 1 to
// MaxGroupLen characters without control, separator or bidirectional formatting
// characters, without surrounding spaces, and no name twice.
// It returns them in the order given, or every refusal (of field FieldGroup) joined.
func CheckGroups(groups []string) ([]string, error) {
	if len(groups) > MaxGroups {
		return nil, Refuse(ErrInvalid, FieldGroup, "%d groups given; at most %d are allowed", len(groups), MaxGroups)
	}
	var errs []error
	seen := make(map[string]bool, len(groups))
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		if g == "" || strings.TrimFunc(g, unicode.IsSpace) != g {
			errs = append(errs, Refuse(ErrInvalid, FieldGroup, "group name %q must not be empty or begin or end with a space", g))
			continue
		}
		if err := checkText(FieldGroup, "group name", g, MaxGroupLen); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[g] {
			errs = append(errs, Refuse(ErrInvalid, FieldGroup, "group %q is given twice", g))
			continue
		}
		seen[g] = true
		out = append(out, g)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// HumanDuration writes d for people: "30 days", "1 week", "3 hours", "90 seconds",
// "1 hour 30 minutes", in the largest units that express it exactly (at most two).
// A duration that is not a whole number of seconds is rounded to the second.
func HumanDuration(d time.Duration) string {
	if d < 0 {
		return "-" + HumanDuration(-d)
	}
	if d > 0 && d < time.Second {
		return "less than a second"
	}
	d = d.Round(time.Second)
	if d == 0 {
		return "0 seconds"
	}
	units := []struct {
		d    time.Duration
		name string
	}{
		{7 * 24 * time.Hour, "week"},
		{24 * time.Hour, "day"},
		{time.Hour, "hour"},
		{time.Minute, "minute"},
		{time.Second, "second"},
	}
	// Weeks only when they are exact: "10 days" reads better than "1 week 3 days".
	if d%(7*24*time.Hour) != 0 {
		units = units[1:]
	}
	var parts []string
	smallest := units[0]
	rest := d
	for _, u := range units {
		if rest < u.d {
			continue
		}
		n := rest / u.d
		rest -= n * u.d
		parts = append(parts, plural(int64(n), u.name))
		smallest = u
		if rest == 0 {
			break
		}
	}
	if len(parts) <= 2 {
		return strings.Join(parts, " ")
	}
	// More than two units: say it in the smallest one, "93784 seconds".
	return plural(int64(d/smallest.d), smallest.name)
}

// plural writes "1 day", "2 days".
func plural(n int64, unit string) string {
	s := strconv.FormatInt(n, 10) + " " + unit
	if n != 1 {
		s += "s"
	}
	return s
}

// SpanUnit is the unit a Span counts in.
type SpanUnit string

// The units of a Span, from the largest.
const (
	SpanDays    SpanUnit = "days"
	SpanHours   SpanUnit = "hours"
	SpanMinutes SpanUnit = "minutes"
	SpanSoon    SpanUnit = "" // less than a minute
)

// Span is how far ahead a moment is, as people are told it: a whole number of one
// unit.
type Span struct {
	// N counts Unit; 0 for SpanSoon.
	N int
	// Unit is days, hours or minutes, or SpanSoon.
	Unit SpanUnit
}

// SpanOf says how far ahead d is, the one way every edge says it (the invite page, the
// ad-hoc commands, the command line): in days from two days on, in hours from two
// hours on, in minutes from one minute on, rounded to the nearest unit, so that an
// invite of 7 days made seconds ago expires "in 7 days", not 6.
func SpanOf(d time.Duration) Span {
	for _, u := range []struct {
		unit SpanUnit
		d    time.Duration
		min  int
	}{{SpanDays, 24 * time.Hour, 2}, {SpanHours, time.Hour, 2}, {SpanMinutes, time.Minute, 1}} {
		if n := int((d + u.d/2) / u.d); n >= u.min {
			return Span{N: n, Unit: u.unit}
		}
	}
	return Span{Unit: SpanSoon}
}

// String says the span in English: "in 7 days", "in 1 minute", "in less than a
// minute".
func (s Span) String() string {
	if s.Unit == SpanSoon {
		return "in less than a minute"
	}
	return "in " + plural(int64(s.N), strings.TrimSuffix(string(s.Unit), "s"))
}
