package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmpp-invites/invites/internal/core"
)

// chargeRate takes rc from its key's rate budget in tx by the one rule of rates
// (core.Rate.Take), or returns its *core.RateLimitError: the budget's row is locked to
// the end of the transaction, so that the budget is shared by every node on the
// schema and the write it pays for commits with it or not at all.
func (s *Store) chargeRate(ctx context.Context, tx pgx.Tx, rc *core.RateCharge) error {
	if rc == nil || rc.Rate.IsZero() {
		return nil
	}
	if _, err := tx.Exec(ctx, s.q.rateRow, rc.KeyID); err != nil {
		return err
	}
	var tat int64
	if err := tx.QueryRow(ctx, s.q.rateForUpdate, rc.KeyID).Scan(&tat); err != nil {
		return err
	}
	var from time.Time
	if tat != 0 {
		from = fromNanos(tat)
	}
	next, err := rc.Rate.Take(from, rc.N, rc.Now)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, s.q.setRate, rc.KeyID, nanos(next))
	return err
}
