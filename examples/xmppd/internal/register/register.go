package register

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
	"github.com/xmpp-invites/invites/internal/clientaddr"
	"github.com/xmpp-invites/invites/internal/gcra"
	"github.com/xmpp-invites/invites/internal/logthrottle"
	"github.com/xmpp-invites/invites/internal/username"
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
	// CheckPassword applies the password policy to a new password: nil, a
	// *plugin.PasswordError saying why in the language asked for, or
	// plugin.ErrUnavailable.
	CheckPassword(ctx context.Context, c plugin.PasswordCheck) error
}

// Accounts is what registration needs of the account store (see package accounts).
type Accounts interface {
	// Exists reports whether addr is an active account.
	Exists(ctx context.Context, addr string) (bool, error)
	// Reserve claims addr as a pending account; an error wrapping
	// accounts.ErrExists means the name is taken.
	Reserve(ctx context.Context, addr, password string) error
	// Activate turns the pending account into a real one, active or waiting for an
	// administrator's approval (accounts.StatePending).
	Activate(ctx context.Context, addr string, st accounts.State) error
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

// Defaults of Config.
const (
	// DefaultMaxTokenFailures is Config.MaxTokenFailures when zero.
	DefaultMaxTokenFailures = 5
	// DefaultMaxTokenFailuresPerAddr is Config.MaxTokenFailuresPerAddr when zero.
	DefaultMaxTokenFailuresPerAddr = 10
	// DefaultTokenFailureWindow is Config.TokenFailureWindow when zero.
	DefaultTokenFailureWindow = 10 * time.Minute
)

// maxBudgetEntries bounds the client addresses whose failed invitations are counted.
const maxBudgetEntries = 10000

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
	// MaxTokenFailuresPerAddr is how many bad tokens a client address (an IPv4
	// address, an IPv6 /64) may try, over all its streams, before its checks are
	// refused unchecked (wait, resource-constraint); one is forgiven every
	// TokenFailureWindow/MaxTokenFailuresPerAddr. A bad token is counted once
	// checked, so that good ones, however many at once, cost nothing: checks in
	// flight together (one per stream, and the address's unauthenticated streams
	// are bounded) may pass the budget by as many. Zero means
	// DefaultMaxTokenFailuresPerAddr.
	MaxTokenFailuresPerAddr int
	// TokenFailureWindow is the period of MaxTokenFailuresPerAddr; zero means
	// DefaultTokenFailureWindow.
	TokenFailureWindow time.Duration
	// Created, if not nil, is called once an account registered with an invite is
	// activated (active, or pending approval), before Welcome: the server tells the
	// plugin, which confirms the redemption it held.
	Created func(ctx context.Context, account string, inv plugin.Invite)
	// Welcome, if not nil, is called once an account is registered with an invite,
	// with what the redeemed invite says (an inviter to subscribe to each other,
	// groups); its error is logged, the account stays.
	Welcome func(ctx context.Context, account string, inv plugin.Invite) error
	// Logger receives registrations and failures; nil discards. Refusals on a stream,
	// which a client can cause at will, are held back (package logthrottle) to one
	// line a minute for each client address and reason, with the count of the others.
	Logger *slog.Logger
}

// Service creates Flows.
type Service struct {
	cfg      Config
	budget   *gcra.Limiter[netip.Prefix] // failed invitations per client address
	refusals *slog.Logger                // cfg.Logger, throttled from info
	now      func() time.Time
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
	if cfg.MaxTokenFailuresPerAddr <= 0 {
		cfg.MaxTokenFailuresPerAddr = DefaultMaxTokenFailuresPerAddr
	}
	if cfg.TokenFailureWindow <= 0 {
		cfg.TokenFailureWindow = DefaultTokenFailureWindow
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		cfg:      cfg,
		budget:   gcra.New[netip.Prefix](cfg.MaxTokenFailuresPerAddr, cfg.TokenFailureWindow, maxBudgetEntries),
		refusals: slog.New(logthrottle.New(cfg.Logger.Handler(), logthrottle.Options{Level: slog.LevelInfo})),
		now:      time.Now,
	}, nil
}

// Mode returns the registration mode.
func (s *Service) Mode() Mode { return s.cfg.Mode }

// Start begins the registration state of one stream from the client address
// client; the zero netip.Addr is no address (web registration, which the page
// budgets and logs itself): its invitations are not budgeted, nor its refusals
// held back.
func (s *Service) Start(client netip.Addr) *Flow {
	f := &Flow{svc: s, client: client, log: s.cfg.Logger}
	if client.IsValid() {
		f.key = clientaddr.Key(client)
		f.log = s.refusals.With("client", clientaddr.String(f.key))
	}
	return f
}

// Flow is the registration state of one stream before authentication.
// It is not safe for concurrent use (a stream handles one element at a time).
type Flow struct {
	svc        *Service
	client     netip.Addr   // the client's address; zero for none
	remote     string       // and with its port, for the plugin's audit records
	lang       string       // the stream's xml:lang
	key        netip.Prefix // its budget (clientaddr.Key)
	log        *slog.Logger // refusals: with a client, throttled and with its address
	token      string
	invite     plugin.Invite
	failures   int
	registered string
	awaits     bool // the registered account waits for an administrator's approval
}

// Texts of the errors clients show.
const (
	textInviteOnly   = "registration is by invitation only: give your invitation link in the Invitation field"
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
	textTooMany      = "too many invalid invitations from your address: try again in %s"
	textNoInvitation = "the invitation field takes the invitation's link (https://…/invite?…), its xmpp: address or its code"
	textLooksLike    = "the username looks too much like %s, which is taken: choose another"
	textLooksLikeRes = "the username looks too much like %s, which is reserved: choose another"
	textNoPolicy     = "passwords cannot be checked right now, try again later"
)

// stanzaErr builds a stanza error with an English text.
func stanzaErr(typ stanza.ErrorType, cond stanza.Condition, text string) stanza.Error {
	return stanza.Error{Type: typ, Condition: cond, Text: map[string]string{"": text}}
}

// SetRemote gives the client's address as net.Conn.RemoteAddr().String() says it
// ("IP:port"): it crosses to the plugin with each call (plugin.WithClientAddr), for
// its audit records.
func (f *Flow) SetRemote(remote string) { f.remote = remote }

// SetLang gives the language of the stream (its xml:lang): the password policy's
// refusals are worded in it.
func (f *Flow) SetLang(lang string) { f.lang = lang }

// withClient returns ctx carrying the client's address for calls to the plugin, unless
// it carries one already (web registration: the page's client).
func (f *Flow) withClient(ctx context.Context) context.Context {
	if f.remote == "" || plugin.ClientAddr(ctx) != "" {
		return ctx
	}
	return plugin.WithClientAddr(ctx, f.remote)
}

// refusedPassword is a password the plugin's policy refused: the stanza error a
// client is answered with, and the policy's refusal, which web registration passes
// on (errors.As finds both).
type refusedPassword struct {
	se stanza.Error
	pe *plugin.PasswordError
}

// Error implements error.
func (r refusedPassword) Error() string { return r.pe.Error() }

// Unwrap returns the stanza error and the policy's refusal.
func (r refusedPassword) Unwrap() []error { return []error{r.se, r.pe} }

// checkPassword asks the plugin whether password may be local's: its refusal is
// not-acceptable with the plugin's words (those of the web page, in the stream's
// language); while the plugin cannot say, the registration waits (an unchecked
// password is never taken).
func (f *Flow) checkPassword(ctx context.Context, local, password string) error {
	cfg := f.svc.cfg
	err := cfg.Invites.CheckPassword(f.withClient(ctx), plugin.PasswordCheck{Host: cfg.Domain, Username: local, Password: password, Lang: f.lang})
	var pe *plugin.PasswordError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return refusedPassword{se: stanzaErr(stanza.Modify, stanza.NotAcceptable, pe.Reason), pe: pe}
	case errors.Is(err, plugin.ErrUnavailable):
		return stanzaErr(stanza.Wait, stanza.ServiceUnavailable, textNoPolicy)
	}
	cfg.Logger.ErrorContext(ctx, "checking a password", "err", err)
	return stanzaErr(stanza.Wait, stanza.InternalServerError, textNoPolicy)
}

// Exhausted reports whether the stream tried too many bad tokens and should be
// closed.
func (f *Flow) Exhausted() bool { return f.failures >= f.svc.cfg.MaxTokenFailures }

// Validated reports whether a token was accepted on this stream and not used yet.
func (f *Flow) Validated() bool { return f.token != "" }

// Registered returns the bare JID registered on this stream, if any.
func (f *Flow) Registered() string { return f.registered }

// AwaitsApproval reports whether the account registered on this stream waits for an
// administrator's approval before it can log in.
func (f *Flow) AwaitsApproval() bool { return f.awaits }

// refused logs a refusal at info with its reason (never a token or password) and the
// client's address, held back when it repeats, and returns err.
// The condition and reason are the logger's attributes, not the line's, so that the
// throttle tells reasons apart (package logthrottle: a kind of line is its logger's
// attributes and its message).
func (f *Flow) refused(ctx context.Context, what string, err error, attrs ...any) error {
	log := f.log
	var se stanza.Error
	if errors.As(err, &se) {
		log = log.With("condition", string(se.Condition), "reason", se.Text[""])
	} else {
		attrs = append(attrs, "err", err)
	}
	log.InfoContext(ctx, what, attrs...)
	return err
}

// PreAuth checks token (the XEP-0445 pre-auth IQ) and remembers it for Register.
// A nil error means the IQ is answered with a result.
// A bad token is counted against the client address's budget of failed invitations
// (Config.MaxTokenFailuresPerAddr); past the budget a check is refused unchecked.
func (f *Flow) PreAuth(ctx context.Context, token string) error {
	budgeted := f.client.IsValid() && f.svc.cfg.Mode != Closed
	if budgeted {
		if wait := f.svc.budget.Wait(f.key, f.svc.now()); wait > 0 {
			f.failures++
			err := stanzaErr(stanza.Wait, stanza.ResourceConstraint, fmt.Sprintf(textTooMany, roughly(wait)))
			return f.refused(ctx, "invitation refused unchecked", err)
		}
	}
	before := f.failures
	err := f.preAuth(ctx, token)
	if budgeted && f.failures > before {
		f.svc.budget.Spend(f.key, f.svc.now()) // a bad token, not the plugin's failure
	}
	if err != nil {
		return f.refused(ctx, "invitation refused", err)
	}
	return nil
}

// roughly says how long d is, in words a client shows: "40 seconds", "3 minutes".
func roughly(d time.Duration) string {
	switch {
	case d <= time.Second:
		return "1 second"
	case d < 90*time.Second:
		return fmt.Sprintf("%d seconds", int((d+time.Second-1)/time.Second))
	default:
		return fmt.Sprintf("%d minutes", int((d+time.Minute-1)/time.Minute))
	}
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
	inv, err := cfg.Invites.CheckInvite(f.withClient(ctx), cfg.Domain, token)
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
		instr = "Registration on " + cfg.Domain + " is by invitation only: paste your invitation link into the Invitation field."
	}
	var name string
	if f.token != "" {
		name = f.invite.Username
		if f.invite.Kind == kindReset {
			instr = "Choose a new password for " + name + "@" + cfg.Domain + "."
		}
	}
	// Without a token yet, the form takes the invitation itself (in-app redemption).
	return newQuery(instr, name, f.token == ""), nil
}

// Submit answers a registration set: with an invitation (the form's invitation
// field: the invite's page URL, its xmpp: URI or its token, see plugin.InviteToken)
// the token is checked first exactly as PreAuth checks it, then the account is
// registered as Register does, with the invitation's fixed username when the set
// names none.
func (f *Flow) Submit(ctx context.Context, req Request) (string, error) {
	if req.Invitation != "" && f.svc.cfg.Mode != Closed {
		token, ok := plugin.InviteToken(req.Invitation)
		if !ok {
			f.failures++
			return "", f.refused(ctx, "invitation refused", stanzaErr(stanza.Modify, stanza.NotAcceptable, textNoInvitation))
		}
		if token != f.token {
			if err := f.PreAuth(ctx, token); err != nil {
				return "", err
			}
		}
		if req.Username == "" {
			req.Username = f.invite.Username
		}
	}
	return f.Register(ctx, req.Username, req.Password)
}

// Register creates the account username with password, using up the validated
// token if there is one.
// The name is prepared with PRECIS (package username); one that looks like an
// account's or a reserved name is refused, saying which.
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

func (f *Flow) register(ctx context.Context, name, password string) (string, error) {
	cfg := f.svc.cfg
	switch {
	case cfg.Mode == Closed:
		return "", stanzaErr(stanza.Cancel, stanza.ServiceUnavailable, textClosed)
	case f.registered != "":
		return "", stanzaErr(stanza.Cancel, stanza.NotAllowed, textAlreadyDone)
	case cfg.Mode == InviteOnly && f.token == "":
		return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, textInviteOnly)
	case f.token != "" && f.invite.Kind == kindReset:
		return f.reset(ctx, name, password)
	case name == "" || password == "":
		return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, textRequired)
	}
	local, err := username.Normalize(name)
	if err != nil {
		return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, err.Error())
	}
	addr, err := jid.New(local, cfg.Domain, "")
	if err != nil {
		return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, textBadUsername)
	}
	if _, err := scram.PreparePassword(password); err != nil {
		return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, textBadPassword)
	}
	if f.token != "" && f.invite.Username != "" {
		if want, err := username.Normalize(f.invite.Username); err != nil || want != local {
			return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, fmt.Sprintf(textOtherName, f.invite.Username))
		}
	}
	if err := f.checkPassword(ctx, local, password); err != nil {
		return "", err
	}
	bare := addr.Bare().String()

	// The store refuses a taken name, a reserved one (an administrator's: only the
	// operator creates it, with xmppd adduser) and a lookalike of either.
	if err := cfg.Accounts.Reserve(ctx, bare, password); err != nil {
		var le *accounts.LookalikeError
		switch {
		case errors.Is(err, accounts.ErrExists):
			return "", stanzaErr(stanza.Cancel, stanza.Conflict, textTaken)
		case errors.Is(err, accounts.ErrReserved):
			return "", stanzaErr(stanza.Cancel, stanza.Conflict, textReserved)
		case errors.As(err, &le) && le.Reserved:
			return "", stanzaErr(stanza.Cancel, stanza.Conflict, fmt.Sprintf(textLooksLikeRes, le.Name))
		case errors.As(err, &le):
			return "", stanzaErr(stanza.Cancel, stanza.Conflict, fmt.Sprintf(textLooksLike, le.Name))
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
		inv, err := cfg.Invites.RedeemInvite(f.withClient(ctx), plugin.Redemption{Host: cfg.Domain, Token: f.token, Username: local})
		if err != nil {
			release()
			return "", f.redeemError(ctx, err)
		}
		inviteID, redeemed = inv.ID, inv
	}
	// An invite that needs an administrator's approval makes the account pending: it
	// cannot log in until the plugin makes it active.
	state := accounts.StateActive
	if redeemed.Approval {
		state = accounts.StatePending
	}
	if err := f.activate(ctx, bare, state); err != nil {
		if inviteID == "" {
			release()
		}
		// With a redeemed invite the pending account stays; it is the only trace of
		// the used invitation and is cleaned up after accounts.PendingTTL.
		cfg.Logger.ErrorContext(ctx, "activating account", "jid", bare, "invite", inviteID, "err", err)
		return "", stanzaErr(stanza.Wait, stanza.InternalServerError, textInternal)
	}
	f.token, f.invite = "", plugin.Invite{}
	f.registered, f.awaits = bare, state == accounts.StatePending
	cfg.Logger.InfoContext(ctx, "account registered", "jid", bare, "invite", inviteID, "state", string(state))
	if inviteID != "" && cfg.Created != nil {
		cfg.Created(context.WithoutCancel(ctx), bare, redeemed)
	}
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
// name, when given, must be the invite's.
func (f *Flow) reset(ctx context.Context, name, password string) (string, error) {
	cfg := f.svc.cfg
	addr, err := jid.New(f.invite.Username, cfg.Domain, "")
	if err != nil || addr.Localpart() == "" {
		return "", stanzaErr(stanza.Cancel, stanza.ItemNotFound, textNoRegister)
	}
	local, bare := addr.Localpart(), addr.Bare().String()
	if name != "" {
		if got, err := username.Normalize(name); err != nil || got != local {
			return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, fmt.Sprintf(textOtherName, f.invite.Username))
		}
	}
	if password == "" {
		return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, textRequired)
	}
	if _, err := scram.PreparePassword(password); err != nil {
		return "", stanzaErr(stanza.Modify, stanza.NotAcceptable, textBadPassword)
	}
	if err := f.checkPassword(ctx, local, password); err != nil {
		return "", err
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
	inv, err := cfg.Invites.RedeemInvite(f.withClient(ctx), plugin.Redemption{Host: cfg.Domain, Token: f.token, Username: local, Purpose: plugin.PurposeReset})
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
	f := s.Start(netip.Addr{})
	if err := f.PreAuth(ctx, token); err != nil {
		return "", err
	}
	return f.Register(ctx, username, password)
}

// activate activates bare in state st, retrying briefly: the invite may already be
// used up.
func (f *Flow) activate(ctx context.Context, bare string, st accounts.State) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	var err error
	for attempt := range 3 {
		if err = f.svc.cfg.Accounts.Activate(actx, bare, st); err == nil {
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
