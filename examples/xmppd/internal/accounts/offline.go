package accounts

import (
	"context"
	"errors"
	"fmt"
)

// StoreOffline keeps stanza (a message, as the account's client is to receive it) for
// the account addr, which has no session to take it, until TakeOffline; at most
// Options.MaxOffline per account, past which it fails with ErrOfflineFull (XEP-0160:
// the sender is told). ErrNotFound when there is no such account.
func (s *Store) StoreOffline(ctx context.Context, addr string, stanza []byte) error {
	bare, err := Normalize(addr)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("accounts: keeping a message for %s: %w", bare, err)
	}
	defer func() { _ = tx.Rollback() }()
	var exists, n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE jid = ? AND `+inAccounts, bare).Scan(&exists); err != nil {
		return fmt.Errorf("accounts: keeping a message for %s: %w", bare, err)
	}
	if exists == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, bare)
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM offline WHERE owner = ?`, bare).Scan(&n); err != nil {
		return fmt.Errorf("accounts: keeping a message for %s: %w", bare, err)
	}
	if n >= s.opts.MaxOffline {
		return fmt.Errorf("%w: %s has %d waiting", ErrOfflineFull, bare, n)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO offline (owner, stanza, created_at) VALUES (?, ?, ?)`,
		bare, stanza, s.opts.Now().Unix()); err != nil {
		return fmt.Errorf("accounts: keeping a message for %s: %w", bare, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("accounts: keeping a message for %s: %w", bare, err)
	}
	return nil
}

// TakeOffline returns the messages kept for addr, oldest first, and forgets them.
func (s *Store) TakeOffline(ctx context.Context, addr string) ([][]byte, error) {
	bare, err := Normalize(addr)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("accounts: reading the messages of %s: %w", bare, err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, `SELECT stanza FROM offline WHERE owner = ? ORDER BY id`, bare)
	if err != nil {
		return nil, fmt.Errorf("accounts: reading the messages of %s: %w", bare, err)
	}
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("accounts: reading the messages of %s: %w", bare, err)
		}
		out = append(out, b)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("accounts: reading the messages of %s: %w", bare, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM offline WHERE owner = ?`, bare); err != nil {
		return nil, fmt.Errorf("accounts: reading the messages of %s: %w", bare, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("accounts: reading the messages of %s: %w", bare, err)
	}
	return out, nil
}
