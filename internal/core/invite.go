package core

import (
	"net/url"
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
)

// Invite is an invitation as stored.
// Token is set only on the value Service.CreateInvite returns: stores keep TokenHash.
type Invite struct {
	// ID is the public, non-secret name of the invite, derived from TokenHash.
	ID string
	// Token is the secret the invitee presents; empty except right after creation.
	Token string
	// TokenHash is SHA-256 of Token.
	TokenHash []byte
	// Host is the XMPP domain the invite is for.
	Host string
	// Kind is what the invite allows.
	Kind Kind
	// Username, when set, is the only account name the invite can register.
	Username string
	// Inviter is the localpart of the inviting account for contact invites.
	Inviter string
	// AllowRegister lets a contact invite also register an account (";ibr=y").
	AllowRegister bool
	// Source says who made it, such as "api/token/ID" or "adhoc/admin@example.com".
	Source string
	// CreatedAt is when the invite was made.
	CreatedAt time.Time
	// ExpiresAt is when it can no longer be redeemed.
	ExpiresAt time.Time
}

// Expired reports whether the invite has expired at now.
func (inv Invite) Expired(now time.Time) bool { return !now.Before(inv.ExpiresAt) }

// CanRegister reports whether the invite can be used to register an account.
func (inv Invite) CanRegister() bool {
	return inv.Kind == KindAccount || inv.Kind == KindContact && inv.AllowRegister
}

// URI returns the invite's xmpp: URI for the token.
//
//	xmpp:DOMAIN?register;preauth=TOKEN
//	xmpp:USER@DOMAIN?register;preauth=TOKEN
//	xmpp:INVITER@DOMAIN?roster;preauth=TOKEN;ibr=y
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

// LandingPage fills a landing page template for the invite.
// The placeholders {token}, {host} and {uri} are percent-encoded for where they stand:
// as a query component after '?', as a path segment before it.
// An empty template gives an empty string: the invite then has no landing page.
func LandingPage(template string, inv Invite, token string) string {
	if template == "" {
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
