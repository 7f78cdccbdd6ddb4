package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// Allow implements core.RateLimiter with its state in the database, shared by every
// node on the same schema: one statement reads, decides and writes the key's row under
// its row lock.
// The algorithm and its bounds are those of core.MemoryRateLimiter (a burst of N, then
// one every Period/N); the package documentation states what holds across nodes.
func (s *Store) Allow(ctx context.Context, keyID string, rate core.Rate, now time.Time) error {
	if rate.IsZero() {
		return nil
	}
	interval := rate.Period / time.Duration(rate.N)
	burst := rate.Period - interval
	t := nanos(now)
	var (
		allowed bool
		tat     int64
	)
	if err := s.pool.QueryRow(ctx, s.q.allow, keyID, t, int64(interval), int64(burst)).Scan(&allowed, &tat); err != nil {
		return fmt.Errorf("rate limit: %w", err)
	}
	if allowed {
		return nil
	}
	wait := time.Duration(tat-t) - burst
	if wait <= 0 {
		wait = interval // not reached: a denial means tat - burst > now
	}
	return &core.RateLimitError{RetryAfter: wait}
}
