package c2s

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/roster"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
	"github.com/xmpp-invites/invites/internal/clientaddr"
	"github.com/xmpp-invites/invites/internal/logthrottle"
)

// Defaults of Config.
const (
	// DefaultMaxStanzaSize bounds an element of an authenticated stream, in bytes.
	DefaultMaxStanzaSize = 256 << 10
	// DefaultMaxPreAuthSize bounds an element before authentication, in bytes.
	DefaultMaxPreAuthSize = 16 << 10
	// DefaultHelloTimeout bounds the time from connect until TLS is up (stream
	// header, STARTTLS, handshake), and the time binding may take after
	// authentication: what software does without a person.
	DefaultHelloTimeout = 10 * time.Second
	// DefaultAuthTimeout bounds the time from connect to authentication.
	DefaultAuthTimeout = time.Minute
	// DefaultNegotiationTimeout bounds the time from connect to a bound resource
	// once the client started registering (asked for the registration form or sent
	// an invitation token): room for a person filling in the form.
	DefaultNegotiationTimeout = 5 * time.Minute
	// DefaultMaxPendingPerAddr bounds the connections of one address (an IPv4
	// address or an IPv6 /64) that have not authenticated yet.
	DefaultMaxPendingPerAddr = 10
	// DefaultMaxSessionsPerAccount bounds the authenticated sessions of one account.
	DefaultMaxSessionsPerAccount = 10
	// DefaultMaxSessionsPerAddr bounds the authenticated sessions from one address
	// (an IPv4 address or an IPv6 /64), whichever their accounts.
	DefaultMaxSessionsPerAddr = 50
	// DefaultMaxConnections bounds simultaneous client connections.
	DefaultMaxConnections = 1000
	// DefaultMaxAuthFailures is how many failed SASL attempts end a stream.
	DefaultMaxAuthFailures = 3
	// DefaultRequestTimeout bounds the work of one stanza (a store or plugin call).
	DefaultRequestTimeout = 30 * time.Second
	// DefaultMaxAuthFailuresPerAddr is how many failed logins one IP address may
	// make per AuthFailureWindow before its attempts are refused unchecked.
	DefaultMaxAuthFailuresPerAddr = 20
	// DefaultAuthFailureWindow is the period failed logins are counted over.
	DefaultAuthFailureWindow = 10 * time.Minute
)

// Credentials finds the stored credentials of accounts (see package accounts).
type Credentials interface {
	// Credential returns the credential of the account addr for mechanism, whatever
	// its state; an error wrapping accounts.ErrNotFound means there is none.
	Credential(ctx context.Context, addr, mechanism string) (scram.Credential, error)
	// State returns the state of the account addr: only an active one logs in.
	State(ctx context.Context, addr string) (accounts.State, error)
}

// Offline keeps messages for accounts that are offline (XEP-0160); *accounts.Store
// is one.
type Offline interface {
	// StoreOffline keeps stanza for addr; an error wrapping accounts.ErrOfflineFull
	// means there is no room left.
	StoreOffline(ctx context.Context, addr string, stanza []byte) error
	// TakeOffline returns what is kept for addr, oldest first, and forgets it.
	TakeOffline(ctx context.Context, addr string) ([][]byte, error)
}

// CommandHandler answers the <command/> IQs (XEP-0050) of one session and
// describes its command nodes to service discovery; *adhoc.Handler is one.
// Config.NewCommandHandler builds one per bound session, with that session's JID as
// the requester, so authorization never depends on a 'from' the client wrote.
type CommandHandler interface {
	mux.IQHandler
	info.FeatureIter
	info.IdentityIter
	items.Iter
}

// AccountChecker tells whether an account exists; *accounts.Store is one.
type AccountChecker interface {
	// Exists reports whether the bare JID is an active account.
	Exists(ctx context.Context, addr string) (bool, error)
}

// Config configures a Server.
type Config struct {
	// Domain is the XMPP domain served. Required.
	Domain string
	// TLS is the STARTTLS configuration, with a certificate. Required.
	TLS *tls.Config
	// Credentials checks logins. Required.
	Credentials Credentials
	// Registration offers in-band registration; nil means none.
	Registration *register.Service
	// Roster keeps rosters and presence subscriptions (RFC 6121); nil means an
	// empty roster for every account and no subscriptions.
	Roster *roster.Service
	// Accounts tells which accounts exist, for routing messages to accounts that
	// are offline; nil counts only accounts with a session.
	Accounts AccountChecker
	// ContactInvites redeems contact invites sent with a subscription request by
	// accounts that exist (XEP-0379); nil treats such requests as ordinary ones.
	ContactInvites ContactInvites
	// Offline keeps the messages the server sends (SendMessage) to accounts that are
	// offline, for their next available presence; nil keeps none.
	Offline Offline
	// NewCommandHandler builds the ad-hoc command handler of a session bound to
	// requester, connected from the address remote; ctx ends when the server stops.
	// Nil means no commands.
	NewCommandHandler func(ctx context.Context, requester jid.JID, remote net.Addr) CommandHandler
	// OnLogin, if not nil, is called once a session is bound to full, with the
	// xml:lang of its stream; OnStreamEnd once that session's stream has ended.
	// Both are called on the session's goroutine: they must not block.
	OnLogin     func(ctx context.Context, full jid.JID, lang string)
	OnStreamEnd func(ctx context.Context, full jid.JID)
	// MaxStanzaSize bounds an element after authentication, in bytes;
	// zero means DefaultMaxStanzaSize.
	MaxStanzaSize int64
	// MaxPreAuthSize bounds an element before authentication, in bytes;
	// zero means DefaultMaxPreAuthSize.
	MaxPreAuthSize int64
	// HelloTimeout bounds the time from connect until TLS is up, and binding;
	// zero means DefaultHelloTimeout.
	HelloTimeout time.Duration
	// AuthTimeout bounds the time from connect to authentication; zero means
	// DefaultAuthTimeout.
	AuthTimeout time.Duration
	// NegotiationTimeout bounds the time from connect to a bound resource once the
	// client started registering; zero means DefaultNegotiationTimeout.
	NegotiationTimeout time.Duration
	// MaxPendingPerAddr bounds the connections of one address (IPv4 address, IPv6
	// /64) that have not authenticated; more are closed at once. Zero means
	// DefaultMaxPendingPerAddr.
	MaxPendingPerAddr int
	// MaxSessionsPerAccount bounds the authenticated sessions of one account; a login
	// past it ends its stream with policy-violation. Zero means
	// DefaultMaxSessionsPerAccount.
	MaxSessionsPerAccount int
	// MaxSessionsPerAddr bounds the authenticated sessions from one address (IPv4
	// address, IPv6 /64), whichever their accounts; a login past it ends its stream
	// with policy-violation. Zero means DefaultMaxSessionsPerAddr.
	MaxSessionsPerAddr int
	// Unlimited reports whether an account (a bare JID) is exempt from
	// MaxSessionsPerAccount and MaxSessionsPerAddr: xmppd's administrators, who must
	// be able to log in while an account or an address has used its share. Nil
	// exempts none.
	Unlimited func(account jid.JID) bool
	// RequestTimeout bounds the handling of one stanza; zero means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxConnections bounds open connections; zero means DefaultMaxConnections.
	// When every one is taken, a new connection takes the place of one that has not
	// authenticated, from the address that holds the most (see admission).
	MaxConnections int
	// MaxAuthFailures is how many failed logins end a stream; zero means
	// DefaultMaxAuthFailures.
	MaxAuthFailures int
	// MaxAuthFailuresPerAddr is how many failed logins one address (an IPv4 address,
	// an IPv6 /64) may make, over all its connections, before its attempts fail with
	// temporary-auth-failure; one failure is forgiven every
	// AuthFailureWindow/MaxAuthFailuresPerAddr.
	// Zero means DefaultMaxAuthFailuresPerAddr.
	MaxAuthFailuresPerAddr int
	// AuthFailureWindow is the period of MaxAuthFailuresPerAddr; zero means
	// DefaultAuthFailureWindow.
	AuthFailureWindow time.Duration
	// Logger receives connection events; nil discards.
	Logger *slog.Logger
}

// Server accepts client connections.
type Server struct {
	cfg    Config
	domain jid.JID
	scram  *scram.Server
	log    *slog.Logger
	admit  *admission
	fails  *failureLimiter
	logs   *slog.Logger // warnings about addresses, throttled
	hub    *hub

	mu       sync.Mutex
	sessions map[*conn]*xmpp.Session
	wg       sync.WaitGroup
}

// New checks cfg, fills in defaults and returns a Server.
func New(cfg Config) (*Server, error) {
	domain, err := jid.Parse(cfg.Domain)
	if err != nil || domain.Localpart() != "" || domain.Resourcepart() != "" {
		return nil, fmt.Errorf("c2s: invalid domain %q", cfg.Domain)
	}
	cfg.Domain = domain.String()
	if cfg.TLS == nil || (len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil) {
		return nil, errors.New("c2s: a TLS certificate is required")
	}
	if cfg.Credentials == nil {
		return nil, errors.New("c2s: Credentials is required")
	}
	if cfg.MaxStanzaSize <= 0 {
		cfg.MaxStanzaSize = DefaultMaxStanzaSize
	}
	if cfg.MaxPreAuthSize <= 0 {
		cfg.MaxPreAuthSize = DefaultMaxPreAuthSize
	}
	if cfg.HelloTimeout <= 0 {
		cfg.HelloTimeout = DefaultHelloTimeout
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = DefaultAuthTimeout
	}
	if cfg.NegotiationTimeout <= 0 {
		cfg.NegotiationTimeout = DefaultNegotiationTimeout
	}
	if cfg.MaxPendingPerAddr <= 0 {
		cfg.MaxPendingPerAddr = DefaultMaxPendingPerAddr
	}
	if cfg.MaxSessionsPerAccount <= 0 {
		cfg.MaxSessionsPerAccount = DefaultMaxSessionsPerAccount
	}
	if cfg.MaxSessionsPerAddr <= 0 {
		cfg.MaxSessionsPerAddr = DefaultMaxSessionsPerAddr
	}
	if cfg.Unlimited == nil {
		cfg.Unlimited = func(jid.JID) bool { return false }
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.MaxAuthFailures <= 0 {
		cfg.MaxAuthFailures = DefaultMaxAuthFailures
	}
	if cfg.MaxAuthFailuresPerAddr <= 0 {
		cfg.MaxAuthFailuresPerAddr = DefaultMaxAuthFailuresPerAddr
	}
	if cfg.AuthFailureWindow <= 0 {
		cfg.AuthFailureWindow = DefaultAuthFailureWindow
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tlsCfg := cfg.TLS.Clone()
	if tlsCfg.MinVersion < tls.VersionTLS12 {
		tlsCfg.MinVersion = tls.VersionTLS12
	}
	cfg.TLS = tlsCfg
	s := &Server{
		cfg:      cfg,
		domain:   domain,
		log:      cfg.Logger,
		admit:    newAdmission(cfg),
		fails:    newFailureLimiter(cfg.MaxAuthFailuresPerAddr, cfg.AuthFailureWindow, time.Now),
		logs:     slog.New(logthrottle.New(cfg.Logger.Handler(), logthrottle.Options{})),
		hub:      newHub(),
		sessions: map[*conn]*xmpp.Session{},
	}
	s.scram, err = scram.NewServer(s.lookup)
	if err != nil {
		return nil, fmt.Errorf("c2s: %w", err)
	}
	return s, nil
}

// lookup finds the SCRAM credential of a SASL username.
func (s *Server) lookup(ctx context.Context, username, mechanism string) (scram.Credential, error) {
	addr, err := s.accountFor(username)
	if err != nil {
		return scram.Credential{}, scram.ErrUnknownUser
	}
	c, err := s.cfg.Credentials.Credential(ctx, addr.String(), mechanism)
	if errors.Is(err, accounts.ErrNotFound) {
		return scram.Credential{}, scram.ErrUnknownUser
	}
	return c, err
}

// Texts of logins refused for the account's state.
const (
	textDisabled = "This account is disabled by an administrator."
	textPending  = "This account is waiting for an administrator's approval."
	textDeleted  = "This account no longer exists."
)

// refusedLogin says why account may not log in, or "" when it may: disabled,
// pending approval, or gone. A store that does not answer refuses too.
func (s *Server) refusedLogin(ctx context.Context, account jid.JID) string {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	st, err := s.cfg.Credentials.State(ctx, account.String())
	switch {
	case err != nil:
		s.log.ErrorContext(ctx, "looking up an account's state", "account", account.String(), "err", err)
		return "The server cannot check this account right now; try again later."
	case st == accounts.StateActive:
		return ""
	case st == accounts.StateDisabled:
		return textDisabled
	case st == accounts.StatePending:
		return textPending
	}
	return textDeleted
}

// accountFor turns a SASL username (a localpart, or a bare JID of our domain)
// into the account's bare JID.
func (s *Server) accountFor(username string) (jid.JID, error) {
	if strings.Contains(username, "@") {
		j, err := jid.Parse(username)
		if err != nil {
			return jid.JID{}, err
		}
		if j.Resourcepart() != "" || j.Localpart() == "" || !j.Domain().Equal(s.domain) {
			return jid.JID{}, errors.New("c2s: not an account of this domain")
		}
		return j.Bare(), nil
	}
	return jid.New(username, s.cfg.Domain, "")
}

// Serve accepts connections on ln until ctx ends, then closes every stream
// (waiting up to a few seconds for clients to close theirs) and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	var err error
	for {
		var c net.Conn
		c, err = ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				err = nil
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			err = fmt.Errorf("c2s: accepting: %w", err)
			break
		}
		nc := s.newConn(c)
		why, victim := s.admit.admit(nc)
		switch why {
		case tooManyPending:
			s.warnLimited(ctx, c.RemoteAddr(), "too many unauthenticated connections from this address, refusing one")
			_ = c.Close()
			continue
		case tooManyConnections:
			s.warnLimited(ctx, nil, "too many connections, refusing one")
			_ = c.Close()
			continue
		}
		if victim != nil {
			// Its goroutine ends at once: its reads fail.
			s.warnLimited(ctx, victim.remote, "every connection slot taken: closing the oldest unauthenticated connection of the address holding the most")
			_ = victim.raw.Close()
		}
		s.wg.Go(func() {
			defer s.admit.release(nc)
			s.handle(ctx, nc)
		})
	}
	_ = ln.Close()
	s.closeAll()
	s.wg.Wait()
	return err
}

// warnLimited logs a warning about addr (nil: about no address in particular) at
// most once a minute per address (an IPv4 address or an IPv6 /64) and message; the
// last one held back is logged at the end of the minute with the count of the others
// (package logthrottle).
func (s *Server) warnLimited(ctx context.Context, addr net.Addr, msg string) {
	var remote string
	if addr != nil {
		remote = addr.String()
	}
	s.logs.With("client", clientaddr.String(addrKey(addr))).WarnContext(ctx, msg, "remote", remote)
}

// EndSessions ends at once every session of the account bare (a bare JID) with a
// policy-violation stream error saying text, as when the account is disabled or
// deleted; it returns how many. A login in progress checks the account's state once
// its session is counted, so none escapes.
func (s *Server) EndSessions(bare, text string) int {
	s.mu.Lock()
	var conns []*conn
	for c := range s.sessions {
		if c.account.String() == bare {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.end("policy-violation", text)
	}
	return len(conns)
}

// end ends a bound session from another goroutine with a stream error, giving the
// client a few seconds to close its side.
func (c *conn) end(condition, text string) {
	_ = c.lc.SetReadDeadline(time.Now().Add(3 * time.Second))
	c.lc.kill(condition, text)
}

// RemovedFromRosters pushes the removal of the account bare (deleted) to the online
// sessions of each of owners, whose rosters listed it (RFC 6121 §2.1.6).
func (s *Server) RemovedFromRosters(ctx context.Context, bare string, owners []string) {
	var eff roster.Effects
	for _, o := range owners {
		eff.Pushes = append(eff.Pushes, roster.Push{Owner: o, Item: roster.Item{JID: bare, Subscription: roster.Remove}})
	}
	s.apply(ctx, eff, nil)
}

// closeAll ends every authenticated stream with a system-shutdown stream error
// and gives the client a few seconds to close its side.
func (s *Server) closeAll() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.sessions))
	for c := range s.sessions {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.lc.SetReadDeadline(time.Now().Add(3 * time.Second))
		c.lc.kill("system-shutdown", "")
	}
}
