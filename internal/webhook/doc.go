// Package webhook delivers the plugin's events to HTTP endpoints, signed as the
// Standard Webhooks specification says (https://www.standardwebhooks.com/), from the
// durable outbox of the store (package outbox).
//
// # Messages
//
// Each endpoint subscribes to some of the message types:
//
//	invite.created    an invite was made
//	invite.redeemed   an invite was used (to register, subscribe or reset)
//	invite.revoked    an invite was revoked
//	account.created   an account was registered with an invite
//
// account.created is derived from invite.redeemed: the plugin never makes accounts,
// the host does, and it redeems the invite (plugin.PurposeRegister) only once it holds
// the name, then activates the account at once. So a redemption for registration is
// the account's creation as far as the plugin can know, and its event, written with
// the redemption in one transaction, is the durable record of it.
//
// A message is a POST with a JSON body
//
//	{"type": "invite.created", "timestamp": "2026-01-02T15:04:05.123Z", "data": {…}}
//
// whose data is the event (package core's Event: its ID, time, host, actor, invite ID,
// account and a description of the invite; never a token or a secret, and here not the
// client's address either), and the headers
//
//	webhook-id:         the event's ID (with ".account" for account.created)
//	webhook-timestamp:  Unix seconds of the attempt
//	webhook-signature:  v1,BASE64(HMAC-SHA256(secret, id + "." + timestamp + "." + body))
//
// The secret is written whsec_BASE64 (the key's bytes after the prefix); Verify checks
// a message as a receiver would.
//
// # Delivery
//
// A Worker claims due events from the outbox with a lease, sends each to the endpoints
// that want it and do not have it yet, and marks it delivered, or failed with its next
// attempt: exponential backoff from MinBackoff, doubling to MaxBackoff, with jitter,
// until the event is MaxAge (24 hours) old, when it gives up. Every attempt goes to
// the delivery log. A worker killed mid-delivery leaves its lease to run out; another
// worker (on any node) then sends the event again: at least once overall, and once in
// the normal case. A 2xx answer is success; anything else, a timeout or no answer is
// a failure to be retried. Receivers should use webhook-id to drop duplicates and not
// rely on order.
package webhook
