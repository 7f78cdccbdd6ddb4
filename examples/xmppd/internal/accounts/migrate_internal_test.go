package accounts

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
)

// TestSkeletonMigration: a store made before skeletons were kept (schema 2) gets
// them at open, so a lookalike of an account made then is refused.
func TestSkeletonMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), FileName)
	s, err := Open(ctx, path, Options{Iterations: scram.MinIterations})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"alice@localhost", "bob@localhost"} {
		if err := s.Add(ctx, a, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	// Back to schema 2: no skeleton column, no index.
	for _, q := range []string{`DROP TABLE offline`, `DROP INDEX accounts_skeleton`, `ALTER TABLE accounts DROP COLUMN skeleton`, `PRAGMA user_version = 2`} {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path, Options{Iterations: scram.MinIterations})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var le *LookalikeError
	if err := s.Reserve(ctx, "аlice@localhost", "pw"); !errors.As(err, &le) || le.Name != "alice" {
		t.Fatalf("a lookalike of an account made before the migration: %v", err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE skeleton = ''`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d accounts without a skeleton, %v", n, err)
	}
}

// TestLookalikeQueryUsesIndex: the lookup of a new name's lookalikes is answered by
// the index on skeleton, not a scan of every account.
func TestLookalikeQueryUsesIndex(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), FileName), Options{Iterations: scram.MinIterations})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+lookalikeQuery, "x@localhost", "x@localhost", stateReserved, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "USING INDEX accounts_skeleton (skeleton=?)") {
		t.Fatalf("query plan: %s", p)
	}
}

// BenchmarkCheckName measures the lookalike check of a new name against 100,000
// accounts: an index lookup, whatever the number of accounts.
func BenchmarkCheckName(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), FileName), Options{Iterations: scram.MinIterations, Reserved: []string{"admin"}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100_000 {
		bare := fmt.Sprintf("user%d@localhost", i)
		if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (jid, state, created_at, skeleton) VALUES (?, 0, 0, ?)`, bare, skeletonOf(bare)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.checkName(ctx, tx, fmt.Sprintf("newname%d@localhost", i), false); err != nil {
			b.Fatal(err)
		}
		_ = tx.Rollback()
	}
}
