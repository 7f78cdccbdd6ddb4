package gcra_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/gcra"
)

func TestSpendAndWait(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := gcra.New[string](2, time.Minute, 10) // 2 per minute: one every 30 s
	for i, tc := range []struct {
		spend int
		at    time.Duration
		want  time.Duration
	}{
		0: {0, 0, 0},
		1: {1, 0, 0},                // one of two spent
		2: {1, 0, 30 * time.Second}, // both spent: the next in 30 s
		3: {5, 0, 30 * time.Second}, // never further ahead than one period
		4: {0, 30 * time.Second, 0}, // refilled by one
		5: {1, 30 * time.Second, 30 * time.Second},
		6: {0, 2 * time.Minute, 0},
	} {
		at := now.Add(tc.at)
		for range tc.spend {
			l.Spend("a", at)
		}
		if got := l.Wait("a", at); got != tc.want {
			t.Errorf("%d: wait %v, want %v", i, got, tc.want)
		}
	}
	if got := l.Wait("b", now); got != 0 {
		t.Errorf("an unknown key waits %v", got)
	}
}

func TestTake(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := gcra.New[int](3, 3*time.Second, 10)
	for i := range 3 {
		if w := l.Take(1, now); w != 0 {
			t.Fatalf("take %d refused: %v", i, w)
		}
	}
	if w := l.Take(1, now); w != time.Second {
		t.Fatalf("the fourth take waits %v, want 1s", w)
	}
	if w := l.Take(1, now.Add(time.Second)); w != 0 {
		t.Fatalf("after a second: %v", w)
	}
}

// TestBounded: the limiter never remembers more keys than its bound, and the latest
// offender stays limited while older ones are forgotten.
func TestBounded(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := gcra.New[string](1, time.Hour, 100)
	for i := range 1000 {
		l.Spend(fmt.Sprint(i), now.Add(time.Duration(i)*time.Millisecond))
		if n := l.Len(); n > 100 {
			t.Fatalf("remembers %d keys, want at most 100", n)
		}
	}
	if w := l.Wait("999", now.Add(time.Second)); w == 0 {
		t.Error("the latest offender was forgotten")
	}
}

// TestForgetsClosestToFull floods a table with more keys than it may remember: it never
// holds more than its bound, what it forgets first are the keys closest to a full
// budget, never the latest offenders, which stay limited, and keys whose budget is
// full again go before any other.
func TestForgetsClosestToFull(t *testing.T) {
	const maxKeys = 8
	l := gcra.New[string](2, time.Hour, maxKeys)
	now := time.Unix(1_700_000_000, 0)
	for i := range 100 {
		k := fmt.Sprint(i)
		// Each key spends its whole budget, a second after the one before.
		l.Spend(k, now)
		l.Spend(k, now)
		if l.Wait(k, now) <= 0 {
			t.Fatalf("key %d not limited after spending its budget", i)
		}
		if n := l.Len(); n > maxKeys {
			t.Fatalf("after %d keys the table holds %d, more than %d", i+1, n, maxKeys)
		}
		now = now.Add(time.Second)
	}
	for i := 99; i > 99-maxKeys*3/4; i-- {
		if l.Wait(fmt.Sprint(i), now) <= 0 {
			t.Errorf("key %d, among the latest offenders, was forgotten", i)
		}
	}
	// Once every budget is full again, one new key makes room by forgetting them all.
	now = now.Add(2 * time.Hour)
	l.Spend("new", now)
	if n := l.Len(); n != 1 {
		t.Errorf("after every budget refilled, the table keeps %d keys, want the new one", n)
	}
}

// TestRefund: a refund gives back what Take spent, never more than a full budget.
func TestRefund(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := gcra.New[string](2, time.Minute, 10)
	l.Take("k", now)
	l.Take("k", now)
	if l.Take("k", now) == 0 {
		t.Fatal("a third event allowed")
	}
	l.Refund("k", now)
	if l.Take("k", now) != 0 {
		t.Fatal("the refunded event is not there")
	}
	l.Refund("k", now)
	l.Refund("k", now)
	l.Refund("k", now) // past full: nothing more to give back
	if l.Len() != 0 {
		t.Errorf("a full budget is still remembered")
	}
	l.Refund("unknown", now)
	// Take has a side effect: three calls in a row, the third refused.
	var waits [3]time.Duration
	for i := range waits {
		waits[i] = l.Take("k", now)
	}
	if waits[0] != 0 || waits[1] != 0 || waits[2] == 0 {
		t.Errorf("a refund made the budget larger than full: waits %v", waits)
	}
}
