package c2s

import (
	"net"
	"testing"
	"time"
)

func TestFailureLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newFailureLimiter(2, time.Minute, func() time.Time { return now })
	a := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}
	a2 := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 2} // same host, other port
	b := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 1}
	l.fail(a)
	if l.blocked(a2) {
		t.Fatal("blocked after one failure")
	}
	l.fail(a2)
	if !l.blocked(a) || l.blocked(b) {
		t.Fatal("the limit is per host")
	}
	now = now.Add(30 * time.Second)
	if l.blocked(a) {
		t.Fatal("still blocked after half the window: one failure is forgiven every window/max")
	}
	l.fail(a)
	if !l.blocked(a) {
		t.Fatal("not blocked again after the failure it was forgiven")
	}
	now = now.Add(time.Minute)
	l.fail(a)
	if l.blocked(a) {
		t.Fatal("a full window later the budget is not full again")
	}
	// Bounded memory.
	for i := range maxLimiterEntries + 10 {
		l.fail(&net.TCPAddr{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)), Port: 1})
	}
	if l.l.Len() > maxLimiterEntries {
		t.Fatalf("%d entries", l.l.Len())
	}
}

// TestFailureLimiterFullStillCounts: with its memory full of other addresses, the
// limiter still counts a new address and blocks it; it never fails open.
func TestFailureLimiterFullStillCounts(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newFailureLimiter(3, time.Hour, func() time.Time { return now })
	for i := range maxLimiterEntries {
		l.fail(&net.TCPAddr{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)), Port: 1})
		now = now.Add(time.Millisecond)
	}
	guesser := &net.TCPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 1}
	for range 3 {
		l.fail(guesser)
	}
	if !l.blocked(guesser) {
		t.Fatal("a full limiter stopped counting: unlimited guesses")
	}
	if l.l.Len() > maxLimiterEntries {
		t.Fatalf("%d entries", l.l.Len())
	}
}

// TestFailureLimiterIPv6: the addresses of one IPv6 /64 share one budget.
func TestFailureLimiterIPv6(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newFailureLimiter(2, time.Minute, func() time.Time { return now })
	l.fail(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::1"), Port: 1})
	l.fail(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::9"), Port: 1})
	if !l.blocked(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:abcd::1"), Port: 1}) {
		t.Fatal("another address of the same /64 is not blocked")
	}
	if l.blocked(&net.TCPAddr{IP: net.ParseIP("2001:db8:1:3::1"), Port: 1}) {
		t.Fatal("another /64 is blocked")
	}
}
