// Package sqlite is the embedded [core.Store]: one SQLite file, pure Go (no cgo), through
// the github.com/ncruces/go-sqlite3 driver.
//
// # Concurrency
//
// The database runs in WAL mode, so readers never wait for the writer.
// Every pooled connection gets its pragmas from the DSN (busy timeout, WAL,
// synchronous mode), and every write transaction begins IMMEDIATE, taking the write lock
// first: in WAL mode a transaction that reads and then writes would otherwise fail with
// SQLITE_BUSY at once, whatever the busy timeout.
// Within one process all writes go through one connection; several processes (the
// server and the key command line) wait for each other through the busy timeout.
//
// # Group commit
//
// Concurrent CreateInvite calls share one transaction: a single writer goroutine takes
// every request queued at that moment (up to a bound), inserts them all and commits once,
// then answers each caller.
// No caller is answered before the commit that holds its row, and an idle store adds no
// delay: a lone request is committed as soon as it arrives.
// A taken token hash fails only its own request; any other failure of a shared
// transaction is retried row by row, so that one bad row cannot fail the others.
//
// # Checkpoints
//
// SQLite normally copies the write-ahead log back into the database inside whichever
// commit makes the log reach its threshold, fsyncs included.
// Here a background goroutine does it on a connection of its own, and the writer only
// finishes the last few frames between two transactions, so that the log restarts.
// The log is allowed to grow long (Options.CheckpointPages): new invites land on random
// pages of the token index, and a long log lets one checkpoint write each page back once
// for many commits, which keeps creation fast on a store holding millions of invites.
//
// # Durability
//
// With the default synchronous=NORMAL a committed write survives the process being
// killed; [Options.FullSync] selects synchronous=FULL, which also survives power loss at
// the cost of an fsync per commit.
//
// # Secrets
//
// Invites are stored by the SHA-256 of their token and keys by the SHA-256 of their
// secret; neither the token nor the secret ever reaches the file.
// The token index holds only the first 8 bytes of the hash, as an integer, to stay
// small; a lookup then compares the full hash.
//
// # Schema
//
// Schema changes are versioned migrations, listed in code and applied in order when the
// store is opened; the schema_version table records the last one applied.
package sqlite
