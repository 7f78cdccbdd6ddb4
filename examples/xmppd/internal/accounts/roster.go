package accounts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/roster"
)

var _ roster.Store = (*Store)(nil)

// rosterColumns are the columns of a roster row after owner, in scan order.
const rosterColumns = `contact, name, groups, sub_to, sub_from, ask, pending_in, approved, listed`

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(...any) error }

// scanEntry reads one roster row.
func scanEntry(r rowScanner) (roster.Entry, error) {
	var e roster.Entry
	var groups string
	if err := r.Scan(&e.Contact, &e.Name, &groups, &e.To, &e.From, &e.Ask, &e.PendingIn, &e.Approved, &e.Listed); err != nil {
		return roster.Entry{}, err
	}
	if err := json.Unmarshal([]byte(groups), &e.Groups); err != nil {
		return roster.Entry{}, fmt.Errorf("reading the groups of %s: %w", e.Contact, err)
	}
	return e, nil
}

// Entries implements roster.Store: every entry of owner, by contact.
func (s *Store) Entries(ctx context.Context, owner string) ([]roster.Entry, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+rosterColumns+` FROM roster WHERE owner = ? ORDER BY contact LIMIT ?`,
		owner, roster.MaxItems+1)
	if err != nil {
		return nil, fmt.Errorf("reading the roster of %s: %w", owner, err)
	}
	defer rows.Close()
	var out []roster.Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("reading the roster of %s: %w", owner, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the roster of %s: %w", owner, err)
	}
	return out, nil
}

// entry reads one entry in tx; a missing one is the zero Entry.
func entry(ctx context.Context, tx *sql.Tx, owner, contact string) (roster.Entry, error) {
	e, err := scanEntry(tx.QueryRowContext(ctx, `SELECT `+rosterColumns+` FROM roster WHERE owner = ? AND contact = ?`, owner, contact))
	if errors.Is(err, sql.ErrNoRows) {
		return roster.Entry{Contact: contact}, nil
	}
	return e, err
}

// putEntry stores e as owner's entry, or deletes it when it is empty.
func putEntry(ctx context.Context, tx *sql.Tx, owner string, e roster.Entry) error {
	if e.Empty() {
		_, err := tx.ExecContext(ctx, `DELETE FROM roster WHERE owner = ? AND contact = ?`, owner, e.Contact)
		return err
	}
	groups := e.Groups
	if groups == nil {
		groups = []string{}
	}
	g, err := json.Marshal(groups)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO roster (owner, `+rosterColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (owner, contact) DO UPDATE SET name = excluded.name, groups = excluded.groups,
			sub_to = excluded.sub_to, sub_from = excluded.sub_from, ask = excluded.ask,
			pending_in = excluded.pending_in, approved = excluded.approved, listed = excluded.listed`,
		owner, e.Contact, e.Name, string(g), e.To, e.From, e.Ask, e.PendingIn, e.Approved, e.Listed)
	return err
}

// UpdatePair implements roster.Store in one immediate transaction, so both sides of
// a subscription change together.
func (s *Store) UpdatePair(ctx context.Context, owner, contact string, fn func(*roster.Pair) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("updating the roster of %s: %w", owner, err)
	}
	defer func() { _ = tx.Rollback() }()
	p := &roster.Pair{Owner: owner, Contact: contact}
	if p.OC, err = entry(ctx, tx, owner, contact); err != nil {
		return fmt.Errorf("updating the roster of %s: %w", owner, err)
	}
	if p.CO, err = entry(ctx, tx, contact, owner); err != nil {
		return fmt.Errorf("updating the roster of %s: %w", contact, err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE jid = ? AND `+inAccounts, contact).Scan(&n); err != nil {
		return fmt.Errorf("looking up %s: %w", contact, err)
	}
	p.ContactLocal = n > 0
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM roster WHERE owner = ?`, owner).Scan(&p.OwnerItems); err != nil {
		return fmt.Errorf("updating the roster of %s: %w", owner, err)
	}
	if err := fn(p); err != nil {
		return err
	}
	if err := putEntry(ctx, tx, owner, p.OC); err != nil {
		return fmt.Errorf("updating the roster of %s: %w", owner, err)
	}
	if p.ContactLocal {
		if err := putEntry(ctx, tx, contact, p.CO); err != nil {
			return fmt.Errorf("updating the roster of %s: %w", contact, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("updating the roster of %s: %w", owner, err)
	}
	return nil
}

// GroupMembers implements roster.Store.
func (s *Store) GroupMembers(ctx context.Context, group string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT jid FROM group_members WHERE grp = ? ORDER BY jid LIMIT ?`,
		group, roster.MaxGroupMembers+1)
	if err != nil {
		return nil, fmt.Errorf("reading group %q: %w", group, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var j string
		if err := rows.Scan(&j); err != nil {
			return nil, fmt.Errorf("reading group %q: %w", group, err)
		}
		out = append(out, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading group %q: %w", group, err)
	}
	return out, nil
}

// AddGroupMember implements roster.Store.
func (s *Store) AddGroupMember(ctx context.Context, group, addr string) error {
	bare, err := Normalize(addr)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO group_members (grp, jid) VALUES (?, ?) ON CONFLICT DO NOTHING`, group, bare); err != nil {
		return fmt.Errorf("adding %s to group %q: %w", bare, group, err)
	}
	return nil
}
