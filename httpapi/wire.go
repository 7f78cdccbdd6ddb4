package httpapi

import (
	"slices"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// Invite is an invite as the API shows it, and as the command line prints it with
// --json. Times are in UTC, to the second. Token, URI and LandingPage are set only in
// the answer to its creation; Redemptions only when the invite is shown alone (lists
// leave them out); other empty fields are left out of the JSON, but Groups.
type Invite struct {
	ID          string    `json:"id"`                     // the public ID, never the token
	Token       string    `json:"token,omitempty"`        // the secret, at creation only
	URI         string    `json:"uri,omitempty"`          // the xmpp: URI, at creation only
	LandingPage string    `json:"landing_page,omitempty"` // at creation only, when the host has one
	Host        string    `json:"host"`                   // the XMPP domain
	CreatedAt   time.Time `json:"created_at"`             // when it was made
	ExpiresAt   time.Time `json:"expires_at"`             // when it stops working
	Kind        string    `json:"kind"`                   // account, contact or reset
	Status      string    `json:"status"`                 // pending, used, expired or revoked
	CreatedBy   string    `json:"created_by"`             // api/token/KEYID, xmpp:JID, cli or host
	Note        string    `json:"note,omitempty"`         // the creator's note
	Username    string    `json:"username,omitempty"`     // the fixed name, or the account to reset
	Inviter     string    `json:"inviter,omitempty"`      // the inviter's bare JID (contact invites)
	MaxUses     int       `json:"max_uses"`               // 0: any number until it expires
	Uses        int       `json:"uses"`                   // redemptions so far
	Groups      []string  `json:"groups"`                 // never null
	Redemptions []Use     `json:"redemptions,omitempty"`  // each use, oldest first
	RevokedAt   time.Time `json:"revoked_at,omitzero"`    // when revoked
	Approval    bool      `json:"approval,omitempty"`     // its accounts wait for an administrator's approval

	Email   *InviteEmail `json:"email,omitempty"`   // when mailed
	Welcome string       `json:"welcome,omitempty"` // the welcome message of its accounts
	Funnel  *Funnel      `json:"funnel,omitempty"`  // what became of it
}

// InviteEmail is the email delivery of an invite: the address (while the invite is
// pending) and where its mail is.
type InviteEmail struct {
	Address   string    `json:"address,omitempty"` // gone once the invite has ended
	Status    string    `json:"status"`            // queued, sent or failed
	Error     string    `json:"error,omitempty"`   // the relay's last answer when it failed
	UpdatedAt time.Time `json:"updated_at"`        // when Status last changed
}

// Funnel is what became of an invite: how many times each stage was reached, from the
// page opened to accounts still active a week after they were made. Nothing in it
// names a person.
type Funnel struct {
	PageOpened          int `json:"page_opened"`          // its page shown (no cookie, no client kept)
	RegistrationStarted int `json:"registration_started"` // a registration form shown, or an in-band pre-auth
	AccountCreated      int `json:"account_created"`      // accounts made with it
	FirstLogin          int `json:"first_login"`          // of those, logged in once
	StillActive         int `json:"still_active"`         // of those, logged in 7 days or more after creation
}

// Use is one redemption of an Invite: the account and when.
type Use struct {
	JID string    `json:"jid"` // the bare JID of the account made, subscribed or reset
	At  time.Time `json:"at"`
}

// InviteList is a page of invites; NextCursor, when not empty, continues the list.
type InviteList struct {
	Invites    []Invite `json:"invites"`               // newest first, without redemptions
	NextCursor string   `json:"next_cursor,omitempty"` // the cursor of the next page
}

// CreateParams are the parameters of an invite's creation; the zero value asks for
// an invite for one account with the host's default lifetime.
type CreateParams struct {
	// TTL is the invite's lifetime, sent in whole seconds: at least 1 minute, at most
	// the key's and the host's maximum. Zero means the host's default (7 days unless
	// configured).
	TTL time.Duration
	// Username is the only account name the invite can register; empty means any.
	Username string
	// MaxUses is how many accounts the invite can make; 0 means any number until it
	// expires; nil means 1.
	MaxUses *int
	// Note is free text for whoever lists invites later (at most 280 characters).
	Note string
	// Groups are the groups the new accounts join.
	Groups []string
	// Redirect asks for 303 See Other instead of 201 Created, as a bookmark would; the
	// Client returns the invite either way.
	Redirect bool
	// Email, when set, has the server mail the invite to this address (with its own
	// token: the invite returned then has no Token, URI nor LandingPage).
	Email string
	// Welcome is a message each account the invite makes receives at its first login.
	Welcome string
	// Approval makes the accounts the invite makes wait for an administrator's approval
	// before they can log in (refused by a server that cannot hold accounts pending).
	Approval bool
}

// ListParams choose the invites of a list.
type ListParams struct {
	// Status keeps the invites in this status: pending, used, expired or revoked;
	// empty or "all" keeps every one.
	Status string
	// Limit is the size of a page, 1 to 500; zero means 50.
	Limit int
	// Cursor is the NextCursor of the previous page; empty starts at the newest.
	Cursor string
	// ExpiringWithin, when not zero, keeps the pending invites that expire within it.
	ExpiringWithin time.Duration
}

// Patch is a change of an invite, sent as a JSON merge patch (RFC 7396): the fields
// left zero (nil) are not changed.
type Patch struct {
	// ExpiresAt moves the expiry: not before the invite's creation, nor beyond its
	// creation plus the key's and the host's maximum lifetime; a time in the past ends
	// the invite now.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// MaxUses sets how many accounts it can make (0: any number), not below the uses
	// made.
	MaxUses *int `json:"max_uses,omitempty"`
	// Note replaces the note; a pointer to "" removes it.
	Note *string `json:"note,omitempty"`
}

// NewInvite describes an invite of the core, its status judged at now, without its
// redemptions.
func NewInvite(inv core.Invite, now time.Time) Invite {
	b := Invite{
		ID:        inv.ID,
		Host:      inv.Host,
		CreatedAt: wireTime(inv.CreatedAt),
		ExpiresAt: wireTime(inv.ExpiresAt),
		Kind:      string(inv.Kind),
		Status:    string(inv.Status(now)),
		CreatedBy: inv.CreatedBy,
		Note:      inv.Note,
		Username:  inv.Username,
		MaxUses:   inv.MaxUses,
		Uses:      inv.Uses,
		Groups:    slices.Clone(inv.Groups),
		Approval:  inv.Approval,
	}
	if b.Groups == nil {
		b.Groups = []string{}
	}
	if inv.Inviter != "" {
		// The record keeps the inviter's localpart on the invite's host.
		b.Inviter = inv.Inviter + "@" + inv.Host
	}
	if !inv.RevokedAt.IsZero() {
		b.RevokedAt = wireTime(inv.RevokedAt)
	}
	reports(&b, inv)
	return b
}

// NewInviteWithUses describes an invite shown alone: with its redemptions, left out
// when it has none (as every empty field is).
func NewInviteWithUses(inv core.Invite, now time.Time) Invite {
	b := NewInvite(inv, now)
	for _, u := range inv.Redemptions {
		b.Redemptions = append(b.Redemptions, Use{JID: u.JID, At: wireTime(u.At)})
	}
	return b
}

// wireTime is t as the API writes it: in UTC, to the second, so that its JSON is
// RFC 3339 without a fraction.
func wireTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }
