package plugin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
)

// ProtocolVersion is the version of the host–plugin contract.
// It changes only when a change would break an older host or plugin.
const ProtocolVersion = 1

// Errors a host sees from redemption calls.
// They cross the boundary as an enum in the response (InviteError in invites.proto) and
// come back as these values, so errors.Is works on either side.
var (
	// ErrInviteNotFound means no invite has that token (or it was used already).
	ErrInviteNotFound = errors.New("plugin: invite not found")
	// ErrInviteExpired means the invite is past its expiry.
	ErrInviteExpired = errors.New("plugin: invite expired")
	// ErrUsernameNotAllowed means the invite fixes another name, or cannot register
	// accounts at all.
	ErrUsernameNotAllowed = errors.New("plugin: username not allowed by this invite")
	// ErrInvalidUsername means the name is not a valid XMPP localpart.
	ErrInvalidUsername = errors.New("plugin: invalid username")
	// ErrUnavailable means the plugin is not running (crashed, restarting or stopped),
	// or did not answer in time.
	ErrUnavailable = errors.New("plugin: unavailable")
)

// Errors of the host's ServeHTTP about the request body; nothing has been written to
// the response when they are returned.
var (
	// ErrBodyTooLarge means the request body exceeds InvitesPlugin.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("plugin: request body too large")
	// ErrRequestBody means reading the request body failed (the client went away, or
	// a limit of the host's own server cut it); it wraps the reader's error.
	ErrRequestBody = errors.New("plugin: reading the request body failed")
)

// Config is what the host tells the plugin when it starts it.
type Config struct {
	// Domains are the XMPP domains the host serves; the plugin serves invites for these.
	Domains []string
	// HTTPBaseURL is the public base URL of the host's HTTP server, such as
	// "https://example.com:5281"; the plugin uses it for default landing pages.
	HTTPBaseURL string
	// DataDir is the directory for the plugin's data (its SQLite store by default).
	DataDir string
	// ConfigFile is the path of the plugin's TOML config; empty means none.
	// A relative data_dir in it is resolved against DataDir.
	ConfigFile string
	// ConfigTOML is the plugin's TOML config given inline; empty means none.
	// At most one of ConfigFile and ConfigTOML may be set.
	ConfigTOML string
}

// Invite is what the host learns of an invite during redemption.
type Invite struct {
	// ID is the invite's public ID.
	ID string
	// Host is its XMPP domain.
	Host string
	// Kind is "account" or "contact".
	Kind string
	// Username, when set, is the only name it can register.
	Username string
	// Inviter is the inviting account's localpart (contact invites).
	Inviter string
	// CanRegister says whether it can register an account.
	CanRegister bool
	// ExpiresAt is when it expires.
	ExpiresAt time.Time
}

// Invites is the plugin as the host sees it.
// The gRPC client implements it in the host process; the plugin's service implements it
// in the plugin process.
type Invites interface {
	// Configure applies the host's configuration; it is the first call after start.
	// api is the host's side of the boundary: over gRPC the host serves it once per
	// plugin start through go-plugin's GRPCBroker and the plugin dials it back.
	// Configure may be called again with new values; the plugin then uses the new api.
	// Protocol version: 1
	Configure(ctx context.Context, cfg Config, api HostAPI) error

	// ServeHTTP answers one HTTP request of the invite API, writing the response to w.
	// HTTP failures (403, 429, …) are responses, not errors: the error reports a failed
	// exchange (plugin gone, ctx ended), after which w may hold nothing or a partial
	// response.
	// Protocol version: 1
	ServeHTTP(ctx context.Context, w http.ResponseWriter, r *http.Request) error

	// Commands lists the ad-hoc commands requester may run on host.
	// Protocol version: 1
	Commands(ctx context.Context, host, requester string) ([]adhoc.Command, error)

	// Execute runs one step of an ad-hoc command; protocol failures are *adhoc.Error.
	// Protocol version: 1
	Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error)

	// CheckInvite says whether a token can be used to register on host, before
	// registration (the XEP-0445 pre-auth step).
	// Protocol version: 1
	CheckInvite(ctx context.Context, host, token string) (Invite, error)

	// RedeemInvite consumes the token to register username on host: of concurrent
	// calls for one token exactly one succeeds.
	// Protocol version: 1
	RedeemInvite(ctx context.Context, host, token, username string) (Invite, error)

	// Health returns nil while the plugin can serve, or an error saying why it cannot.
	// Protocol version: 1
	Health(ctx context.Context) error
}

// HostAPI is the host as the plugin sees it: callbacks over go-plugin's GRPCBroker.
type HostAPI interface {
	// IsAdmin reports whether the bare JID is an administrator of host.
	// Protocol version: 1
	IsAdmin(ctx context.Context, host, jid string) (bool, error)

	// AccountExists reports whether the bare JID is a registered account.
	// Protocol version: 1
	AccountExists(ctx context.Context, jid string) (bool, error)

	// Domains lists the XMPP domains the host serves now.
	// Protocol version: 1
	Domains(ctx context.Context) ([]string, error)

	// Log writes a record to the host's log.
	// Attribute groups arrive flattened into dotted keys; values of other kinds than
	// string, numbers, bool, duration and time arrive as their string form.
	// Protocol version: 1
	Log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) error
}
