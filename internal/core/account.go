package core

import (
	"strings"
	"time"

	"mellium.im/xmpp/jid"
)

// AccountState is where an account the plugin knows is in its life.
type AccountState string

// The states of an account.
const (
	// AccountActive: it can log in.
	AccountActive AccountState = "active"
	// AccountDisabled: an administrator (or the server) disabled it; it cannot log in.
	AccountDisabled AccountState = "disabled"
	// AccountPending: it waits for an administrator's approval; it cannot log in.
	AccountPending AccountState = "pending"
	// AccountDeleted: it was deleted (or rejected); its record stays, for the tree.
	AccountDeleted AccountState = "deleted"
)

// ParseAccountState reads a state as written in queries; "" and "all" mean any
// state and give "".
func ParseAccountState(s string) (AccountState, error) {
	switch st := AccountState(strings.ToLower(strings.TrimSpace(s))); st {
	case "", "all":
		return "", nil
	case AccountActive, AccountDisabled, AccountPending, AccountDeleted:
		return st, nil
	}
	return "", Refuse(ErrInvalid, FieldState, "unknown state %q: use active, disabled, pending, deleted or all", s)
}

// inGoodStanding reports whether an account in state st may still invite people.
func (st AccountState) inGoodStanding() bool {
	return st == AccountActive || st == ""
}

// Account is an XMPP account as the plugin knows it: made with an invite (a
// redemption the server confirmed), or learned from the server's events (a login, an
// account made or deleted by other means).
// An account made before version 3, or by other means than an invite, has no
// InviteID: its inviter is unknown, and is never guessed.
type Account struct {
	// Seq orders accounts by when the plugin first recorded them; 0 for an account
	// not stored yet.
	Seq int64
	// Host is its XMPP domain.
	Host string
	// JID is its bare JID.
	JID string
	// State is where it is in its life.
	State AccountState
	// CreatedAt is when it was made; zero when unknown (an account made before version
	// 3, learned from a login).
	CreatedAt time.Time
	// InviteID is the invite that made it; "" when unknown.
	InviteID string
	// Inviter is that invite's creator, as Invite.CreatedBy writes it
	// ("xmpp:JID", "api/token/KEYID", "cli", "host"); kept when the invite's record is
	// purged. "" when unknown.
	Inviter string
	// InviteCreatedAt is when that invite was made, kept (as Inviter) for the tree
	// once the invite's record is purged; zero when unknown.
	InviteCreatedAt time.Time
	// FirstLogin and LastLogin are its first and latest logins the server reported;
	// zero when none.
	FirstLogin, LastLogin time.Time
	// Lang is the language of its latest login's stream (BCP 47), "" when unknown.
	Lang string
	// Note is what its holder wrote for the administrators when registering on the
	// web page, for its approval (at most MaxNoteLen characters).
	Note string
	// ApprovalDeadline is when a pending account is rejected by the sweep; zero for
	// an account that is not pending.
	ApprovalDeadline time.Time
	// ActiveNoted says that EventAccountActive was written for it.
	ActiveNoted bool
	// ChangedAt is when its state last changed, and ChangedBy who changed it (as
	// Actor.CreatedBy writes the actor); zero and "" when it never did.
	ChangedAt time.Time
	ChangedBy string
}

// Hold is a registration's use of an invite that waits for the server to confirm its
// account (see Service.Redeem): it counts against the invite's MaxUses, and its
// redemption is recorded, but the invite's EventInviteRedeemed and the account's
// EventAccountCreated are written only once the account is confirmed; a hold the
// server never confirms is released, giving the use back.
type Hold struct {
	// InviteID is the invite used.
	InviteID string
	// JID is the bare JID of the account being made.
	JID string
	// Host is its domain.
	Host string
	// At is when the invite was redeemed: the redemption's time (Use.At).
	At time.Time
	// Approval says that the account must wait for an administrator's approval.
	Approval bool
	// Remote is the client's address at the redemption, for the events written at
	// its confirmation; "" when unknown.
	Remote string
	// Invite is the invite as it is now, filled by Store.ChangeAccount for the
	// events of the confirmation; zero elsewhere.
	Invite Invite
}

// AccountChange is what a ChangeAccount function asks the store to write.
type AccountChange struct {
	// Write stores the account as the function left it (inserted when it was not
	// stored yet).
	Write bool
	// Confirm are holds of the account to delete: confirmed, their uses stay.
	Confirm []Hold
	// Events go to the outbox.
	Events []Event
}

// AccountFilter selects accounts for ListAccounts.
type AccountFilter struct {
	// Host is required.
	Host string
	// State, when set, keeps the accounts in that state.
	State AccountState
	// DeadlineBefore, when not zero, keeps the accounts whose ApprovalDeadline is
	// set and before it.
	DeadlineBefore time.Time
	// After keeps the accounts whose Seq is greater (the last of the previous page).
	After int64
	// Limit bounds the result; it is at least 1.
	Limit int
}

// bareJID checks a JID from a server or a request and returns its bare form, with a
// canonical localpart (NormalizeUsername) and domain, and the domain alone.
// A JID without a localpart is refused: it names no account.
func bareJID(s string) (bare, domain string, err error) {
	j, err := jid.Parse(strings.TrimSpace(s))
	if err != nil || j.Localpart() == "" {
		return "", "", invalidf("%q is not the address of an account", s)
	}
	name, err := NormalizeUsername(j.Localpart())
	if err != nil {
		return "", "", err
	}
	d, err := NormalizeDomain(j.Domainpart())
	if err != nil {
		return "", "", err
	}
	return name + "@" + d, d, nil
}

// creatorJID returns the account a creator string names ("xmpp:JID"), or "".
func creatorJID(createdBy string) string {
	j, ok := strings.CutPrefix(createdBy, "xmpp:")
	if !ok {
		return ""
	}
	return j
}

// creatorKey returns the key a creator string names ("api/token/ID"), or "".
func creatorKey(createdBy string) string {
	k, _ := strings.CutPrefix(createdBy, "api/token/")
	if k == createdBy {
		return ""
	}
	return k
}
