package core

import "time"

// RateCharge is what a write takes from a key's rate budget, checked and recorded by
// the store in the write's own transaction (see Rate.Take), so that a refused or
// failed write spends nothing and concurrent writes on any number of processes and
// nodes never take more than the rate allows.
type RateCharge struct {
	// KeyID names the budget.
	KeyID string
	// Rate is the key's rate.
	Rate Rate
	// N is how much the write takes: the accounts an invite can make (its max_uses),
	// or the accounts a change adds to it. At least 1, at most Rate.N.
	N int
	// Now is when.
	Now time.Time
}

// Take is the one rule of rates, the generic cell rate algorithm (GCRA): a budget of
// N events, refilled one every Period/N. Given the budget's theoretical arrival time
// tat (the zero time for a budget never used), it takes n events at now and returns
// the new theoretical arrival time, or a *RateLimitError saying how long until n can
// be taken, leaving tat as it was.
// In any span of time t at most N + ⌊t·N/Period⌋ events are taken. An unlimited rate
// takes anything and returns tat unchanged.
func (r Rate) Take(tat time.Time, n int, now time.Time) (time.Time, error) {
	if r.IsZero() || n <= 0 {
		return tat, nil
	}
	interval := r.Period / time.Duration(r.N)
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(time.Duration(n) * interval)
	if wait := next.Sub(now) - r.Period; wait > 0 {
		return tat, &RateLimitError{RetryAfter: wait}
	}
	return next, nil
}
