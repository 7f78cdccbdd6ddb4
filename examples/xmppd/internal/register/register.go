package register

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
	"github.com/xmpp-invites/invites/plugin"
)

// Mode says who may register.
type Mode string

// The registration modes.
const (
	// InviteOnly lets only holders of a valid invitation register. The default.
	InviteOnly Mode = "invite-only"
	// Open lets anyone register.
	Open Mode = "open"
	// Closed offers no in-band registration.
	Closed Mode = "closed"
)

// ParseMode parses a mode; the empty string is InviteOnly.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", InviteOnly:
		return InviteOnly, nil
	case Open, Closed:
		return Mode(s), nil
	}
	return "", fmt.Errorf("register: unknown mode %q (want invite-only, open or closed)", s)
}

// Invites is what registration needs of the invites plugin.
// Errors are the plugin.Err* sentinels.
type Invites interface {
	// CheckInvite says whether token can register on host.
	CheckInvite(ctx context.Context, host, token string) (plugin.Invite, error)
	// RedeemInvite uses the token of r up to register r.Username on r.Host.
	RedeemInvite(ctx context.Context, r plugin.Redemption) (plugin.Invite, error)
}

// Accounts is what registration needs of the account store (see package accounts).
type Accounts interface {
	// Exists reports whether addr is an active account.
	Exists(ctx context.Context, addr string) (bool, error)
	// Reserve claims addr as a pending account; an error wrapping
	// accounts.ErrExists means the name is taken.
	Reserve(ctx context.Context, addr, password string) error
	// Activate turns the pending account into a real one.
	Activate(ctx context.Context, addr string) error
	// Release drops the pending account.
	Release(ctx context.Context, addr string) error
	// DerivePassword derives what the store keeps of password (the slow part of a
	// password change), before the reset invite is redeemed.
	DerivePassword(password string) (accounts.Password, error)
	// SetPassword replaces the password of the active account addr; an error wrapping
	// accounts.ErrNotFound means there is no such account.
	SetPassword(ctx context.Context, addr string, p accounts.Password) error
}

// kindReset is the kind of a plugin.Invite that resets the password of its account.
const kindReset = "reset"

// DefaultMaxTokenFailures is Config.MaxTokenFailures when zero.
const DefaultMaxTokenFailures = 5

// Config configures a Service.
type Config struct {
	// Domain is the XMPP domain accounts are created on. Required.
	Domain string
	// Mode is who may register; empty means InviteOnly.
	Mode Mode
	// Invites checks and redeems tokens; required unless Mode is Closed.
	Invites Invites
	// Accounts creates accounts; required unless Mode is Closed.
	Accounts Accounts
	// MaxTokenFailures is how many bad tokens a stream may try before
	// Flow.Exhausted reports true. Zero means DefaultMaxTokenFailures.
	MaxTokenFailures int
	// Reserved reports whether a bare JID may only be created by the operator
	// (xmppd adduser), such as a configured administrator's: registration refuses
	// it as taken. Nil reserves nothing.
	Reserved func(bare string) bool
	// Welcome, if not nil, is called once an account is registered with an invite,
	// with what the redeemed invite says (an inviter to subscribe to each other,
	// groups); its error is logged, the account stays.
	Welcome func(ctx context.Context, account string, inv plugin.Invite) error
	// Logger receives registrations and failures; nil discards.
	Logger *slog.Logger
}

// Service creates Flows.
type Service struct {
	cfg Config
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	domain, err := jid.Parse(cfg.Domain)
	if err != nil || domain.Localpart() != "" || domain.Resourcepart() != "" {
		return nil, fmt.Errorf("register: invalid domain %q", cfg.Domain)
	}
	cfg.Domain = domain.String()
	m, err := ParseMode(string(cfg.Mode))
	if err != nil {
		return nil, err
	}
	cfg.Mode = m
	if m != Closed && (cfg.Invites == nil || cfg.Accounts == nil) {
		return nil, errors.New("register: Invites and Accounts are required")
	}
	if cfg.MaxTokenFailures <= 0 {
		cfg.MaxTokenFailures = DefaultMaxTokenFailures
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{cfg: cfg}, nil
}

// Mode returns the registration mode.
func (s *Service) Mode() Mode { return s.cfg.Mode }

// Start begins the registration state of one stream.
func (s *Service) Start() *Flow { return &Flow{svc: s} }

// Flow is the registration state of one stream before authentication.
// It is not safe for concurrent use (a stream handles one element at a time).
type Flow struct {
	svc        *Service
	token      string
	invite     plugin.Invite
	failures   int
	registered string
}

// Texts of the errors clients show.
const (
	textInviteOnly   = "registration is by invitation only"
	textBadToken     = "the invitation is invalid, expired or already used"
	textNoRegister   = "this invitation cannot be used to create an account"
	textUnavailable  = "invitations cannot be checked right now, try again later"
	textRequired     = "a username and a password are required"
	textBadUsername  = "the username is not valid"
	textBadPassword  = "the password is not allowed"
	textTaken        = "the username is already taken"
	textAlreadyDone  = "an account was already registered on this stream"
	textClosed       = "in-band registration is disabled on this server"
	textInternal     = "the account could not be created"
	textOtherName    = "this invitation is for the username %s"
	textReserved     = "the username is reserved"
	textRemovePreAut = "log in to cancel a registration"
	textNoAccount    = "the account of this invitation does not exist"
	textNotReset     = "the password could not be changed"
)

// stanzaErr builds a stanza error with an English text.
func stanzaErr(typ stanza.ErrorType, cond stanza.Condition, text string) stanza.Error {
	return stanza.Error{Type: typ, Condition: cond, Text: map[string]string{"": text}}
}

// Exhausted reports whether the stream tried too many bad tokens and should be
// closed.
func (f *Flow) Exhausted() bool { return f.failures >= f.svc.cfg.MaxTokenFailures }

// Validated reports whether a token was accepted on this stream and not used yet.
func (f *Flow) Validated() bool { return f.token != "" }

// Registered returns the bare JID registered on this stream, if any.
func (f *Flow) Registered() string { return f.registered }

// refused logs a refusal at info with its reason (never a token or password) and
// returns err.
func (f *Flow) refused(ctx context.Context, what string, err error, attrs ...any) error {
	var se stanza.Error
	if errors.As(err, &se) {
		attrs = append(attrs, "condition", string(se.Condition), "reason", se.Text[""])
	} else {
		attrs = append(attrs, "err", err)
	}
	f.svc.cfg.Logger.InfoContext(ctx, what, attrs...)
	return err
}

// PreAuth checks token (the XEP-0445 pre-auth IQ) and remembers it for Register.
// A nil error means the IQ is answered with a result.
func (f *Flow) PreAuth(ctx context.Context, token string) error {
	if err := f.preAuth(ctx, token); err != nil {
		return f.refused(ctx, "invitation refused", err)
	}
	return nil
}

func (f *Flow) preAuth(ctx context.Context, token string) error {
	cfg := f.svc.cfg
	if cfg.Mode == Closed {
		return stanzaErr(stanza.Cancel, stanza.ServiceUnavailable, textClosed)
	}
	if token == "" {
		f.failures++
		return stanzaErr(stanza.Modify, stanza.BadRequest, "no token given")
	}
	inv, err := cfg.Invites.CheckInvite(ctx, cfg.Domain, token)
	switch {
	case errors.Is(err, plugin.ErrUnavailable):
		return stanzaErr(stanza.Wait, stanza.ServiceUnavailable, textUnavailable)
	case errors.Is(err, plugin.ErrInviteNotFound), errors.Is(err, plugin.ErrInviteExpired):
		f.failures++
		return stanzaErr(stanza.Cancel, stanza.ItemNotFound, textBadToken)
	case err != nil:
		cfg.Logger.WarnContext(ctx, "checking invitation", "err", err)
		return stanzaErr(stanza.Wait, stanza.InternalServerError, textUnavailable)
	case !(inv.CanRegister || inv.Kind == kindReset && inv.Username != "") || (inv.Host != "" && inv.Host != cfg.Domain):
		f.failures++
		return stanzaErr(stanza.Cancel, stanza.ItemNotFound, textNoRegister)
	}
	f.token, f.invite = token, inv
	cfg.Logger.InfoContext(ctx, "invitation accepted for registration", "invite", inv.ID, "kind", inv.Kind)
	return nil
}

// Query returns the answer to a registration get: the legacy fields and the
// data form, with the username filled in when the invitation fixes it.
func (f *Flow) Query() (Query, error) {
	cfg := f.svc.cfg
	if cfg.Mode == Closed {
		return Query{}, stanzaErr(stanza.Cancel, stanza.ServiceUnavailable, textClosed)
	}
	instr := "Choose a username and a password for your new account on " + cfg.Domain + "."
	if cfg.Mode == InviteOnly && f.token == "" {
		instr = "Registration on " + cfg.Domain + " is by invitation only: open your invitation link first."
	}
	var username string
	if f.token != "" {
		username = f.invite.Username
		if f.invite.Kind == kindReset {
			instr = "Choose a new password for " + username + "@" + cfg.Domain + "."
		}
	}
	return newQuery(instr, username), nil
}

// Register creates the account username with password, using up the validated
// token if there is one.
// It returns the new bare JID.
func (f *Flow) Register(ctx context.Context, username, password string) (string, error) {
	bare, err := f.register(ctx, username, password)
	if err != nil {
		attrs := []any{"username", truncate(username, 64)}
		if f.invite.ID != "" {
			attrs = append(attrs, "invite", f.invite.ID)
		}
		return "", f.refused(ctx, "registration refused", err, attrs...)
	}
	return bare, nil
}

// truncate cuts s to n bytes for a log line.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func (f *Flow) register(ctx context.Context, username, password string) (string, error) {
	cfg := f.svc.cfg
	switch {
	case cfg.Mode == Closed:
		return "", stanzaErr(stanza.Cancel, stanza.ServiceUnavailable, textClosed)
	case f.registered != "":
		return "", stanzaErr(stanza.Cancel, stanza.NotAllowed, textAlreadyDone)
	case cfg.Mode == InviteOnly && f.token == "":
		return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, textInviteOnly)
	case f.token != "" && f.invite.Kind == kindReset:
		return f.reset(ctx, username, password)
	case username == "" || password == "":
		return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, textRequired)
	}
	addr, err := jid.New(username, cfg.Domain, "")
	if err != nil || addr.Localpart() == "" {
		return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, textBadUsername)
	}
	local := addr.Localpart()
	if _, err := scram.PreparePassword(password); err != nil {
		return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, textBadPassword)
	}
	if f.token != "" && f.invite.Username != "" {
		want, err := jid.New(f.invite.Username, cfg.Domain, "")
		if err != nil || want.Localpart() != local {
			return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, fmt.Sprintf(textOtherName, f.invite.Username))
		}
	}
	bare := addr.Bare().String()
	if cfg.Reserved != nil && cfg.Reserved(bare) {
		// An administrator's name: only the operator creates it (xmppd adduser).
		return "", stanzaErr(stanza.Cancel, stanza.Conflict, textReserved)
	}

	if err := cfg.Accounts.Reserve(ctx, bare, password); err != nil {
		if errors.Is(err, accounts.ErrExists) {
			return "", stanzaErr(stanza.Cancel, stanza.Conflict, textTaken)
		}
		cfg.Logger.ErrorContext(ctx, "reserving account", "jid", bare, "err", err)
		return "", stanzaErr(stanza.Wait, stanza.InternalServerError, textInternal)
	}
	// From here on the name is held; give it back on any failure, even if ctx ends.
	release := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := cfg.Accounts.Release(rctx, bare); err != nil {
			cfg.Logger.ErrorContext(ctx, "releasing reserved account", "jid", bare, "err", err)
		}
	}
	var inviteID string
	var redeemed plugin.Invite
	if f.token != "" {
		inv, err := cfg.Invites.RedeemInvite(ctx, plugin.Redemption{Host: cfg.Domain, Token: f.token, Username: local})
		if err != nil {
			release()
			return "", f.redeemError(ctx, err)
		}
		inviteID, redeemed = inv.ID, inv
	}
	if err := f.activate(ctx, bare); err != nil {
		if inviteID == "" {
			release()
		}
		// With a redeemed invite the pending account stays; it is the only trace of
		// the used invitation and is cleaned up after accounts.PendingTTL.
		cfg.Logger.ErrorContext(ctx, "activating account", "jid", bare, "invite", inviteID, "err", err)
		return "", stanzaErr(stanza.Wait, stanza.InternalServerError, textInternal)
	}
	f.token, f.invite = "", plugin.Invite{}
	f.registered = bare
	cfg.Logger.InfoContext(ctx, "account registered", "jid", bare, "invite", inviteID)
	if inviteID != "" && cfg.Welcome != nil {
		// The account exists and the invite is spent whatever happens here.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if err := cfg.Welcome(wctx, bare, redeemed); err != nil {
			cfg.Logger.ErrorContext(ctx, "applying the invite to the new account", "jid", bare, "invite", inviteID, "err", err)
		}
	}
	return bare, nil
}

// reset sets a new password for the account of the validated reset invite: the
// password is derived and the account looked up first, then the invite redeemed
// (plugin.PurposeReset), then the password replaced. Nothing changes when the
// invite is dead or the account does not exist; the invite is used only for a
// change that is then made (a store failure after redemption is logged and leaves
// the old password, as a failed activation leaves no account).
// username, when given, must be the invite's.
func (f *Flow) reset(ctx context.Context, username, password string) (string, error) {
	cfg := f.svc.cfg
	addr, err := jid.New(f.invite.Username, cfg.Domain, "")
	if err != nil || addr.Localpart() == "" {
		return "", stanzaErr(stanza.Cancel, stanza.ItemNotFound, textNoRegister)
	}
	local, bare := addr.Localpart(), addr.Bare().String()
	if username != "" {
		if got, err := jid.New(username, cfg.Domain, ""); err != nil || got.Localpart() != local {
			return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, fmt.Sprintf(textOtherName, f.invite.Username))
		}
	}
	if password == "" {
		return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, textRequired)
	}
	if _, err := scram.PreparePassword(password); err != nil {
		return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, textBadPassword)
	}
	pw, err := cfg.Accounts.DerivePassword(password)
	if err != nil {
		cfg.Logger.ErrorContext(ctx, "deriving a password", "jid", bare, "err", err)
		return "", stanzaErr(stanza.Wait, stanza.InternalServerError, textNotReset)
	}
	switch ok, err := cfg.Accounts.Exists(ctx, bare); {
	case err != nil:
		cfg.Logger.ErrorContext(ctx, "looking up the account to reset", "jid", bare, "err", err)
		return "", stanzaErr(stanza.Wait, stanza.InternalServerError, textNotReset)
	case !ok:
		return "", stanzaErr(stanza.Cancel, stanza.ItemNotFound, textNoAccount)
	}
	inv, err := cfg.Invites.RedeemInvite(ctx, plugin.Redemption{Host: cfg.Domain, Token: f.token, Username: local, Purpose: plugin.PurposeReset})
	if err != nil {
		return "", f.redeemError(ctx, err)
	}
	if err := f.setPassword(ctx, bare, pw); err != nil {
		cfg.Logger.ErrorContext(ctx, "resetting a password: the invitation is used, the password unchanged", "jid", bare, "invite", inv.ID, "err", err)
		return "", stanzaErr(stanza.Wait, stanza.InternalServerError, textNotReset)
	}
	f.token, f.invite = "", plugin.Invite{}
	f.registered = bare
	cfg.Logger.InfoContext(ctx, "password reset", "jid", bare, "invite", inv.ID)
	return bare, nil
}

// setPassword replaces the password of bare once the invite is redeemed, retrying
// briefly, even if ctx ends: the use is recorded, so the change must follow.
func (f *Flow) setPassword(ctx context.Context, bare string, pw accounts.Password) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	var err error
	for attempt := range 3 {
		if err = f.svc.cfg.Accounts.SetPassword(sctx, bare, pw); err == nil || errors.Is(err, accounts.ErrNotFound) {
			return err
		}
		select {
		case <-sctx.Done():
			return fmt.Errorf("setting the password of %s: %w", bare, errors.Join(err, sctx.Err()))
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		}
	}
	return fmt.Errorf("setting the password of %s: %w", bare, err)
}

// Register creates the account username@domain with password using token, with
// the guarantees of in-band registration, outside any stream: what web
// registration does. For a reset invite it sets the password of the invite's
// account instead (username may then be empty). It returns the bare JID; errors
// are stanza errors, as for Flow.Register.
func (s *Service) Register(ctx context.Context, token, username, password string) (string, error) {
	f := s.Start()
	if err := f.PreAuth(ctx, token); err != nil {
		return "", err
	}
	return f.Register(ctx, username, password)
}

// activate activates bare, retrying briefly: the invite may already be used up.
func (f *Flow) activate(ctx context.Context, bare string) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	var err error
	for attempt := range 3 {
		if err = f.svc.cfg.Accounts.Activate(actx, bare); err == nil {
			return nil
		}
		select {
		case <-actx.Done():
			return fmt.Errorf("activating %s: %w", bare, errors.Join(err, actx.Err()))
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		}
	}
	return fmt.Errorf("activating %s: %w", bare, err)
}

// redeemError maps a RedeemInvite failure to a stanza error.
func (f *Flow) redeemError(ctx context.Context, err error) stanza.Error {
	switch {
	case errors.Is(err, plugin.ErrInviteNotFound), errors.Is(err, plugin.ErrInviteExpired):
		f.token, f.invite = "", plugin.Invite{}
		return stanzaErr(stanza.Cancel, stanza.ItemNotFound, textBadToken)
	case errors.Is(err, plugin.ErrUsernameNotAllowed):
		if f.invite.Username != "" {
			return stanzaErr(stanza.Modify, stanza.NotAcceptable, fmt.Sprintf(textOtherName, f.invite.Username))
		}
		return stanzaErr(stanza.Cancel, stanza.NotAllowed, textNoRegister)
	case errors.Is(err, plugin.ErrInvalidUsername):
		return stanzaErr(stanza.Modify, stanza.NotAcceptable, textBadUsername)
	case errors.Is(err, plugin.ErrUnavailable):
		return stanzaErr(stanza.Wait, stanza.ServiceUnavailable, textUnavailable)
	}
	f.svc.cfg.Logger.ErrorContext(ctx, "redeeming invitation", "err", err)
	return stanzaErr(stanza.Wait, stanza.InternalServerError, textInternal)
}

// Remove answers a pre-authentication request to cancel a registration.
func (f *Flow) Remove() error {
	return stanzaErr(stanza.Auth, stanza.NotAuthorized, textRemovePreAut)
}
