package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3/driver"

	"github.com/xmpp-invites/invites/internal/store"
)

// seedChunk is how many rows one INSERT … SELECT makes; the chunks share one transaction.
const seedChunk = 100_000

// seedInvites adds n account invites for benchDomain to the SQLite store at path,
// creating it with its schema when missing.
// The rows are made inside SQLite (random token hashes, sorted before insertion so that
// the unique index is appended to) in one bulk transaction without fsync: seconds for a
// million rows.
// No other process may have the file open.
func seedInvites(ctx context.Context, path string, n int) (err error) {
	// The store applies the migrations, so the table is the one the server uses.
	st, err := store.Open(ctx, path, nil)
	if err != nil {
		return fmt.Errorf("seeding: opening store: %w", err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("seeding: closing store: %w", err)
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(OFF)",
		"cache_size(-65536)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	db, err := driver.Open(u.String())
	if err != nil {
		return fmt.Errorf("seeding: opening %s: %w", path, err)
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	db.SetMaxOpenConns(1)

	insert, err := seedStatement(ctx, db)
	if err != nil {
		return err
	}
	now := time.Now()
	created := now.UnixMicro()
	expires := now.Add(7 * 24 * time.Hour).UnixMicro()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for done := 0; done < n; done += seedChunk {
		k := min(seedChunk, n-done)
		if _, err = tx.ExecContext(ctx, insert, k, benchDomain, created, expires, done); err != nil {
			return fmt.Errorf("seeding: inserting: %w", err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("seeding: committing: %w", err)
	}
	if _, err = db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("seeding: checkpoint: %w", err)
	}
	return nil
}

// countInvites returns how many invites the SQLite store at path holds.
func countInvites(ctx context.Context, path string) (int, error) {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path),
		RawQuery: url.Values{"_pragma": {"busy_timeout(10000)"}}.Encode()}
	db, err := driver.Open(u.String())
	if err != nil {
		return 0, fmt.Errorf("counting: opening %s: %w", path, err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM invites`).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting: %w", err)
	}
	return n, nil
}

// seedColumns are the values the seeder gives the invites table's columns, as SQL over
// the row's number n (unique across chunks), random token key k and token hash h (whose
// first 8 bytes are k, big-endian, as the store derives its token key) and the
// parameters ?2 host, ?3 created_at and ?4 expires_at (microseconds).
func seedColumns() map[string]string {
	return map[string]string{
		"token_key":  "k",
		"token_hash": "h",
		// Unique (the row's number), 12 characters like core's IDs, and sorting before
		// the time-ordered IDs of new invites, as older invites do: "-0…" is below the
		// "-P…" of today's. (Ten hex digits of the hash, used before, collide among a
		// million rows about every other time.)
		"id":             "'-' || printf('%011d', n)",
		"host":           "?2",
		"kind":           "'account'",
		"username":       "''",
		"inviter":        "''",
		"allow_register": "0",
		"source":         "'bench/seed'",
		"created_at":     "?3",
		"expires_at":     "?4",
	}
}

// seedStatement builds the bulk insert from the table's columns as the migrations left
// them, so that it follows schema changes; a required column it does not know is an
// error that names it.
func seedStatement(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, "notnull", dflt_value FROM pragma_table_info('invites')`)
	if err != nil {
		return "", fmt.Errorf("seeding: reading the schema: %w", err)
	}
	defer rows.Close()
	known := seedColumns()
	var cols, vals []string
	for rows.Next() {
		var name string
		var notNull bool
		var dflt sql.NullString
		if err := rows.Scan(&name, &notNull, &dflt); err != nil {
			return "", fmt.Errorf("seeding: reading the schema: %w", err)
		}
		v, ok := known[name]
		switch {
		case ok:
			cols = append(cols, name)
			vals = append(vals, v)
		case notNull && !dflt.Valid:
			return "", fmt.Errorf("seeding: the invites table has a required column %q the seeder does not know", name)
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("seeding: reading the schema: %w", err)
	}
	if !slices.Contains(cols, "token_hash") {
		return "", errors.New("seeding: the invites table has no token_hash column")
	}
	// Rows are made inside SQLite and sorted by token hash, so that an index on the
	// hash or on its first 8 bytes is appended to rather than split at random.
	return `WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < ?1),
		keys(n, k) AS MATERIALIZED (SELECT ?5 + x, random() FROM seq),
		rows(n, k, h) AS MATERIALIZED (SELECT n, k, unhex(printf('%016x', k) || hex(randomblob(24))) FROM keys)
		INSERT INTO invites (` + strings.Join(cols, ", ") + `)
		SELECT ` + strings.Join(vals, ", ") + ` FROM rows ORDER BY h`, nil
}
