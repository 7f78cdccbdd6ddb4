// Package webhook delivers the plugin's events to HTTP endpoints, signed as the
// Standard Webhooks specification says (https://www.standardwebhooks.com/): its Sink
// is one of the sinks of the outbox worker (package outbox), which gives it the events
// of the store's durable outbox.
//
// # Messages
//
// Each endpoint subscribes to some of the message types:
//
//	invite.created       an invite was made
//	invite.redeemed      an invite was used (to register, subscribe or reset)
//	invite.revoked       an invite was revoked (data.reason "declined" when the
//	                     person it was mailed to said it is not for them)
//	invite.expiring      a pending invite expires soon (remind_before; only for
//	                     invites living longer than twice that)
//	invite.expired       an invite expired (data.invite.uses says whether unused)
//	account.created      an account was registered with an invite
//	account.first_login  such an account logged in for the first time
//	account.active       such an account was still active 7 days after it was made
//	account.pending      an account waits for an administrator's approval
//	account.approved     an administrator approved it
//	account.rejected     an administrator rejected it (the account is deleted)
//	account.disabled     an account was disabled
//	account.enabled      an account was enabled again
//	account.deleted      an account was deleted
//
// The account events come from the plugin's record of the accounts made with invites:
// account.created is written when the server confirms a registration's account (a
// registration's use of an invite is held until then), with invite.redeemed.
//
// A message is a POST with a JSON body
//
//	{"type": "invite.created", "timestamp": "2026-01-02T15:04:05.123Z", "data": {…}}
//
// whose data is the event (package core's Event: its ID, time, host, actor, invite ID,
// account and a description of the invite; never a token, a secret or an email address,
// and here not the client's address either), and the headers
//
//	webhook-id:         the event's ID
//	webhook-timestamp:  Unix seconds of the attempt
//	webhook-signature:  v1,BASE64(HMAC-SHA256(secret, id + "." + timestamp + "." + body))
//
// The secret is written whsec_BASE64 (the key's bytes after the prefix); Verify checks
// a message as a receiver would.
//
// # Delivery
//
// The outbox worker sends each event to the endpoints that want it and do not have it
// yet, and marks it delivered, or failed with its next attempt (exponential backoff
// with jitter, for up to 24 hours). Every attempt goes to the delivery log. A worker
// killed mid-delivery leaves its lease to run out; another worker (on any node) then
// sends the event again: at least once overall, and once in the normal case. A 2xx
// answer is success; anything else, a timeout or no answer is a failure to be retried.
// Receivers should use webhook-id to drop duplicates and not rely on order.
package webhook
