// Package outbox delivers the plugin's events from the store's outbox table to sinks:
// the webhook endpoints (package webhook), the XMPP host's account states and messages
// (package notify), email (package mail) and the funnel counters of invites.
//
// The core writes each event to the outbox in the transaction of its change
// (core.Options.Outbox, core.Options.OutboxWants) when some sink wants its type. A
// Worker claims due events with a lease, so that several processes and nodes deliver
// each event once between them in the normal case, and at least once overall; hands
// each to every Sink that wants it; and completes it, or fails it with the time of the
// next attempt, logging every attempt, which the operator reads on the command line
// (invites-plugin webhooks log).
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
// # Deliveries
//
// A sink turns an event into deliveries, each with a key: a message to one webhook
// endpoint, a call to the host, one email. Fail records the keys of the deliveries
// done (Entry.Done), so that a retry makes only the others. A delivery may change the
// store when it succeeds or fails (an Effect: an invite's funnel count, an email's
// status and the token its mail carries), written in the same transaction that
// records it, so that it happens once exactly when the delivery is recorded.
//
// Retries back off exponentially from MinBackoff, doubling to MaxBackoff, with jitter,
// until the event is MaxAge (24 hours) old, when the worker gives up; a delivery may
// fail for good at once (Result.Permanent, such as a mail relay's 5xx refusal).
package outbox
