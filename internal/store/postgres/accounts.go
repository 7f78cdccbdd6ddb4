package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmpp-invites/invites/internal/core"
)

// This file keeps the accounts the plugin knows, the registrations held until the
// server confirms their account, and the tree of who invited whom (issue 24).

const accountColumns = `seq, jid, host, state, created_at, invite_id, inviter, first_login, last_login, lang,
	note, approval_deadline, active_noted, changed_at, changed_by, invite_created_at`

// lockAccount takes a lock of the account jid held to the end of tx, so that changes
// of one account, stored or not yet, run one after another on every node.
func (s *Store) lockAccount(ctx context.Context, tx pgx.Tx, jid string) error {
	_, err := tx.Exec(ctx, s.q.quotaLock, "github.com/xmpp-invites/invites/account:"+s.schema+"/"+jid)
	return err
}

// upsertAccount writes a, inserted or replacing the row of its JID (which keeps its
// seq), in tx, and returns its seq.
func (s *Store) upsertAccount(ctx context.Context, tx pgx.Tx, a core.Account) (int64, error) {
	var seq int64
	err := tx.QueryRow(ctx, `INSERT INTO `+s.q.schema+`.accounts AS acc (jid, host, state, created_at, invite_id, inviter,
			first_login, last_login, lang, note, approval_deadline, active_noted, changed_at, changed_by, invite_created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (jid) DO UPDATE SET host = $2, state = $3, created_at = $4, invite_id = $5, inviter = $6,
			first_login = $7, last_login = $8, lang = $9, note = $10, approval_deadline = $11,
			active_noted = $12, changed_at = $13, changed_by = $14, invite_created_at = $15,
			orphan = CASE WHEN acc.invite_id IS NOT DISTINCT FROM $5::text THEN acc.orphan ELSE false END
		RETURNING seq`,
		a.JID, a.Host, string(a.State), nullNanos(a.CreatedAt), nullText(a.InviteID), a.Inviter,
		nullNanos(a.FirstLogin), nullNanos(a.LastLogin), a.Lang, a.Note, nullNanos(a.ApprovalDeadline),
		a.ActiveNoted, nullNanos(a.ChangedAt), a.ChangedBy, nullNanos(a.InviteCreatedAt)).Scan(&seq)
	return seq, err
}

// writeHolds records c's hold and deletes its released one (with the release's use),
// for a change of the invite id, in tx.
func (s *Store) writeHolds(ctx context.Context, tx pgx.Tx, id string, c core.InviteChange) error {
	if h := c.Hold; h != nil {
		if _, err := tx.Exec(ctx, `INSERT INTO `+s.q.schema+`.holds (invite_id, at, jid, host, approval, remote)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			id, nanos(h.At), h.JID, h.Host, h.Approval, h.Remote); err != nil {
			return err
		}
	}
	if h := c.Release; h != nil {
		tag, err := tx.Exec(ctx, `DELETE FROM `+s.q.schema+`.holds WHERE invite_id = $1 AND at = $2 AND jid = $3`,
			id, nanos(h.At), h.JID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: the registration was confirmed or released already", core.ErrConflict)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+s.q.schema+`.redemptions WHERE invite_id = $1 AND at = $2 AND jid = $3`,
			id, nanos(h.At), h.JID); err != nil {
			return err
		}
	}
	return nil
}

func nullText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// scanAccount reads a row of accountColumns.
func scanAccount(row pgx.Row) (core.Account, error) {
	var (
		a                              core.Account
		state                          string
		invite                         *string
		created, first, last, deadline *int64
		changed, inviteCreated         *int64
	)
	if err := row.Scan(&a.Seq, &a.JID, &a.Host, &state, &created, &invite, &a.Inviter, &first, &last, &a.Lang,
		&a.Note, &deadline, &a.ActiveNoted, &changed, &a.ChangedBy, &inviteCreated); err != nil {
		return core.Account{}, err
	}
	a.State = core.AccountState(state)
	if invite != nil {
		a.InviteID = *invite
	}
	a.CreatedAt, a.FirstLogin, a.LastLogin = fromNullNanos(created), fromNullNanos(first), fromNullNanos(last)
	a.ApprovalDeadline, a.ChangedAt = fromNullNanos(deadline), fromNullNanos(changed)
	a.InviteCreatedAt = fromNullNanos(inviteCreated)
	return a, nil
}

// Account implements core.Store.
func (s *Store) Account(ctx context.Context, jid string) (_ core.Account, rerr error) {
	defer classify(&rerr)
	a, err := scanAccount(s.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM `+s.q.schema+`.accounts WHERE jid = $1`, jid))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return core.Account{}, core.ErrNotFound
	case err != nil:
		return core.Account{}, fmt.Errorf("reading account: %w", err)
	}
	return a, nil
}

// ListAccounts implements core.Store.
func (s *Store) ListAccounts(ctx context.Context, f core.AccountFilter) (_ []core.Account, rerr error) {
	defer classify(&rerr)
	var b strings.Builder
	args := []any{f.Host}
	b.WriteString(`SELECT ` + accountColumns + ` FROM ` + s.q.schema + `.accounts WHERE host = $1`)
	if f.State != "" {
		args = append(args, string(f.State))
		b.WriteString(` AND state = $` + strconv.Itoa(len(args)))
	}
	if !f.DeadlineBefore.IsZero() {
		args = append(args, nanos(f.DeadlineBefore))
		b.WriteString(` AND approval_deadline IS NOT NULL AND approval_deadline < $` + strconv.Itoa(len(args)))
	}
	args = append(args, f.After, max(f.Limit, 1))
	b.WriteString(fmt.Sprintf(` AND seq > $%d ORDER BY seq LIMIT $%d`, len(args)-1, len(args)))
	rows, err := s.pool.Query(ctx, b.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("listing accounts: %w", err)
	}
	accs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.Account, error) { return scanAccount(r) })
	if err != nil {
		return nil, fmt.Errorf("listing accounts: %w", err)
	}
	return accs, nil
}

// ChangeAccount implements core.Store: under a lock of the account held to the end of
// the transaction, so that changes of one account on any number of nodes run one
// after another, each seeing the last one's result.
func (s *Store) ChangeAccount(ctx context.Context, jid string, change func(*core.Account, []core.Hold) (core.AccountChange, error)) (_ core.Account, rerr error) {
	defer classify(&rerr)
	var out core.Account
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := s.lockAccount(ctx, tx, jid); err != nil {
			return err
		}
		a, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountColumns+` FROM `+s.q.schema+`.accounts WHERE jid = $1`, jid))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			a = core.Account{JID: jid}
			if _, d, ok := strings.Cut(jid, "@"); ok {
				a.Host = d
			}
		case err != nil:
			return err
		}
		holds, err := s.accountHolds(ctx, tx, jid)
		if err != nil {
			return err
		}
		c, err := change(&a, holds)
		if err != nil {
			return err
		}
		if c.Write {
			if a.Seq, err = s.upsertAccount(ctx, tx, a); err != nil {
				return err
			}
		}
		for _, h := range c.Confirm {
			if _, err := tx.Exec(ctx, `DELETE FROM `+s.q.schema+`.holds WHERE invite_id = $1 AND at = $2 AND jid = $3`,
				h.InviteID, nanos(h.At), h.JID); err != nil {
				return err
			}
		}
		if err := s.writeOutbox(ctx, tx, c.Events); err != nil {
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

// holdColumns are the columns of a hold.
const holdColumns = `invite_id, at, jid, host, approval, remote`

func scanHold(r pgx.CollectableRow) (core.Hold, error) {
	var (
		h  core.Hold
		at int64
	)
	err := r.Scan(&h.InviteID, &at, &h.JID, &h.Host, &h.Approval, &h.Remote)
	h.At = fromNanos(at)
	return h, err
}

// accountHolds reads the holds of the account jid in tx, each with its invite.
func (s *Store) accountHolds(ctx context.Context, tx pgx.Tx, jid string) ([]core.Hold, error) {
	rows, err := tx.Query(ctx, `SELECT `+holdColumns+` FROM `+s.q.schema+`.holds WHERE jid = $1 ORDER BY at`, jid)
	if err != nil {
		return nil, err
	}
	holds, err := pgx.CollectRows(rows, scanHold)
	if err != nil {
		return nil, err
	}
	for i := range holds {
		inv, err := scanInvite(tx.QueryRow(ctx, `SELECT `+inviteColumns+` FROM `+s.q.schema+`.invites WHERE id = $1`, holds[i].InviteID))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, err
		default:
			holds[i].Invite = inv
		}
	}
	return holds, nil
}

// Holds implements core.Store.
func (s *Store) Holds(ctx context.Context, before time.Time, limit int) (_ []core.Hold, rerr error) {
	defer classify(&rerr)
	rows, err := s.pool.Query(ctx, `SELECT `+holdColumns+` FROM `+s.q.schema+`.holds WHERE at <= $1 ORDER BY at LIMIT $2`,
		nanos(before), max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("reading held registrations: %w", err)
	}
	holds, err := pgx.CollectRows(rows, scanHold)
	if err != nil {
		return nil, fmt.Errorf("reading held registrations: %w", err)
	}
	return holds, nil
}

// treeQuery walks the tree below a root level by level with a recursive CTE that keeps,
// of each level, only the nodes that can be on the page: those on the cursor's path
// and the first ones after it in path order (a window over the level), each parent
// giving at most as many children, read in path order through the indexes
// invites_creator (host, created_by, created_at, id), accounts_invite (invite_id,
// seq) and accounts_orphans (host, inviter, invite_created_at, invite_id), from the
// cursor's segment on for a node on the cursor's path. A page thus costs at most about
// depth × cap² index entries however large the tree.
// Kinds: 'a' an account (or the root creator), 'i' an invite, 'p' an invite whose
// record was purged, known from its accounts.
// Parameters: $1 host, $2 root creator, $3 root since (ns), $4 root invite, $5 depth,
// $6 cursor path, $7 cap per level and per parent, $8 page size.
// Times are stored in nanoseconds; path segments hold microseconds (core.InviteSegment).
const treeQuery = `WITH RECURSIVE t(kind, ref, creator, since, path, depth, onpath) AS (
	SELECT CASE WHEN $2::text <> '' THEN 'a' ELSE 'i' END, $4::text COLLATE "C", $2::text COLLATE "default", $3::bigint,
		''::text COLLATE "C", 0, $6::text <> ''
	UNION ALL
	SELECT l.kind, l.ref, l.creator, l.since, l.path, l.depth, l.onpath FROM (
		SELECT c.*, row_number() OVER (ORDER BY c.path) AS rn FROM t CROSS JOIN LATERAL (
			(SELECT 'i'::text AS kind, i.id::text COLLATE "C" AS ref, NULL::text COLLATE "default" AS creator, 0::bigint AS since,
				(t.path || '/' || lpad((i.created_at / 1000)::text, 16, '0') || i.id) COLLATE "C" AS path,
				t.depth + 1 AS depth,
				t.onpath AND substr($6, length(t.path) + 2, 28) = lpad((i.created_at / 1000)::text, 16, '0') || i.id AS onpath
			FROM {s}.invites AS i
			WHERE t.kind = 'a' AND t.depth < $5 AND i.host = $1 AND i.created_by = t.creator AND i.created_at >= t.since
				AND (NOT t.onpath OR length($6) <= length(t.path) OR (i.created_at, i.id) >= (CASE WHEN t.onpath AND length($6) > length(t.path) THEN substr($6, length(t.path) + 2, 16)::bigint * 1000 END,
					substr($6, length(t.path) + 18, 12) COLLATE "C"))
			ORDER BY i.created_at, i.id LIMIT $7)
			UNION ALL
			(SELECT DISTINCT 'p'::text, a.invite_id::text COLLATE "C", NULL::text COLLATE "default", 0::bigint,
				(t.path || '/' || lpad((a.invite_created_at / 1000)::text, 16, '0') || a.invite_id) COLLATE "C",
				t.depth + 1,
				t.onpath AND substr($6, length(t.path) + 2, 28) = lpad((a.invite_created_at / 1000)::text, 16, '0') || a.invite_id
			FROM {s}.accounts AS a
			WHERE t.kind = 'a' AND t.depth < $5 AND a.orphan AND a.host = $1 AND a.inviter = t.creator
				AND a.invite_created_at >= t.since
				AND (NOT t.onpath OR length($6) <= length(t.path) OR (a.invite_created_at, a.invite_id) >= (CASE WHEN t.onpath AND length($6) > length(t.path) THEN substr($6, length(t.path) + 2, 16)::bigint * 1000 END,
					substr($6, length(t.path) + 18, 12) COLLATE "C"))
			ORDER BY 5 LIMIT $7)
			UNION ALL
			(SELECT 'a'::text, a.jid::text COLLATE "C", ('xmpp:' || a.jid) COLLATE "default", coalesce(a.created_at, 0),
				(t.path || '/' || lpad(a.seq::text, 12, '0')) COLLATE "C", t.depth + 1,
				t.onpath AND substr($6, length(t.path) + 2, 12) = lpad(a.seq::text, 12, '0')
			FROM {s}.accounts AS a
			WHERE t.kind <> 'a' AND t.depth < $5 AND a.invite_id = t.ref
				AND (NOT t.onpath OR length($6) <= length(t.path) OR a.seq >= CASE WHEN t.onpath AND length($6) > length(t.path) THEN substr($6, length(t.path) + 2, 12)::bigint END)
			ORDER BY a.seq LIMIT $7)
		) AS c
	) AS l WHERE l.rn <= $7
)
SELECT kind, ref, path, depth FROM t WHERE depth > 0 AND path > $6::text COLLATE "C" ORDER BY path LIMIT $8`

// Tree implements core.Store.
func (s *Store) Tree(ctx context.Context, q core.TreeQuery) (_ []core.TreeNode, rerr error) {
	defer classify(&rerr)
	limit := max(q.Limit, 1)
	rows, err := s.pool.Query(ctx, s.q.tree, q.Host, q.Creator, nanos(q.Since), q.Invite, q.Depth, q.After, limit+2, limit)
	if err != nil {
		return nil, fmt.Errorf("reading the tree: %w", err)
	}
	var (
		nodes        []core.TreeNode
		invIDs, jids []string
		byInv, byJID = map[string][]int{}, map[string][]int{}
	)
	for rows.Next() {
		var (
			kind, ref, path string
			depth           int
		)
		if err := rows.Scan(&kind, &ref, &path, &depth); err != nil {
			rows.Close()
			return nil, fmt.Errorf("reading the tree: %w", err)
		}
		nodes = append(nodes, core.TreeNode{Path: path, Depth: depth})
		switch kind {
		case "p":
			nodes[len(nodes)-1].Purged = ref
		case "i":
			invIDs = append(invIDs, ref)
			byInv[ref] = append(byInv[ref], len(nodes)-1)
		default:
			jids = append(jids, ref)
			byJID[ref] = append(byJID[ref], len(nodes)-1)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the tree: %w", err)
	}
	if len(invIDs) > 0 {
		rows, err := s.pool.Query(ctx, `SELECT `+inviteColumns+` FROM `+s.q.schema+`.invites WHERE id = ANY($1)`, invIDs)
		if err != nil {
			return nil, fmt.Errorf("reading the tree: %w", err)
		}
		invs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.Invite, error) { return scanInvite(r) })
		if err != nil {
			return nil, fmt.Errorf("reading the tree: %w", err)
		}
		for _, inv := range invs {
			for _, i := range byInv[inv.ID] {
				nodes[i].Invite = &inv
			}
		}
	}
	if len(jids) > 0 {
		rows, err := s.pool.Query(ctx, `SELECT `+accountColumns+` FROM `+s.q.schema+`.accounts WHERE jid = ANY($1)`, jids)
		if err != nil {
			return nil, fmt.Errorf("reading the tree: %w", err)
		}
		accs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.Account, error) { return scanAccount(r) })
		if err != nil {
			return nil, fmt.Errorf("reading the tree: %w", err)
		}
		for _, a := range accs {
			for _, i := range byJID[a.JID] {
				nodes[i].Account = &a
			}
		}
	}
	return nodes, nil
}
