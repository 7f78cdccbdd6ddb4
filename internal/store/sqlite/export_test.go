package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// GroupStats says how many group commits the store made and how many writes they held.
func (s *Store) GroupStats() (commits, rows int64) {
	return s.gc.commits.Load(), s.gc.rows.Load()
}

// sortableIDs is core's ID alphabet (base64url in ASCII order).
var sortableIDs = base64.NewEncoding("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz").WithPadding(base64.NoPadding)

// SeedInvites stores n account invites on host in one transaction of raw inserts,
// bypassing the group commit, to fill a store fast for benchmarks. They are made as if
// created one per millisecond up to now, with time-ordered IDs as core makes them;
// their tokens are unknown.
func (s *Store) SeedInvites(ctx context.Context, n int, host string, now time.Time) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, insertInvite)
	if err != nil {
		return err
	}
	defer stmt.Close()
	start := now.Add(-time.Duration(n) * time.Millisecond)
	for i := range n {
		at := start.Add(time.Duration(i) * time.Millisecond)
		var b [11]byte // 6 bytes of milliseconds (the low 6 of 8), 3 of a counter
		binary.BigEndian.PutUint64(b[:8], uint64(at.UnixMilli()))
		b[8], b[9], b[10] = byte(i>>16), byte(i>>8), byte(i)
		id := sortableIDs.EncodeToString(b[2:])
		h := sha256.Sum256([]byte(id))
		inv := core.Invite{ID: id, TokenHash: h[:], Host: host, Kind: core.KindAccount, MaxUses: 1,
			CreatedBy: "api/token/seedseedseed", CreatedAt: at, ExpiresAt: at.Add(core.DefaultInviteTTL)}
		args, err := inviteArgs(inv)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("seeding invite %d: %w", i, err)
		}
	}
	return tx.Commit()
}

// SeedTree stores invites and accounts in one transaction of raw inserts, bypassing
// the group commit, to fill a store fast for the tree's benchmarks; accounts get their
// seq in the order given.
func (s *Store) SeedTree(ctx context.Context, invites []core.Invite, accounts []core.Account) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, insertInvite)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, inv := range invites {
		args, err := inviteArgs(inv)
		if err != nil {
			return err
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("seeding invite %s: %w", inv.ID, err)
		}
	}
	for _, a := range accounts {
		if _, err := upsertAccount(ctx, tx, a); err != nil {
			return fmt.Errorf("seeding account %s: %w", a.JID, err)
		}
	}
	return tx.Commit()
}

// MigrationSQL returns the SQL of migration v (1-based), to build old databases.
func MigrationSQL(v int) string { return migrations()[v-1] }

// Synchronous returns the writer's synchronous setting (1 NORMAL, 2 FULL).
func (s *Store) Synchronous(ctx context.Context) (int, error) {
	var n int
	err := s.w.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&n)
	return n, err
}
