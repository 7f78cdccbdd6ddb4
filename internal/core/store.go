package core

import (
	"context"
	"time"
)

// Store keeps keys and invites.
// Implementations live in internal/store; each must pass the contract suite in
// internal/store/storetest.
// All methods are safe for concurrent use, from several processes (SQLite) or nodes
// (PostgreSQL) at once.
// A method that writes returns only after its write is committed, together with the
// events it was given, which go to the store's outbox table in the same transaction
// (nil events: no outbox row).
type Store interface {
	// CreateKey stores a new key; ErrConflict if the ID exists.
	CreateKey(ctx context.Context, k Key, events []Event) error
	// Key returns the key with that ID, or ErrNotFound, at the same cost either way
	// (a lookup that reads a decoy row when there is no such key), so that timing
	// does not tell whether a key ID exists.
	Key(ctx context.Context, id string) (Key, error)
	// Keys lists the keys of a host, oldest first.
	Keys(ctx context.Context, host string) ([]Key, error)
	// DeleteKey deletes the key with that ID on that host, or returns ErrNotFound.
	// Once it returns, KeysVersion reports a new version everywhere.
	DeleteKey(ctx context.Context, host, id string, events []Event) error
	// AddKeyUses adds each batch to its key's use count and raises its last use.
	// Uses of keys that no longer exist are dropped.
	AddKeyUses(ctx context.Context, uses []KeyUse) error

	// CreateInvite stores a new invite (inv.Token is not stored, nor are Redemptions
	// and Funnel; Email, Welcome and Mail are);
	// ErrConflict if its ID exists; ErrQuota, storing nothing, if w.Quota is set and
	// the invite would exceed it; a *RateLimitError, storing nothing, if w.Rate is set
	// and its key's budget cannot give it (both checked atomically with the insert).
	CreateInvite(ctx context.Context, inv Invite, w InviteWrite) error
	// Invite returns the invite with that ID, without its redemptions, or ErrNotFound,
	// at the same cost either way (as Key). It returns invites of every status; the
	// caller decides.
	Invite(ctx context.Context, id string) (Invite, error)
	// Redemptions returns the uses of the invite with that ID, oldest first (none for
	// an unknown ID).
	Redemptions(ctx context.Context, id string) ([]Use, error)
	// ListInvites returns the invites that match the filter, newest first (by
	// CreatedAt, then ID), without their redemptions.
	ListInvites(ctx context.Context, f InviteFilter) ([]Invite, error)
	// ChangeInvite reads the invite with that ID (without its redemptions), lets change
	// modify it, and writes it back with what change returns, atomically: changes of one
	// invite are serialized on every process and node, so that of N concurrent
	// redemptions of an invite allowing fewer, only as many succeed as it allows.
	// Only Uses, MaxUses, Note, ExpiresAt, RevokedAt and EndedAt are written back, and
	// the InviteChange's TokenHash, Email and Mail; an invite that has ended (EndedAt
	// set) loses its email address.
	// ErrNotFound if there is no such invite; an error from change is returned as is,
	// changing nothing; so are ErrQuota and a *RateLimitError when the InviteChange's
	// Quota or Rate refuses it (checked atomically with the write). It returns the
	// invite as written, without its redemptions.
	ChangeInvite(ctx context.Context, id string, change func(inv *Invite) (InviteChange, error)) (Invite, error)
	// ExpireInvites marks up to limit pending invites that expired at now as ended
	// (EndedAt = ExpiresAt), clearing their email addresses, and returns them; for
	// each, when event is not nil, it writes event(inv) to the outbox in the same
	// transaction.
	ExpireInvites(ctx context.Context, now time.Time, limit int, event func(Invite) Event) ([]Invite, error)
	// RemindInvites marks the invites q selects reminded, so that no later call
	// selects them again, and returns them; for each, when event is not nil, it writes
	// event(inv) to the outbox in the same transaction.
	RemindInvites(ctx context.Context, q ReminderQuery, event func(Invite) Event) ([]Invite, error)
	// InviteDetails returns the details of the invites with those IDs (an unknown ID
	// has none in the map).
	InviteDetails(ctx context.Context, ids []string) (map[string]Details, error)
	// AddFunnel adds each count to its invite's funnel; counts of invites that no
	// longer exist are dropped.
	AddFunnel(ctx context.Context, counts []FunnelCount) error
	// PurgeInvites deletes the invites that ended before endedBefore, with their
	// redemptions, and any other state that has no use at now (such as rate limit rows
	// whose budget is full again), and says how many invites it deleted.
	PurgeInvites(ctx context.Context, endedBefore, now time.Time) (int64, error)

	// KeysVersion returns a number that changes whenever any process or node deletes a
	// key, and ok = false when the store cannot vouch for it right now (a PostgreSQL
	// listener that is not connected), in which case nothing may be served from
	// memory: the Service then serves repeated authentications of a key from memory
	// while the version holds. It must be cheap: it is called on every authentication.
	KeysVersion() (version uint64, ok bool)

	// RecordHosts records hosts as a server serves them, so that a command line on
	// any node, reading the store alone, knows the hosts the XMPP servers gave the
	// plugin (a PostgreSQL store shared by nodes whose data directories the command
	// line never sees) and applies the same policy to them: their lifetimes, their
	// invites' location (the built-in page under the server's public HTTP base URL),
	// and whether changes go to the outbox for webhooks. A domain recorded before is
	// replaced, but keeps its base URL when the new record gives none.
	RecordHosts(ctx context.Context, hosts []RecordedHost) error
	// RecordedHosts returns the recorded hosts, sorted by domain.
	RecordedHosts(ctx context.Context) ([]RecordedHost, error)

	// Account returns the account with that bare JID, or ErrNotFound.
	Account(ctx context.Context, jid string) (Account, error)
	// ListAccounts returns the accounts that match the filter, oldest first (by Seq).
	ListAccounts(ctx context.Context, f AccountFilter) ([]Account, error)
	// ChangeAccount reads the account with that bare JID (Seq 0, with JID and Host
	// set, State "", when it is not stored) and its holds, each with its Invite, lets
	// change modify it, and writes what change returns, atomically: changes of one
	// account are serialized on every process and node. An error from change is
	// returned as is, changing nothing. It returns the account as written (or as read,
	// when change wrote nothing).
	ChangeAccount(ctx context.Context, jid string, change func(a *Account, holds []Hold) (AccountChange, error)) (Account, error)
	// Holds returns up to limit holds made at or before before, oldest first, without
	// their Invite.
	Holds(ctx context.Context, before time.Time, limit int) ([]Hold, error)
	// Tree returns a page of the nodes below a root in pre-order (see TreeQuery):
	// every node of the page has its parent in the page, or before it.
	Tree(ctx context.Context, q TreeQuery) ([]TreeNode, error)

	// Close releases the store; pending writes are finished first.
	Close() error
}

// InviteEvents returns event(inv) for each of invs, in order, or nil when event is nil:
// the events a store writes to its outbox for the invites ExpireInvites and
// RemindInvites mark.
func InviteEvents(invs []Invite, event func(Invite) Event) []Event {
	if event == nil {
		return nil
	}
	events := make([]Event, len(invs))
	for i, inv := range invs {
		events[i] = event(inv)
	}
	return events
}

// InviteWrite is what CreateInvite writes or checks beside the invite, in the same
// transaction.
type InviteWrite struct {
	// Events go to the outbox.
	Events []Event
	// Quota, when not nil, bounds the invites of the invite's creator.
	Quota *QuotaCheck
	// Rate, when not nil, is taken from a key's rate budget (see Rate.Take).
	Rate *RateCharge
}

// QuotaCheck bounds the invites one creator (Invite.CreatedBy) makes.
type QuotaCheck struct {
	// Since starts the period: at most Max invites created at or after it.
	Since time.Time
	// Max bounds the invites created since Since; 0 means no bound.
	Max int
	// Outstanding bounds the creator's pending invites at Now; 0 means no bound.
	Outstanding int
	// Now decides which invites are pending.
	Now time.Time
}

// InviteChange is what a ChangeInvite function asks the store to write beside the
// changed invite.
type InviteChange struct {
	// Use, when not nil, is recorded as a redemption.
	Use *Use
	// Events go to the outbox.
	Events []Event
	// Quota, when not nil, bounds the pending invites of the invite's creator: the
	// change makes the invite pending again, which it may only while the creator's
	// other pending invites at Quota.Now are fewer than Quota.Outstanding.
	Quota *QuotaCheck
	// Rate, when not nil, is taken from a key's rate budget (see Rate.Take).
	Rate *RateCharge
	// TokenHash, when not nil, replaces the invite's token hash: the old token dies.
	TokenHash []byte
	// Email, when not nil, replaces the invite's email address.
	Email *string
	// Mail, when not nil, replaces the delivery state of its email.
	Mail *Mail
	// Hold, when not nil, is recorded with Use: the registration waits for its
	// account's confirmation (see Hold).
	Hold *Hold
	// Release, when not nil, is a hold of the invite to delete with its use (Use.At is
	// the hold's At): the registration never made its account. The store fails with
	// ErrConflict, changing nothing, when the hold is gone (confirmed or released
	// meanwhile).
	Release *Hold
	// Account, when not nil, is written (inserted or replaced) with the change: a
	// registration confirmed at once.
	Account *Account
}

// InviteFilter selects invites for ListInvites.
type InviteFilter struct {
	// Host is required.
	Host string
	// CreatedBy, when set, keeps the invites of that creator only.
	CreatedBy string
	// Status, when set, keeps the invites in that status at Now.
	Status Status
	// Now is the time statuses are judged at.
	Now time.Time
	// ExpiresBefore, when not zero, keeps the invites that expire at or before it.
	ExpiresBefore time.Time
	// Before, when not nil, keeps the invites older than it (the position of the last
	// invite of the previous page).
	Before *Position
	// Limit bounds the result; it is at least 1.
	Limit int
}

// Position is the place of an invite in the newest-first order of lists.
type Position struct {
	CreatedAt time.Time // the invite's CreatedAt
	ID        string    // its ID, which orders invites made at the same instant
}

// RecordedHost is a domain a server served with the store (see Store.RecordHosts), with
// the policy it applied.
type RecordedHost struct {
	// Domain is the XMPP domain.
	Domain string
	// BaseURL is the public HTTP base URL the server gave with it; "" when none.
	BaseURL string
	// LandingPage, DefaultTTL and MaxTTL are the host's HostConfig as the server
	// applied it; zero durations when a server recorded none (before version 3).
	LandingPage string
	DefaultTTL  time.Duration
	MaxTTL      time.Duration
	// Webhooks says whether the server delivers events (to webhooks, the host, email):
	// then every change writes its events to the outbox, for its delivery worker (see
	// Options.Outbox).
	Webhooks bool
	// Mail says whether the server sends invites by email (Options.Mail).
	Mail bool
	// AccountStates says whether the server can set its accounts' states (disable,
	// enable, hold pending): HostConfig.AccountStates.
	AccountStates bool
}

// Config returns the host's configuration as the recording server applied it, for a
// Service of the command line.
func (h RecordedHost) Config() HostConfig {
	return HostConfig{Domain: h.Domain, LandingPage: h.LandingPage, DefaultTTL: h.DefaultTTL, MaxTTL: h.MaxTTL,
		AccountStates: h.AccountStates}
}
