package page

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// limiter budgets the failed attempts of each client address with a generic cell rate
// algorithm: a budget of n failures, refilled by one every period/n.
// It remembers at most max addresses, so its memory is bounded.
type limiter struct {
	interval time.Duration // period/n: how long one failure takes to be forgiven
	burst    time.Duration // period - interval: how far ahead the budget may run
	max      int

	mu  sync.Mutex
	tat map[netip.Prefix]time.Time // theoretical arrival time per address
}

func newLimiter(n int, period time.Duration, maxClients int) *limiter {
	interval := period / time.Duration(n)
	return &limiter{
		interval: interval,
		burst:    period - interval,
		max:      maxClients,
		tat:      make(map[netip.Prefix]time.Time),
	}
}

// wait says how long until addr may fail once more; zero means it may now.
func (l *limiter) wait(addr netip.Prefix, now time.Time) time.Duration {
	l.mu.Lock()
	tat, ok := l.tat[addr]
	l.mu.Unlock()
	if !ok {
		return 0
	}
	return max(tat.Sub(now)-l.burst, 0)
}

// fail takes one failure from addr's budget.
func (l *limiter) fail(addr netip.Prefix, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.tat[addr]
	if !ok && len(l.tat) >= l.max {
		l.shrink(now)
	}
	if tat.Before(now) {
		tat = now
	}
	tat = tat.Add(l.interval)
	// Concurrent failures may all pass wait; never run further ahead than a full
	// budget, so that an address is never locked out for longer than the period.
	if limit := now.Add(l.burst + l.interval); tat.After(limit) {
		tat = limit
	}
	l.tat[addr] = tat
}

// size returns how many addresses the limiter remembers.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.tat)
}

// shrink forgets addresses whose budget is full again and, if that frees too little,
// arbitrary others, down to three quarters of max; l.mu is held.
// Forgetting an address gives it a full budget: under a flood of addresses the limit
// weakens rather than memory growing.
func (l *limiter) shrink(now time.Time) {
	for a, t := range l.tat {
		if !t.After(now) {
			delete(l.tat, a)
		}
	}
	target := l.max * 3 / 4
	for a := range l.tat {
		if len(l.tat) <= target {
			break
		}
		delete(l.tat, a)
	}
}

// peerAddr is the default client address: the connection's peer.
func peerAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a
}

// addrKey returns the budget an address counts against: itself for IPv4, its /64 for
// IPv6 (one host usually holds a whole /64), and the zero Prefix, shared by all, for
// an invalid one.
func addrKey(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return netip.Prefix{}
	case a.Is4():
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.WithZone("").Prefix(64) // cannot fail for an IPv6 address
	return p
}
