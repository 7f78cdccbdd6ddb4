package httpapi

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// addrLimiter budgets the failed authentications of each client address with a
// generic cell rate algorithm: a budget of N failures, refilled by one every Period/N.
// It remembers at most max addresses.
type addrLimiter struct {
	interval time.Duration // Period/N: how long one failure takes to be forgiven
	burst    time.Duration // Period - interval: how far ahead the budget may run
	max      int

	mu  sync.Mutex
	tat map[netip.Prefix]time.Time // theoretical arrival time per address
}

func newAddrLimiter(rate core.Rate, maxClients int) *addrLimiter {
	interval := rate.Period / time.Duration(rate.N)
	return &addrLimiter{
		interval: interval,
		burst:    rate.Period - interval,
		max:      maxClients,
		tat:      make(map[netip.Prefix]time.Time),
	}
}

// wait says how long until addr may fail once more; zero means it may now.
func (l *addrLimiter) wait(addr netip.Prefix, now time.Time) time.Duration {
	l.mu.Lock()
	tat, ok := l.tat[addr]
	l.mu.Unlock()
	if !ok {
		return 0
	}
	return max(tat.Sub(now)-l.burst, 0)
}

// fail takes one failure from addr's budget.
func (l *addrLimiter) fail(addr netip.Prefix, now time.Time) {
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
	// budget, so that one address cannot lock itself out for longer than Period.
	if limit := now.Add(l.burst + l.interval); tat.After(limit) {
		tat = limit
	}
	l.tat[addr] = tat
}

// shrink forgets addresses whose budget is full again and, if that frees too little,
// arbitrary others, down to three quarters of max; l.mu is held.
// Forgetting an address gives it a full budget: under a flood of addresses the limit
// weakens rather than memory growing.
func (l *addrLimiter) shrink(now time.Time) {
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

// clientIP returns the client's address: the connection's peer, unless that peer is a
// trusted proxy: then the right-most address of X-Forwarded-For that is not a trusted
// proxy. An unparseable address gives the invalid Addr.
// Its failures count against addrKey of it: the IPv4 address, or the /64 of an IPv6
// address, since one host usually holds a whole /64; unparseable addresses all share
// one budget.
func (h *Handler) clientIP(r *http.Request) netip.Addr {
	addr := parseAddr(r.RemoteAddr)
	if len(h.proxies) > 0 && h.trusted(addr) {
		fields := r.Header.Values("X-Forwarded-For")
	outer:
		for i := len(fields) - 1; i >= 0; i-- {
			hops := strings.Split(fields[i], ",")
			for j := len(hops) - 1; j >= 0; j-- {
				hop := parseAddr(strings.TrimSpace(hops[j]))
				if !hop.IsValid() {
					break outer // garbage: believe nothing further left
				}
				addr = hop
				if !h.trusted(hop) {
					break outer
				}
			}
		}
	}
	return addr
}

// trusted reports whether addr is one of the trusted proxies.
func (h *Handler) trusted(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	for _, p := range h.proxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseAddr reads "IP", "IP:port" or "[IP]:port"; an invalid Addr when it cannot.
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// addrKey returns the budget of an address: itself for IPv4, its /64 for IPv6, and
// the zero Prefix for an invalid one.
func addrKey(a netip.Addr) netip.Prefix {
	switch {
	case !a.IsValid():
		return netip.Prefix{}
	case a.Is4():
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.WithZone("").Prefix(64) // cannot fail for an IPv6 address
	return p
}
