package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/lookup"
)

const inviteColumns = `id, token_hash, host, kind, username, inviter, allow_register, created_by, note,
	groups, max_uses, uses, created_at, expires_at, revoked_at, ended_at, approval, by_user`

// insertInvite is the statement the committer runs for each invite.
// It inserts nothing when the ID is taken: the caller then reports a conflict.
const insertInvite = `INSERT INTO invites (` + inviteColumns + `, state)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO NOTHING`

// inviteArgs are insertInvite's arguments for inv.
func inviteArgs(inv core.Invite) ([]any, error) {
	groups, err := encodeGroups(inv.Groups)
	if err != nil {
		return nil, err
	}
	return []any{inv.ID, inv.TokenHash, inv.Host, string(inv.Kind), inv.Username, inv.Inviter,
		inv.AllowRegister, inv.CreatedBy, inv.Note, groups, inv.MaxUses, inv.Uses,
		micros(inv.CreatedAt), micros(inv.ExpiresAt), nullMicros(inv.RevokedAt), nullMicros(inv.EndedAt),
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

// errTaken is the error of an insert that found its ID taken.
var errTaken = fmt.Errorf("%w: the invite ID exists", core.ErrConflict)

const selectInvite = `SELECT ` + inviteColumns + ` FROM invites WHERE id = ?`

// lookupInvite reads an invite by its ID, or a decoy row of the same shape when there
// is none (see lookup.Query), so that checking a token of an unknown ID costs what a
// wrong secret for an existing invite does (issue 21).
var lookupInvite = lookup.Query("?1", "invites", inviteColumns, "zeroblob(32)", "''", "'account'", "''", "''", "0", "''", "''", "''",
	"1", "0", "0", "0", "", "", "0", "0")

// updateInvite writes the fields a change may make; an invite that has ended loses
// its email address (the eighth argument is ended_at again).
const updateInvite = `UPDATE invites SET uses = ?, max_uses = ?, note = ?, expires_at = ?, revoked_at = ?, ended_at = ?,
	state = ?, email = CASE WHEN ? IS NULL THEN email ELSE '' END WHERE id = ?`

// insertUse records a redemption.
const insertUse = `INSERT INTO redemptions (invite_id, at, jid) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`

// CreateInvite implements core.Store.
// Concurrent calls share one commit (see the package documentation); each returns
// only after the commit that holds its invite.
// If ctx ends while the invite is queued it is not written and ctx's error is
// returned; once the writer has taken it, CreateInvite waits for the commit and
// returns its true outcome. Every write of the store behaves so.
func (s *Store) CreateInvite(ctx context.Context, inv core.Invite, w core.InviteWrite) (rerr error) {
	defer s.classify(&rerr)
	if len(inv.TokenHash) == 0 || inv.Host == "" || inv.ID == "" {
		return fmt.Errorf("creating invite: %w: ID, token hash and host are required", core.ErrInvalid)
	}
	var err error
	if w.Quota != nil || w.Rate != nil || hasDetails(inv) {
		// The count, the rate and the insert run in one transaction, which the write
		// lock serializes with every other writer: two requests cannot both take the
		// last place.
		err = s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if q := w.Quota; q != nil {
				if err := checkQuota(ctx, tx, inv, q); err != nil {
					return err
				}
			}
			if err := chargeRate(ctx, tx, w.Rate); err != nil {
				return err
			}
			args, err := inviteArgs(inv)
			if err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, insertInvite, args...)
			if err != nil {
				return mapErr(err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return errTaken
			}
			if err := writeDetails(ctx, tx, inv); err != nil {
				return err
			}
			return s.writeOutboxTx(ctx, tx, w.Events)
		})
	} else {
		err = s.gc.insert(ctx, inv, w.Events)
	}
	if err != nil {
		return fmt.Errorf("creating invite: %w", err)
	}
	return nil
}

// checkQuota fails with core.ErrQuota when the invite's creator has reached its quota.
func checkQuota(ctx context.Context, tx *sql.Tx, inv core.Invite, q *core.QuotaCheck) error {
	if q.Max > 0 {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM invites
			WHERE host = ? AND created_by = ? AND created_at >= ?`,
			inv.Host, inv.CreatedBy, micros(q.Since)).Scan(&n); err != nil {
			return err
		}
		if n >= q.Max {
			return core.ErrQuota
		}
	}
	if q.Outstanding > 0 {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM invites
			WHERE host = ? AND created_by = ? AND `+statusCond(core.StatusPending),
			inv.Host, inv.CreatedBy, micros(q.Now)).Scan(&n); err != nil {
			return err
		}
		if n >= q.Outstanding {
			return core.ErrQuota
		}
	}
	return nil
}

// statusCond is the condition on an invite row for a status at the time bound to the
// single parameter it takes when statusTakesNow: the state and the test of the expiry
// of the one rule (core.Status.Where).
func statusCond(st core.Status) string {
	state, expiry := st.Where()
	cond := `state = '` + string(state) + `'`
	switch expiry {
	case core.NotExpired:
		cond += ` AND expires_at > ?`
	case core.HasExpired:
		cond += ` AND expires_at <= ?`
	}
	return "(" + cond + ")"
}

// statusTakesNow reports whether statusCond(st) has a parameter.
func statusTakesNow(st core.Status) bool {
	_, expiry := st.Where()
	return expiry != core.AnyExpiry
}

// Invite implements core.Store.
func (s *Store) Invite(ctx context.Context, id string) (_ core.Invite, rerr error) {
	defer s.classify(&rerr)
	var found bool
	inv, err := scanInvite(withFound(s.getInvite.QueryRowContext(ctx, id), &found))
	switch {
	case err != nil:
		return core.Invite{}, fmt.Errorf("reading invite: %w", mapErr(err))
	case !found:
		return core.Invite{}, core.ErrNotFound
	}
	return inv, nil
}

// Redemptions implements core.Store.
func (s *Store) Redemptions(ctx context.Context, id string) (_ []core.Use, rerr error) {
	defer s.classify(&rerr)
	rows, err := s.r.QueryContext(ctx, `SELECT jid, at FROM redemptions WHERE invite_id = ? ORDER BY at, jid`, id)
	if err != nil {
		return nil, fmt.Errorf("reading redemptions: %w", err)
	}
	defer rows.Close()
	var out []core.Use
	for rows.Next() {
		var (
			u  core.Use
			at int64
		)
		if err := rows.Scan(&u.JID, &at); err != nil {
			return nil, fmt.Errorf("reading redemptions: %w", err)
		}
		u.At = fromMicros(at)
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading redemptions: %w", err)
	}
	return out, nil
}

// ListInvites implements core.Store.
func (s *Store) ListInvites(ctx context.Context, f core.InviteFilter) (_ []core.Invite, rerr error) {
	defer s.classify(&rerr)
	var (
		b    strings.Builder
		args []any
	)
	b.WriteString(`SELECT ` + inviteColumns + ` FROM invites WHERE host = ?`)
	args = append(args, f.Host)
	if f.CreatedBy != "" {
		b.WriteString(` AND created_by = ?`)
		args = append(args, f.CreatedBy)
	}
	if f.Status != "" {
		b.WriteString(` AND ` + statusCond(f.Status))
		if statusTakesNow(f.Status) {
			args = append(args, micros(f.Now))
		}
	}
	if !f.ExpiresBefore.IsZero() {
		b.WriteString(` AND expires_at <= ?`)
		args = append(args, micros(f.ExpiresBefore))
	}
	if f.Before != nil {
		b.WriteString(` AND (created_at < ? OR created_at = ? AND id < ?)`)
		us := micros(f.Before.CreatedAt)
		args = append(args, us, us, f.Before.ID)
	}
	b.WriteString(` ORDER BY created_at DESC, id DESC LIMIT ?`)
	args = append(args, max(f.Limit, 1))
	rows, err := s.r.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("listing invites: %w", err)
	}
	defer rows.Close()
	var out []core.Invite
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			return nil, fmt.Errorf("listing invites: %w", err)
		}
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing invites: %w", err)
	}
	return out, nil
}

// ChangeInvite implements core.Store: the read, the change and the write run in one
// write transaction, which the write lock serializes with every other writer of the
// file, in this process or another.
func (s *Store) ChangeInvite(ctx context.Context, id string, change func(*core.Invite) (core.InviteChange, error)) (_ core.Invite, rerr error) {
	defer s.classify(&rerr)
	var out core.Invite
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		inv, err := scanInvite(tx.StmtContext(ctx, s.peek).QueryRowContext(ctx, id))
		if err != nil {
			return mapErr(err)
		}
		before := inv
		c, err := change(&inv)
		if err != nil {
			return err
		}
		if q := c.Quota; q != nil && q.Outstanding > 0 {
			// The creator's other pending invites: this one is not pending before the
			// change, or is left out.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM invites
				WHERE host = ? AND created_by = ? AND id <> ? AND `+statusCond(core.StatusPending),
				inv.Host, inv.CreatedBy, id, micros(q.Now)).Scan(&n); err != nil {
				return err
			}
			if n >= q.Outstanding {
				return core.ErrQuota
			}
		}
		if err := chargeRate(ctx, tx, c.Rate); err != nil {
			return err
		}
		if inv.Uses != before.Uses || inv.MaxUses != before.MaxUses || inv.Note != before.Note ||
			!inv.ExpiresAt.Equal(before.ExpiresAt) || !inv.RevokedAt.Equal(before.RevokedAt) ||
			!inv.EndedAt.Equal(before.EndedAt) {
			if _, err := tx.StmtContext(ctx, s.upd).ExecContext(ctx,
				inv.Uses, inv.MaxUses, inv.Note, micros(inv.ExpiresAt), nullMicros(inv.RevokedAt),
				nullMicros(inv.EndedAt), string(inv.State()), nullMicros(inv.EndedAt), id); err != nil {
				return mapErr(err)
			}
		}
		if err := changeDetails(ctx, tx, id, c); err != nil {
			return err
		}
		if u := c.Use; u != nil {
			if _, err := tx.StmtContext(ctx, s.addUse).ExecContext(ctx, id, micros(u.At), u.JID); err != nil {
				return err
			}
		}
		if err := writeHolds(ctx, tx, id, c); err != nil {
			return err
		}
		if a := c.Account; a != nil {
			if _, err := upsertAccount(ctx, tx, *a); err != nil {
				return err
			}
		}
		if err := s.writeOutboxTx(ctx, tx, c.Events); err != nil {
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
	defer s.classify(&rerr)
	var out []core.Invite
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		out, err = s.markInvitesTx(ctx, tx, event, `UPDATE invites SET ended_at = expires_at, email = ''
			WHERE id IN (SELECT id FROM invites WHERE ended_at IS NULL AND expires_at <= ? LIMIT ?)
			RETURNING `+inviteColumns, micros(now), max(limit, 1))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("noting expired invites: %w", err)
	}
	return out, nil
}

// markInvitesTx runs query, an UPDATE of invites RETURNING inviteColumns, in tx, and
// writes event(inv) to the outbox for each invite it returns (none when event is nil).
func (s *Store) markInvitesTx(ctx context.Context, tx *sql.Tx, event func(core.Invite) core.Event, query string, args ...any) ([]core.Invite, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	var out []core.Invite
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, inv)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	return out, s.writeOutboxTx(ctx, tx, core.InviteEvents(out, event))
}

// purgeBatch bounds the invites one purge transaction deletes, so that the write lock
// is never held long.
const purgeBatch = 1000

// PurgeInvites implements core.Store, in transactions of at most purgeBatch invites.
func (s *Store) PurgeInvites(ctx context.Context, endedBefore, now time.Time) (_ int64, rerr error) {
	defer s.classify(&rerr)
	var total int64
	for {
		var n int64
		err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
			const doomed = `SELECT id FROM invites WHERE ended_at < ?1 LIMIT ?2`
			if _, err := tx.ExecContext(ctx, `DELETE FROM redemptions WHERE invite_id IN (`+doomed+`)`,
				micros(endedBefore), purgeBatch); err != nil {
				return err
			}
			// The accounts they made hang below their creator in the tree from now on.
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET orphan = 1 WHERE invite_id IN (`+doomed+`)`,
				micros(endedBefore), purgeBatch); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM invites WHERE id IN (`+doomed+`)`, micros(endedBefore), purgeBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("purging invites: %w", err)
		}
		total += n
		if n < purgeBatch {
			break
		}
	}
	// A rate row whose budget is full again means the same as no row.
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM rate_limits WHERE tat <= ?`, now.UnixNano())
		return err
	})
	if err != nil {
		return total, fmt.Errorf("purging rate limits: %w", err)
	}
	return total, nil
}

func scanInvite(sc scanner) (core.Invite, error) {
	var (
		inv              core.Invite
		kind, groups     string
		created, expires int64
		revoked, ended   sql.NullInt64
		maxUses, uses    int64
	)
	if err := sc.Scan(&inv.ID, &inv.TokenHash, &inv.Host, &kind, &inv.Username, &inv.Inviter,
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
	inv.CreatedAt = fromMicros(created)
	inv.ExpiresAt = fromMicros(expires)
	inv.RevokedAt = fromNullMicros(revoked)
	inv.EndedAt = fromNullMicros(ended)
	return inv, nil
}

// insertOutbox writes one event to the outbox, due at once.
const insertOutbox = `INSERT INTO outbox (id, type, host, payload, created_at, next_attempt_at)
	VALUES (?, ?, ?, ?, ?, ?)`

// writeOutbox writes events with a prepared insertOutbox.
func writeOutbox(ctx context.Context, stmt *sql.Stmt, events []core.Event) error {
	for _, e := range events {
		payload, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encoding event %s: %w", e.ID, err)
		}
		t := micros(e.Time)
		if _, err := stmt.ExecContext(ctx, e.ID, string(e.Type), e.Host, string(payload), t, t); err != nil {
			return fmt.Errorf("writing event %s to the outbox: %w", e.ID, err)
		}
	}
	return nil
}

// writeOutboxTx writes events in tx, a transaction of the writer.
func (s *Store) writeOutboxTx(ctx context.Context, tx *sql.Tx, events []core.Event) error {
	if len(events) == 0 {
		return nil
	}
	return writeOutbox(ctx, tx.StmtContext(ctx, s.out), events)
}

// OutboxEvents returns up to limit events of the outbox that are not delivered yet,
// oldest first (by ID, which is time-ordered).
func (s *Store) OutboxEvents(ctx context.Context, limit int) ([]core.Event, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT payload FROM outbox WHERE delivered_at IS NULL ORDER BY id LIMIT ?`, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("reading the outbox: %w", err)
	}
	defer rows.Close()
	var out []core.Event
	for rows.Next() {
		var (
			payload string
			e       core.Event
		)
		if err := rows.Scan(&payload); err != nil {
			return nil, fmt.Errorf("reading the outbox: %w", err)
		}
		if err := json.Unmarshal([]byte(payload), &e); err != nil {
			return nil, fmt.Errorf("reading the outbox: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the outbox: %w", err)
	}
	return out, nil
}
