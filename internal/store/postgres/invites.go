package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmpp-invites/invites/internal/core"
)

// errClosed is returned by CreateInvite after Close.
var errClosed = errors.New("the store is closed")

// createRequest is one CreateInvite call waiting for its group commit.
type createRequest struct {
	inv    core.Invite
	events []core.Event
	state  atomic.Int32 // requestQueued, then requestTaken or requestAbandoned
	done   chan error   // receives the outcome once, buffered
}

const (
	requestQueued int32 = iota
	requestTaken
	requestAbandoned
)

// CreateInvite implements core.Store; ErrConflict if the ID exists.
// Concurrent calls are written together in one statement and one transaction, with the
// outbox rows of their events (see the package documentation); each returns once its
// invite is committed. A call with a quota is written alone, in a transaction that
// holds an advisory lock of its creator, so that nodes check quotas one at a time.
// When ctx ends first, CreateInvite returns its error: the invite is then not written
// if it was still queued, and may or may not be if its batch was being written.
func (s *Store) CreateInvite(ctx context.Context, inv core.Invite, w core.InviteWrite) (rerr error) {
	defer classify(&rerr)
	if len(inv.TokenHash) == 0 || inv.ID == "" {
		return fmt.Errorf("creating invite: %w: no ID or token hash", core.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("creating invite: %w", err)
	}
	if w.Quota != nil || w.Rate != nil || hasDetails(inv) {
		return s.createChecked(ctx, inv, w)
	}
	r := &createRequest{inv: inv, events: w.Events, done: make(chan error, 1)}
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
		return fmt.Errorf("creating invite: %w", ctx.Err())
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		r.state.CompareAndSwap(requestQueued, requestAbandoned)
		return fmt.Errorf("creating invite: %w", ctx.Err())
	}
}

// createChecked writes one invite after checking its creator's quota, under a lock of
// that creator held to the end of the transaction, and taking its key's rate, under
// the lock of the budget's row.
func (s *Store) createChecked(ctx context.Context, inv core.Invite, w core.InviteWrite) error {
	args, err := inviteArgs(inv)
	if err != nil {
		return fmt.Errorf("creating invite: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if q := w.Quota; q != nil {
			if err := s.checkQuota(ctx, tx, inv, q); err != nil {
				return err
			}
		}
		if err := s.chargeRate(ctx, tx, w.Rate); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, s.q.insertInvite, args...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return core.ErrConflict
		}
		if err := s.writeDetails(ctx, tx, inv); err != nil {
			return err
		}
		return s.writeOutbox(ctx, tx, w.Events)
	})
	if err != nil {
		return fmt.Errorf("creating invite: %w", err)
	}
	return nil
}

// checkQuota fails with core.ErrQuota when the invite's creator has reached q, other
// than the invite itself (which a change may be making pending again), under a lock of
// that creator held to the end of tx, so that nodes check one creator's quota one at a
// time.
func (s *Store) checkQuota(ctx context.Context, tx pgx.Tx, inv core.Invite, q *core.QuotaCheck) error {
	lock := "github.com/xmpp-invites/invites/quota:" + s.schema + "/" + inv.Host + "/" + inv.CreatedBy
	if _, err := tx.Exec(ctx, s.q.quotaLock, lock); err != nil {
		return err
	}
	var n int
	if q.Max > 0 {
		if err := tx.QueryRow(ctx, s.q.quotaSince, inv.Host, inv.CreatedBy, nanos(q.Since)).Scan(&n); err != nil {
			return err
		}
		if n >= q.Max {
			return core.ErrQuota
		}
	}
	if q.Outstanding > 0 {
		if err := tx.QueryRow(ctx, s.q.quotaPending, inv.Host, inv.CreatedBy, nanos(q.Now), inv.ID).Scan(&n); err != nil {
			return err
		}
		if n >= q.Outstanding {
			return core.ErrQuota
		}
	}
	return nil
}

// inviteArgs are insertInvite's arguments for inv.
func inviteArgs(inv core.Invite) ([]any, error) {
	groups, err := encodeGroups(inv.Groups)
	if err != nil {
		return nil, err
	}
	return []any{inv.ID, inv.TokenHash, inv.Host, string(inv.Kind), inv.Username, inv.Inviter,
		inv.AllowRegister, inv.CreatedBy, inv.Note, groups, int32(inv.MaxUses), int32(inv.Uses),
		nanos(inv.CreatedAt), nanos(inv.ExpiresAt), nullNanos(inv.RevokedAt), nullNanos(inv.EndedAt),
		inv.Approval, inv.ByUser, string(inv.State())}, nil
}

// encodeGroups stores groups as a JSON array, or "" for none.
func encodeGroups(groups []string) (string, error) {
	if len(groups) == 0 {
		return "", nil
	}
	b, err := json.Marshal(groups)
	return string(b), err
}

func decodeGroups(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var g []string
	err := json.Unmarshal([]byte(s), &g)
	return g, err
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
// those that repeat an earlier ID of the batch with ErrConflict, as a second statement
// would.
func claim(batch []*createRequest) []*createRequest {
	live := make([]*createRequest, 0, len(batch))
	seen := make(map[string]bool, len(batch))
	for _, r := range batch {
		if !r.state.CompareAndSwap(requestQueued, requestTaken) {
			continue // its caller has gone
		}
		if seen[r.inv.ID] {
			r.done <- core.ErrConflict
			continue
		}
		seen[r.inv.ID] = true
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
			r.done <- fmt.Errorf("creating invite: %w", err)
		case !written[r.inv.ID]:
			r.done <- core.ErrConflict
		default:
			r.done <- nil
		}
	}
}

// insertInvites writes invites and their events in one statement, which commits on its
// own, and returns the IDs written; the others already existed.
func (s *Store) insertInvites(ctx context.Context, reqs []*createRequest) (map[string]bool, error) {
	n := len(reqs)
	var (
		ids              = make([]string, n)
		hashes           = make([][]byte, n)
		hosts, kinds     = make([]string, n), make([]string, n)
		users, inviters  = make([]string, n), make([]string, n)
		allow            = make([]bool, n)
		creators, notes  = make([]string, n), make([]string, n)
		groups           = make([]string, n)
		maxUses, uses    = make([]int32, n), make([]int32, n)
		created, expires = make([]int64, n), make([]int64, n)
		revoked, ended   = make([]*int64, n), make([]*int64, n)
		states           = make([]string, n)
		approval, byUser = make([]bool, n), make([]bool, n)
		evIDs, evInvites []string
		evTypes, evHosts []string
		evPayloads       []string
		evTimes          []int64
	)
	for i, r := range reqs {
		inv := r.inv
		g, err := encodeGroups(inv.Groups)
		if err != nil {
			return nil, err
		}
		ids[i], hashes[i], hosts[i], kinds[i] = inv.ID, inv.TokenHash, inv.Host, string(inv.Kind)
		users[i], inviters[i], allow[i], creators[i] = inv.Username, inv.Inviter, inv.AllowRegister, inv.CreatedBy
		notes[i], groups[i], maxUses[i], uses[i] = inv.Note, g, int32(inv.MaxUses), int32(inv.Uses)
		created[i], expires[i] = nanos(inv.CreatedAt), nanos(inv.ExpiresAt)
		revoked[i], ended[i], states[i] = nullNanos(inv.RevokedAt), nullNanos(inv.EndedAt), string(inv.State())
		approval[i], byUser[i] = inv.Approval, inv.ByUser
		for _, e := range r.events {
			payload, err := json.Marshal(e)
			if err != nil {
				return nil, fmt.Errorf("encoding event %s: %w", e.ID, err)
			}
			evIDs, evInvites = append(evIDs, e.ID), append(evInvites, inv.ID)
			evTypes, evHosts = append(evTypes, string(e.Type)), append(evHosts, e.Host)
			evPayloads, evTimes = append(evPayloads, string(payload)), append(evTimes, nanos(e.Time))
		}
	}
	rows, err := s.pool.Query(ctx, s.q.createInvites,
		ids, hashes, hosts, kinds, users, inviters, allow, creators, notes, groups, maxUses, uses,
		created, expires, revoked, ended,
		evIDs, evInvites, evTypes, evHosts, evPayloads, evTimes, states, approval, byUser)
	if err != nil {
		return nil, err
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	written := make(map[string]bool, len(got))
	for _, id := range got {
		written[id] = true
	}
	return written, nil
}

// Invite implements core.Store; ErrNotFound if there is no such invite.
func (s *Store) Invite(ctx context.Context, id string) (_ core.Invite, rerr error) {
	defer classify(&rerr)
	var found bool
	inv, err := scanInvite(withFound(s.pool.QueryRow(ctx, s.q.invite, id), &found))
	switch {
	case errors.Is(err, pgx.ErrNoRows), err == nil && !found:
		return core.Invite{}, core.ErrNotFound
	case err != nil:
		return core.Invite{}, fmt.Errorf("reading invite: %w", err)
	}
	return inv, nil
}

// Redemptions implements core.Store.
func (s *Store) Redemptions(ctx context.Context, id string) (_ []core.Use, rerr error) {
	defer classify(&rerr)
	rows, err := s.pool.Query(ctx, s.q.uses, id)
	if err != nil {
		return nil, fmt.Errorf("reading redemptions: %w", err)
	}
	uses, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.Use, error) {
		var (
			u  core.Use
			at int64
		)
		err := r.Scan(&u.JID, &at)
		u.At = fromNanos(at)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading redemptions: %w", err)
	}
	return uses, nil
}

// statusCond is the condition of a status at the time of parameter $n (unused when
// the status does not depend on the time): the state and the test of the expiry of the
// one rule (core.Status.Where).
func statusCond(st core.Status, n int) string {
	state, expiry := st.Where()
	cond := `state = '` + string(state) + `'`
	switch expiry {
	case core.NotExpired:
		cond += ` AND expires_at > $` + strconv.Itoa(n)
	case core.HasExpired:
		cond += ` AND expires_at <= $` + strconv.Itoa(n)
	}
	return "(" + cond + ")"
}

// ListInvites implements core.Store.
func (s *Store) ListInvites(ctx context.Context, f core.InviteFilter) (_ []core.Invite, rerr error) {
	defer classify(&rerr)
	var b strings.Builder
	args := []any{f.Host}
	b.WriteString(`SELECT ` + inviteColumns + ` FROM ` + s.q.schema + `.invites WHERE host = $1`)
	if f.CreatedBy != "" {
		args = append(args, f.CreatedBy)
		b.WriteString(` AND created_by = $` + strconv.Itoa(len(args)))
	}
	if f.Status != "" {
		if _, expiry := f.Status.Where(); expiry != core.AnyExpiry {
			args = append(args, nanos(f.Now))
		}
		b.WriteString(` AND ` + statusCond(f.Status, len(args)))
	}
	if !f.ExpiresBefore.IsZero() {
		args = append(args, nanos(f.ExpiresBefore))
		b.WriteString(` AND expires_at <= $` + strconv.Itoa(len(args)))
	}
	if f.Before != nil {
		args = append(args, nanos(f.Before.CreatedAt), f.Before.ID)
		b.WriteString(fmt.Sprintf(` AND (created_at, id) < ($%d, $%d)`, len(args)-1, len(args)))
	}
	args = append(args, max(f.Limit, 1))
	b.WriteString(` ORDER BY created_at DESC, id DESC LIMIT $` + strconv.Itoa(len(args)))
	rows, err := s.pool.Query(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("listing invites: %w", err)
	}
	invs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.Invite, error) { return scanInvite(r) })
	if err != nil {
		return nil, fmt.Errorf("listing invites: %w", err)
	}
	return invs, nil
}

// ChangeInvite implements core.Store: the row is read FOR UPDATE, so that changes of one
// invite on any number of nodes run one after another, each seeing the last one's
// result.
func (s *Store) ChangeInvite(ctx context.Context, id string, change func(*core.Invite) (core.InviteChange, error)) (_ core.Invite, rerr error) {
	defer classify(&rerr)
	var out core.Invite
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		inv, err := scanInvite(tx.QueryRow(ctx, s.q.inviteForUpdate, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return core.ErrNotFound
		}
		if err != nil {
			return err
		}
		before := inv
		c, err := change(&inv)
		if err != nil {
			return err
		}
		if q := c.Quota; q != nil {
			if err := s.checkQuota(ctx, tx, inv, &core.QuotaCheck{Outstanding: q.Outstanding, Now: q.Now}); err != nil {
				return err
			}
		}
		if err := s.chargeRate(ctx, tx, c.Rate); err != nil {
			return err
		}
		if inv.Uses != before.Uses || inv.MaxUses != before.MaxUses || inv.Note != before.Note ||
			!inv.ExpiresAt.Equal(before.ExpiresAt) || !inv.RevokedAt.Equal(before.RevokedAt) ||
			!inv.EndedAt.Equal(before.EndedAt) {
			if _, err := tx.Exec(ctx, s.q.updateInvite, id, int32(inv.Uses), int32(inv.MaxUses), inv.Note,
				nanos(inv.ExpiresAt), nullNanos(inv.RevokedAt), nullNanos(inv.EndedAt), string(inv.State())); err != nil {
				return err
			}
		}
		if err := s.changeDetails(ctx, tx, id, c); err != nil {
			return err
		}
		if u := c.Use; u != nil {
			if _, err := tx.Exec(ctx, s.q.insertUse, id, nanos(u.At), u.JID); err != nil {
				return err
			}
		}
		if err := s.writeHolds(ctx, tx, id, c); err != nil {
			return err
		}
		if a := c.Account; a != nil {
			if err := s.lockAccount(ctx, tx, a.JID); err != nil {
				return err
			}
			if _, err := s.upsertAccount(ctx, tx, *a); err != nil {
				return err
			}
		}
		if err := s.writeOutbox(ctx, tx, c.Events); err != nil {
			return err
		}
		out = inv
		return nil
	})
	if err != nil {
		return core.Invite{}, err
	}
	return out, nil
}

// ExpireInvites implements core.Store.
func (s *Store) ExpireInvites(ctx context.Context, now time.Time, limit int, event func(core.Invite) core.Event) (_ []core.Invite, rerr error) {
	defer classify(&rerr)
	var out []core.Invite
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		out, err = s.markInvites(ctx, tx, event, s.q.expire, nanos(now), max(limit, 1))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("noting expired invites: %w", err)
	}
	return out, nil
}

// markInvites runs query, an UPDATE of invites RETURNING inviteColumns, in tx, and
// writes event(inv) to the outbox for each invite it returns (none when event is nil).
func (s *Store) markInvites(ctx context.Context, tx pgx.Tx, event func(core.Invite) core.Event, query string, args ...any) ([]core.Invite, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.Invite, error) { return scanInvite(r) })
	if err != nil {
		return nil, err
	}
	return out, s.writeOutbox(ctx, tx, core.InviteEvents(out, event))
}

// purgeBatch bounds the invites one purge statement deletes.
const purgeBatch = 1000

// PurgeInvites implements core.Store, in statements of at most purgeBatch invites.
// It also drops rate limit rows whose budget is full again, which mean the same as no
// row.
func (s *Store) PurgeInvites(ctx context.Context, endedBefore, now time.Time) (_ int64, rerr error) {
	defer classify(&rerr)
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, s.q.purge, nanos(endedBefore), purgeBatch)
		if err != nil {
			return total, fmt.Errorf("purging invites: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < purgeBatch {
			break
		}
	}
	if _, err := s.pool.Exec(ctx, s.q.deleteIdleRates, nanos(now)); err != nil {
		return total, fmt.Errorf("purging idle rate limits: %w", err)
	}
	return total, nil
}

// writeOutbox writes events to the outbox in tx.
func (s *Store) writeOutbox(ctx context.Context, tx pgx.Tx, events []core.Event) error {
	for _, e := range events {
		payload, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encoding event %s: %w", e.ID, err)
		}
		if _, err := tx.Exec(ctx, s.q.insertOutbox, e.ID, string(e.Type), e.Host, string(payload), nanos(e.Time)); err != nil {
			return fmt.Errorf("writing event %s to the outbox: %w", e.ID, err)
		}
	}
	return nil
}

// scanInvite reads a row of inviteColumns.
func scanInvite(row pgx.Row) (core.Invite, error) {
	var (
		inv              core.Invite
		kind, groups     string
		maxUses, uses    int32
		created, expires int64
		revoked, ended   *int64
	)
	if err := row.Scan(&inv.ID, &inv.TokenHash, &inv.Host, &kind, &inv.Username, &inv.Inviter,
		&inv.AllowRegister, &inv.CreatedBy, &inv.Note, &groups, &maxUses, &uses,
		&created, &expires, &revoked, &ended, &inv.Approval, &inv.ByUser); err != nil {
		return core.Invite{}, err
	}
	g, err := decodeGroups(groups)
	if err != nil {
		return core.Invite{}, fmt.Errorf("invite %s: reading its groups: %w", inv.ID, err)
	}
	inv.Kind = core.Kind(kind)
	inv.Groups = g
	inv.MaxUses, inv.Uses = int(maxUses), int(uses)
	inv.CreatedAt = fromNanos(created)
	inv.ExpiresAt = fromNanos(expires)
	inv.RevokedAt = fromNullNanos(revoked)
	inv.EndedAt = fromNullNanos(ended)
	return inv, nil
}

// OutboxEvents returns up to limit events of the outbox that are not delivered yet,
// oldest first (by ID, which is time-ordered).
func (s *Store) OutboxEvents(ctx context.Context, limit int) ([]core.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT payload::text FROM `+s.q.schema+`.outbox
		WHERE delivered_at IS NULL ORDER BY id LIMIT $1`, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("reading the outbox: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.Event, error) {
		var (
			payload string
			e       core.Event
		)
		if err := r.Scan(&payload); err != nil {
			return e, err
		}
		return e, json.Unmarshal([]byte(payload), &e)
	})
	if err != nil {
		return nil, fmt.Errorf("reading the outbox: %w", err)
	}
	return events, nil
}
