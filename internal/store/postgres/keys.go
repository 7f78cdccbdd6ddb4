package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmpp-invites/invites/internal/core"
)

// CreateKey implements core.Store; ErrConflict if the ID exists.
func (s *Store) CreateKey(ctx context.Context, k core.Key, events []core.Event) (rerr error) {
	defer classify(&rerr)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, s.q.createKey,
			k.ID, k.Host, k.Name, k.SecretHash, nanos(k.CreatedAt), nullNanos(k.ExpiresAt),
			int64(k.MaxTTL), int64(k.Rate.N), int64(k.Rate.Period), nullNanos(k.LastUsed), k.Uses, k.Manage); err != nil {
			return err
		}
		return s.writeOutbox(ctx, tx, events)
	})
	switch {
	case isUniqueViolation(err):
		return core.ErrConflict
	case err != nil:
		return fmt.Errorf("creating key: %w", err)
	}
	return nil
}

// Key implements core.Store; ErrNotFound if there is no key with that ID.
func (s *Store) Key(ctx context.Context, id string) (_ core.Key, rerr error) {
	defer classify(&rerr)
	var found bool
	k, err := scanKey(withFound(s.pool.QueryRow(ctx, s.q.key, id), &found))
	switch {
	case errors.Is(err, pgx.ErrNoRows), err == nil && !found:
		return core.Key{}, core.ErrNotFound
	case err != nil:
		return core.Key{}, fmt.Errorf("reading key: %w", err)
	}
	return k, nil
}

// Keys implements core.Store: a host's keys, oldest first (in creation order when
// created in the same instant).
func (s *Store) Keys(ctx context.Context, host string) (_ []core.Key, rerr error) {
	defer classify(&rerr)
	rows, err := s.pool.Query(ctx, s.q.keys, host)
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.Key, error) { return scanKey(r) })
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	return keys, nil
}

// DeleteKey implements core.Store; ErrNotFound if the host has no key with that ID.
// The key's rate limit state is deleted with it, and a notification tells every node's
// listener (see KeysVersion) when the transaction commits. DeleteKey returns once every
// listener of the schema connected at the commit has acknowledged the notification
// (or after ackTimeout, should one not answer: its node then stops trusting its
// memory within its listener's idle check and the key cache's TTL).
//
// A store opened just before (the key command line) first waits, up to ackTimeout, for
// its own listener to connect: without it, it could not hear the acknowledgements.
func (s *Store) DeleteKey(ctx context.Context, host, id string, events []core.Event) (rerr error) {
	defer classify(&rerr)
	wctx, cancel := context.WithTimeout(ctx, ackTimeout)
	err := s.WaitKeysWatched(wctx)
	cancel()
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("deleting key: %w", ctx.Err())
	}
	token, w := s.listen.expect()
	defer s.listen.forget(token)
	var n int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, s.q.deleteKey, host, id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if w != nil {
			// Listeners that connect after this count see the deletion as a
			// reconnection, which also invalidates their memory.
			var listeners int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`,
				s.listen.name()).Scan(&listeners); err != nil {
				return err
			}
			s.listen.setWant(w, listeners)
		}
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, s.listen.channel, notifyDelete+token); err != nil {
			return err
		}
		return s.writeOutbox(ctx, tx, events)
	})
	if err != nil {
		return fmt.Errorf("deleting key: %w", err)
	}
	if n == 0 {
		return core.ErrNotFound
	}
	s.listen.bump()
	if w != nil {
		t := time.NewTimer(ackTimeout)
		defer t.Stop()
		select {
		case <-w.done:
		case <-t.C:
			s.log.Warn("not every node acknowledged a key deletion in time", "key", id, "wait", ackTimeout)
		case <-ctx.Done():
		}
	}
	return nil
}

// ackTimeout bounds how long DeleteKey waits for the other nodes' acknowledgements.
const ackTimeout = 2 * time.Second

// AddKeyUses implements core.Store, in one statement whatever the number of keys.
// Batches for one key are summed first; uses of keys that no longer exist are dropped.
func (s *Store) AddKeyUses(ctx context.Context, uses []core.KeyUse) (rerr error) {
	defer classify(&rerr)
	if len(uses) == 0 {
		return nil
	}
	sum := make(map[string]core.KeyUse, len(uses))
	for _, u := range uses {
		p := sum[u.ID]
		p.ID = u.ID
		p.Count += u.Count
		if u.LastUsed.After(p.LastUsed) {
			p.LastUsed = u.LastUsed
		}
		sum[u.ID] = p
	}
	// Two nodes flushing overlapping keys at once can deadlock; PostgreSQL then aborts
	// one statement, which is retried.
	ids := make([]string, 0, len(sum))
	for id := range sum {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, strings.Compare)
	counts := make([]int64, len(ids))
	lasts := make([]*int64, len(ids))
	for i, id := range ids {
		counts[i] = sum[id].Count
		lasts[i] = nullNanos(sum[id].LastUsed)
	}
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			t := time.NewTimer(time.Duration(attempt) * 10 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("adding key uses: %w", ctx.Err())
			case <-t.C:
			}
		}
		if _, err = s.pool.Exec(ctx, s.q.addKeyUses, ids, counts, lasts); !isRetryable(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("adding key uses: %w", err)
	}
	return nil
}

// scanKey reads a row of keyColumns.
// foundRow scans a row of a lookup that always answers one row, the one looked for or a
// decoy of the same shape, whose last column says which.
type foundRow struct {
	row   pgx.Row
	found *bool
}

// withFound returns a row that sets *found from row's last column.
func withFound(row pgx.Row, found *bool) pgx.Row { return foundRow{row, found} }

// Scan implements pgx.Row.
func (f foundRow) Scan(dest ...any) error { return f.row.Scan(append(dest, f.found)...) }

func scanKey(row pgx.Row) (core.Key, error) {
	var (
		k                         core.Key
		created                   int64
		expires, lastUsed         *int64
		maxTTL, rateN, ratePeriod int64
	)
	if err := row.Scan(&k.ID, &k.Host, &k.Name, &k.SecretHash, &created, &expires,
		&maxTTL, &rateN, &ratePeriod, &lastUsed, &k.Uses, &k.Manage); err != nil {
		return core.Key{}, err
	}
	k.CreatedAt = fromNanos(created)
	k.ExpiresAt = fromNullNanos(expires)
	k.LastUsed = fromNullNanos(lastUsed)
	k.MaxTTL = time.Duration(maxTTL)
	k.Rate = core.Rate{N: int(rateN), Period: time.Duration(ratePeriod)}
	return k, nil
}
