package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// Allow implements core.RateLimiter with its state in the file, so that a key's rate
// survives restarts of the plugin and holds for every process on the file: the
// decision and its record are one write, committed (with the group commit of other
// writes) before Allow returns.
// The algorithm and its bounds are those of core.MemoryRateLimiter: a burst of N, then
// one every Period/N; in any span of time t at most N + ⌊t·N/Period⌋ are allowed,
// restarts included.
func (s *Store) Allow(ctx context.Context, keyID string, rate core.Rate, now time.Time) error {
	if rate.IsZero() {
		return nil
	}
	interval := int64(rate.Period / time.Duration(rate.N))
	burst := int64(rate.Period) - interval
	t := now.UnixNano()
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var tat int64
		err := tx.QueryRowContext(ctx, `SELECT tat FROM rate_limits WHERE key_id = ?`, keyID).Scan(&tat)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		tat = max(tat, t)
		if wait := tat - burst - t; wait > 0 {
			return &core.RateLimitError{RetryAfter: time.Duration(wait)}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO rate_limits (key_id, tat) VALUES (?, ?)
			ON CONFLICT (key_id) DO UPDATE SET tat = excluded.tat`, keyID, tat+interval)
		return err
	})
	var rl *core.RateLimitError
	if err != nil && !errors.As(err, &rl) {
		return fmt.Errorf("rate limit: %w", err)
	}
	return err
}
