package page

import (
	"html/template"

	"github.com/xmpp-invites/invites/internal/core"
)

// Data is what every template gets; doc.go says which fields each page sets.
type Data struct {
	// Site is the operator's name and logo.
	Site Site
	// T gives the texts in the page's language: {{.T.Get "key" args…}}.
	T Translator
	// Lang is the page's language, for <html lang>.
	Lang string
	// Languages link to this page in each offered language (none on POST answers).
	Languages []LanguageLink
	// Nonce is the Content-Security-Policy nonce: <style nonce="{{.Nonce}}">.
	// Inline scripts are never allowed.
	Nonce string
	// CSS is style.css, for <style nonce="{{.Nonce}}">{{.CSS}}</style>.
	CSS template.CSS
	// Icon is the pages' icon, for <link rel="icon" href="{{.Icon}}">: the
	// operator's logo, else a built-in one (a data: URL).
	Icon template.URL
	// Status is the HTTP status of the answer.
	Status int

	// Invite is the invite, on the invite, register and success pages.
	Invite *InviteView
	// Platform is the platform the client list is for; "" means every platform.
	Platform Platform
	// Platforms link to the client list of each platform, and of all.
	Platforms []PlatformLink
	// Clients are the clients for Platform, those taking invite links first.
	Clients []ClientView
	// Primary is the page's main action, shown at the top (within a phone's first
	// screen): PrimaryOpen, PrimaryRegister (the visitor's platform has clients but
	// none that takes invite links), PrimaryReset, or "" for none.
	Primary string
	// QR is the QR code of PageURL.
	QR QR
	// PageURL is the invite page's own absolute URL.
	PageURL string
	// RegisterURL is the link to web registration (relative), "" when the invite
	// cannot register.
	RegisterURL string
	// InviteURL is the link back to the invite page (relative).
	InviteURL string

	// Form is the registration form, on the register page.
	Form *FormView

	// JID is the registered account, on the success page.
	JID string
	// Pending says that the account waits for an administrator's approval, on the
	// success page.
	Pending bool
	// LoginNote is the operator's sign-in note, on the success page.
	LoginNote string

	// Error is what went wrong, on the error page.
	Error *ErrorView

	// Decline is the "this is not for me" page.
	Decline *DeclineView
}

// DeclineView is the page that revokes an invite for the person it was mailed to.
type DeclineView struct {
	// Action is where the form POSTs (relative): invite?TOKEN&decline.
	Action string
	// CSRF is the form token.
	CSRF string
	// Done says that the invite was revoked: the page says so.
	Done bool
}

// The main actions of the invite page (Data.Primary).
const (
	// PrimaryOpen is the "open in app" button (the xmpp: URI).
	PrimaryOpen = "open"
	// PrimaryRegister is the link to web registration.
	PrimaryRegister = "register"
	// PrimaryReset is the link to the new-password form of a reset invite.
	PrimaryReset = "reset"
)

// Site is the operator's identity on the pages.
type Site struct {
	// Name is the site name, or the invite's host when none is configured.
	Name string
	// LogoURL is the logo, "" for none.
	LogoURL string
}

// InviteView is an invite as the pages show it.
type InviteView struct {
	// Host is the XMPP domain.
	Host string
	// Kind is account, contact or reset.
	Kind core.Kind
	// Inviter is the inviting JID (contact invites).
	Inviter string
	// Username is the fixed name (account) or reset account's localpart, "" if none.
	Username string
	// Account is Username@Host, "" when Username is empty.
	Account string
	// URI is the xmpp: URI, "" when the invite has none fit to show.
	URI template.URL
	// Registrable says whether the invite leads to web registration.
	Registrable bool
	// Expires is the expiry in the page's language, such as "5 March 2026, 14:00 UTC";
	// "" when the invite does not say.
	Expires string
	// ExpiresIn is how far the expiry is, such as "in 7 days".
	ExpiresIn string
	// ExpiresISO is the expiry in RFC 3339, for <time datetime>.
	ExpiresISO string
	// Approval says that the accounts it makes wait for an administrator's approval.
	Approval bool
}

// PlatformLink links to the client list of one platform.
type PlatformLink struct {
	// Platform is the platform, "" for all.
	Platform Platform
	// Name is its name in the page's language.
	Name string
	// URL is the link (relative).
	URL string
	// Current says whether the list shows this platform now.
	Current bool
}

// ClientView is one client of the list.
type ClientView struct {
	// Name is the client's name.
	Name string
	// Website is its home page, "" if none.
	Website string
	// TakesInvites says whether it opens invite links.
	TakesInvites bool
	// Platforms are the names of its platforms in the page's language.
	Platforms []string
	// Links are where to get it for the shown platform, with the invite URI filled in.
	Links []ClientLink
}

// FormView is the registration form.
type FormView struct {
	// Token is the invite token, for the hidden field t.
	Token string
	// CSRF is the form token, for the hidden field csrf.
	CSRF string
	// Username is the name typed before (shown again after an error), or the fixed one.
	Username string
	// FixedUsername says whether the invite fixes the name (no username field).
	FixedUsername bool
	// Reset says whether the form sets a new password for an existing account.
	Reset bool
	// MinPassword is the shortest password, in characters.
	MinPassword int
	// Errors are the reasons the form was refused, in the page's language.
	Errors []string
	// ErrorField names the field at fault: "username", "password", "note" or "".
	ErrorField string
	// Approval says that the account will wait for an administrator's approval: the
	// form has the field note.
	Approval bool
	// Note is the note typed before (shown again after an error).
	Note string
	// MaxNote is the longest note, in characters.
	MaxNote int
}

// LanguageLink links to the page in one language.
type LanguageLink struct {
	// Lang is the BCP 47 tag.
	Lang string
	// Name is the language's own name, such as "Deutsch".
	Name string
	// URL is the link (relative).
	URL string
	// Current says whether the page is in this language.
	Current bool
}

// ErrorView is the short text of an error page.
type ErrorView struct {
	// Heading is the title.
	Heading string
	// Body says what happened and what to do.
	Body string
}
