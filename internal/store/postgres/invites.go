package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmpp-invites/invites/internal/core"
)

// errClosed is returned by CreateInvite after Close.
var errClosed = errors.New("postgres: store closed")

// createRequest is one CreateInvite call waiting for its group commit.
type createRequest struct {
	inv   core.Invite
	state atomic.Int32 // requestQueued, then requestTaken or requestAbandoned
	done  chan error   // receives the outcome once, buffered
}

const (
	requestQueued int32 = iota
	requestTaken
	requestAbandoned
)

// CreateInvite implements core.Store; ErrConflict if the token hash exists.
// Concurrent calls are written together in one statement and one transaction (see the
// package documentation); each returns once its invite is committed.
// When ctx ends first, CreateInvite returns its error: the invite is then not written
// if it was still queued, and may or may not be if its batch was being written.
func (s *Store) CreateInvite(ctx context.Context, inv core.Invite) error {
	if len(inv.TokenHash) == 0 {
		return fmt.Errorf("postgres: creating invite: %w: no token hash", core.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: creating invite: %w", err)
	}
	r := &createRequest{inv: inv, done: make(chan error, 1)}
	s.createMu.RLock()
	if s.closed {
		s.createMu.RUnlock()
		return errClosed
	}
	select {
	case s.creates <- r:
		s.createMu.RUnlock()
	case <-ctx.Done():
		s.createMu.RUnlock()
		return fmt.Errorf("postgres: creating invite: %w", ctx.Err())
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		r.state.CompareAndSwap(requestQueued, requestAbandoned)
		return fmt.Errorf("postgres: creating invite: %w", ctx.Err())
	}
}

// writeInvites is one writer: it takes a request, every further one already queued up
// to the batch size, writes them, answers each, and repeats until Close.
func (s *Store) writeInvites() {
	defer s.writers.Done()
	batch := make([]*createRequest, 0, s.maxBatch)
	for r := range s.creates {
		batch = append(batch[:0], r)
	fill:
		for len(batch) < s.maxBatch {
			select {
			case r, ok := <-s.creates:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if live := claim(batch); len(live) > 0 {
			// No caller's context governs a batch; the write timeout bounds it.
			ctx, cancel := context.WithTimeout(context.Background(), s.writeTimeout)
			s.writeBatch(ctx, live)
			cancel()
		}
		clear(batch)
	}
}

// claim returns the requests of a batch whose callers still wait, answering at once
// those that repeat an earlier token hash of the batch with ErrConflict, as a second
// statement would.
func claim(batch []*createRequest) []*createRequest {
	live := make([]*createRequest, 0, len(batch))
	seen := make(map[string]bool, len(batch))
	for _, r := range batch {
		if !r.state.CompareAndSwap(requestQueued, requestTaken) {
			continue // its caller has gone
		}
		if h := string(r.inv.TokenHash); seen[h] {
			r.done <- core.ErrConflict
			continue
		}
		seen[string(r.inv.TokenHash)] = true
		live = append(live, r)
	}
	return live
}

// writeBatch inserts claimed requests and answers each.
func (s *Store) writeBatch(ctx context.Context, live []*createRequest) {
	written, err := s.insertInvites(ctx, live)
	if err != nil && len(live) > 1 && ctx.Err() == nil {
		// One bad row (text PostgreSQL rejects, say) fails the whole statement: write
		// each alone, so that it fails only its own caller.
		for i := range live {
			s.writeBatch(ctx, live[i:i+1])
		}
		return
	}
	for _, r := range live {
		switch {
		case err != nil:
			r.done <- fmt.Errorf("postgres: creating invite: %w", err)
		case !written[string(r.inv.TokenHash)]:
			r.done <- core.ErrConflict
		default:
			r.done <- nil
		}
	}
}

// insertInvites writes invites in one statement, which commits on its own, and returns
// the token hashes written; the others already existed.
func (s *Store) insertInvites(ctx context.Context, reqs []*createRequest) (map[string]bool, error) {
	n := len(reqs)
	var (
		hashes            = make([][]byte, n)
		ids, hosts, kinds = make([]string, n), make([]string, n), make([]string, n)
		users, inviters   = make([]string, n), make([]string, n)
		allow             = make([]bool, n)
		sources           = make([]string, n)
		created, expires  = make([]int64, n), make([]int64, n)
	)
	for i, r := range reqs {
		inv := r.inv
		hashes[i], ids[i], hosts[i], kinds[i] = inv.TokenHash, inv.ID, inv.Host, string(inv.Kind)
		users[i], inviters[i], allow[i], sources[i] = inv.Username, inv.Inviter, inv.AllowRegister, inv.Source
		created[i], expires[i] = nanos(inv.CreatedAt), nanos(inv.ExpiresAt)
	}
	rows, err := s.pool.Query(ctx, s.q.createInvites,
		hashes, ids, hosts, kinds, users, inviters, allow, sources, created, expires)
	if err != nil {
		return nil, err
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, err
	}
	written := make(map[string]bool, len(got))
	for _, h := range got {
		written[string(h)] = true
	}
	return written, nil
}

// Invite implements core.Store; ErrNotFound if there is no such invite.
// It returns expired invites too.
func (s *Store) Invite(ctx context.Context, tokenHash []byte) (core.Invite, error) {
	inv, err := scanInvite(s.pool.QueryRow(ctx, s.q.invite, tokenHash))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return core.Invite{}, core.ErrNotFound
	case err != nil:
		return core.Invite{}, fmt.Errorf("postgres: reading invite: %w", err)
	}
	return inv, nil
}

// ConsumeInvite implements core.Store: one DELETE … RETURNING, which of concurrent
// calls on any node at most one wins; when it deletes nothing, a read tells
// ErrNotFound, ErrExpired and ErrForbidden apart.
func (s *Store) ConsumeInvite(ctx context.Context, tokenHash []byte, username string, now time.Time) (core.Invite, error) {
	inv, err := scanInvite(s.pool.QueryRow(ctx, s.q.consumeInvite, tokenHash, nanos(now), username))
	switch {
	case err == nil:
		return inv, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return core.Invite{}, fmt.Errorf("postgres: consuming invite: %w", err)
	}
	var live bool
	err = s.pool.QueryRow(ctx, s.q.inviteState, tokenHash, nanos(now)).Scan(&live)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return core.Invite{}, core.ErrNotFound
	case err != nil:
		return core.Invite{}, fmt.Errorf("postgres: consuming invite: %w", err)
	case !live:
		return core.Invite{}, core.ErrExpired
	}
	return core.Invite{}, core.ErrForbidden
}

// DeleteExpiredInvites implements core.Store.
// It also drops rate limit rows whose budget is full again, which mean the same as no
// row.
func (s *Store) DeleteExpiredInvites(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, s.q.deleteExpired, nanos(now))
	if err != nil {
		return 0, fmt.Errorf("postgres: deleting expired invites: %w", err)
	}
	if _, err := s.pool.Exec(ctx, s.q.deleteIdleRates, nanos(now)); err != nil {
		return tag.RowsAffected(), fmt.Errorf("postgres: deleting idle rate limits: %w", err)
	}
	return tag.RowsAffected(), nil
}

// scanInvite reads a row of inviteColumns.
func scanInvite(row pgx.Row) (core.Invite, error) {
	var (
		inv              core.Invite
		kind             string
		created, expires int64
	)
	if err := row.Scan(&inv.TokenHash, &inv.ID, &inv.Host, &kind, &inv.Username, &inv.Inviter,
		&inv.AllowRegister, &inv.Source, &created, &expires); err != nil {
		return core.Invite{}, err
	}
	inv.Kind = core.Kind(kind)
	inv.CreatedAt = fromNanos(created)
	inv.ExpiresAt = fromNanos(expires)
	return inv, nil
}
