// Package postgres is the PostgreSQL backend of the invites store, for several server
// nodes sharing one set of keys and invites.
//
// A [Store] implements [core.Store] over a pgx v5 connection pool, with key rates in
// the database, so that a key's rate holds across every node that uses the same
// database and schema.
// It passes the store contract suite in internal/store/storetest.
//
// # Data source names
//
// Open takes any connection string pgx reads, URL or keyword/value:
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
// insert them, with the outbox rows of their events, in one statement and one
// transaction, and each caller is answered once that transaction has committed.
// A create with a quota is written alone, in a transaction holding an advisory lock of
// its creator, so that quotas hold across nodes.
// A lone request is written at once, so batching adds no latency; under load it saves a
// round trip and a WAL flush per invite.
// See Options.MaxBatch and Options.Writers.
//
// # Rate limit
//
// A write that carries a rate charge (core.InviteWrite.Rate, core.InviteChange.Rate)
// takes it from the key's budget, one row per key in the table rate_limits, by the one
// rule of rates (core.Rate.Take), in the write's own transaction with the row locked
// (SELECT … FOR UPDATE), so that concurrent writes from any number of nodes are
// serialized per key, none is lost, and a refused write spends nothing.
// For a rate of N per Period, in any span of time t, the charges taken for a key on all
// nodes together number at most N + ⌊t·N/Period⌋: a burst of N, then one every
// Period/N.
// The decision uses the caller's clock; a node whose clock runs ahead of the others by
// d can gain at most ⌈d·N/Period⌉ extra, a node whose clock lags is only stricter.
// Rows whose budget is full again are dropped by PurgeInvites and with their key by
// DeleteKey.
//
// # Changes and redemptions
//
// ChangeInvite reads the invite FOR UPDATE, lets the core decide, and writes the change,
// the redemption and the outbox rows in one transaction: changes of one invite on any
// number of nodes run one after another, so an invite allowing N uses is used at most N
// times.
//
// # Keys across nodes
//
// Each store keeps a connection of its own that LISTENs on a channel of its schema.
// DeleteKey notifies it in the deleting transaction; every listener counts the
// notification ([Store.KeysVersion]) and acknowledges it, and DeleteKey returns once
// every listener connected at the commit has acknowledged (or after two seconds).
// So once a deletion returns, no node that vouches for its key version still serves the
// key from memory. A listener that loses its connection stops vouching at once (and a
// silent network failure is noticed within ten seconds by a ping), and its reconnection
// counts as a change; the core's cache TTL bounds the rest.
//
// # Times
//
// Times are stored as Unix nanoseconds (bigint) and durations as nanoseconds, so that
// values read back equal the values written; times are returned in UTC.
package postgres
