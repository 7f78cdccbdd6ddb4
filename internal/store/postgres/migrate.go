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

		// 2: the invite lifecycle (issue 13), time-ordered invite IDs (issue 11), keys
		// that manage their host's invites, and the event outbox. Invites are now keyed
		// by their ID (new IDs are time-ordered, so the primary key index appends); the
		// old rows keep their IDs, derived from their token hashes, so that their
		// tokens keep working.
		`ALTER TABLE {s}.invites RENAME COLUMN source TO created_by;
		UPDATE {s}.invites SET created_by = 'xmpp:' || substr(created_by, 7) WHERE created_by LIKE 'adhoc/%';
		ALTER TABLE {s}.invites DROP CONSTRAINT invites_pkey;
		-- IDs compare byte by byte whatever the database's collation: their ASCII
		-- order is time order, so the primary key index appends.
		ALTER TABLE {s}.invites ALTER COLUMN id TYPE text COLLATE "C";
		ALTER TABLE {s}.invites ADD PRIMARY KEY (id);
		ALTER TABLE {s}.invites
			ADD COLUMN note       text NOT NULL DEFAULT '',
			ADD COLUMN groups     text NOT NULL DEFAULT '',
			ADD COLUMN max_uses   integer NOT NULL DEFAULT 1 CHECK (max_uses >= 0),
			ADD COLUMN uses       integer NOT NULL DEFAULT 0 CHECK (uses >= 0),
			ADD COLUMN revoked_at bigint,
			ADD COLUMN ended_at   bigint;
		DROP INDEX {s}.invites_expires;
		CREATE INDEX invites_host ON {s}.invites (host, created_at, id);
		CREATE INDEX invites_creator ON {s}.invites (host, created_by, created_at, id);
		CREATE INDEX invites_pending ON {s}.invites (expires_at) WHERE ended_at IS NULL;
		CREATE INDEX invites_ended ON {s}.invites (ended_at) WHERE ended_at IS NOT NULL;
		CREATE TABLE {s}.redemptions (
			invite_id text COLLATE "C" NOT NULL,
			at        bigint NOT NULL,
			jid       text NOT NULL,
			PRIMARY KEY (invite_id, at, jid)
		);
		ALTER TABLE {s}.keys ADD COLUMN manage boolean NOT NULL DEFAULT false;
		CREATE TABLE {s}.outbox (
			id              text COLLATE "C" PRIMARY KEY,
			type            text NOT NULL,
			host            text NOT NULL DEFAULT '',
			payload         jsonb NOT NULL,
			created_at      bigint NOT NULL,
			attempts        integer NOT NULL DEFAULT 0,
			next_attempt_at bigint NOT NULL,
			lease_owner     text,
			lease_until     bigint,
			delivered_at    bigint,
			last_error      text
		);
		CREATE INDEX outbox_due ON {s}.outbox (next_attempt_at) WHERE delivered_at IS NULL;
		COMMENT ON TABLE {s}.invites IS 'invites: invites by ID, with SHA-256 of the token; times are Unix nanoseconds';
		COMMENT ON TABLE {s}.redemptions IS 'invites: each use of an invite';
		COMMENT ON TABLE {s}.outbox IS 'invites: events written with their change, for delivery (webhooks); times are Unix nanoseconds';`,

		// 3: webhook delivery (issue 16): which endpoints have an event already, when its
		// delivery was given up, and the log of every attempt.
		`ALTER TABLE {s}.outbox
			ADD COLUMN done        text NOT NULL DEFAULT '',
			ADD COLUMN given_up_at bigint;
		DROP INDEX {s}.outbox_due;
		CREATE INDEX outbox_due ON {s}.outbox (next_attempt_at) WHERE delivered_at IS NULL AND given_up_at IS NULL;
		CREATE INDEX outbox_created ON {s}.outbox (created_at);
		CREATE TABLE {s}.deliveries (
			event_id text COLLATE "C" NOT NULL,
			endpoint text NOT NULL,
			attempt  integer NOT NULL,
			type     text NOT NULL,
			host     text NOT NULL DEFAULT '',
			at       bigint NOT NULL,
			duration bigint NOT NULL,
			status   integer NOT NULL,
			error    text NOT NULL DEFAULT '',
			PRIMARY KEY (event_id, endpoint, attempt, type)
		);
		CREATE INDEX deliveries_at ON {s}.deliveries (at);
		CREATE INDEX deliveries_host ON {s}.deliveries (host, at);
		COMMENT ON TABLE {s}.deliveries IS 'invites: each attempt to deliver an outbox event to a webhook; times are Unix nanoseconds, durations nanoseconds';`,

		// 4: the domains the XMPP servers gave the plugin, so that the command line of
		// any node, reading only the store, knows them (issue 16).
		`CREATE TABLE {s}.hosts (
			domain      text COLLATE "C" PRIMARY KEY,
			recorded_at bigint NOT NULL
		);
		COMMENT ON TABLE {s}.hosts IS 'invites: domains served with this store; times are Unix nanoseconds';`,

		// 5: the public HTTP base URL served with each domain, so that the command line
		// prints the built-in page of an invite as the server would.
		`ALTER TABLE {s}.hosts ADD COLUMN base_url text NOT NULL DEFAULT '';`,

		// 6: the policy the server applies to each domain and whether it has webhooks, so
		// that the command line applies the same and queues its events (issue 22).
		`ALTER TABLE {s}.hosts
			ADD COLUMN landing_page text NOT NULL DEFAULT '',
			ADD COLUMN default_ttl  bigint NOT NULL DEFAULT 0,
			ADD COLUMN max_ttl      bigint NOT NULL DEFAULT 0,
			ADD COLUMN webhooks     boolean NOT NULL DEFAULT false;`,

		// 7: each invite's state (core.Invite.State: open, used or revoked), written with
		// every write of an invite, so that queries by status follow the one rule of
		// core.Status.Where (issue 26). The rows written before are set once, here, by
		// the rule as it stood; from now on only Go writes the column.
		`ALTER TABLE {s}.invites ADD COLUMN state text NOT NULL DEFAULT 'open';
		UPDATE {s}.invites SET state = CASE WHEN revoked_at IS NOT NULL THEN 'revoked'
			WHEN max_uses > 0 AND uses >= max_uses THEN 'used' ELSE 'open' END
			WHERE revoked_at IS NOT NULL OR (max_uses > 0 AND uses >= max_uses);`,

		// 8: what an invite reports back (issue 25): the address it is mailed to (kept
		// while it is pending) and the delivery of that mail, its welcome message, its
		// funnel counts and when its creator was reminded of it; the sink of each
		// delivery attempt (webhook, host, email, funnel); whether the server of each
		// domain sends email. The reads of invites on the hot paths do not select these
		// columns.
		`ALTER TABLE {s}.invites
			ADD COLUMN email           text NOT NULL DEFAULT '',
			ADD COLUMN email_status    text NOT NULL DEFAULT '',
			ADD COLUMN email_error     text NOT NULL DEFAULT '',
			ADD COLUMN email_at        bigint,
			ADD COLUMN email_event     text NOT NULL DEFAULT '',
			ADD COLUMN welcome         text NOT NULL DEFAULT '',
			ADD COLUMN reminded_at     bigint,
			ADD COLUMN funnel_opened   integer NOT NULL DEFAULT 0,
			ADD COLUMN funnel_started  integer NOT NULL DEFAULT 0,
			ADD COLUMN funnel_accounts integer NOT NULL DEFAULT 0,
			ADD COLUMN funnel_logins   integer NOT NULL DEFAULT 0,
			ADD COLUMN funnel_active   integer NOT NULL DEFAULT 0;
		ALTER TABLE {s}.deliveries ADD COLUMN sink text NOT NULL DEFAULT 'webhook';
		ALTER TABLE {s}.hosts ADD COLUMN mail boolean NOT NULL DEFAULT false;`,
		// 9: who invited whom (issue 24): the accounts the plugin knows, made with its
		// invites or reported by the server; registrations held until the server
		// confirms their account (issue 21, LOW 8); invites whose accounts await
		// approval, and whether an ordinary user made them; whether the server can set
		// its accounts' states. Accounts made before are not guessed from the
		// redemptions: their inviter stays unknown.
		`ALTER TABLE {s}.invites
			ADD COLUMN approval boolean NOT NULL DEFAULT false,
			ADD COLUMN by_user  boolean NOT NULL DEFAULT false;
		CREATE TABLE {s}.accounts (
			seq               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			jid               text COLLATE "C" NOT NULL UNIQUE,
			host              text NOT NULL,
			state             text NOT NULL,
			created_at        bigint,
			invite_id         text COLLATE "C",
			inviter           text NOT NULL DEFAULT '',
			first_login       bigint,
			last_login        bigint,
			lang              text NOT NULL DEFAULT '',
			note              text NOT NULL DEFAULT '',
			approval_deadline bigint,
			active_noted      boolean NOT NULL DEFAULT false,
			changed_at        bigint,
			changed_by        text NOT NULL DEFAULT '',
			invite_created_at bigint,
			orphan            boolean NOT NULL DEFAULT false
		);
		-- The tree: the accounts an invite made, in seq order; the invites whose record
		-- was purged (orphan accounts), by their creator.
		CREATE INDEX accounts_invite ON {s}.accounts (invite_id, seq) WHERE invite_id IS NOT NULL;
		CREATE INDEX accounts_orphans ON {s}.accounts (host, inviter, invite_created_at, invite_id) WHERE orphan;
		-- Lists by state; the sweep's approval deadlines.
		CREATE INDEX accounts_state ON {s}.accounts (host, state, seq);
		CREATE INDEX accounts_deadline ON {s}.accounts (approval_deadline) WHERE approval_deadline IS NOT NULL;
		CREATE TABLE {s}.holds (
			invite_id text COLLATE "C" NOT NULL,
			at        bigint NOT NULL,
			jid       text COLLATE "C" NOT NULL,
			host      text NOT NULL,
			approval  boolean NOT NULL DEFAULT false,
			remote    text NOT NULL DEFAULT '',
			PRIMARY KEY (invite_id, at, jid)
		);
		CREATE INDEX holds_jid ON {s}.holds (jid);
		CREATE INDEX holds_at ON {s}.holds (at);
		ALTER TABLE {s}.hosts ADD COLUMN account_states boolean NOT NULL DEFAULT false;
		COMMENT ON TABLE {s}.accounts IS 'invites: the accounts the plugin knows, and the invite that made each; times are Unix nanoseconds';
		COMMENT ON TABLE {s}.holds IS 'invites: registrations whose use of an invite waits for the server to confirm the account; times are Unix nanoseconds';`,
	}
}

// migrate creates the schema when missing and applies the pending migrations, all in
// one transaction under an advisory lock keyed by the schema name, so that nodes
// opening the store at once apply each migration once.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after Commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
		"github.com/xmpp-invites/invites/migrate:"+s.schema); err != nil {
		return fmt.Errorf("taking the migration lock: %w", err)
	}
	q := func(sql string) string { return strings.ReplaceAll(sql, "{s}", s.q.schema) }
	// CREATE SCHEMA needs the CREATE privilege on the database even when the schema
	// exists, which a role that only owns its schema lacks: look first.
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, s.schema).Scan(&exists); err != nil {
		return fmt.Errorf("looking up schema %s: %w", s.schema, err)
	}
	if !exists {
		if _, err := tx.Exec(ctx, q(`CREATE SCHEMA {s}`)); err != nil {
			return fmt.Errorf("creating schema %s: %w", s.schema, err)
		}
	}
	if _, err := tx.Exec(ctx, q(`CREATE TABLE IF NOT EXISTS {s}.schema_version (
		version    integer PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`)); err != nil {
		return fmt.Errorf("creating schema_version: %w", err)
	}
	var v int
	if err := tx.QueryRow(ctx, q(`SELECT COALESCE(MAX(version), 0) FROM {s}.schema_version`)).Scan(&v); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	all := migrations()
	if v > len(all) {
		return fmt.Errorf("the store's schema %s is at version %d, made by a newer version of invites than this one (which knows %d): upgrade invites", s.schema, v, len(all))
	}
	for i := v; i < len(all); i++ {
		if _, err := tx.Exec(ctx, q(all[i])); err != nil {
			return fmt.Errorf("migrating the store to schema %d: %w", i+1, err)
		}
		if _, err := tx.Exec(ctx, q(`INSERT INTO {s}.schema_version (version) VALUES ($1)`), i+1); err != nil {
			return fmt.Errorf("migrating the store to schema %d: %w", i+1, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrating: %w", err)
	}
	if v < len(all) {
		s.log.Info("store schema migrated", "schema", s.schema, "from", v, "to", len(all))
	}
	return nil
}
