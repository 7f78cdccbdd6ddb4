package postgres

import (
	"strings"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/lookup"
)

// queries are the store's statements with the schema name filled in, built once at
// Open so that each text is stable and pgx caches its prepared statement.
type queries struct {
	schema string // quoted

	createKey, key, keys, deleteKey, addKeyUses string

	createInvites, insertInvite, invite, inviteForUpdate, updateInvite, insertUse, uses string
	expire, purge, deleteIdleRates, insertOutbox, quotaSince, quotaPending, quotaLock   string

	rateRow, rateForUpdate, setRate string

	tree string
}

const keyColumns = `id, host, name, secret_hash, created_at, expires_at, max_ttl, rate_n, rate_period, last_used, uses, manage`

const inviteColumns = `id, token_hash, host, kind, username, inviter, allow_register, created_by, note,
	groups, max_uses, uses, created_at, expires_at, revoked_at, ended_at, approval, by_user`

// zeroHash is the secret or token hash of a decoy row: 32 zero bytes.
const zeroHash = `'\x0000000000000000000000000000000000000000000000000000000000000000'::bytea`

func newQueries(schema string) queries {
	q := func(sql string) string { return strings.ReplaceAll(sql, "{s}", schema) }
	return queries{
		schema: schema,

		createKey: q(`INSERT INTO {s}.keys (` + keyColumns + `)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`),
		// A key by its ID, or a decoy row of the same shape when there is none (see
		// lookup.Query), so that an unknown key ID costs what a wrong secret for an
		// existing one does (issue 21).
		key: q(lookup.Query("$1::text", "{s}.keys", keyColumns, "''", "''", zeroHash, "0", "", "0", "0", "0", "", "0", "false")),
		keys: q(`SELECT ` + keyColumns + ` FROM {s}.keys WHERE host = $1
			ORDER BY created_at, seq`),
		// The key's rate limit state goes with it.
		deleteKey: q(`WITH d AS (DELETE FROM {s}.keys WHERE host = $1 AND id = $2 RETURNING id),
			r AS (DELETE FROM {s}.rate_limits WHERE key_id IN (SELECT id FROM d))
			SELECT count(*) FROM d`),
		// One row per key ID in the arrays (the caller sums duplicates); a NULL last use
		// leaves last_used as it is, since GREATEST ignores NULLs.
		addKeyUses: q(`UPDATE {s}.keys AS k
			SET uses = k.uses + u.n, last_used = GREATEST(k.last_used, u.last_used)
			FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(id, n, last_used)
			WHERE k.id = u.id`),

		// Rows whose ID exists are skipped and not returned: each such caller gets
		// ErrConflict. The outbox rows of the events of the rows written are written by
		// the same statement, so in the same transaction.
		createInvites: q(`WITH i AS (
				INSERT INTO {s}.invites (` + inviteColumns + `, state)
				SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::text[],
					$6::text[], $7::boolean[], $8::text[], $9::text[], $10::text[], $11::integer[],
					$12::integer[], $13::bigint[], $14::bigint[], $15::bigint[], $16::bigint[], $24::boolean[],
					$25::boolean[], $23::text[])
				ON CONFLICT (id) DO NOTHING
				RETURNING id),
			o AS (
				INSERT INTO {s}.outbox (id, type, host, payload, created_at, next_attempt_at)
				SELECT e.id, e.type, e.host, e.payload::jsonb, e.at, e.at
				FROM unnest($17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::bigint[])
					AS e(id, invite_id, type, host, payload, at)
				WHERE e.invite_id IN (SELECT id FROM i))
			SELECT id FROM i`),
		insertInvite: q(`INSERT INTO {s}.invites (` + inviteColumns + `, state)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
			ON CONFLICT (id) DO NOTHING`),
		// An invite by its ID, or a decoy row as for key.
		invite: q(lookup.Query("$1::text", "{s}.invites", inviteColumns, zeroHash, "''", "'account'", "''", "''", "false", "''", "''", "''",
			"1", "0", "0", "0", "", "", "false", "false")),
		inviteForUpdate: q(`SELECT ` + inviteColumns + ` FROM {s}.invites WHERE id = $1 FOR UPDATE`),
		// An invite that has ended loses its email address.
		updateInvite: q(`UPDATE {s}.invites SET uses = $2, max_uses = $3, note = $4, expires_at = $5,
			revoked_at = $6, ended_at = $7, state = $8, email = CASE WHEN $7::bigint IS NULL THEN email ELSE '' END
			WHERE id = $1`),
		insertUse: q(`INSERT INTO {s}.redemptions (invite_id, at, jid) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`),
		uses: q(`SELECT jid, at FROM {s}.redemptions WHERE invite_id = $1 ORDER BY at, jid`),
		// Rows another node is changing are left for the next sweep.
		expire: q(`UPDATE {s}.invites SET ended_at = expires_at, email = ''
			WHERE id IN (SELECT id FROM {s}.invites WHERE ended_at IS NULL AND expires_at <= $1
				LIMIT $2 FOR UPDATE SKIP LOCKED)
			RETURNING ` + inviteColumns),
		// The accounts the purged invites made hang below their creator in the tree
		// from now on (orphan).
		purge: q(`WITH d AS (SELECT id FROM {s}.invites WHERE ended_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED),
			o AS (UPDATE {s}.accounts SET orphan = true WHERE invite_id IN (SELECT id FROM d)),
			r AS (DELETE FROM {s}.redemptions WHERE invite_id IN (SELECT id FROM d))
			DELETE FROM {s}.invites WHERE id IN (SELECT id FROM d)`),
		// A row whose theoretical arrival time has passed allows a full burst, exactly as
		// no row does.
		deleteIdleRates: q(`DELETE FROM {s}.rate_limits WHERE tat <= $1`),
		insertOutbox: q(`INSERT INTO {s}.outbox (id, type, host, payload, created_at, next_attempt_at)
			VALUES ($1, $2, $3, $4::jsonb, $5, $5)`),
		// A transaction-level advisory lock per creator serializes quota checks across
		// nodes; the key includes the schema, so installations sharing a database do not
		// wait for each other.
		quotaLock:    `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
		quotaSince:   q(`SELECT count(*) FROM {s}.invites WHERE host = $1 AND created_by = $2 AND created_at >= $3`),
		quotaPending: q(`SELECT count(*) FROM {s}.invites WHERE host = $1 AND created_by = $2 AND id <> $4 AND ` + statusCond(core.StatusPending, 3)),

		// A key's rate budget: its row made if missing (a tat of 0 is a budget never
		// used), then read and locked to the end of the transaction, in a statement of
		// its own so that it sees a row another transaction has just made.
		rateRow:       q(`INSERT INTO {s}.rate_limits (key_id, tat, allowed) VALUES ($1, 0, true) ON CONFLICT (key_id) DO NOTHING`),
		rateForUpdate: q(`SELECT tat FROM {s}.rate_limits WHERE key_id = $1 FOR UPDATE`),
		setRate:       q(`UPDATE {s}.rate_limits SET tat = $2 WHERE key_id = $1`),

		tree: q(treeQuery),
	}
}
