package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// GroupStats says how many group commits the store made and how many invites they held.
func (s *Store) GroupStats() (commits, rows int64) {
	return s.gc.commits.Load(), s.gc.rows.Load()
}

// SeedInvites stores n account invites on host in one transaction of raw inserts,
// bypassing the group commit, to fill a store fast for benchmarks.
// Their tokens are unknown: token hashes are SHA-256 of a counter and a salt.
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
	var buf [16]byte
	binary.LittleEndian.PutUint64(buf[8:], uint64(now.UnixNano()))
	for i := range n {
		binary.LittleEndian.PutUint64(buf[:8], uint64(i))
		h := sha256.Sum256(buf[:])
		inv := core.Invite{ID: core.InviteID(h[:]), TokenHash: h[:], Host: host, Kind: core.KindAccount,
			Source: "api/token/seedseedseed", CreatedAt: now, ExpiresAt: now.Add(core.DefaultInviteTTL)}
		if _, err := stmt.ExecContext(ctx, inviteArgs(inv)...); err != nil {
			return fmt.Errorf("seeding invite %d: %w", i, err)
		}
	}
	return tx.Commit()
}
