package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
)

var _ outbox.Store = (*Store)(nil)

// Claim implements outbox.Store. FOR UPDATE SKIP LOCKED lets the nodes claim at once
// without waiting on each other's rows, and never the same row twice.
func (s *Store) Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]outbox.Entry, error) {
	limit, err := outbox.ClaimLimit(owner, lease, limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `UPDATE `+s.q.schema+`.outbox AS o
		SET lease_owner = $1, lease_until = $2, attempts = o.attempts + 1
		FROM (SELECT id FROM `+s.q.schema+`.outbox
			WHERE delivered_at IS NULL AND given_up_at IS NULL AND next_attempt_at <= $3
				AND (lease_until IS NULL OR lease_until <= $3)
			ORDER BY next_attempt_at, id LIMIT $4
			FOR UPDATE SKIP LOCKED) AS due
		WHERE o.id = due.id
		RETURNING o.payload::text, o.attempts, o.done, o.created_at`,
		owner, nanos(now.Add(lease)), nanos(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claiming events: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (outbox.Entry, error) {
		var (
			e             outbox.Entry
			payload, done string
			attempts      int32
			created       int64
		)
		if err := r.Scan(&payload, &attempts, &done, &created); err != nil {
			return e, err
		}
		e.Attempts, e.Done, e.CreatedAt = int(attempts), splitDone(done), fromNanos(created)
		return e, json.Unmarshal([]byte(payload), &e.Event)
	})
	if err != nil {
		return nil, fmt.Errorf("claiming events: %w", err)
	}
	slices.SortFunc(out, func(a, b outbox.Entry) int { return strings.Compare(a.Event.ID, b.Event.ID) })
	return out, nil
}

// Complete implements outbox.Store.
func (s *Store) Complete(ctx context.Context, id, owner string, now time.Time, attempts []outbox.Attempt, effects []outbox.Effect) error {
	return s.settleEvent(ctx, id, attempts, effects, `UPDATE `+s.q.schema+`.outbox
		SET delivered_at = $1, lease_owner = NULL, lease_until = NULL, last_error = NULL
		WHERE id = $2 AND lease_owner = $3`, nanos(now), id, owner)
}

// Fail implements outbox.Store.
func (s *Store) Fail(ctx context.Context, id, owner string, f outbox.Failure, attempts []outbox.Attempt) error {
	var givenUp *int64
	if f.GiveUp {
		n := nanos(f.NextAttempt)
		givenUp = &n
	}
	return s.settleEvent(ctx, id, attempts, f.Effects, `UPDATE `+s.q.schema+`.outbox
		SET next_attempt_at = $1, given_up_at = $2, done = $3, last_error = $4,
			lease_owner = NULL, lease_until = NULL
		WHERE id = $5 AND lease_owner = $6`,
		nanos(f.NextAttempt), givenUp, strings.Join(f.Done, "\n"), f.Error, id, owner)
}

// settleEvent runs update (which must name the event and its owner) and logs the
// attempts, in one transaction, with the effects when the update found the event
// still leased to its owner.
func (s *Store) settleEvent(ctx context.Context, id string, attempts []outbox.Attempt, effects []outbox.Effect, update string, args ...any) error {
	lost := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, update, args...)
		if err != nil {
			return err
		}
		lost = tag.RowsAffected() == 0
		for _, a := range attempts {
			sink := a.Sink
			if sink == "" {
				sink = "webhook"
			}
			if _, err := tx.Exec(ctx, `INSERT INTO `+s.q.schema+`.deliveries
				(event_id, endpoint, attempt, type, host, at, duration, status, error, sink)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
				ON CONFLICT DO NOTHING`,
				a.EventID, a.Endpoint, a.Attempt, a.Type, a.Host, nanos(a.At),
				int64(a.Duration), a.Status, a.Error, sink); err != nil {
				return err
			}
		}
		if lost {
			return nil
		}
		return s.applyEffects(ctx, tx, effects)
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
	rows, err := s.pool.Query(ctx, `SELECT event_id, endpoint, attempt, type, host, at, duration, status, error, sink
		FROM `+s.q.schema+`.deliveries
		WHERE ($1 = '' OR host = $1) AND ($2 = '' OR event_id = $2) AND ($4 = '' OR sink = $4)
		ORDER BY at DESC, event_id DESC LIMIT $3`, q.Host, q.EventID, q.Bounded(), q.Sink)
	if err != nil {
		return nil, fmt.Errorf("reading the delivery log: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (outbox.Attempt, error) {
		var (
			a              outbox.Attempt
			attempt, code  int32
			at, durationNs int64
		)
		err := r.Scan(&a.EventID, &a.Endpoint, &attempt, &a.Type, &a.Host, &at, &durationNs, &code, &a.Error, &a.Sink)
		a.Attempt, a.Status, a.At, a.Duration = int(attempt), int(code), fromNanos(at), time.Duration(durationNs)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the delivery log: %w", err)
	}
	return out, nil
}

// OutboxBacklog implements outbox.Store.
func (s *Store) OutboxBacklog(ctx context.Context) (outbox.Backlog, error) {
	var (
		b               outbox.Backlog
		pending, gaveUp int64
		oldest          *int64
	)
	err := s.pool.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE delivered_at IS NULL AND given_up_at IS NULL),
			min(created_at) FILTER (WHERE delivered_at IS NULL AND given_up_at IS NULL),
			count(*) FILTER (WHERE given_up_at IS NOT NULL)
		FROM `+s.q.schema+`.outbox`).Scan(&pending, &oldest, &gaveUp)
	if err != nil {
		return outbox.Backlog{}, fmt.Errorf("counting the outbox: %w", err)
	}
	b.Pending, b.GivenUp, b.Oldest = int(pending), int(gaveUp), fromNullNanos(oldest)
	return b, nil
}

// PurgeOutbox implements outbox.Store: events written before before go, whatever their
// state (a delivery ends within a day, so an older event that is still pending has no
// worker left to send it), with the attempts logged before it.
func (s *Store) PurgeOutbox(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM `+s.q.schema+`.outbox WHERE created_at < $1`, nanos(before))
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM `+s.q.schema+`.deliveries WHERE at < $1`, nanos(before))
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
	return s.countBy(ctx, `SELECT host, count(*) FROM `+s.q.schema+`.invites
		WHERE ended_at IS NULL AND `+statusCond(core.StatusPending, 1)+`
		GROUP BY host`, nanos(now))
}

// CountKeys returns how many API keys each host has.
func (s *Store) CountKeys(ctx context.Context) (map[string]int, error) {
	return s.countBy(ctx, `SELECT host, count(*) FROM `+s.q.schema+`.keys GROUP BY host`)
}

func (s *Store) countBy(ctx context.Context, query string, args ...any) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("counting: %w", err)
	}
	out := map[string]int{}
	var (
		host string
		n    int64
	)
	_, err = pgx.ForEachRow(rows, []any{&host, &n}, func() error {
		out[host] = int(n)
		return nil
	})
	if err != nil {
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
