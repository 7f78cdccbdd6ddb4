package httpapi

import (
	"fmt"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// TestGCRABounded floods a budget table with more keys than it may remember: it never
// holds more than max, and what it forgets first are the keys closest to a full
// budget, never the latest offenders, which stay blocked.
func TestGCRABounded(t *testing.T) {
	const maxKeys = 8
	l := newGCRA[string](core.Rate{N: 2, Period: time.Hour}, maxKeys)
	now := time.Unix(1_700_000_000, 0)
	for i := range 100 {
		k := fmt.Sprint(i)
		// Each key spends its whole budget, a second after the one before.
		l.fail(k, now)
		l.fail(k, now)
		if l.wait(k, now) <= 0 {
			t.Fatalf("key %d not blocked after spending its budget", i)
		}
		if len(l.tat) > maxKeys {
			t.Fatalf("after %d keys the table holds %d, more than %d", i+1, len(l.tat), maxKeys)
		}
		now = now.Add(time.Second)
	}
	// The latest offenders are remembered and still blocked.
	for i := 99; i > 99-maxKeys*3/4; i-- {
		if l.wait(fmt.Sprint(i), now) <= 0 {
			t.Errorf("key %d, among the latest offenders, was forgotten", i)
		}
	}
	// Keys whose budget is full again go first, whatever their number.
	now = now.Add(2 * time.Hour)
	l.mu.Lock()
	l.shrink(now)
	n := len(l.tat)
	l.mu.Unlock()
	if n != 0 {
		t.Errorf("after every budget refilled, shrinking keeps %d keys, want none", n)
	}
}
