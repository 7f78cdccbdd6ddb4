// Package core is the transport-free heart of invites: API keys, account and contact
// invites, their URIs (XEP-0401, XEP-0445, XEP-0379), and the rules that govern them.
//
// Nothing here knows HTTP, gRPC or XML.
// Callers (httpapi, adhoc, the plugin's gRPC server, the key command line) translate
// their protocol into calls on a [Service] and map its sentinel errors back:
//
//	ErrNotFound    unknown key, invite or host object
//	ErrExpired     the key or invite is past its expiry
//	ErrForbidden   the credential is wrong, or the invite does not allow this use
//	ErrInvalid     the input is malformed (wrapped with the reason)
//	ErrUnknownHost the host is not one this installation serves
//	ErrRateLimited a key's rate is exceeded (see [RateLimitError] for the wait)
//
// # Secrets
//
// An API key is ID/SECRET.
// Only SHA-256 of SECRET is stored, and [Service.Authenticate] does the same work whether
// or not the ID exists, comparing in constant time.
// Invite tokens are bearer secrets too: a store keeps only their SHA-256 ([HashToken]),
// so a copy of the database cannot redeem invites.
//
// # Writes
//
// Key bookkeeping (last use, use count) is batched in memory and flushed by [Service.Run],
// so authenticating a request costs one read.
// Invite creation is one store call; the SQLite store groups concurrent creates into one
// commit, and every create returns only after its commit.
package core
