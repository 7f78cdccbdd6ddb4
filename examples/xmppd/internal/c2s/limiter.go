package c2s

import (
	"container/list"
	"net"
	"net/netip"
	"sync"
	"time"
)

// maxLimiterEntries bounds the addresses a failureLimiter or a logLimiter remembers.
const maxLimiterEntries = 10000

// addrKey returns the budget an address counts against: its IPv4 address, or the /64
// of its IPv6 address (one host usually holds a whole /64). Addresses that cannot
// be read share the zero Prefix.
func addrKey(addr net.Addr) netip.Prefix {
	var a netip.Addr
	if t, ok := addr.(*net.TCPAddr); ok {
		a, _ = netip.AddrFromSlice(t.IP)
	} else if addr != nil {
		if ap, err := netip.ParseAddrPort(addr.String()); err == nil {
			a = ap.Addr()
		}
	}
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

// failureLimiter counts failed logins per client address (see addrKey) in fixed
// windows, to slow password guessing across connections.
// Its memory is bounded by evicting the address whose window started first, never by
// leaving a new address uncounted.
type failureLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu    sync.Mutex
	hits  map[netip.Prefix]*list.Element // of *failureWindow
	order *list.List                     // oldest window start at the front
}

// failureWindow is one address's count since start.
type failureWindow struct {
	key   netip.Prefix
	start time.Time
	n     int
}

// newFailureLimiter allows max failures per address per window.
func newFailureLimiter(max int, window time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{max: max, window: window, now: now, hits: map[netip.Prefix]*list.Element{}, order: list.New()}
}

// blocked reports whether addr has used up its failures.
func (l *failureLimiter) blocked(addr net.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.hits[addrKey(addr)]
	if !ok {
		return false
	}
	w := e.Value.(*failureWindow)
	return l.now().Sub(w.start) < l.window && w.n >= l.max
}

// fail records a failed login from addr.
func (l *failureLimiter) fail(addr net.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := addrKey(addr)
	if e, ok := l.hits[k]; ok {
		w := e.Value.(*failureWindow)
		if now.Sub(w.start) >= l.window {
			w.start, w.n = now, 0
			l.order.MoveToBack(e)
		}
		w.n++
		return
	}
	for len(l.hits) >= maxLimiterEntries {
		oldest := l.order.Front()
		delete(l.hits, oldest.Value.(*failureWindow).key)
		l.order.Remove(oldest)
	}
	l.hits[k] = l.order.PushBack(&failureWindow{key: k, start: now, n: 1})
}

// pendingLimiter counts the connections of each client address (see addrKey) that
// have not authenticated yet.
type pendingLimiter struct {
	max int

	mu sync.Mutex
	n  map[netip.Prefix]int
}

// newPendingLimiter allows max unauthenticated connections per address.
func newPendingLimiter(max int) *pendingLimiter {
	return &pendingLimiter{max: max, n: map[netip.Prefix]int{}}
}

// acquire counts a new connection from addr; false means addr has too many.
func (l *pendingLimiter) acquire(addr net.Addr) bool {
	k := addrKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[k] >= l.max {
		return false
	}
	l.n[k]++
	return true
}

// release uncounts a connection from addr (once it authenticated, or ended).
func (l *pendingLimiter) release(addr net.Addr) {
	k := addrKey(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n[k]--; l.n[k] <= 0 {
		delete(l.n, k)
	}
}

// logLimiter lets a repeated log line through once per interval and key, counting
// the ones it held back, so that an attack cannot fill the log.
// When it remembers maxLimiterEntries keys, new keys share one budget.
type logLimiter struct {
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	last map[string]*logWindow
}

// logWindow is when a key's line was last let through, and what was held back since.
type logWindow struct {
	at         time.Time
	suppressed int
}

// overflowKey is the budget keys share when the limiter is full.
const overflowKey = "\x00overflow"

// newLogLimiter lets one line per key through every interval.
func newLogLimiter(every time.Duration, now func() time.Time) *logLimiter {
	return &logLimiter{every: every, now: now, last: map[string]*logWindow{}}
}

// allow reports whether a line for key may be logged now and, if so, how many were
// held back since the last one.
func (l *logLimiter) allow(key string) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w, found := l.last[key]
	if !found && len(l.last) >= maxLimiterEntries {
		for k, v := range l.last {
			if now.Sub(v.at) >= l.every && k != overflowKey {
				delete(l.last, k)
			}
		}
		if len(l.last) >= maxLimiterEntries {
			key = overflowKey
			w, found = l.last[key]
		}
	}
	if !found {
		l.last[key] = &logWindow{at: now}
		return true, 0
	}
	if now.Sub(w.at) < l.every {
		w.suppressed++
		return false, 0
	}
	suppressed = w.suppressed
	w.at, w.suppressed = now, 0
	return true, suppressed
}
