package core

import (
	"strconv"
	"strings"
	"time"
)

// durationForms says how durations are written, for error messages.
const durationForms = "write seconds (3600), hours or minutes (48h, 90m) or days and weeks (7d, 2w)"

// MaxDuration bounds every duration the core accepts (100 years), so that adding one to
// a time never overflows.
const MaxDuration = 100 * 365 * 24 * time.Hour

// ParseDuration reads a duration as operators and HTTP clients write it:
// a whole number of seconds ("3600"), a Go duration ("48h", "1h30m"), or a number of
// days or weeks ("7d", "2w").
// It accepts only positive values up to MaxDuration.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, invalidf("the duration is empty: " + durationForms)
	}
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 || n > int64(MaxDuration/time.Second) {
			return 0, invalidf("duration %q is out of range: it must be positive and at most 100 years", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	if unit := s[len(s)-1]; unit == 'd' || unit == 'w' {
		n, err := strconv.ParseInt(s[:len(s)-1], 10, 64)
		if err != nil || n <= 0 || n > 36500 {
			return 0, invalidf("%q is not a duration: "+durationForms, s)
		}
		day := 24 * time.Hour
		if unit == 'w' {
			day *= 7
		}
		d = time.Duration(n) * day
	} else {
		var err error
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, invalidf("%q is not a duration: "+durationForms, s)
		}
	}
	if d <= 0 || d > MaxDuration {
		return 0, invalidf("duration %q is out of range: it must be positive and at most 100 years", s)
	}
	return d, nil
}

// Rate is a limit of N events per Period.
// The zero Rate means unlimited.
type Rate struct {
	// N is how many events are allowed in one Period.
	N int
	// Period is the window N applies to.
	Period time.Duration
}

// IsZero reports whether the rate is unlimited.
func (r Rate) IsZero() bool { return r.N == 0 || r.Period == 0 }

// String formats the rate as ParseRate reads it, or "" when unlimited.
func (r Rate) String() string {
	if r.IsZero() {
		return ""
	}
	return strconv.Itoa(r.N) + "/" + formatDuration(r.Period)
}

// ParseRate reads "N/PERIOD": PERIOD is a duration as ParseDuration reads it, or one unit
// alone ("s", "m", "h", "d", "w", or second, minute, hour, day, week) meaning one of it.
// Examples: "10/m", "100/1h", "1000/day".
func ParseRate(s string) (Rate, error) {
	ns, ps, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, invalidf("%q is not a rate: write N/PERIOD, such as 10/m, 100/1h or 1000/day", s)
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n <= 0 || n > 1_000_000_000 {
		return Rate{}, invalidf("%q is not a rate: N in N/PERIOD must be a whole number from 1 to 1000000000", s)
	}
	units := map[string]time.Duration{
		"s": time.Second, "sec": time.Second, "second": time.Second,
		"m": time.Minute, "min": time.Minute, "minute": time.Minute,
		"h": time.Hour, "hour": time.Hour,
		"d": 24 * time.Hour, "day": 24 * time.Hour,
		"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour,
	}
	p, ok := units[strings.ToLower(ps)]
	if !ok {
		if p, err = ParseDuration(ps); err != nil {
			return Rate{}, invalidf("%q is not a rate: the period must be a unit (s, m, h, d, w) or a duration such as 10m", s)
		}
	}
	return Rate{N: n, Period: p}, nil
}

// FormatDuration writes d in the shortest form ParseDuration reads back, such as "7d",
// "2w", "90m" or "1h30m".
func FormatDuration(d time.Duration) string { return formatDuration(d) }

// formatDuration writes d in the shortest form ParseDuration reads back.
func formatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d%(7*day) == 0:
		return strconv.FormatInt(int64(d/(7*day)), 10) + "w"
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	// Drop zero trailing units only: "1h0m0s" → "1h", "10m0s" → "10m", but "30s" and
	// "1h10m" stay as they are.
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
