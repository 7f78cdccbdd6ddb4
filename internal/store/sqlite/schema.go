package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema changes, in order; migrations[i] brings the schema to
// version i+1.
// Append only: a released migration is never edited.
func migrations() []string {
	return []string{
		// 1: keys and invites.
		`CREATE TABLE keys (
			id          TEXT PRIMARY KEY,
			host        TEXT NOT NULL,
			name        TEXT NOT NULL DEFAULT '',
			secret_hash BLOB NOT NULL,
			created_at  INTEGER NOT NULL,
			expires_at  INTEGER,
			max_ttl     INTEGER NOT NULL DEFAULT 0,
			rate_n      INTEGER NOT NULL DEFAULT 0,
			rate_period INTEGER NOT NULL DEFAULT 0,
			last_used   INTEGER,
			uses        INTEGER NOT NULL DEFAULT 0
		);
		CREATE INDEX keys_host ON keys (host, created_at);
		-- Rows are appended in rowid order. Only the token index takes random inserts,
		-- so it is kept narrow: it holds the first 8 bytes of the token hash as an
		-- integer, and a lookup compares the full hash in the row.
		CREATE TABLE invites (
			token_key      INTEGER NOT NULL,
			token_hash     BLOB NOT NULL CHECK (length(token_hash) = 32),
			id             TEXT NOT NULL,
			host           TEXT NOT NULL,
			kind           TEXT NOT NULL,
			username       TEXT NOT NULL DEFAULT '',
			inviter        TEXT NOT NULL DEFAULT '',
			allow_register INTEGER NOT NULL DEFAULT 0,
			source         TEXT NOT NULL DEFAULT '',
			created_at     INTEGER NOT NULL,
			expires_at     INTEGER NOT NULL
		);
		CREATE INDEX invites_token ON invites (token_key);
		CREATE INDEX invites_expires ON invites (expires_at);`,
	}
}

// migrate brings the schema up to date, one transaction per migration.
// Several processes may open the same file at once: the immediate transactions
// serialize them, and each re-reads the version under the write lock.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: creating schema_version: %w", err)
	}
	all := migrations()
	for {
		done, err := migrateOne(ctx, db, all)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
	}
}

// migrateOne applies the next pending migration, or reports that none is left.
func migrateOne(ctx context.Context, db *sql.DB, all []string) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlite: migrating: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return false, fmt.Errorf("sqlite: reading schema version: %w", err)
	}
	switch {
	case v > len(all):
		return false, fmt.Errorf("sqlite: schema version %d is newer than this program (%d)", v, len(all))
	case v == len(all):
		return true, tx.Commit()
	}
	if _, err := tx.ExecContext(ctx, all[v]); err != nil {
		return false, fmt.Errorf("sqlite: migration %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return false, fmt.Errorf("sqlite: migration %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
		return false, fmt.Errorf("sqlite: migration %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("sqlite: migration %d: %w", v+1, err)
	}
	return false, nil
}
