// Package storetest is the contract every [core.Store] backend must meet, written once
// against the interface: the SQLite store and the PostgreSQL store run the same [Run].
//
// It checks each method's results and sentinel errors (core.ErrNotFound, ErrConflict,
// ErrQuota, the errors of a change function), and the promises that matter under load
// and across nodes: of 100 concurrent redemptions of an invite allowing 5 exactly 5
// succeed (through the store alone and through a core.Service), quotas hold under
// concurrency, every write's events reach the outbox with it and a refused write's do
// not, and concurrent creates are all readable afterwards. The lifecycle (list with
// status and creator filters and paging, update, revoke, expiry, retention and purge)
// and key scoping are checked through a core.Service over the store.
//
// [ConcurrentRedeem], [NewService], [Clock] and [Recorder] are exported for backends'
// own tests, such as the PostgreSQL test that splits the race across two nodes.
package storetest
