package core

import (
	"context"
	"time"
)

// ActorKind says what kind of party acts.
type ActorKind string

// The kinds of actor.
const (
	// ActorKey is an API key; Actor.ID is its ID.
	ActorKey ActorKind = "key"
	// ActorJID is an XMPP account; Actor.ID is its bare JID.
	ActorJID ActorKind = "jid"
	// ActorCLI is the operator on the command line.
	ActorCLI ActorKind = "cli"
	// ActorHost is the XMPP server or the plugin itself (the sweep, a host-driven
	// change); Actor.ID may name the host.
	ActorHost ActorKind = "host"
)

// Actor is who asks for a change or a read: recorded in events, and deciding which
// invites a caller may see and change.
// The zero Actor is the host itself: it records as "host" and sees every invite, so
// every caller acting for a requester (a key, an account) must say so.
type Actor struct {
	// Kind is what the actor is.
	Kind ActorKind `json:"kind"`
	// ID names it: a key ID for ActorKey, a bare JID for ActorJID.
	ID string `json:"id,omitempty"`
	// Remote is the client's network address when known, for the audit log.
	Remote string `json:"remote,omitempty"`
	// Manage lets the actor see and change every invite of its host, not only those it
	// made. Keys get it from their Manage flag (KeyActor); callers set it for
	// administrators. The command line and the host always have it.
	Manage bool `json:"-"`
	// MaxTTL, when positive, bounds the lifetime the actor may give an invite (a key's
	// maximum); set by KeyActor.
	MaxTTL time.Duration `json:"-"`
	// Rate, when not zero, bounds the accounts the actor's invites can make per period
	// (a key's rate): an invite for m accounts takes m of it, raising an invite's
	// max_uses by k takes k, and an invite for any number of accounts is refused. Set
	// by KeyActor.
	Rate Rate `json:"-"`
	// Quota, when not nil, bounds the invites the actor makes (see Quota): callers set
	// it for ordinary users. A change that makes one of its invites pending again counts
	// against Quota.Outstanding.
	Quota *Quota `json:"-"`
}

// KeyActor returns the actor of an authenticated key, at a client address (may be "").
func KeyActor(k Key, remote string) Actor {
	return Actor{Kind: ActorKey, ID: k.ID, Remote: remote, Manage: k.Manage, MaxTTL: k.MaxTTL, Rate: k.Rate}
}

// CreatedBy returns what an invite made by the actor records as its creator:
// "api/token/KEYID", "xmpp:JID", "cli", or "host".
func (a Actor) CreatedBy() string {
	switch a.Kind {
	case ActorKey:
		return "api/token/" + a.ID
	case ActorJID:
		return "xmpp:" + a.ID
	case ActorCLI:
		return "cli"
	}
	return "host"
}

// sees reports whether the actor may see and change an invite made by createdBy.
func (a Actor) sees(createdBy string) bool {
	return a.managing() || createdBy == a.CreatedBy()
}

// managing reports whether the actor sees every invite of its host.
func (a Actor) managing() bool {
	return a.Manage || a.Kind == ActorCLI || a.Kind == ActorHost || a.Kind == ""
}

// EventType names what happened.
type EventType string

// The events the core reports.
const (
	EventKeyCreated    EventType = "key.created"
	EventKeyDeleted    EventType = "key.deleted"
	EventInviteCreated EventType = "invite.created"
	// EventInviteRedeemed: an invite was used (to register, subscribe or reset). A
	// registration's is written when the server confirms the account (see Hold), with
	// the actor and client address of the redemption.
	EventInviteRedeemed EventType = "invite.redeemed"
	EventInviteRefused  EventType = "invite.refused" // a redemption refused; Reason says why
	EventInviteUpdated  EventType = "invite.updated"
	EventInviteRevoked  EventType = "invite.revoked"
	EventInviteExpired  EventType = "invite.expired" // noted by the sweep
)

// The events of accounts (issue 24). Each carries the account (Event.Account) and its
// JID (Event.JID); the actor is who asked: the person registering (with the client's
// address), an administrator (ActorJID), a key, the command line, or the host
// (ActorHost, ID the domain) for what the server reported and the sweep decided.
// Events the server reported (deleted, disabled, enabled by other means) are recorded,
// and must not be acted on again: a delivery to the server skips those whose actor is
// the host.
const (
	// EventAccountCreated: an account made with an invite, confirmed by the server
	// (Event.Invite is the invite); or made by other means, reported by the server
	// (no Invite, actor host).
	EventAccountCreated EventType = "account.created"
	// EventAccountPending: an account made with an invite waits for an administrator's
	// approval (Account.Note is what its holder wrote, Account.ApprovalDeadline when
	// the sweep rejects it): the administrators are to be told.
	EventAccountPending EventType = "account.pending"
	// EventAccountApproved: an administrator approved a pending account: the server is
	// to make it active.
	EventAccountApproved EventType = "account.approved"
	// EventAccountRejected: an administrator rejected a pending account, or the sweep
	// did when its approval deadline passed (actor host): the server is to delete it
	// and free its name.
	EventAccountRejected EventType = "account.rejected"
	// EventAccountDisabled: an account was disabled: by an administrator, a key or the
	// command line (the server is to disable it), or by the server itself (actor host:
	// recorded only).
	EventAccountDisabled EventType = "account.disabled"
	// EventAccountEnabled: a disabled account was enabled again; as EventAccountDisabled.
	EventAccountEnabled EventType = "account.enabled"
	// EventAccountDeleted: the server deleted an account (actor host: recorded only).
	EventAccountDeleted EventType = "account.deleted"
	// EventAccountFirstLogin: an account made with an invite (or reported made by the
	// server) logged in for the first time; Account.Lang is its client's language.
	EventAccountFirstLogin EventType = "account.first_login"
	// EventAccountActive: an account logged in ActiveAfter (7 days) or more after it
	// was made: it is still active. Written once per account.
	EventAccountActive EventType = "account.active"
)

// Event is one change, or one refused redemption, as the core reports it to
// Options.Observer and writes it to the store's outbox (Options.Outbox).
// It never holds a token, a token hash or a key secret.
type Event struct {
	// ID is unique and time-ordered (EventIDLen characters, text order is time order):
	// a webhook's delivery ID.
	ID string `json:"id"`
	// Type is what happened.
	Type EventType `json:"type"`
	// Time is when.
	Time time.Time `json:"time"`
	// Host is the XMPP domain concerned.
	Host string `json:"host,omitempty"`
	// Actor is who did it.
	Actor Actor `json:"actor"`
	// KeyID is the key created or deleted.
	KeyID string `json:"key_id,omitempty"`
	// InviteID is the invite concerned (empty for a refused redemption of a token that
	// names no invite).
	InviteID string `json:"invite_id,omitempty"`
	// JID is the account a redemption was for.
	JID string `json:"jid,omitempty"`
	// Purpose is what a redemption was for.
	Purpose Purpose `json:"purpose,omitempty"`
	// Reason says why a redemption was refused (see the function Reason), or why an
	// invite was revoked when its holder declined it ("declined").
	Reason string `json:"reason,omitempty"`
	// Lang is the language of the account concerned (BCP 47), when known: on
	// account.first_login, the xml:lang of that login. Messages to the account are
	// written in it.
	Lang string `json:"lang,omitempty"`
	// Changed lists the fields an update changed ("expires_at", "max_uses", "note").
	Changed []string `json:"changed,omitempty"`
	// Invite describes the invite after the change, without secrets.
	Invite *EventInvite `json:"invite,omitempty"`
	// Account describes the account of an account.* event after the change.
	Account *EventAccount `json:"account,omitempty"`
}

// EventInvite is what an event tells of an invite.
// Its fields are those of Invite of the same names.
type EventInvite struct {
	Kind      Kind      `json:"kind"`               // Invite.Kind
	Username  string    `json:"username,omitempty"` // Invite.Username
	Inviter   string    `json:"inviter,omitempty"`  // Invite.Inviter
	CreatedBy string    `json:"created_by"`         // Invite.CreatedBy
	Note      string    `json:"note,omitempty"`     // Invite.Note
	Groups    []string  `json:"groups,omitempty"`   // Invite.Groups
	Approval  bool      `json:"approval,omitempty"` // Invite.Approval
	ByUser    bool      `json:"by_user,omitempty"`  // Invite.ByUser
	MaxUses   int       `json:"max_uses"`           // Invite.MaxUses
	Uses      int       `json:"uses"`               // Invite.Uses
	Status    Status    `json:"status"`             // Invite.Status at the event's time
	CreatedAt time.Time `json:"created_at"`         // Invite.CreatedAt
	ExpiresAt time.Time `json:"expires_at"`         // Invite.ExpiresAt
}

// EventAccount is what an event tells of an account.
// Its fields are those of Account of the same names; times are omitted when unknown.
type EventAccount struct {
	JID              string       `json:"jid"`                         // Account.JID
	State            AccountState `json:"state"`                       // Account.State
	InviteID         string       `json:"invite_id,omitempty"`         // Account.InviteID
	Inviter          string       `json:"inviter,omitempty"`           // Account.Inviter: xmpp:JID, api/token/KEYID, cli
	Lang             string       `json:"lang,omitempty"`              // Account.Lang
	Note             string       `json:"note,omitempty"`              // Account.Note
	CreatedAt        *time.Time   `json:"created_at,omitempty"`        // Account.CreatedAt
	FirstLogin       *time.Time   `json:"first_login,omitempty"`       // Account.FirstLogin
	ApprovalDeadline *time.Time   `json:"approval_deadline,omitempty"` // Account.ApprovalDeadline
}

func eventAccount(a Account) *EventAccount {
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	return &EventAccount{JID: a.JID, State: a.State, InviteID: a.InviteID, Inviter: a.Inviter, Lang: a.Lang,
		Note: a.Note, CreatedAt: at(a.CreatedAt), FirstLogin: at(a.FirstLogin), ApprovalDeadline: at(a.ApprovalDeadline)}
}

func eventInvite(inv Invite, now time.Time) *EventInvite {
	return &EventInvite{
		Kind: inv.Kind, Username: inv.Username, Inviter: inv.Inviter, CreatedBy: inv.CreatedBy,
		Note: inv.Note, Groups: inv.Groups, Approval: inv.Approval, ByUser: inv.ByUser, MaxUses: inv.MaxUses, Uses: inv.Uses,
		Status: inv.Status(now), CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt,
	}
}

// Observer receives every event once its change is committed (and every refused
// redemption), in the goroutine of the call that caused it: it must be quick and must
// not call back into the Service. The audit log and the metrics are observers.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(ctx context.Context, e Event)

// Observe implements Observer.
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }
