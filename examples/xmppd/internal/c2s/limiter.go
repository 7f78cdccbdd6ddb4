package c2s

import (
	"net"
	"sync"
	"time"
)

// maxLimiterEntries bounds the addresses a failureLimiter remembers.
const maxLimiterEntries = 10000

// failureLimiter counts failed logins per client IP address in fixed windows, to
// slow password guessing across connections.
type failureLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu   sync.Mutex
	hits map[string]*failureWindow
}

// failureWindow is one address's count since start.
type failureWindow struct {
	start time.Time
	n     int
}

// newFailureLimiter allows max failures per address per window.
func newFailureLimiter(max int, window time.Duration, now func() time.Time) *failureLimiter {
	return &failureLimiter{max: max, window: window, now: now, hits: map[string]*failureWindow{}}
}

// key is the address without its port.
func key(addr net.Addr) string {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	return host
}

// blocked reports whether addr has used up its failures.
func (l *failureLimiter) blocked(addr net.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.hits[key(addr)]
	return ok && l.now().Sub(w.start) < l.window && w.n >= l.max
}

// fail records a failed login from addr.
func (l *failureLimiter) fail(addr net.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	k := key(addr)
	w, ok := l.hits[k]
	if !ok || now.Sub(w.start) >= l.window {
		if len(l.hits) >= maxLimiterEntries {
			for k, w := range l.hits {
				if now.Sub(w.start) >= l.window {
					delete(l.hits, k)
				}
			}
			if len(l.hits) >= maxLimiterEntries {
				return // under attack from everywhere: stop remembering, stay bounded
			}
		}
		w = &failureWindow{start: now}
		l.hits[k] = w
	}
	w.n++
}
