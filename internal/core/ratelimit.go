package core

import (
	"context"
	"sync"
	"time"
)

// MemoryRateLimiter is a RateLimiter for one process: a generic cell rate algorithm
// (GCRA) per key, which allows bursts of up to N and then one event every Period/N.
type MemoryRateLimiter struct {
	mu  sync.Mutex
	tat map[string]time.Time // theoretical arrival time per key
}

// NewMemoryRateLimiter returns an empty limiter.
func NewMemoryRateLimiter() *MemoryRateLimiter {
	return &MemoryRateLimiter{tat: make(map[string]time.Time)}
}

// Allow implements RateLimiter.
func (l *MemoryRateLimiter) Allow(_ context.Context, keyID string, rate Rate, now time.Time) error {
	if rate.IsZero() {
		return nil
	}
	interval := rate.Period / time.Duration(rate.N)
	burst := rate.Period - interval
	l.mu.Lock()
	defer l.mu.Unlock()
	tat := l.tat[keyID]
	if tat.Before(now) {
		tat = now
	}
	if wait := tat.Sub(now) - burst; wait > 0 {
		return &RateLimitError{RetryAfter: wait}
	}
	l.tat[keyID] = tat.Add(interval)
	// Forget keys whose budget is full again, so the map stays small.
	if len(l.tat) > 4096 {
		for id, t := range l.tat {
			if t.Before(now) {
				delete(l.tat, id)
			}
		}
	}
	return nil
}

var _ RateLimiter = (*MemoryRateLimiter)(nil)
