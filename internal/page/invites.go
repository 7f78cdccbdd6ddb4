package page

import (
	"context"
	"errors"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// Invite is what the page shows of an invite.
// It never carries the token: the page has it from the request.
type Invite struct {
	// ID is the invite's public ID (never its token), "" when not known.
	ID string
	// Host is the XMPP domain the invite is for, such as "example.org".
	Host string
	// Kind is what the invite allows; an empty Kind means core.KindAccount.
	Kind core.Kind
	// Inviter is the bare JID of the inviting account (contact invites), else "".
	Inviter string
	// Username is the only localpart the invite can register (account invites), or the
	// account whose password it resets (reset invites); "" means any name.
	Username string
	// CanRegister says whether a contact invite also lets its holder create an account
	// (";ibr=y"); account and reset invites always lead to the form.
	CanRegister bool
	// ExpiresAt is when the invite stops working; the zero time means it does not say.
	ExpiresAt time.Time
	// URI is the invite's xmpp: URI, such as "xmpp:example.org?register;preauth=TOKEN";
	// the page sends it in the Link header, the HTML head and the "open in app" button.
	// A value that does not start with "xmpp:" is not shown.
	URI string
	// Approval says that the accounts it makes wait for an administrator's approval:
	// the pages say so, and the form asks for a note for the administrators.
	Approval bool
}

// Registrable reports whether the invite leads to the web registration form.
func (inv Invite) Registrable() bool {
	switch inv.Kind {
	case core.KindContact:
		return inv.CanRegister
	case "", core.KindAccount, core.KindReset:
		return true
	}
	return false
}

// Invites is where the page looks invites up.
// Its implementation decides which hosts a page serves: an invite of a host this page
// does not serve should be reported dead.
type Invites interface {
	// Invite returns the usable invite that token names.
	// An unknown, used, revoked or expired token (or one of a host the page does not
	// serve) is an error wrapping ErrInviteDead; ErrUnavailable means the invite
	// store could not be asked now.
	// Invite must not consume the invite.
	Invite(ctx context.Context, token string) (Invite, error)
}

// Registration is one account creation (or password reset) asked for on the web.
// It is the host contract's Registration, field for field.
type Registration struct {
	// Host is the XMPP domain of the account, the invite's Host.
	Host string
	// Token is the invite token the form came with.
	Token string
	// Username is the localpart to register, or the account of a reset invite.
	Username string
	// Password is the new account's password, as typed.
	Password string
	// Note is what the person wrote for the administrators who approve the account
	// (Invite.Approval), at most 280 characters; "" when none. The host contract's
	// Registration does not carry it: the Registrar hands it to the plugin.
	Note string
	// Approval is the invite's: the page said the account would wait for approval.
	Approval bool
}

// Account is an account made on the web.
type Account struct {
	// JID is its bare JID.
	JID string
	// Pending says that it waits for an administrator's approval before it can sign
	// in.
	Pending bool
}

// Registrar creates accounts; it is the host contract's HostAPI.Register.
type Registrar interface {
	// Register creates the account Username@Host with Password using Token, with the
	// guarantees of in-band registration: nothing is spent when the account cannot be
	// made, nothing is made when the invite is dead, and of concurrent registrations
	// with one single-use token exactly one wins.
	// For a reset invite it sets the password of the invite's account instead.
	// It returns the account, and whether it waits for approval.
	// Errors wrap ErrNameTaken, ErrInvalidName, ErrInvalidPassword, ErrInviteDead,
	// ErrInviterInactive, ErrNameNotAllowed or ErrUnavailable; any other error is shown
	// as a server error.
	Register(ctx context.Context, r Registration) (Account, error)
}

// Errors the Invites and the Registrar return, wrapped, for the page to tell the visitor
// what went wrong.
// The adapter of the host contract maps its errors onto these.
var (
	// ErrInviteDead means the token is unknown, used, revoked or expired: 404.
	ErrInviteDead = errors.New("invite not found, used, revoked or expired")
	// ErrInviterInactive means the invite's creator can no longer invite people (its
	// account is disabled, deleted or pending approval): 403, saying so plainly.
	ErrInviterInactive = errors.New("the inviter is no longer in good standing")
	// ErrNameTaken means the account name is already registered: 409.
	ErrNameTaken = errors.New("account name taken")
	// ErrInvalidName means the account name is not a valid localpart: 400.
	ErrInvalidName = errors.New("invalid account name")
	// ErrInvalidPassword means the host refuses the password: 400.
	ErrInvalidPassword = errors.New("password refused")
	// ErrNameNotAllowed means the invite is for another name, or not for this purpose:
	// 400.
	ErrNameNotAllowed = errors.New("invite is for another name")
	// ErrUnavailable means the host or its invite store did not answer: 503.
	ErrUnavailable = errors.New("service unavailable")
)
