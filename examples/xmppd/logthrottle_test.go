package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLimitRepeats is issue 15's "every request on a full disk logs a line", for
// registration: a failure repeated on every attempt logs once per period and kind,
// and the next line carries the count of those held back.
func TestLimitRepeats(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(1_700_000_000, 0)
	log := limitRepeats(slog.New(slog.NewTextHandler(&buf, nil)), time.Minute)
	log.Handler().(*repeatLimiter).state.now = func() time.Time { return now }
	reg := log.With("component", "register")
	count := func(subs ...string) int {
		n := 0
		for _, line := range strings.Split(buf.String(), "\n") {
			all := line != ""
			for _, s := range subs {
				all = all && strings.Contains(line, s)
			}
			if all {
				n++
			}
		}
		return n
	}
	for range 500 {
		reg.Error("reserving account", "err", errors.New("database or disk is full"))
		reg.Error("redeeming invitation", "err", errors.New("database or disk is full"))
		reg.Info("account registered") // below warning: never held back
	}
	if n := count("reserving account"); n != 1 {
		t.Errorf("%d lines for 500 failed reservations within a minute, want 1", n)
	}
	if n := count("redeeming invitation"); n != 1 {
		t.Errorf("%d lines for 500 failed redemptions within a minute, want 1", n)
	}
	if n := count("account registered"); n != 500 {
		t.Errorf("%d info lines, want all 500", n)
	}
	now = now.Add(time.Minute)
	reg.Error("reserving account", "err", "again")
	if n := count("reserving account", "similar_lines_held_back=499"); n != 1 {
		t.Errorf("the next line a minute later does not count the 499 held back:\n%s", buf.String()[max(0, buf.Len()-400):])
	}
	// Many kinds: memory and lines stay bounded.
	for i := range 10 * maxRepeatKinds {
		log.With("n", i).Warn("boom")
	}
	st := log.Handler().(*repeatLimiter).state
	if len(st.kinds) > maxRepeatKinds {
		t.Errorf("%d kinds remembered, more than %d", len(st.kinds), maxRepeatKinds)
	}
	if n := count("boom"); n > maxRepeatKinds {
		t.Errorf("%d lines of distinct kinds, want at most %d", n, maxRepeatKinds)
	}
}
