// Package core is the transport-free heart of invites: API keys, account, contact and
// reset invites, their URIs (XEP-0401, XEP-0445, XEP-0379), the invite lifecycle, and
// the rules that govern them.
//
// Nothing here knows HTTP, gRPC or XML.
// Callers (the HTTP API, the ad-hoc commands, the plugin's serving side, the command
// line, the landing page) translate their protocol into calls on a [Service] and map
// its sentinel errors back:
//
//	ErrNotFound    unknown key or invite, another host's, or one the caller may not see
//	ErrRevoked     the invite was revoked        (also matches ErrNotFound)
//	ErrUsedUp      the invite is used up         (also matches ErrNotFound)
//	ErrExpired     the key or invite is past its expiry
//	ErrForbidden   the credential is wrong, or the invite does not allow this use
//	ErrInvalid     the input is malformed; the error's text is the reason, for the user
//	ErrUnknownHost the host is not one this installation serves
//	ErrRateLimited a key's rate is exceeded (see [RateLimitError] for the wait)
//	ErrQuota       a creator's quota of invites is reached (see [Quota])
//	ErrConflict    the change does not fit the object's state
//	ErrInviterInactive the invite's creator can no longer invite (also matches ErrNotFound)
//	ErrUnavailable the store cannot be reached right now; try again later
//
// A refusal is a value, a [FieldError]: the sentinel it matches, the field of the
// request it concerns (FieldTTL, FieldMaxUses, FieldNote, ...) and the reason in the
// user's words ("a lifetime of 100 days is longer than the maximum of 90 days"), with
// no package prefix. Every refusal of one request is returned, joined; [FieldErrors]
// lists them, so that each protocol edge maps them once (the HTTP API to problem
// details naming the field, the ad-hoc commands to notes naming it by its label, the
// command line to "Error: --flag: …" lines). What an edge refuses while reading a
// request's text goes to the core with the request (InviteSpec.Refused), which adds
// its own refusals of the rest: the [ParseTTL], [ParseMaxUses] and [ParseExpiry] the
// edges read parameters with word their refusals once.
//
// # What callers use
//
// Keys: [Service.CreateKey] (a [KeySpec]; the credential is shown once),
// [Service.Keys], [Service.DeleteKey], [Service.Authenticate].
//
// Invites: [Service.CreateInvite] (an [InviteSpec]: kind, username, inviter, TTL,
// MaxUses, Note, Groups, Actor, whose Quota bounds an ordinary user's invites),
// [Service.CreateKeyInvite] for a key (whose Rate bounds the accounts its invites can
// make, taken by the store in the write's transaction, see [Rate.Take]),
// [Service.InviteURI], [Service.InviteLandingPage], [Service.InviteLocation].
//
// Redemption: [Service.CheckInvite] (host, token) before registration, and
// [Service.Redeem] with a [Redemption] (host, token, username, [Purpose]) when the
// account is made, subscribed or reset.
//
// Lifecycle: [Service.Invite], [Service.ListInvites] (an [InviteQuery], newest first, a
// page with a NextCursor), [Service.UpdateInvite] (an [InvitePatch], from
// [ParseInvitePatch] for a JSON merge patch), [Service.RevokeInvite].
//
// Upkeep: [Service.Run] writes key bookkeeping every second and sweeps every hour
// ([Service.Sweep], [Service.Flush]).
//
// # Actors and scope
//
// Every change names its [Actor]: an API key ([KeyActor]), an XMPP account, the command
// line or the host. The actor is recorded (an invite's CreatedBy, every [Event]) and
// decides what the caller sees: an actor sees and changes the invites it created; one
// with Manage (a key created with Manage, an administrator, the command line) sees and
// changes every invite of its host. Another creator's or another host's invite is
// ErrNotFound, never ErrForbidden, so that its existence does not show.
//
// # Tokens and IDs
//
// An invite token is ID || SECRET: an ID of [IDLen] characters, time-ordered (6 bytes
// of Unix milliseconds and 3 random bytes, in a base64url alphabet whose ASCII order is
// value order, so text order is time order), then 24 characters of secret (18 bytes
// from the CSPRNG, 144 bits): [TokenLen] = 36 characters in all. Stores key invites by
// the ID, so new rows append instead of landing on random pages of an index, and keep
// only SHA-256 of the whole token, which the core compares in constant time.
// Tokens of [LegacyTokenLen] (24) characters, made before version 2, keep working: their
// ID is derived from their hash ([InviteID]). [ValidToken] accepts both; [TokenID] gives
// the ID of either.
//
// # The redemption rule
//
// [Invite.Check] is the one rule, "may this invite be used for this purpose, this name,
// on this host, now": revoked, used up and expired invites are refused, in that
// precedence; register needs an account invite (or a contact invite with
// AllowRegister) and the fixed name if there is one; subscribe needs a contact invite
// and an account other than the inviter; reset needs a reset invite and its account.
// [Service.Redeem] applies it inside the store's atomic change ([Store.ChangeInvite]),
// so that of any number of concurrent redemptions, on any number of nodes, at most
// MaxUses succeed; a use counts only once the caller made the account.
//
// # Lifecycle and retention
//
// An invite is pending, used (MaxUses reached; 0 means any number until it expires),
// expired or revoked ([Invite.Status]). The rule is written once: a status is a state
// ([Invite.State]: open, used or revoked, which the stores keep in a column written
// from it) and a test of the expiry ([Status.Where]), which the stores' queries by
// status are built from. Ended invites stay as records, with their
// redemptions (JID and time), for Options.Retention (default [DefaultRetention]), then
// the sweep purges them; the sweep also reports each invite that expired unused.
//
// [Policy] is the plugin config's part that the core owns (retention, invite
// lifetimes, landing pages, [[host]] and [user_quota]): it fills its defaults, checks
// itself, and gives each served host's [HostConfig] ([Policy.HostConfigs]).
//
// # Accounts: who invited whom
//
// The core keeps the accounts the plugin knows ([Account], [Store.ChangeAccount]):
// those made with its invites, the invite and its creator kept with each, and those the
// server reports ([Service.HostEvents]: logins, accounts made, deleted, disabled or
// enabled by any means, recorded with the host as actor and not acted on again). An
// account made before version 3, or by other means, has an unknown inviter, never
// guessed.
//
// A registration's use of an invite is held ([Hold]) when the Service can ask the
// server which accounts exist (Options.Accounts): it counts against MaxUses at once,
// and the redemption is recorded, but EventInviteRedeemed and EventAccountCreated are
// written when the server confirms the account (its event, a login, the web page's
// [Service.Registered]), or when, past Options.HoldTime, [Service.ResolveHolds] asks the
// server: an account that exists confirms the hold, none releases it and gives the use
// back. Confirming twice changes nothing.
//
// [Service.Tree] reads the tree below an account, an invite or a key, a page at a time
// in pre-order at a bounded cost ([Store.Tree]); [Service.InvitedBy] the chain of
// inviters. [Service.Bulk] revokes invites, or disables or enables accounts, of a scope,
// with a dry run that lists exactly what the action changes. [Service.Approve] and
// [Service.Reject] decide on accounts that wait for approval (HostConfig.Approval, or an
// invite's Approval), which the sweep rejects past Options.ApprovalTimeout. An invite
// whose creator is no longer in good standing (HostConfig.InviterStanding) is refused
// with [ErrInviterInactive]. Disabling and approval need a server that can set its
// accounts' states (HostConfig.AccountStates). Their settings are [AccountsConfig], the
// [accounts] table of the plugin's config.
//
// # Events
//
// Every change (key created or deleted; invite created, redeemed, updated, revoked,
// expired) and every refused redemption produces an [Event]: its type, time, actor
// (kind, ID, client address), the key or invite concerned, and for refusals the reason
// ([Reason]); never a token, a token hash or a secret. The event goes to
// Options.Observer once its change is committed (the audit log and the metrics observe
// it), and, with Options.Outbox, to the store's outbox table in the same transaction as
// the change, so that a webhook delivery worker loses none even if the process is
// killed.
//
// # Secrets
//
// An API key is ID/SECRET; only SHA-256 of SECRET is stored, and
// [Service.Authenticate] does the same work for an unknown ID as for a wrong secret,
// comparing in constant time. Successful authentications are remembered for at most
// Options.KeyCacheTTL (10 seconds) while the store vouches for its key deletions
// ([Store].KeysVersion): the SQLite store through a counter in shared memory that every
// process on the file sees, the PostgreSQL store through LISTEN/NOTIFY (with no
// listener connected, nothing is served from memory). A key deleted anywhere is refused
// from the next request on. A wrong secret is never answered from memory.
//
// # Writes
//
// Key bookkeeping (last use, use count) is batched in memory and flushed by
// [Service.Run], so authenticating a request costs no write. Every other write is one
// store call that returns once committed; the stores group concurrent writes into
// shared commits.
package core
