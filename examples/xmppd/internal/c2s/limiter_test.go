package c2s

import (
	"net"
	"testing"
	"time"
)

// fail records a failed login from addr: an attempt reserved and never given back.
func fail(l *failureLimiter, addr net.Addr) { l.reserve(addr) }

// blocked reports whether addr has used up its failures, reserving nothing.
func blocked(l *failureLimiter, addr net.Addr) bool { return l.l.Wait(addrKey(addr), l.now()) > 0 }

func TestFailureLimiter(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newFailureLimiter(2, time.Minute, func() time.Time { return now })
	a := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}
	a2 := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 2} // same host, other port
	b := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 1}
	fail(l, a)
	if blocked(l, a2) {
		t.Fatal("blocked after one failure")
	}
	fail(l, a2)
	if !blocked(l, a) || blocked(l, b) {
		t.Fatal("the limit is per host")
	}
	now = now.Add(30 * time.Second)
	if blocked(l, a) {
		t.Fatal("still blocked after half the window: one failure is forgiven every window/max")
	}
	fail(l, a)
	if !blocked(l, a) {
		t.Fatal("not blocked again after the failure it was forgiven")
	}
	now = now.Add(time.Minute)
	fail(l, a)
	if blocked(l, a) {
		t.Fatal("a full window later the budget is not full again")
	}
	// Bounded memory.
	for i := range maxLimiterEntries + 10 {
		fail(l, &net.TCPAddr{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)), Port: 1})
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
		fail(l, &net.TCPAddr{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)), Port: 1})
		now = now.Add(time.Millisecond)
	}
	guesser := &net.TCPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 1}
	for range 3 {
		fail(l, guesser)
	}
	if !blocked(l, guesser) {
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
	fail(l, &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::1"), Port: 1})
	fail(l, &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::9"), Port: 1})
	if !blocked(l, &net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:abcd::1"), Port: 1}) {
		t.Fatal("another address of the same /64 is not blocked")
	}
	if blocked(l, &net.TCPAddr{IP: net.ParseIP("2001:db8:1:3::1"), Port: 1}) {
		t.Fatal("another /64 is blocked")
	}
}

// TestFailureLimiterSucceeded: a login that succeeds costs nothing; one reserved while
// the budget is used up is refused.
func TestFailureLimiterSucceeded(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newFailureLimiter(2, time.Minute, func() time.Time { return now })
	a := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}
	for range 10 {
		if !l.reserve(a) {
			t.Fatal("a login refused after logins that all succeeded")
		}
		l.succeeded(a)
	}
	if l.l.Len() != 0 {
		t.Errorf("successful logins left %d budgets behind", l.l.Len())
	}
	fail(l, a)
	fail(l, a)
	if l.reserve(a) {
		t.Fatal("a third attempt reserved after two failures")
	}
}
