package plugin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
)

// ProtocolVersion is the version of the host–plugin contract.
// It changes only when a change would break an older host or plugin; a host and a
// plugin of different versions refuse each other at the handshake, with an error
// naming both versions.
const ProtocolVersion = 3

// Errors of the contract: errors.Is works on them on both sides of the boundary,
// which carries them by name.
var (
	// ErrInviteNotFound means no usable invite has that token on that host: unknown,
	// used up or revoked.
	ErrInviteNotFound = errors.New("invite not found")
	// ErrInviteExpired means the invite is past its expiry.
	ErrInviteExpired = errors.New("invite expired")
	// ErrUsernameNotAllowed means the invite fixes another name, or does not allow
	// this purpose.
	ErrUsernameNotAllowed = errors.New("username not allowed by this invite")
	// ErrInvalidUsername means the name is not a valid XMPP localpart.
	ErrInvalidUsername = errors.New("invalid username")
	// ErrAccountExists means the name is taken (HostAPI.Register).
	ErrAccountExists = errors.New("account already exists")
	// ErrInvalidPassword means the host refuses the password (HostAPI.Register).
	ErrInvalidPassword = errors.New("password not accepted")
	// ErrUnavailable means the plugin (or the host) is down or did not answer in time.
	ErrUnavailable = errors.New("invites service unavailable")
)

// HTTP paths the plugin may serve through the host's HTTP server.
const (
	// PathAPI is the invite API (and PathAPI + "/" below it).
	PathAPI = "/invites_api"
	// PathInvite is the invite landing page (landing_page = "builtin").
	PathInvite = "/invite"
	// PathRegister is web registration (landing_page = "builtin").
	PathRegister = "/register"
	// PathMetrics is the plugin's metrics: the host fetches it for its own /metrics and
	// never routes it from outside.
	PathMetrics = "/metrics"
)

// Config is what the host tells the plugin when it starts it.
type Config struct {
	// Domains are the XMPP domains the host serves; the plugin serves invites for these.
	Domains []string
	// HTTPBaseURL is the public base URL of the host's HTTP server, such as
	// "https://example.com:5281"; the plugin builds page links on it.
	HTTPBaseURL string
	// DataDir is the directory for the plugin's data (its SQLite store by default).
	DataDir string
	// ConfigFile is the path of the plugin's TOML config; empty means none.
	// A relative data_dir in it is resolved against DataDir.
	ConfigFile string
	// ConfigTOML is the plugin's TOML config given inline; empty means none.
	// At most one of ConfigFile and ConfigTOML may be set.
	ConfigTOML string
	// Features are what the host can do beyond HostAPI: package host fills them from
	// the optional interfaces its HostAPI implements. The plugin never asks for a
	// feature the host lacks, and tells people what is unavailable instead.
	// Protocol version: 3
	Features []Feature
}

// Feature is something a host can do beyond HostAPI.
type Feature string

// The features of a host.
const (
	// FeatureAccountStates: the HostAPI is also an AccountAdmin.
	FeatureAccountStates Feature = "account-states"
	// FeatureMessages: the HostAPI is also a Messenger.
	FeatureMessages Feature = "messages"
	// FeatureEvents: the host sends Events (logins, ends of client streams, accounts
	// created, deleted, disabled and enabled by any means) to Invites.Notify.
	FeatureEvents Feature = "events"
)

// Has reports whether the host has feature f.
func (c Config) Has(f Feature) bool {
	for _, g := range c.Features {
		if g == f {
			return true
		}
	}
	return false
}

// Manifest is what Configure returns: what the plugin serves under its config.
type Manifest struct {
	// Routes are the HTTP paths the host should route to ServeHTTP.
	Routes []Route
}

// Serves reports whether the manifest has a route of that path.
func (m Manifest) Serves(path string) bool {
	for _, r := range m.Routes {
		if r.Path == path {
			return true
		}
	}
	return false
}

// Route is one HTTP path the plugin serves.
type Route struct {
	// Path is an http.ServeMux pattern without method or host, such as PathAPI.
	Path string
	// MaxBodyBytes bounds a request body on Path: the host answers 413 to a longer
	// one, from its Content-Length before reading it, or as soon as it has read one
	// byte too many, and streams shorter ones to the plugin as they arrive.
	// Zero accepts no body.
	MaxBodyBytes int64
}

// Purpose says what a redemption is for.
type Purpose string

// The purposes of a redemption.
const (
	// PurposeRegister creates the account Username@Host (XEP-0445); the default.
	PurposeRegister Purpose = "register"
	// PurposeSubscribe lets the existing account Username accept a contact invite
	// (XEP-0379), without registration.
	PurposeSubscribe Purpose = "subscribe"
	// PurposeReset sets a new password for the invite's account (reset invites).
	PurposeReset Purpose = "reset"
)

// Redemption is one use of an invite token.
type Redemption struct {
	// Host is the XMPP domain the token is used on.
	Host string
	// Token is the invite's token.
	Token string
	// Username is the localpart being registered, or of the existing account
	// (subscribe, reset).
	Username string
	// Purpose is what the use is for; "" means PurposeRegister.
	Purpose Purpose
}

// Invite is what the host learns of an invite when it checks or redeems it.
type Invite struct {
	// ID is the invite's public ID (never its token).
	ID string
	// Host is its XMPP domain.
	Host string
	// Kind is "account", "contact" or "reset".
	Kind string
	// Username is the only name it can register (account), or the account it resets
	// (reset); "" when any name will do.
	Username string
	// Inviter is the bare JID of the inviting account (contact invites), else "".
	Inviter string
	// Groups are the groups (roster circles) the host puts the new account in.
	Groups []string
	// CanRegister says whether it can register an account.
	CanRegister bool
	// ExpiresAt is when it expires.
	ExpiresAt time.Time
	// Approval, on a redemption for registration, says that the account must be created
	// pending an administrator's approval (AccountPending): it cannot log in until the
	// plugin makes it active (AccountAdmin). Only set for hosts with
	// FeatureAccountStates.
	// Protocol version: 3
	Approval bool
}

// Registration asks the host for an account made with an invite (HostAPI.Register).
type Registration struct {
	// Host is the XMPP domain of the account.
	Host string
	// Token is the invite's token.
	Token string
	// Username is the localpart of the new account; ignored for a reset invite.
	Username string
	// Password is the account's password; the host keeps only what it needs to check
	// it (such as SCRAM credentials).
	Password string
}

// Invites is the plugin as the host sees it.
// Package host implements it over the process boundary; the plugin's service
// implements it in the plugin process.
// Errors are the Err* values of this package where one fits; a method the plugin
// cannot answer fails with ErrUnavailable.
type Invites interface {
	// Configure hands the plugin its configuration and the host's callbacks; it is the
	// first call, made once per plugin process, and returns what the plugin serves.
	// A failure says why the plugin cannot serve: ErrUnavailable when it may serve
	// later (a store that does not answer yet), else a mistake an operator must
	// correct (a bad config). The host then starts a new process later.
	// Protocol version: 3
	Configure(ctx context.Context, cfg Config, api HostAPI) (Manifest, error)

	// ServeHTTP answers one HTTP request on one of the Manifest's routes, writing the
	// response to w.
	// The body is streamed to the plugin as r.Body yields it; the client's address
	// crosses as r.RemoteAddr.
	// HTTP failures (403, 429, …) are responses, not errors: an error reports an
	// exchange that failed before anything was written to w: the plugin gone or too
	// slow (ErrUnavailable), or r.Body failing (its error is wrapped).
	// Protocol version: 3
	ServeHTTP(ctx context.Context, w http.ResponseWriter, r *http.Request) error

	// Commands lists the ad-hoc commands requester, whom the host holds for role, may
	// run on host.
	// Protocol version: 2
	Commands(ctx context.Context, host, requester string, role adhoc.Role) ([]adhoc.Command, error)

	// Execute runs one step of an ad-hoc command on host, req.Role set by the host;
	// protocol failures are *adhoc.Error.
	// The requester's address crosses when ctx has one (WithClientAddr).
	// Protocol version: 3
	Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error)

	// CheckInvite says whether token is a usable invite on host, before it is used
	// (the XEP-0445 pre-authentication step).
	// The client's address crosses when ctx has one (WithClientAddr).
	// Protocol version: 3
	CheckInvite(ctx context.Context, host, token string) (Invite, error)

	// RedeemInvite uses the invite for r.Purpose: of concurrent redemptions of one
	// invite, only as many succeed as it has uses left.
	// The client's address crosses when ctx has one (WithClientAddr).
	// Protocol version: 3
	RedeemInvite(ctx context.Context, r Redemption) (Invite, error)

	// Health returns nil while the plugin can serve, or an error saying why it cannot.
	// Protocol version: 2
	Health(ctx context.Context) error

	// CheckPassword says whether c.Password is acceptable for a new account (or a
	// reset) of c.Username on c.Host by the plugin's password policy: nil, or a
	// *PasswordError worded in c.Lang, the words of the web registration page.
	// Hosts call it on in-band registration before creating the account.
	// Protocol version: 3
	CheckPassword(ctx context.Context, c PasswordCheck) error

	// Notify tells the plugin what happened on the host that it acts on (Event).
	// Events may come in batches and a failed batch may be sent again: the plugin
	// acts once per Event.ID. A refused batch fails with an error other than
	// ErrUnavailable, and sending it again is no use.
	// Protocol version: 3
	Notify(ctx context.Context, events []Event) error
}

// HostAPI is the host as the plugin sees it: the callbacks the plugin may make.
type HostAPI interface {
	// AccountExists reports whether the bare JID is a registered account.
	// Protocol version: 2
	AccountExists(ctx context.Context, jid string) (bool, error)

	// Register creates the account r.Username@r.Host with r.Password using r.Token,
	// with exactly the guarantees of in-band registration: the host reserves the name,
	// redeems the token through Invites.RedeemInvite, then activates the account;
	// nothing is spent when the account cannot be made, nothing is made when the
	// invite is dead.
	// For a reset invite it sets the password of the invite's account instead.
	// It returns the bare JID, or fails with ErrAccountExists, ErrInvalidPassword,
	// ErrInvalidUsername or a redemption error.
	// Protocol version: 2
	Register(ctx context.Context, r Registration) (jid string, err error)
}

// AccountAdmin is a host that can change the state of its accounts: a HostAPI that
// implements it too has FeatureAccountStates.
type AccountAdmin interface {
	// SetAccountState makes the account jid (bare) active, disabled or pending approval.
	// A disabled or pending account cannot log in (the login fails saying why) and its
	// sessions end at once.
	// Protocol version: 3
	SetAccountState(ctx context.Context, jid string, state AccountState) error

	// DeleteAccount deletes the account jid (bare), ends its sessions and frees its
	// name; deleting an account that does not exist is not an error.
	// Protocol version: 3
	DeleteAccount(ctx context.Context, jid string) error

	// AccountState returns the state of the account jid (bare): AccountNone when it
	// does not exist.
	// Protocol version: 3
	AccountState(ctx context.Context, jid string) (AccountState, error)
}

// AccountState is the state of a host's account.
type AccountState string

// The states of an account.
const (
	// AccountNone: no such account.
	AccountNone AccountState = "none"
	// AccountActive: it can log in.
	AccountActive AccountState = "active"
	// AccountDisabled: disabled by an administrator; it cannot log in.
	AccountDisabled AccountState = "disabled"
	// AccountPending: waiting for an administrator's approval; it cannot log in.
	AccountPending AccountState = "pending"
)

// Messenger is a host that can send a chat message from the server to its accounts:
// a HostAPI that implements it too has FeatureMessages.
type Messenger interface {
	// SendMessage sends m, delivered at once to the account's online clients, or kept
	// for its next login as the host keeps any message.
	// Protocol version: 3
	SendMessage(ctx context.Context, m Message) error
}

// Message is a chat message from a host's domain to an account.
type Message struct {
	// Host is the domain the message comes from.
	Host string
	// To is the bare JID of the account; "" means every administrator of Host.
	To string
	// Subject is an optional subject.
	Subject string
	// Body is the text.
	Body string
	// Lang is the language of Subject and Body (BCP 47), "" when unknown.
	Lang string
}

// EventType is what happened on the host.
type EventType string

// The events a host with FeatureEvents sends to Invites.Notify.
const (
	// EventLogin: the client JID (full) logged in; Lang is its stream's xml:lang.
	EventLogin EventType = "login"
	// EventStreamEnded: the client stream of JID (full) ended: its ad-hoc sessions end.
	EventStreamEnded EventType = "stream-ended"
	// EventAccountCreated: the account JID (bare) was created and activated with an
	// invite: its redemption is confirmed.
	EventAccountCreated EventType = "account-created"
	// EventAccountDeleted: the account JID (bare) was deleted, by any means.
	EventAccountDeleted EventType = "account-deleted"
	// EventAccountDisabled: the account JID (bare) was disabled, by any means.
	EventAccountDisabled EventType = "account-disabled"
	// EventAccountEnabled: the account JID (bare) was enabled again, by any means.
	EventAccountEnabled EventType = "account-enabled"
)

// Event is something that happened on the host that the plugin acts on.
type Event struct {
	// ID is unique per event: an event sent twice (a retry) is acted on once.
	ID string
	// Type is what happened.
	Type EventType
	// Host is the domain.
	Host string
	// JID is the account (bare) or client (full) it happened to.
	JID string
	// Lang is the client's language (EventLogin), "" when unknown.
	Lang string
	// At is when it happened.
	At time.Time
}

// PasswordCheck asks whether a password is acceptable (Invites.CheckPassword).
type PasswordCheck struct {
	// Host is the domain of the account.
	Host string
	// Username is the account's localpart.
	Username string
	// Password is the password to check; it is never kept or logged.
	Password string
	// Lang is the language the refusal should be worded in (BCP 47), "" for the
	// plugin's default.
	Lang string
}

// PasswordError is a password the plugin's policy refuses; it matches
// ErrInvalidPassword, and crosses the boundary whole (errors.As works on both sides).
type PasswordError struct {
	// Rules are the rules the password breaks: "too_short", "too_long", "blank",
	// "distinct" (too few different characters), "username", "common".
	Rules []string
	// Reason is why, in the language asked for: the words of the web registration page.
	Reason string
}

// Error implements error.
func (e *PasswordError) Error() string { return e.Reason }

// Is makes the error match ErrInvalidPassword.
func (e *PasswordError) Is(target error) bool { return target == ErrInvalidPassword }

// clientAddrKey is the context key of WithClientAddr.
type clientAddrKey struct{}

// WithClientAddr returns ctx carrying addr, the address of the client a call is made
// for (as net.Conn.RemoteAddr().String() gives it, "IP:port"): a host passes it with
// CheckInvite, RedeemInvite and Execute so that the plugin's audit records can name
// it, and the plugin reads it with ClientAddr. It is never shown to other users.
func WithClientAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

// ClientAddr returns the client's address ctx carries (WithClientAddr), or "".
func ClientAddr(ctx context.Context) string {
	s, _ := ctx.Value(clientAddrKey{}).(string)
	return s
}
