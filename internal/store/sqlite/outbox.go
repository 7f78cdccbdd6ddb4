package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
)

var _ outbox.Store = (*Store)(nil)

// Claim implements outbox.Store. The claim is one write: the single writer of the file
// serializes it with every other process's, so two claims never take the same event.
func (s *Store) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]outbox.Entry, error) {
	limit, err := outbox.ClaimLimit(owner, lease, limit)
	if err != nil {
		return nil, err
	}
	var out []outbox.Entry
	err = s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, `UPDATE outbox
			SET lease_owner = ?, lease_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM outbox
				WHERE delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= ?
					AND (lease_until IS NULL OR lease_until <= ?)
				ORDER BY next_attempt_at, id LIMIT ?)
			RETURNING payload, attempts, done, created_at`,
			owner, micros(now.Add(lease)), micros(now), micros(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				payload, done string
				attempts      int
				created       int64
			)
			if err := rows.Scan(&payload, &attempts, &done, &created); err != nil {
				return err
			}
			e := outbox.Entry{Attempts: attempts, Done: splitDone(done), CreatedAt: fromMicros(created)}
			if err := json.Unmarshal([]byte(payload), &e.Event); err != nil {
				return fmt.Errorf("reading an event: %w", err)
			}
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claiming events: %w", err)
	}
	// RETURNING gives no order: oldest first, as promised.
	sortEntries(out)
	return out, nil
}

// Complete implements outbox.Store.
func (s *Store) Complete(ctx context.Context, id, owner string, now time.Time, attempts []outbox.Attempt, effects []outbox.Effect) error {
	return s.settleEvent(ctx, id, owner, attempts, effects, `UPDATE outbox
		SET delivered_at = ?, lease_owner = NULL, lease_until = NULL, last_error = NULL
		WHERE id = ? AND lease_owner = ?`, micros(now), id, owner)
}

// Fail implements outbox.Store.
func (s *Store) Fail(ctx context.Context, id, owner string, f outbox.Failure, attempts []outbox.Attempt) error {
	var givenUp sql.NullInt64
	if f.GiveUp {
		givenUp = sql.NullInt64{Int64: micros(f.NextAttempt), Valid: true}
	}
	return s.settleEvent(ctx, id, owner, attempts, f.Effects, `UPDATE outbox
		SET next_attempt_at = ?, given_up_at = ?, done = ?, last_error = ?,
			lease_owner = NULL, lease_until = NULL
		WHERE id = ? AND lease_owner = ?`,
		micros(f.NextAttempt), givenUp, strings.Join(f.Done, "\n"), f.Error, id, owner)
}

// settleEvent runs update (which must name the event and its owner) and logs the
// attempts, in one transaction, with the effects when the update found the event
// still leased to its owner.
func (s *Store) settleEvent(ctx context.Context, id, owner string, attempts []outbox.Attempt, effects []outbox.Effect, update string, args ...any) error {
	lost := false
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, update, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		lost = n == 0
		for _, a := range attempts {
			sink := a.Sink
			if sink == "" {
				sink = "webhook"
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO deliveries
				(event_id, endpoint, attempt, type, host, at, duration, status, error, sink)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				a.EventID, a.Endpoint, a.Attempt, a.Type, a.Host, micros(a.At),
				int64(a.Duration), a.Status, a.Error, sink); err != nil {
				return err
			}
		}
		if lost {
			return nil
		}
		return applyEffects(ctx, tx, effects)
	})
	if err != nil {
		return fmt.Errorf("recording the delivery of event %s: %w", id, err)
	}
	if lost {
		return fmt.Errorf("event %s: %w", id, outbox.ErrLeaseLost)
	}
	return nil
}

// DeliveryLog implements outbox.Store.
func (s *Store) DeliveryLog(ctx context.Context, q outbox.LogQuery) ([]outbox.Attempt, error) {
	query := `SELECT event_id, endpoint, attempt, type, host, at, duration, status, error, sink FROM deliveries`
	var (
		conds []string
		args  []any
	)
	if q.Host != "" {
		conds, args = append(conds, "host = ?"), append(args, q.Host)
	}
	if q.EventID != "" {
		conds, args = append(conds, "event_id = ?"), append(args, q.EventID)
	}
	if q.Sink != "" {
		conds, args = append(conds, "sink = ?"), append(args, q.Sink)
	}
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	query += " ORDER BY at DESC, event_id DESC LIMIT ?"
	args = append(args, q.Bounded())
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("reading the delivery log: %w", err)
	}
	defer rows.Close()
	var out []outbox.Attempt
	for rows.Next() {
		var (
			a        outbox.Attempt
			at, dura int64
		)
		if err := rows.Scan(&a.EventID, &a.Endpoint, &a.Attempt, &a.Type, &a.Host, &at, &dura, &a.Status, &a.Error, &a.Sink); err != nil {
			return nil, fmt.Errorf("reading the delivery log: %w", err)
		}
		a.At, a.Duration = fromMicros(at), time.Duration(dura)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the delivery log: %w", err)
	}
	return out, nil
}

// OutboxBacklog implements outbox.Store.
func (s *Store) OutboxBacklog(ctx context.Context) (outbox.Backlog, error) {
	var (
		b      outbox.Backlog
		oldest sql.NullInt64
	)
	err := s.r.QueryRowContext(ctx, `SELECT
			COUNT(*) FILTER (WHERE delivered_at IS NULL AND given_up_at IS NULL),
			MIN(created_at) FILTER (WHERE delivered_at IS NULL AND given_up_at IS NULL),
			COUNT(*) FILTER (WHERE given_up_at IS NOT NULL)
		FROM outbox`).Scan(&b.Pending, &oldest, &b.GivenUp)
	if err != nil {
		return outbox.Backlog{}, fmt.Errorf("counting the outbox: %w", err)
	}
	b.Oldest = fromNullMicros(oldest)
	return b, nil
}

// PurgeOutbox implements outbox.Store: events written before before go, whatever their
// state (a delivery ends within a day, so an older event that is still pending has no
// worker left to send it), with the attempts logged before it.
func (s *Store) PurgeOutbox(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE created_at < ?`, micros(before))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM deliveries WHERE at < ?`, micros(before))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purging the outbox: %w", err)
	}
	return n, nil
}

// CountPending returns how many invites are pending at now, per host.
func (s *Store) CountPending(ctx context.Context, now time.Time) (map[string]int, error) {
	// ended_at IS NULL holds of every pending invite and lets the partial index of
	// pending invites answer.
	return s.countBy(ctx, `SELECT host, COUNT(*) FROM invites
		WHERE ended_at IS NULL AND `+statusCond(core.StatusPending)+`
		GROUP BY host`, micros(now))
}

// CountKeys returns how many API keys each host has.
func (s *Store) CountKeys(ctx context.Context) (map[string]int, error) {
	return s.countBy(ctx, `SELECT host, COUNT(*) FROM keys GROUP BY host`)
}

func (s *Store) countBy(ctx context.Context, query string, args ...any) (map[string]int, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("counting: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			host string
			n    int
		)
		if err := rows.Scan(&host, &n); err != nil {
			return nil, fmt.Errorf("counting: %w", err)
		}
		out[host] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting: %w", err)
	}
	return out, nil
}

// splitDone reads the done column: endpoint names, one a line.
func splitDone(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// sortEntries orders claimed events oldest first (by ID, which is time-ordered).
func sortEntries(es []outbox.Entry) {
	slices.SortFunc(es, func(a, b outbox.Entry) int { return strings.Compare(a.Event.ID, b.Event.ID) })
}
