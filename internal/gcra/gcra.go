// Package gcra budgets events per key with the generic cell rate algorithm (GCRA):
// a budget of N events per period, refilled steadily, one every period/N, so that a
// key may spend N at once and then one every period/N.
//
// A Limiter remembers at most a bounded number of keys: when full it forgets first
// the keys whose budget is full again, then those closest to a full budget, so
// memory stays bounded and the latest offenders stay limited.
// The failed-authentication budgets of the HTTP API, the failed-attempt budget of the
// invite page and the failed-login budget of the example server are Limiters.
package gcra

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Limiter holds one budget per key; the zero value is not usable, make one with New.
// It is safe for concurrent use.
type Limiter[K comparable] struct {
	interval time.Duration // period/n: how long one event takes to be forgiven
	burst    time.Duration // period - interval: how far ahead a budget may run
	max      int

	mu  sync.Mutex
	tat map[K]time.Time // theoretical arrival time per key
}

// New returns a Limiter allowing n events per period to each key, remembering at
// most maxKeys keys (at least one). n and period must be positive.
func New[K comparable](n int, period time.Duration, maxKeys int) *Limiter[K] {
	n = max(n, 1)
	interval := period / time.Duration(n)
	return &Limiter[K]{
		interval: interval,
		burst:    period - interval,
		max:      max(maxKeys, 1),
		tat:      make(map[K]time.Time),
	}
}

// Wait says how long until k may spend once more; zero means it may now.
func (l *Limiter[K]) Wait(k K, now time.Time) time.Duration {
	l.mu.Lock()
	tat, ok := l.tat[k]
	l.mu.Unlock()
	if !ok {
		return 0
	}
	return max(tat.Sub(now)-l.burst, 0)
}

// Spend takes one event from k's budget, whether or not it was there: it records
// what happened (a failure), it does not ask permission (see Take).
// Concurrent callers may all have seen a Wait of zero; a budget never runs further
// ahead than one full period, so that a key is never held back for longer than that.
func (l *Limiter[K]) Spend(k K, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.spend(k, now)
}

// Take spends one event from k's budget if it allows one now, and otherwise reports
// how long until it will, spending nothing.
func (l *Limiter[K]) Take(k K, now time.Time) (wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if tat, ok := l.tat[k]; ok {
		if w := tat.Sub(now) - l.burst; w > 0 {
			return w
		}
	}
	l.spend(k, now)
	return 0
}

// spend takes one event from k's budget; l.mu is held.
func (l *Limiter[K]) spend(k K, now time.Time) {
	tat, ok := l.tat[k]
	if !ok && len(l.tat) >= l.max {
		l.shrink(now)
	}
	if tat.Before(now) {
		tat = now
	}
	tat = tat.Add(l.interval)
	if limit := now.Add(l.burst + l.interval); tat.After(limit) {
		tat = limit
	}
	l.tat[k] = tat
}

// Refund gives back one event that Take spent for k, when what it was reserved for
// did not happen (a login checked before it is known to fail, that succeeded). A
// budget never grows past full.
func (l *Limiter[K]) Refund(k K, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tat, ok := l.tat[k]
	if !ok {
		return
	}
	if tat = tat.Add(-l.interval); !tat.After(now) {
		delete(l.tat, k) // full again
		return
	}
	l.tat[k] = tat
}

// Len returns how many keys the limiter remembers.
func (l *Limiter[K]) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.tat)
}

// shrink forgets the keys whose budget is full again and, if that frees too little,
// those closest to a full budget, down to three quarters of the bound; l.mu is held.
// A forgotten key has a full budget again: under a flood of keys the limit weakens
// for those that spent least and longest ago, never for the latest. Sorting makes it
// O(max log max), once every max/4 new keys.
func (l *Limiter[K]) shrink(now time.Time) {
	for k, t := range l.tat {
		if !t.After(now) {
			delete(l.tat, k)
		}
	}
	target := l.max * 3 / 4
	if len(l.tat) <= target {
		return
	}
	type entry struct {
		k   K
		tat time.Time
	}
	all := make([]entry, 0, len(l.tat))
	for k, t := range l.tat {
		all = append(all, entry{k, t})
	}
	slices.SortFunc(all, func(a, b entry) int { return cmp.Compare(a.tat.UnixNano(), b.tat.UnixNano()) })
	for _, e := range all[:len(all)-target] {
		delete(l.tat, e.k)
	}
}
