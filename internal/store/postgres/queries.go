package postgres

import "strings"

// queries are the store's statements with the schema name filled in, built once at
// Open so that each text is stable and pgx caches its prepared statement.
type queries struct {
	schema string // quoted

	createKey, key, keys, deleteKey, addKeyUses string

	createInvites, invite, consumeInvite, inviteState, deleteExpired, deleteIdleRates string

	allow string
}

const keyColumns = `id, host, name, secret_hash, created_at, expires_at, max_ttl, rate_n, rate_period, last_used, uses`

const inviteColumns = `token_hash, id, host, kind, username, inviter, allow_register, source, created_at, expires_at`

func newQueries(schema string) queries {
	q := func(sql string) string { return strings.ReplaceAll(sql, "{s}", schema) }
	return queries{
		schema: schema,

		createKey: q(`INSERT INTO {s}.keys (` + keyColumns + `)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`),
		key: q(`SELECT ` + keyColumns + ` FROM {s}.keys WHERE id = $1`),
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

		// Rows whose token hash exists are skipped and not returned: each such caller
		// gets ErrConflict.
		createInvites: q(`INSERT INTO {s}.invites (` + inviteColumns + `)
			SELECT * FROM unnest($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[],
				$6::text[], $7::boolean[], $8::text[], $9::bigint[], $10::bigint[])
			ON CONFLICT (token_hash) DO NOTHING
			RETURNING token_hash`),
		invite: q(`SELECT ` + inviteColumns + ` FROM {s}.invites WHERE token_hash = $1`),
		// The row lock taken by DELETE makes this atomic: of concurrent calls, the first
		// deletes the row and the others, re-checking after it commits, find nothing.
		consumeInvite: q(`DELETE FROM {s}.invites
			WHERE token_hash = $1 AND expires_at > $2
				AND (username = '' OR username = $3)
				AND (kind = 'account' OR (kind = 'contact' AND allow_register))
			RETURNING ` + inviteColumns),
		inviteState:   q(`SELECT expires_at > $2 FROM {s}.invites WHERE token_hash = $1`),
		deleteExpired: q(`DELETE FROM {s}.invites WHERE expires_at <= $1`),
		// A row whose theoretical arrival time has passed allows a full burst, exactly as
		// no row does.
		deleteIdleRates: q(`DELETE FROM {s}.rate_limits WHERE tat <= $1`),

		// GCRA in one statement; $2 now, $3 emission interval, $4 burst tolerance, all in
		// nanoseconds. The SET expressions all see the row as it was, locked.
		allow: q(`INSERT INTO {s}.rate_limits AS r (key_id, tat, allowed)
			VALUES ($1, $2::bigint + $3::bigint, true)
			ON CONFLICT (key_id) DO UPDATE SET
				allowed = GREATEST(r.tat, $2::bigint) - $4::bigint <= $2::bigint,
				tat = CASE WHEN GREATEST(r.tat, $2::bigint) - $4::bigint <= $2::bigint
					THEN GREATEST(r.tat, $2::bigint) + $3::bigint ELSE r.tat END
			RETURNING allowed, tat`),
	}
}
