// Package accounts is the account store of the example XMPP server: one SQLite file
// (pure Go, github.com/ncruces/go-sqlite3) in the data directory, in WAL mode with
// synchronous=FULL, written only in immediate transactions.
//
// # What is stored
//
// An account is a bare JID (RFC 7622, canonical form) and, per SCRAM mechanism,
// the salted credential of RFC 5802 §3: salt, iteration count, StoredKey and
// ServerKey (see package scram).
// No password, and nothing a password could be recovered from faster than by
// guessing, is kept.
// The database and its -wal and -shm files are created mode 0600, whatever the
// umask, and a directory the store creates is 0700.
//
// The store also keeps rosters (package roster, RFC 6121): for each account and
// contact the roster item (name, groups, subscription, ask) with a subscription
// request waiting for an answer and a pre-approval, and the members of groups;
// Store implements roster.Store, changing both sides of a subscription in one
// transaction. An account's roster and group memberships go with the account.
//
// # States
//
// An account is active, disabled or pending (waiting for an administrator's
// approval) ([State], [Store.SetState]). All three hold the name, the roster and the
// credentials, so that a login checks the password before it is told why it cannot
// log in; only an active account [Store.Exists] for routing. [Store.Delete] removes
// an account in any state with its credentials, roster, groups and offline
// messages, and its items in other accounts' rosters, and frees the name.
//
// # Offline messages
//
// Messages the server sends an account that has no session to take them are kept
// ([Store.StoreOffline], at most [Options.MaxOffline] per account) until its next
// available presence takes them ([Store.TakeOffline]), as XEP-0160 describes.
//
// # Registration in two steps
//
// In-band registration (XEP-0077) with an invite must create the account and use
// up the invite, which lives in another store (the invites plugin's).
// [Store.Reserve] claims the name first, as a registration in progress that cannot
// log in and that [Store.Exists] and [Store.State] do not report; once the invite is
// redeemed [Store.Activate] turns it into an account (active, or pending approval),
// and if redemption fails [Store.Release] gives the name back.
// A registration left behind by a crash is removed after [PendingTTL].
//
// A password reset with an invite works the same way: [Store.DerivePassword] does the
// slow part before the invite is redeemed, [Store.SetPassword] then replaces the
// credentials in one transaction.
//
// # Names that look alike
//
// Each account keeps the skeleton of its name (package username, Unicode TS #39),
// in an indexed column. [Store.Reserve] (registration) refuses a name whose skeleton
// is an account's (active, or a registration in progress) or a reserved name's
// ([Options.Reserved]), and a reserved name itself; [Store.Add] and [Store.Put] (the
// operator) refuse only lookalikes. The check runs in the transaction that inserts
// the name, so of two lookalikes registered at once one is refused; the refusal, a
// [*LookalikeError], names the name it looks like.
//
// # Schema
//
// Versioned migrations (PRAGMA user_version) run at open: 1 accounts and
// credentials, 2 roster and group_members, 3 the skeleton column and its index,
// filled in for the accounts already there, 4 the offline messages (the states
// disabled and pending are new values of the state column).
package accounts
