package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// This file keeps the accounts the plugin knows, the registrations held until the
// server confirms their account, and the tree of who invited whom (issue 24).

const accountColumns = `seq, jid, host, state, created_at, invite_id, inviter, first_login, last_login, lang,
	note, approval_deadline, active_noted, changed_at, changed_by, invite_created_at`

// upsertAccount writes a, inserted or replacing the row of its JID (which keeps its
// seq), in tx, and returns its seq.
func upsertAccount(ctx context.Context, tx *sql.Tx, a core.Account) (int64, error) {
	var seq int64
	err := tx.QueryRowContext(ctx, `INSERT INTO accounts (jid, host, state, created_at, invite_id, inviter,
			first_login, last_login, lang, note, approval_deadline, active_noted, changed_at, changed_by, invite_created_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
		ON CONFLICT (jid) DO UPDATE SET host = ?2, state = ?3, created_at = ?4, invite_id = ?5, inviter = ?6,
			first_login = ?7, last_login = ?8, lang = ?9, note = ?10, approval_deadline = ?11,
			active_noted = ?12, changed_at = ?13, changed_by = ?14, invite_created_at = ?15,
			orphan = CASE WHEN invite_id IS ?5 THEN orphan ELSE 0 END
		RETURNING seq`,
		a.JID, a.Host, string(a.State), nullMicros(a.CreatedAt), nullString(a.InviteID), a.Inviter,
		nullMicros(a.FirstLogin), nullMicros(a.LastLogin), a.Lang, a.Note, nullMicros(a.ApprovalDeadline),
		a.ActiveNoted, nullMicros(a.ChangedAt), a.ChangedBy, nullMicros(a.InviteCreatedAt)).Scan(&seq)
	return seq, mapErr(err)
}

// writeHolds records c's hold and deletes its released one (with the release's use),
// for a change of the invite id, in tx.
func writeHolds(ctx context.Context, tx *sql.Tx, id string, c core.InviteChange) error {
	if h := c.Hold; h != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO holds (invite_id, at, jid, host, approval, remote)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			id, micros(h.At), h.JID, h.Host, h.Approval, h.Remote); err != nil {
			return err
		}
	}
	if h := c.Release; h != nil {
		res, err := tx.ExecContext(ctx, `DELETE FROM holds WHERE invite_id = ? AND at = ? AND jid = ?`, id, micros(h.At), h.JID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("%w: the registration was confirmed or released already", core.ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM redemptions WHERE invite_id = ? AND at = ? AND jid = ?`,
			id, micros(h.At), h.JID); err != nil {
			return err
		}
	}
	return nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// scanAccount reads a row of accountColumns.
func scanAccount(sc scanner) (core.Account, error) {
	var (
		a                              core.Account
		state                          string
		invite                         sql.NullString
		created, first, last, deadline sql.NullInt64
		changed, inviteCreated         sql.NullInt64
	)
	if err := sc.Scan(&a.Seq, &a.JID, &a.Host, &state, &created, &invite, &a.Inviter, &first, &last, &a.Lang,
		&a.Note, &deadline, &a.ActiveNoted, &changed, &a.ChangedBy, &inviteCreated); err != nil {
		return core.Account{}, err
	}
	a.State = core.AccountState(state)
	a.InviteID = invite.String
	a.CreatedAt, a.FirstLogin, a.LastLogin = fromNullMicros(created), fromNullMicros(first), fromNullMicros(last)
	a.ApprovalDeadline, a.ChangedAt = fromNullMicros(deadline), fromNullMicros(changed)
	a.InviteCreatedAt = fromNullMicros(inviteCreated)
	return a, nil
}

// Account implements core.Store.
func (s *Store) Account(ctx context.Context, jid string) (_ core.Account, rerr error) {
	defer s.classify(&rerr)
	a, err := scanAccount(s.r.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE jid = ?`, jid))
	if err != nil {
		return core.Account{}, fmt.Errorf("reading account: %w", mapErr(err))
	}
	return a, nil
}

// ListAccounts implements core.Store.
func (s *Store) ListAccounts(ctx context.Context, f core.AccountFilter) (_ []core.Account, rerr error) {
	defer s.classify(&rerr)
	var b strings.Builder
	args := []any{f.Host}
	b.WriteString(`SELECT ` + accountColumns + ` FROM accounts WHERE host = ?`)
	if f.State != "" {
		b.WriteString(` AND state = ?`)
		args = append(args, string(f.State))
	}
	if !f.DeadlineBefore.IsZero() {
		b.WriteString(` AND approval_deadline IS NOT NULL AND approval_deadline < ?`)
		args = append(args, micros(f.DeadlineBefore))
	}
	b.WriteString(` AND seq > ? ORDER BY seq LIMIT ?`)
	args = append(args, f.After, max(f.Limit, 1))
	rows, err := s.r.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("listing accounts: %w", err)
	}
	defer rows.Close()
	var out []core.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("listing accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing accounts: %w", err)
	}
	return out, nil
}

// ChangeAccount implements core.Store: the read, the change and the write run in one
// write transaction, serialized with every other writer of the file.
func (s *Store) ChangeAccount(ctx context.Context, jid string, change func(*core.Account, []core.Hold) (core.AccountChange, error)) (_ core.Account, rerr error) {
	defer s.classify(&rerr)
	var out core.Account
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		a, err := scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE jid = ?`, jid))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			a = core.Account{JID: jid}
			if _, d, ok := strings.Cut(jid, "@"); ok {
				a.Host = d
			}
		case err != nil:
			return err
		}
		holds, err := accountHolds(ctx, tx, jid)
		if err != nil {
			return err
		}
		c, err := change(&a, holds)
		if err != nil {
			return err
		}
		if c.Write {
			if a.Seq, err = upsertAccount(ctx, tx, a); err != nil {
				return err
			}
		}
		for _, h := range c.Confirm {
			if _, err := tx.ExecContext(ctx, `DELETE FROM holds WHERE invite_id = ? AND at = ? AND jid = ?`,
				h.InviteID, micros(h.At), h.JID); err != nil {
				return err
			}
		}
		if err := s.writeOutboxTx(ctx, tx, c.Events); err != nil {
			return err
		}
		out = a
		return nil
	})
	if err != nil {
		return core.Account{}, err
	}
	return out, nil
}

// holdColumns are the columns of a hold, then of its invite (NULL when purged).
const holdColumns = `h.invite_id, h.at, h.jid, h.host, h.approval, h.remote`

// accountHolds reads the holds of the account jid in tx, each with its invite.
func accountHolds(ctx context.Context, tx *sql.Tx, jid string) ([]core.Hold, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+holdColumns+` FROM holds AS h WHERE h.jid = ? ORDER BY h.at`, jid)
	if err != nil {
		return nil, err
	}
	holds, err := scanHolds(rows)
	if err != nil {
		return nil, err
	}
	for i := range holds {
		inv, err := scanInvite(tx.QueryRowContext(ctx, selectInvite, holds[i].InviteID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, err
		default:
			holds[i].Invite = inv
		}
	}
	return holds, nil
}

// scanHolds reads rows of holdColumns and closes them.
func scanHolds(rows *sql.Rows) ([]core.Hold, error) {
	defer rows.Close()
	var out []core.Hold
	for rows.Next() {
		var (
			h  core.Hold
			at int64
		)
		if err := rows.Scan(&h.InviteID, &at, &h.JID, &h.Host, &h.Approval, &h.Remote); err != nil {
			return nil, err
		}
		h.At = fromMicros(at)
		out = append(out, h)
	}
	return out, rows.Err()
}

// Holds implements core.Store.
func (s *Store) Holds(ctx context.Context, before time.Time, limit int) (_ []core.Hold, rerr error) {
	defer s.classify(&rerr)
	rows, err := s.r.QueryContext(ctx, `SELECT `+holdColumns+` FROM holds AS h WHERE h.at <= ? ORDER BY h.at LIMIT ?`,
		micros(before), max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("reading held registrations: %w", err)
	}
	holds, err := scanHolds(rows)
	if err != nil {
		return nil, fmt.Errorf("reading held registrations: %w", err)
	}
	return holds, nil
}

// treeQuery walks the tree below a root in pre-order with a recursive CTE whose
// queue is ordered by path (SQLite's ORDER BY on the recursive select), so that it
// stops after the page's nodes: a page costs at most (limit + depth) rows taken from
// the queue, each adding its children, however large the tree.
// Children are read through the indexes invites_creator (host, created_by,
// created_at, id), accounts_invite (invite_id, seq) and accounts_orphans (host,
// inviter, invite_created_at, invite_id), from the cursor's segment on for a node on
// the cursor's path, so that a later page skips the earlier ones without reading them.
// Kinds: 'a' an account (or the root creator), 'i' an invite, 'p' an invite whose
// record was purged, known from its accounts (UNION keeps one row of it).
// Parameters: ?1 host, ?2 root creator, ?3 root since (µs), ?4 root invite, ?5 depth,
// ?6 cursor path, ?7 queue bound, ?8 page size.
const treeQuery = `WITH RECURSIVE t(kind, ref, creator, since, path, depth, onpath) AS (
	SELECT CASE WHEN ?2 <> '' THEN 'a' ELSE 'i' END, ?4, ?2, ?3, '', 0, ?6 <> ''
	UNION
		SELECT 'i', i.id, NULL, 0, t.path || '/' || printf('%016d', i.created_at) || i.id, t.depth + 1,
			t.onpath AND substr(?6, length(t.path) + 2, 28) = printf('%016d', i.created_at) || i.id
		FROM t JOIN invites AS i ON i.host = ?1 AND i.created_by = t.creator AND i.created_at >= t.since
		WHERE t.kind = 'a' AND t.depth < ?5 AND (NOT t.onpath OR length(?6) <= length(t.path) OR (i.created_at, i.id) >=
			(CAST(substr(?6, length(t.path) + 2, 16) AS INTEGER), substr(?6, length(t.path) + 18, 12)))
	UNION
		SELECT 'p', a.invite_id, NULL, 0, t.path || '/' || printf('%016d', a.invite_created_at) || a.invite_id, t.depth + 1,
			t.onpath AND substr(?6, length(t.path) + 2, 28) = printf('%016d', a.invite_created_at) || a.invite_id
		FROM t JOIN accounts AS a ON a.host = ?1 AND a.inviter = t.creator AND a.orphan AND a.invite_created_at >= t.since
		WHERE t.kind = 'a' AND t.depth < ?5 AND (NOT t.onpath OR length(?6) <= length(t.path) OR (a.invite_created_at, a.invite_id) >=
			(CAST(substr(?6, length(t.path) + 2, 16) AS INTEGER), substr(?6, length(t.path) + 18, 12)))
	UNION
		SELECT 'a', a.jid, 'xmpp:' || a.jid, coalesce(a.created_at, 0), t.path || '/' || printf('%012d', a.seq), t.depth + 1,
			t.onpath AND substr(?6, length(t.path) + 2, 12) = printf('%012d', a.seq)
		FROM t JOIN accounts AS a ON a.invite_id = t.ref
		WHERE t.kind <> 'a' AND t.depth < ?5 AND (NOT t.onpath OR length(?6) <= length(t.path) OR a.seq >= CAST(substr(?6, length(t.path) + 2, 12) AS INTEGER))
	ORDER BY 5 LIMIT ?7
)
SELECT kind, ref, path, depth FROM t WHERE depth > 0 AND path > ?6 ORDER BY path LIMIT ?8`

// Tree implements core.Store.
func (s *Store) Tree(ctx context.Context, q core.TreeQuery) (_ []core.TreeNode, rerr error) {
	defer s.classify(&rerr)
	limit := max(q.Limit, 1)
	rows, err := s.r.QueryContext(ctx, treeQuery, q.Host, q.Creator, micros(q.Since), q.Invite, q.Depth, q.After,
		limit+q.Depth+2, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the tree: %w", err)
	}
	var (
		nodes         []core.TreeNode
		invIDs, jids  []any
		byInv, byJID  = map[string][]int{}, map[string][]int{}
		kind, ref, pa string
		depth         int
	)
	for rows.Next() {
		if err := rows.Scan(&kind, &ref, &pa, &depth); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading the tree: %w", err)
		}
		nodes = append(nodes, core.TreeNode{Path: pa, Depth: depth})
		switch kind {
		case "p":
			nodes[len(nodes)-1].Purged = ref
			continue
		case "i":
			invIDs = append(invIDs, ref)
			byInv[ref] = append(byInv[ref], len(nodes)-1)
		default:
			jids = append(jids, ref)
			byJID[ref] = append(byJID[ref], len(nodes)-1)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("reading the tree: %w", err)
	}
	if len(invIDs) > 0 {
		rows, err := s.r.QueryContext(ctx, `SELECT `+inviteColumns+` FROM invites WHERE id IN (`+marks(len(invIDs))+`)`, invIDs...)
		if err != nil {
			return nil, fmt.Errorf("reading the tree: %w", err)
		}
		for rows.Next() {
			inv, err := scanInvite(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading the tree: %w", err)
			}
			for _, i := range byInv[inv.ID] {
				nodes[i].Invite = &inv
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("reading the tree: %w", err)
		}
	}
	if len(jids) > 0 {
		rows, err := s.r.QueryContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE jid IN (`+marks(len(jids))+`)`, jids...)
		if err != nil {
			return nil, fmt.Errorf("reading the tree: %w", err)
		}
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("reading the tree: %w", err)
			}
			for _, i := range byJID[a.JID] {
				nodes[i].Account = &a
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("reading the tree: %w", err)
		}
	}
	return nodes, nil
}

// marks returns n comma-separated "?".
func marks(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}
