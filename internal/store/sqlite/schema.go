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

		// 2: the invite lifecycle (issue 13), time-ordered invite IDs (issue 11), keys
		// that manage their host's invites, durable key rates, and the event outbox.
		// Invites are now keyed by their ID: new IDs are time-ordered, so inserts
		// append; the old ones, derived from token hashes, are carried over as they
		// are, so that their tokens keep working. A WITHOUT ROWID table keeps the rows
		// in ID order, and every secondary index holds the ID.
		`CREATE TABLE invites_v2 (
			id             TEXT NOT NULL PRIMARY KEY,
			token_hash     BLOB NOT NULL CHECK (length(token_hash) = 32),
			host           TEXT NOT NULL,
			kind           TEXT NOT NULL,
			username       TEXT NOT NULL DEFAULT '',
			inviter        TEXT NOT NULL DEFAULT '',
			allow_register INTEGER NOT NULL DEFAULT 0,
			created_by     TEXT NOT NULL DEFAULT '',
			note           TEXT NOT NULL DEFAULT '',
			groups         TEXT NOT NULL DEFAULT '',
			max_uses       INTEGER NOT NULL DEFAULT 1 CHECK (max_uses >= 0),
			uses           INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0),
			created_at     INTEGER NOT NULL,
			expires_at     INTEGER NOT NULL,
			revoked_at     INTEGER,
			ended_at       INTEGER
		) WITHOUT ROWID;
		INSERT INTO invites_v2 (id, token_hash, host, kind, username, inviter, allow_register,
				created_by, created_at, expires_at)
			SELECT id, token_hash, host, kind, username, inviter, allow_register,
				CASE WHEN source LIKE 'adhoc/%' THEN 'xmpp:' || substr(source, 7) ELSE source END,
				created_at, expires_at
			FROM invites ORDER BY id; -- in key order: the new table is built by appends
		DROP TABLE invites;
		ALTER TABLE invites_v2 RENAME TO invites;
		-- Lists, newest first, of a host and of one creator; the sweep's two passes.
		CREATE INDEX invites_host ON invites (host, created_at);
		CREATE INDEX invites_creator ON invites (host, created_by, created_at);
		CREATE INDEX invites_pending ON invites (expires_at) WHERE ended_at IS NULL;
		CREATE INDEX invites_ended ON invites (ended_at) WHERE ended_at IS NOT NULL;
		CREATE TABLE redemptions (
			invite_id TEXT NOT NULL,
			at        INTEGER NOT NULL,
			jid       TEXT NOT NULL,
			PRIMARY KEY (invite_id, at, jid)
		) WITHOUT ROWID;
		ALTER TABLE keys ADD COLUMN manage INTEGER NOT NULL DEFAULT 0;
		-- GCRA theoretical arrival time per key, Unix nanoseconds.
		CREATE TABLE rate_limits (
			key_id TEXT NOT NULL PRIMARY KEY,
			tat    INTEGER NOT NULL
		) WITHOUT ROWID;
		-- Events written in the transaction of their change, for a delivery worker.
		CREATE TABLE outbox (
			id              TEXT NOT NULL PRIMARY KEY,
			type            TEXT NOT NULL,
			host            TEXT NOT NULL DEFAULT '',
			payload         TEXT NOT NULL,
			created_at      INTEGER NOT NULL,
			attempts        INTEGER NOT NULL DEFAULT 0,
			next_attempt_at INTEGER NOT NULL,
			lease_owner     TEXT,
			lease_until     INTEGER,
			delivered_at    INTEGER,
			last_error      TEXT
		) WITHOUT ROWID;
		CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;`,

		// 3: webhook delivery (issue 16): which endpoints have an event already, when its
		// delivery was given up, and the log of every attempt.
		`ALTER TABLE outbox ADD COLUMN done TEXT NOT NULL DEFAULT '';
		ALTER TABLE outbox ADD COLUMN given_up_at INTEGER;
		DROP INDEX outbox_due;
		CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL AND given_up_at IS NULL;
		CREATE INDEX outbox_created ON outbox (created_at);
		CREATE TABLE deliveries (
			event_id TEXT NOT NULL,
			endpoint TEXT NOT NULL,
			attempt  INTEGER NOT NULL,
			type     TEXT NOT NULL,
			host     TEXT NOT NULL DEFAULT '',
			at       INTEGER NOT NULL,
			duration INTEGER NOT NULL,
			status   INTEGER NOT NULL,
			error    TEXT NOT NULL DEFAULT '',
			PRIMARY KEY (event_id, endpoint, attempt, type)
		) WITHOUT ROWID;
		CREATE INDEX deliveries_at ON deliveries (at);
		CREATE INDEX deliveries_host ON deliveries (host, at);`,

		// 4: the domains the XMPP servers gave the plugin, so that a command line that
		// reads only the store knows them (issue 16).
		`CREATE TABLE hosts (
			domain      TEXT NOT NULL PRIMARY KEY,
			recorded_at INTEGER NOT NULL
		) WITHOUT ROWID;`,

		// 5: the public HTTP base URL served with each domain, so that the command line
		// prints the built-in page of an invite as the server would.
		`ALTER TABLE hosts ADD COLUMN base_url TEXT NOT NULL DEFAULT '';`,

		// 6: the policy the server applies to each domain (durations in nanoseconds) and
		// whether it has webhooks, so that the command line applies the same and queues
		// its events (issue 22).
		`ALTER TABLE hosts ADD COLUMN landing_page TEXT NOT NULL DEFAULT '';
		ALTER TABLE hosts ADD COLUMN default_ttl INTEGER NOT NULL DEFAULT 0;
		ALTER TABLE hosts ADD COLUMN max_ttl INTEGER NOT NULL DEFAULT 0;
		ALTER TABLE hosts ADD COLUMN webhooks INTEGER NOT NULL DEFAULT 0;`,

		// 7: each invite's state (core.Invite.State: open, used or revoked), written with
		// every write of an invite, so that queries by status follow the one rule of
		// core.Status.Where (issue 26). The rows written before are set once, here, by
		// the rule as it stood; from now on only Go writes the column.
		`ALTER TABLE invites ADD COLUMN state TEXT NOT NULL DEFAULT 'open';
		UPDATE invites SET state = CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
			WHEN max_uses > 0 AND uses >= max_uses THEN 'used' ELSE 'open' END;`,

		// 8: what an invite reports back (issue 25): the address it is mailed to (kept
		// while it is pending) and the delivery of that mail, its welcome message, its
		// funnel counts and when its creator was reminded of it; the sink of each
		// delivery attempt (webhook, host, email, funnel); whether the server of each
		// domain sends email. The reads of invites on the hot paths do not select these
		// columns.
		`ALTER TABLE invites ADD COLUMN email TEXT NOT NULL DEFAULT '';
		ALTER TABLE invites ADD COLUMN email_status TEXT NOT NULL DEFAULT '';
		ALTER TABLE invites ADD COLUMN email_error TEXT NOT NULL DEFAULT '';
		ALTER TABLE invites ADD COLUMN email_at INTEGER;
		ALTER TABLE invites ADD COLUMN email_event TEXT NOT NULL DEFAULT '';
		ALTER TABLE invites ADD COLUMN welcome TEXT NOT NULL DEFAULT '';
		ALTER TABLE invites ADD COLUMN reminded_at INTEGER;
		ALTER TABLE invites ADD COLUMN funnel_opened INTEGER NOT NULL DEFAULT 0;
		ALTER TABLE invites ADD COLUMN funnel_started INTEGER NOT NULL DEFAULT 0;
		ALTER TABLE invites ADD COLUMN funnel_accounts INTEGER NOT NULL DEFAULT 0;
		ALTER TABLE invites ADD COLUMN funnel_logins INTEGER NOT NULL DEFAULT 0;
		ALTER TABLE invites ADD COLUMN funnel_active INTEGER NOT NULL DEFAULT 0;
		ALTER TABLE deliveries ADD COLUMN sink TEXT NOT NULL DEFAULT 'webhook';
		ALTER TABLE hosts ADD COLUMN mail INTEGER NOT NULL DEFAULT 0;`,
		// 9: who invited whom (issue 24): the accounts the plugin knows, made with its
		// invites or reported by the server; registrations held until the server
		// confirms their account (issue 21, LOW 8); invites whose accounts await
		// approval, and whether an ordinary user made them; whether the server can set
		// its accounts' states. Accounts made before are not guessed from the
		// redemptions: their inviter stays unknown.
		`ALTER TABLE invites ADD COLUMN approval INTEGER NOT NULL DEFAULT 0;
		ALTER TABLE invites ADD COLUMN by_user INTEGER NOT NULL DEFAULT 0;
		CREATE TABLE accounts (
			seq               INTEGER PRIMARY KEY,
			jid               TEXT NOT NULL UNIQUE,
			host              TEXT NOT NULL,
			state             TEXT NOT NULL,
			created_at        INTEGER,
			invite_id         TEXT,
			inviter           TEXT NOT NULL DEFAULT '',
			first_login       INTEGER,
			last_login        INTEGER,
			lang              TEXT NOT NULL DEFAULT '',
			note              TEXT NOT NULL DEFAULT '',
			approval_deadline INTEGER,
			active_noted      INTEGER NOT NULL DEFAULT 0,
			changed_at        INTEGER,
			changed_by        TEXT NOT NULL DEFAULT '',
			invite_created_at INTEGER,
			orphan            INTEGER NOT NULL DEFAULT 0
		);
		-- The tree: the accounts an invite made, in Seq order (the rowid ends the key);
		-- the invites whose record was purged (orphan accounts), by their creator.
		CREATE INDEX accounts_invite ON accounts (invite_id) WHERE invite_id IS NOT NULL;
		CREATE INDEX accounts_orphans ON accounts (host, inviter, invite_created_at, invite_id) WHERE orphan;
		-- Lists by state; the sweep's approval deadlines.
		CREATE INDEX accounts_state ON accounts (host, state);
		CREATE INDEX accounts_deadline ON accounts (approval_deadline) WHERE approval_deadline IS NOT NULL;
		CREATE TABLE holds (
			invite_id TEXT NOT NULL,
			at        INTEGER NOT NULL,
			jid       TEXT NOT NULL,
			host      TEXT NOT NULL,
			approval  INTEGER NOT NULL DEFAULT 0,
			remote    TEXT NOT NULL DEFAULT '',
			PRIMARY KEY (invite_id, at, jid)
		) WITHOUT ROWID;
		CREATE INDEX holds_jid ON holds (jid);
		CREATE INDEX holds_at ON holds (at);
		ALTER TABLE hosts ADD COLUMN account_states INTEGER NOT NULL DEFAULT 0;`,
	}
}

// migrate brings the schema up to date, one transaction per migration.
// Several processes may open the same file at once: the immediate transactions
// serialize them, and each re-reads the version under the write lock.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx,
		`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("creating the schema_version table: %w", err)
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
		return false, fmt.Errorf("migrating the store: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return false, fmt.Errorf("reading the schema version: %w", err)
	}
	switch {
	case v > len(all):
		return false, fmt.Errorf("the store's schema is at version %d, made by a newer version of invites than this one (which knows %d): upgrade invites", v, len(all))
	case v == len(all):
		return true, tx.Commit()
	}
	if _, err := tx.ExecContext(ctx, all[v]); err != nil {
		return false, fmt.Errorf("migrating the store to schema %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return false, fmt.Errorf("migrating the store to schema %d: %w", v+1, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
		return false, fmt.Errorf("migrating the store to schema %d: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migrating the store to schema %d: %w", v+1, err)
	}
	return false, nil
}
