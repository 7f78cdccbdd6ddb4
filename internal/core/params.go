package core

import (
	"strconv"
	"strings"
	"time"
)

// This file reads the parameters of invite requests from their text, the one way the
// HTTP API, the ad-hoc commands and the command line read them, so that each refusal
// is worded once and names its field.

// errMaxUsesRange refuses a max_uses out of bounds.
var errMaxUsesRange = &FieldError{Err: ErrInvalid, Field: FieldMaxUses,
	Reason: "write a whole number of accounts from 0 (any number until the invite expires) to " + strconv.Itoa(MaxMaxUses)}

// ParseTTL reads an invite's lifetime as ParseDuration does; "" gives 0 (the host's
// default). A refusal names FieldTTL.
func ParseTTL(s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	d, err := ParseDuration(s)
	return d, InField(FieldTTL, err)
}

// ParseMaxUses reads how many accounts an invite can make: a whole number from 0 (any
// number until it expires) to MaxMaxUses. A refusal names FieldMaxUses.
func ParseMaxUses(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > MaxMaxUses {
		return 0, errMaxUsesRange
	}
	return n, nil
}

// ParseExpiry reads a new expiry as people write it: an RFC 3339 time
// ("2030-01-02T15:04:05Z"), or a duration from now as ParseDuration reads it ("7d").
// A refusal names FieldExpiresAt.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		return time.Time{}, Refuse(ErrInvalid, FieldExpiresAt, "give a time such as 2030-01-02T15:04:05Z, or a duration from now such as 7d")
	}
	return now.Add(d), nil
}
