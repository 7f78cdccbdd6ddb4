package core

import (
	"crypto/subtle"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Kind says what an invite lets its holder do.
type Kind string

// The kinds of invite.
const (
	// KindAccount lets the holder register an account (XEP-0401, XEP-0445).
	KindAccount Kind = "account"
	// KindContact lets the holder subscribe to the inviter (XEP-0379), and register an
	// account too when AllowRegister is set.
	KindContact Kind = "contact"
	// KindReset lets the holder set a new password for the existing account Username.
	// Only administrators make them.
	KindReset Kind = "reset"
)

// Purpose says what a redemption is for.
type Purpose string

// The purposes of a redemption.
const (
	// PurposeRegister creates the account Username@Host (XEP-0445); the default.
	PurposeRegister Purpose = "register"
	// PurposeSubscribe is an existing account Username accepting a contact invite
	// (XEP-0379), without registration.
	PurposeSubscribe Purpose = "subscribe"
	// PurposeReset sets a new password for the invite's account (reset invites).
	PurposeReset Purpose = "reset"
)

// Status is where an invite is in its life.
type Status string

// The statuses of an invite, in the order they take precedence: a revoked invite is
// revoked even when it has also expired, a used-up one is used even when expired.
const (
	// StatusPending means the invite can still be redeemed.
	StatusPending Status = "pending"
	// StatusUsed means it has been redeemed as many times as it allows.
	StatusUsed Status = "used"
	// StatusExpired means its expiry has passed before it was used up.
	StatusExpired Status = "expired"
	// StatusRevoked means someone withdrew it.
	StatusRevoked Status = "revoked"
)

// ParseStatus reads a status as written in queries; "" and "all" mean any status and
// give "".
func ParseStatus(s string) (Status, error) {
	switch st := Status(strings.ToLower(strings.TrimSpace(s))); st {
	case "", "all":
		return "", nil
	case StatusPending, StatusUsed, StatusExpired, StatusRevoked:
		return st, nil
	}
	return "", Refuse(ErrInvalid, FieldStatus, "unknown status %q: use pending, used, expired, revoked or all", s)
}

// Use is one redemption of an invite, as recorded.
type Use struct {
	// JID is the bare JID of the account made, subscribed or reset.
	JID string
	// At is when it happened.
	At time.Time
}

// Invite is an invitation as stored.
// Token is set only on the value Service.CreateInvite returns: stores keep TokenHash.
type Invite struct {
	// ID is the public, non-secret name of the invite: the first IDLen characters of
	// its token, time-ordered; for a legacy invite, derived from its token hash.
	ID string
	// Token is the secret the invitee presents; empty except right after creation.
	Token string
	// TokenHash is SHA-256 of Token.
	TokenHash []byte
	// Host is the XMPP domain the invite is for.
	Host string
	// Kind is what the invite allows.
	Kind Kind
	// Username, when set, is the only account name the invite can register, or the
	// account a reset invite resets.
	Username string
	// Inviter is the localpart of the inviting account for contact invites.
	Inviter string
	// AllowRegister lets a contact invite also register an account (";ibr=y").
	AllowRegister bool
	// CreatedBy says who made it: "api/token/KEYID", "xmpp:JID" or "cli".
	CreatedBy string
	// Note is the creator's free text, at most MaxNoteLen characters.
	Note string
	// MaxUses is how many redemptions the invite allows; 0 means any number until it
	// expires.
	MaxUses int
	// Uses counts its redemptions.
	Uses int
	// Groups are the groups the host puts a new account in.
	Groups []string
	// Approval says that the accounts it makes wait for an administrator's approval:
	// stored as its creator asked; as CheckInvite and Redeem return the invite, also
	// set when its host's approval rule asks it (HostConfig.Approval), and cleared on
	// a host that cannot hold accounts pending.
	Approval bool
	// ByUser says that an ordinary account made it (not an administrator, an API key
	// or the command line): the rules of "user-invites" apply to it (InviteSet).
	ByUser bool
	// Redemptions are the uses, oldest first; lists may leave them out (see
	// Service.ListInvites).
	Redemptions []Use
	// CreatedAt is when the invite was made.
	CreatedAt time.Time
	// ExpiresAt is when it can no longer be redeemed.
	ExpiresAt time.Time
	// RevokedAt is when it was revoked; zero if it was not.
	RevokedAt time.Time
	// EndedAt is when it stopped being usable (used up, revoked, or expired as noted by
	// the sweep); zero while it is pending. The sweep purges the record Retention
	// after it.
	EndedAt time.Time

	// Email is the address the invite is mailed to, kept only while it is pending.
	// Welcome is the message its accounts get at their first login ("" for the host's).
	// Mail is the delivery of its email. Funnel is what became of it.
	// A Store's Invite and ListInvites leave these four zero (Store.InviteDetails reads
	// them); the Service's Invite and ListInvites fill them in.
	Email   string
	Welcome string
	Mail    Mail
	Funnel  Funnel
}

// Expired reports whether the invite has expired at now.
func (inv Invite) Expired(now time.Time) bool { return !now.Before(inv.ExpiresAt) }

// UsedUp reports whether the invite has been redeemed as often as it allows.
func (inv Invite) UsedUp() bool { return inv.MaxUses > 0 && inv.Uses >= inv.MaxUses }

// State is the part of an invite's status that does not depend on the time: revoked,
// used up, or open (pending until it expires, then expired). Stores keep it in a
// column written from Invite.State with every write of an invite, so that they select
// invites by status with the one rule below (see Status.Where), never restating it.
type State string

// The states of an invite.
const (
	StateOpen    State = "open"
	StateUsed    State = "used"
	StateRevoked State = "revoked"
)

// State returns the invite's state: revoked once revoked, else used once used up,
// else open.
func (inv Invite) State() State {
	switch {
	case !inv.RevokedAt.IsZero():
		return StateRevoked
	case inv.UsedUp():
		return StateUsed
	}
	return StateOpen
}

// ExpiryTest is what a status asks of an invite's expiry at a time.
type ExpiryTest int

// The tests of an expiry at a time now.
const (
	AnyExpiry  ExpiryTest = iota // the expiry does not matter
	NotExpired                   // ExpiresAt is after now
	HasExpired                   // ExpiresAt is at or before now
)

// holds reports whether an invite expiring at expires passes the test at now.
func (e ExpiryTest) holds(expires, now time.Time) bool {
	switch e {
	case NotExpired:
		return now.Before(expires)
	case HasExpired:
		return !now.Before(expires)
	}
	return true
}

// statusRule is the one rule of statuses, in the order they take precedence: each
// status is a state and a test of the expiry.
var statusRule = [...]struct {
	status Status
	state  State
	expiry ExpiryTest
}{
	{StatusRevoked, StateRevoked, AnyExpiry},
	{StatusUsed, StateUsed, AnyExpiry},
	{StatusExpired, StateOpen, HasExpired},
	{StatusPending, StateOpen, NotExpired},
}

// Where says which invites are in status st at a time now: those in the state given
// whose expiry passes the test at now. Stores build their queries of a status from it.
// An unknown status gives the zero State, which no invite is in.
func (st Status) Where() (State, ExpiryTest) {
	for _, r := range statusRule {
		if r.status == st {
			return r.state, r.expiry
		}
	}
	return "", AnyExpiry
}

// Status returns where the invite is in its life at now.
func (inv Invite) Status(now time.Time) Status {
	state := inv.State()
	for _, r := range statusRule {
		if r.state == state && r.expiry.holds(inv.ExpiresAt, now) {
			return r.status
		}
	}
	return StatusPending // not reached: the rule covers every state and expiry
}

// CanRegister reports whether the invite can be used to register an account.
func (inv Invite) CanRegister() bool {
	return inv.Kind == KindAccount || inv.Kind == KindContact && inv.AllowRegister
}

// Check is the one rule of redemption: may this invite be used for this purpose, for
// this (normalized) username, on this host, at now?
// It returns nil, or ErrRevoked, ErrUsedUp, ErrExpired (in that precedence), ErrNotFound
// for another host, or ErrForbidden when the kind does not allow the purpose or a fixed
// name differs.
// An empty purpose means PurposeRegister.
func (inv Invite) Check(p Purpose, username, host string, now time.Time) error {
	if host != inv.Host {
		return ErrNotFound
	}
	switch inv.Status(now) {
	case StatusRevoked:
		return ErrRevoked
	case StatusUsed:
		return ErrUsedUp
	case StatusExpired:
		return ErrExpired
	}
	switch p {
	case "", PurposeRegister:
		if !inv.CanRegister() || inv.Username != "" && inv.Username != username {
			return ErrForbidden
		}
	case PurposeSubscribe:
		if inv.Kind != KindContact || username == inv.Inviter {
			return ErrForbidden
		}
	case PurposeReset:
		if inv.Kind != KindReset || inv.Username == "" || inv.Username != username {
			return ErrForbidden
		}
	default:
		return ErrForbidden
	}
	return nil
}

// tokenMatches compares the token's hash with the stored one in constant time.
func (inv Invite) tokenMatches(tokenHash []byte) bool {
	return len(inv.TokenHash) == len(tokenHash) && subtle.ConstantTimeCompare(inv.TokenHash, tokenHash) == 1
}

// URI returns the invite's xmpp: URI for the token.
//
//	xmpp:DOMAIN?register;preauth=TOKEN
//	xmpp:USER@DOMAIN?register;preauth=TOKEN
//	xmpp:INVITER@DOMAIN?roster;preauth=TOKEN;ibr=y
//
// A reset invite has the form of a fixed-name account invite: clients that do not know
// reset invites then at least show the account it is for.
func (inv Invite) URI(token string) string {
	var b strings.Builder
	b.WriteString("xmpp:")
	switch inv.Kind {
	case KindContact:
		b.WriteString(escapeLocal(inv.Inviter))
		b.WriteString("@")
		b.WriteString(inv.Host)
		b.WriteString("?roster;preauth=")
		b.WriteString(token)
		if inv.AllowRegister {
			b.WriteString(";ibr=y")
		}
	default:
		if inv.Username != "" {
			b.WriteString(escapeLocal(inv.Username))
			b.WriteString("@")
		}
		b.WriteString(inv.Host)
		b.WriteString("?register;preauth=")
		b.WriteString(token)
	}
	return b.String()
}

// escapeLocal percent-encodes a localpart for an xmpp: URI (RFC 5122).
func escapeLocal(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), "@", "%40")
}

// LandingBuiltin is the landing_page value that selects the plugin's own page,
// served at HTTP_BASE_URL + PathInvite + "?" + TOKEN.
const LandingBuiltin = "builtin"

// PathInvite is the path of the built-in landing page under the HTTP base URL.
const PathInvite = "/invite"

// placeholders are the names a landing page template may use in braces.
var placeholders = []string{"token", "host", "uri"}

// CheckLandingPage checks a landing page setting: "" (none), LandingBuiltin, or an
// http or https URL template whose only placeholders are {token}, {host} and {uri}, and
// that names {token} or {uri} (without them the page cannot know the invite).
func CheckLandingPage(template string) error {
	if template == "" || template == LandingBuiltin {
		return nil
	}
	rest := template
	used := false
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return invalidf("landing page %q has a } without its {", template)
			}
			break
		}
		if strings.IndexByte(rest[:i], '}') >= 0 {
			return invalidf("landing page %q has a } without its {", template)
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return invalidf("landing page %q has a { without its }", template)
		}
		name := rest[i+1 : i+end]
		if !slices.Contains(placeholders, name) {
			return invalidf("landing page %q has the unknown placeholder {%s}: use {token}, {host} or {uri}", template, name)
		}
		used = used || name == "token" || name == "uri"
		rest = rest[i+end+1:]
	}
	u, err := url.Parse(strings.NewReplacer("{token}", "t", "{host}", "h", "{uri}", "u").Replace(template))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalidf("landing page %q is not an http or https URL (or %q for the built-in page)", template, LandingBuiltin)
	}
	if !used {
		return invalidf("landing page %q names neither {token} nor {uri}: the page could not know the invite", template)
	}
	return nil
}

// LandingPage fills a landing page template for the invite.
// The placeholders {token}, {host} and {uri} are percent-encoded for where they stand:
// as a query component after '?', as a path segment before it.
// An empty template gives an empty string: the invite then has no landing page.
// The template LandingBuiltin needs the HTTP base URL, which only the Service knows:
// here it gives "".
func LandingPage(template string, inv Invite, token string) string {
	if template == "" || template == LandingBuiltin {
		return ""
	}
	values := map[string]string{"token": token, "host": inv.Host, "uri": inv.URI(token)}
	var b strings.Builder
	inQuery := false
	for i := 0; i < len(template); {
		c := template[i]
		if c == '?' {
			inQuery = true
		}
		if c == '{' {
			if end := strings.IndexByte(template[i:], '}'); end > 0 {
				name := template[i+1 : i+end]
				if v, ok := values[name]; ok {
					if inQuery {
						b.WriteString(url.QueryEscape(v))
					} else {
						b.WriteString(url.PathEscape(v))
					}
					i += end + 1
					continue
				}
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String()
}

// builtinPage returns the built-in landing page of a token under the HTTP base URL.
func builtinPage(baseURL, token string) string {
	if baseURL == "" {
		return ""
	}
	return strings.TrimRight(baseURL, "/") + PathInvite + "?" + token
}
