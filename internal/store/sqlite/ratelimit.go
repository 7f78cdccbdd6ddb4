package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// chargeRate takes rc from its key's rate budget in tx, a transaction of the writer,
// by the one rule of rates (core.Rate.Take), or returns its *core.RateLimitError: the
// budget is in the file, so it survives restarts and holds for every process on the
// file, and the write it pays for commits with it or not at all.
func chargeRate(ctx context.Context, tx *sql.Tx, rc *core.RateCharge) error {
	if rc == nil || rc.Rate.IsZero() {
		return nil
	}
	var tat int64
	err := tx.QueryRowContext(ctx, `SELECT tat FROM rate_limits WHERE key_id = ?`, rc.KeyID).Scan(&tat)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var from time.Time
	if tat != 0 {
		from = time.Unix(0, tat)
	}
	next, err := rc.Rate.Take(from, rc.N, rc.Now)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO rate_limits (key_id, tat) VALUES (?, ?)
		ON CONFLICT (key_id) DO UPDATE SET tat = excluded.tat`, rc.KeyID, next.UnixNano())
	return err
}
