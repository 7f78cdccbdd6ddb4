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
func (s *Store) CreateKey(ctx context.Context, k core.Key) error {
	_, err := s.pool.Exec(ctx, s.q.createKey,
		k.ID, k.Host, k.Name, k.SecretHash, nanos(k.CreatedAt), nullNanos(k.ExpiresAt),
		int64(k.MaxTTL), int64(k.Rate.N), int64(k.Rate.Period), nullNanos(k.LastUsed), k.Uses)
	switch {
	case isUniqueViolation(err):
		return core.ErrConflict
	case err != nil:
		return fmt.Errorf("postgres: creating key: %w", err)
	}
	return nil
}

// Key implements core.Store; ErrNotFound if there is no key with that ID.
func (s *Store) Key(ctx context.Context, id string) (core.Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, s.q.key, id))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return core.Key{}, core.ErrNotFound
	case err != nil:
		return core.Key{}, fmt.Errorf("postgres: reading key: %w", err)
	}
	return k, nil
}

// Keys implements core.Store: a host's keys, oldest first (in creation order when
// created in the same instant).
func (s *Store) Keys(ctx context.Context, host string) ([]core.Key, error) {
	rows, err := s.pool.Query(ctx, s.q.keys, host)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.Key, error) { return scanKey(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: listing keys: %w", err)
	}
	return keys, nil
}

// DeleteKey implements core.Store; ErrNotFound if the host has no key with that ID.
// The key's rate limit state is deleted with it.
func (s *Store) DeleteKey(ctx context.Context, host, id string) error {
	var n int64
	if err := s.pool.QueryRow(ctx, s.q.deleteKey, host, id).Scan(&n); err != nil {
		return fmt.Errorf("postgres: deleting key: %w", err)
	}
	if n == 0 {
		return core.ErrNotFound
	}
	return nil
}

// AddKeyUses implements core.Store, in one statement whatever the number of keys.
// Batches for one key are summed first; uses of keys that no longer exist are dropped.
func (s *Store) AddKeyUses(ctx context.Context, uses []core.KeyUse) error {
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
				return fmt.Errorf("postgres: adding key uses: %w", ctx.Err())
			case <-t.C:
			}
		}
		if _, err = s.pool.Exec(ctx, s.q.addKeyUses, ids, counts, lasts); !isRetryable(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("postgres: adding key uses: %w", err)
	}
	return nil
}

// scanKey reads a row of keyColumns.
func scanKey(row pgx.Row) (core.Key, error) {
	var (
		k                         core.Key
		created                   int64
		expires, lastUsed         *int64
		maxTTL, rateN, ratePeriod int64
	)
	if err := row.Scan(&k.ID, &k.Host, &k.Name, &k.SecretHash, &created, &expires,
		&maxTTL, &rateN, &ratePeriod, &lastUsed, &k.Uses); err != nil {
		return core.Key{}, err
	}
	k.CreatedAt = fromNanos(created)
	k.ExpiresAt = fromNullNanos(expires)
	k.LastUsed = fromNullNanos(lastUsed)
	k.MaxTTL = time.Duration(maxTTL)
	k.Rate = core.Rate{N: int(rateN), Period: time.Duration(ratePeriod)}
	return k, nil
}
