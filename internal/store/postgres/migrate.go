package postgres

import (
	"context"
	"fmt"
	"strings"
)

// migrations are the schema changes, in order: migrations()[i] brings the schema to
// version i+1.
// {s} stands for the quoted schema name.
// Append only: a released migration is never edited.
func migrations() []string {
	return []string{
		// 1: keys, invites and rate limits.
		`CREATE TABLE {s}.keys (
			seq         bigint GENERATED ALWAYS AS IDENTITY,
			id          text PRIMARY KEY,
			host        text NOT NULL,
			name        text NOT NULL DEFAULT '',
			secret_hash bytea NOT NULL,
			created_at  bigint NOT NULL,
			expires_at  bigint,
			max_ttl     bigint NOT NULL DEFAULT 0,
			rate_n      bigint NOT NULL DEFAULT 0,
			rate_period bigint NOT NULL DEFAULT 0,
			last_used   bigint,
			uses        bigint NOT NULL DEFAULT 0
		);
		CREATE INDEX keys_host ON {s}.keys (host, created_at, seq);
		CREATE TABLE {s}.invites (
			token_hash     bytea PRIMARY KEY,
			id             text NOT NULL,
			host           text NOT NULL,
			kind           text NOT NULL,
			username       text NOT NULL DEFAULT '',
			inviter        text NOT NULL DEFAULT '',
			allow_register boolean NOT NULL DEFAULT false,
			source         text NOT NULL DEFAULT '',
			created_at     bigint NOT NULL,
			expires_at     bigint NOT NULL
		);
		CREATE INDEX invites_expires ON {s}.invites (expires_at);
		CREATE TABLE {s}.rate_limits (
			key_id  text PRIMARY KEY,
			tat     bigint NOT NULL,
			allowed boolean NOT NULL
		);
		COMMENT ON TABLE {s}.keys IS 'invites: API keys; times are Unix nanoseconds, durations nanoseconds';
		COMMENT ON TABLE {s}.invites IS 'invites: pending invites, by SHA-256 of the token';
		COMMENT ON TABLE {s}.rate_limits IS 'invites: GCRA theoretical arrival time per key, Unix nanoseconds';`,
	}
}

// migrate creates the schema when missing and applies the pending migrations, all in
// one transaction under an advisory lock keyed by the schema name, so that nodes
// opening the store at once apply each migration once.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrating: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
		"github.com/xmpp-invites/invites/migrate:"+s.schema); err != nil {
		return fmt.Errorf("postgres: taking the migration lock: %w", err)
	}
	q := func(sql string) string { return strings.ReplaceAll(sql, "{s}", s.q.schema) }
	// CREATE SCHEMA needs the CREATE privilege on the database even when the schema
	// exists, which a role that only owns its schema lacks: look first.
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.schema).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: looking up schema %s: %w", s.schema, err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, q(`CREATE SCHEMA {s}`)); err != nil {
			return fmt.Errorf("postgres: creating schema %s: %w", s.schema, err)
		}
	}
	if _, err := tx.Exec(ctx, q(`CREATE TABLE IF NOT EXISTS {s}.schema_version (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`)); err != nil {
		return fmt.Errorf("postgres: creating schema_version: %w", err)
	}
	var v int
	if err := tx.QueryRow(ctx, q(`SELECT COALESCE(MAX(version), 0) FROM {s}.schema_version`)).Scan(&v); err != nil {
		return fmt.Errorf("postgres: reading schema version: %w", err)
	}
	all := migrations()
	if v > len(all) {
		return fmt.Errorf("postgres: schema %s is at version %d, newer than this program (%d)", s.schema, v, len(all))
	}
	for i := v; i < len(all); i++ {
		if _, err := tx.Exec(ctx, q(all[i])); err != nil {
			return fmt.Errorf("postgres: migration %d: %w", i+1, err)
		}
		if _, err := tx.Exec(ctx, q(`INSERT INTO {s}.schema_version (version) VALUES ($1)`), i+1); err != nil {
			return fmt.Errorf("postgres: migration %d: %w", i+1, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrating: %w", err)
	}
	if v < len(all) {
		s.log.Info("postgres: schema migrated", "schema", s.schema, "from", v, "to", len(all))
	}
	return nil
}
