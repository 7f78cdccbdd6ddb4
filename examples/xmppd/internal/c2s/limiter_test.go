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
	now = now.Add(time.Minute)
	if l.blocked(a) {
		t.Fatal("still blocked after the window")
	}
	l.fail(a)
	if l.blocked(a) {
		t.Fatal("the new window starts at zero")
	}
	// Bounded memory.
	for i := range maxLimiterEntries + 10 {
		l.fail(&net.TCPAddr{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)), Port: 1})
	}
	if len(l.hits) > maxLimiterEntries {
		t.Fatalf("%d entries", len(l.hits))
	}
}
