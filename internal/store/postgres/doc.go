// Package postgres is the PostgreSQL backend of the invites store, for several server
// nodes sharing one set of keys and invites.
//
// A [Store] implements [core.Store] over a pgx v5 connection pool, and [core.RateLimiter]
// with its state in the database, so that a key's rate holds across every node that
// uses the same database and schema.
// It passes the store contract suite in internal/store/storetest.
//
// # Data source names
//
// Open takes any connection string pgx reads, URL or key=value:
//
//	postgres://invites@db.example.com:5432/invites?sslmode=verify-full
//	postgres://invites@db.example.com/invites?search_path=node_group_a&pool_max_conns=20
//
// The tables live in one schema: Options.Schema, else the first entry of the DSN's
// search_path parameter, else "public".
// The schema is created when missing, so each test, or each installation sharing a
// database, can have its own.
// Table names are qualified with the schema in every statement, so the store does not
// depend on the session's search_path (connection poolers may not pass it on).
//
// # Migrations
//
// Schema changes are versioned migrations, applied by Open in one transaction under a
// transaction-level advisory lock keyed by the schema name, so that nodes starting at
// once apply each migration exactly once; the version is kept in the table
// schema_version.
// A database whose version is newer than the program is refused.
//
// # Invite creation
//
// Concurrent CreateInvite calls are written together (group commit): a few writer
// goroutines each take every request queued while the previous write was in flight and
// insert them in one statement and one transaction, and each caller is answered once
// that transaction has committed.
// A lone request is written at once, so batching adds no latency; under load it saves a
// round trip and a WAL flush per invite.
// See Options.MaxBatch and Options.Writers.
//
// # Rate limit
//
// Allow runs the generic cell rate algorithm (GCRA) of core.MemoryRateLimiter on one row
// per key in the table rate_limits, read, decided and written by a single
// INSERT … ON CONFLICT DO UPDATE … RETURNING statement.
// PostgreSQL locks the row for the statement, so concurrent calls from any number of
// nodes are serialized per key and none is lost.
// For a rate of N per Period, in any span of time t, the calls allowed for a key on all
// nodes together number at most N + ⌊t·N/Period⌋: a burst of N, then one every
// Period/N.
// The decision uses the caller's clock; a node whose clock runs ahead of the others by
// d can gain at most ⌈d·N/Period⌉ extra calls, a node whose clock lags is only
// stricter.
// Rows whose budget is full again are dropped by DeleteExpiredInvites and with their
// key by DeleteKey.
//
// # Times
//
// Times are stored as Unix nanoseconds (bigint) and durations as nanoseconds, so that
// values read back equal the values written; times are returned in UTC.
package postgres
