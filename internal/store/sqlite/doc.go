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
// Every write shares a transaction with the writes made at the same moment: a single
// writer goroutine takes every request queued at that moment (up to a bound), runs them
// all and commits once, then answers each caller.
// Invite inserts are one prepared statement each; other writes (redemptions, revocations,
// key changes, rate decisions) are operations run under a savepoint of their own, so
// that one that fails or refuses undoes only itself.
// No caller is answered before the commit that holds its write, and an idle store adds
// no delay: a lone request is committed as soon as it arrives.
//
// # Durability
//
// [Options.Durability] chooses what a committed write survives:
// [DurabilityCrash] (synchronous=NORMAL) survives the process being killed;
// [DurabilityPowerLoss] (synchronous=FULL, the default) survives a power cut too, at the
// price of an fsync per commit, which group commit shares among the writes committed
// together. Measured at the store level on a 2-core VM (ext4 on a virtual disk, an
// fsync about 0.25 ms), 64 concurrent callers, invites per second:
//
//	                     grouped                  one commit each
//	power-loss (FULL)    ~40,000  (~12,000 busy)  ~3,800
//	crash (NORMAL)       ~68,000  (~45,000 busy)  ~15,500
//
// ("busy": the same run while other processes loaded the machine and its disk.)
// Prosody 0.12 syncs every commit and managed about 120 invites/s on disk on this kind
// of machine; power-loss durability with group commit is a hundred times that or more.
// Power loss is the default because what an operator is told is done (a key deleted, an
// invite revoked, a redemption counted against max_uses) must not come back after a
// power cut, and the rate it keeps is far beyond what invitations need.
//
// # IDs and growth
//
// Invites are keyed by their ID, which is time-ordered, in a WITHOUT ROWID table: new
// rows and their index entries append at the right-hand edge of each B-tree instead of
// landing on random pages, so creation costs about the same on a store holding a
// million invites as on an empty one (BenchmarkCreateInviteGrowth, each store in its
// own process, TestGrowthRatio): 0.94× the empty store's rate with power-loss
// durability, 0.90× with crash durability, CPU per invite 1.03–1.07× (medians of five
// alternating rounds).
// The page caches are sized by what they buy: the writer's holds those edges and the
// pages of recent invites that redemptions change. Measured at a million invites, a
// 4 MiB writer cache keeps creation as cheap as on an empty store, 8 and 32 MiB buy
// nothing more, and 2 MiB costs about 10% more CPU per invite; the process's peak RSS
// under load is 23 MiB with the defaults, 50 MiB with version 1's caches (32 MiB for
// the writer, 16 MiB per reader).
//
// # Checkpoints
//
// SQLite normally copies the write-ahead log back into the database inside whichever
// commit makes the log reach its threshold, fsyncs included.
// Here a background goroutine does it on a connection of its own, and the writer only
// finishes the last few frames between two transactions, so that the log restarts.
// The log is kept between opens and cut back to 64 MiB when it restarts and at a clean
// close.
//
// # Files
//
// The database file, its write-ahead log, its shared-memory index and the key sentinel
// (PATH-keys) are created owner-only (0600), a new directory 0700; existing files that
// others could read are narrowed, and a directory others can enter is logged.
// Open runs SQLite's quick integrity check, which reads every page (about 2.5 seconds
// per million invites), so that a damaged file is refused with an error naming it
// instead of failing requests later; Options.SkipCheck leaves it out (the command line,
// which opens the store on every call, does; the plugin keeps it at start).
//
// # Keys across processes
//
// The key sentinel is an 8-byte counter in a file beside the database, mapped into the
// memory of every process that opens the store (as SQLite's shared-memory index is):
// DeleteKey increments it before and after its commit, and [Store.KeysVersion] reads it
// without a system call, so that the core can serve repeated authentications from
// memory and still refuse a key deleted by the command line on the next request.
//
// # Rate limits
//
// A write that carries a rate charge (core.InviteWrite.Rate, core.InviteChange.Rate)
// takes it from the key's budget in the file, by core.Rate.Take, in the write's own
// transaction: a restart does not hand out a fresh burst, and a refused write spends
// nothing.
//
// # Secrets
//
// Invites are stored by the SHA-256 of their token and keys by the SHA-256 of their
// secret; neither the token nor the secret ever reaches the file.
//
// # Schema
//
// Schema changes are versioned migrations, listed in code and applied in order when the
// store is opened; the schema_version table records the last one applied. Version 2
// carries version 1's invites over with their IDs, so their tokens keep working.
package sqlite
