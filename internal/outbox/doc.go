// Package outbox is what a delivery worker (the webhooks of package webhook) needs of
// the store's outbox table: the events the core writes there in the transaction of
// their change (core.Options.Outbox), claimed with a lease so that several processes
// and nodes deliver each event once between them in the normal case, and at least
// once overall; completed, or failed with the time of the next attempt; and the log
// of every attempt, which the operator reads on the command line.
//
// # Claims and leases
//
// Claim takes up to a number of events that are due (not delivered, not given up,
// their next attempt reached, and no live lease on them) and leases them to an owner
// until a time. Two claims never return the same event while its lease runs; a worker
// that dies (a kill -9) leaves its lease to run out, after which another claim takes
// the event again: nothing is lost, and the receiver may see it twice. Complete and
// Fail act only while the caller still owns the lease, and write the attempts to the
// log in the same transaction.
//
// An event may go to several endpoints: Fail records those that already have it
// (Entry.Done), so that a retry sends it only to the others.
package outbox
