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
	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
)

// Defaults of Config.
const (
	// DefaultMaxStanzaSize bounds an element of an authenticated stream, in bytes.
	DefaultMaxStanzaSize = 256 << 10
	// DefaultMaxPreAuthSize bounds an element before authentication, in bytes.
	DefaultMaxPreAuthSize = 16 << 10
	// DefaultNegotiationTimeout bounds the time from connect to a bound resource;
	// it leaves room for a person filling in a registration form.
	DefaultNegotiationTimeout = 5 * time.Minute
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
	// Credential returns the credential of the active account addr for mechanism;
	// an error wrapping accounts.ErrNotFound means there is none.
	Credential(ctx context.Context, addr, mechanism string) (scram.Credential, error)
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
	// NewCommandHandler builds the ad-hoc command handler of a session bound to
	// requester; ctx ends when the server stops. Nil means no commands.
	NewCommandHandler func(ctx context.Context, requester jid.JID) CommandHandler
	// MaxStanzaSize bounds an element after authentication, in bytes;
	// zero means DefaultMaxStanzaSize.
	MaxStanzaSize int64
	// MaxPreAuthSize bounds an element before authentication, in bytes;
	// zero means DefaultMaxPreAuthSize.
	MaxPreAuthSize int64
	// NegotiationTimeout bounds negotiation; zero means DefaultNegotiationTimeout.
	NegotiationTimeout time.Duration
	// RequestTimeout bounds the handling of one stanza; zero means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// MaxConnections bounds open connections; zero means DefaultMaxConnections.
	MaxConnections int
	// MaxAuthFailures is how many failed logins end a stream; zero means
	// DefaultMaxAuthFailures.
	MaxAuthFailures int
	// MaxAuthFailuresPerAddr is how many failed logins one IP address may make per
	// AuthFailureWindow, over all its connections; then its attempts fail with
	// temporary-auth-failure until the window ends.
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
	slots  chan struct{}
	fails  *failureLimiter

	mu       sync.Mutex
	sessions map[*conn]*xmpp.Session
	bound    map[string]struct{} // full JIDs in use
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
	if cfg.NegotiationTimeout <= 0 {
		cfg.NegotiationTimeout = DefaultNegotiationTimeout
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
		slots:    make(chan struct{}, cfg.MaxConnections),
		fails:    newFailureLimiter(cfg.MaxAuthFailuresPerAddr, cfg.AuthFailureWindow, time.Now),
		sessions: map[*conn]*xmpp.Session{},
		bound:    map[string]struct{}{},
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
		select {
		case s.slots <- struct{}{}:
		default:
			s.log.WarnContext(ctx, "too many connections, refusing one", "remote", c.RemoteAddr().String())
			_ = c.Close()
			continue
		}
		s.wg.Go(func() {
			defer func() { <-s.slots }()
			s.handle(ctx, c)
		})
	}
	_ = ln.Close()
	s.closeAll()
	s.wg.Wait()
	return err
}

// closeAll ends every authenticated stream with a system-shutdown stream error
// and gives the client a few seconds to close its side.
// The session's writer is held meanwhile, so no stanza is cut in two.
// (Session.SetCloseDeadline would race with Serve in mellium v0.23.0, so the
// deadline goes on the connection.)
func (s *Server) closeAll() {
	s.mu.Lock()
	conns := make(map[*conn]*xmpp.Session, len(s.sessions))
	for c, sess := range s.sessions {
		conns[c] = sess
	}
	s.mu.Unlock()
	for c, sess := range conns {
		_ = c.lc.SetReadDeadline(time.Now().Add(3 * time.Second))
		w := sess.TokenWriter()
		c.lc.kill("system-shutdown", "")
		_ = w.Close()
	}
}

// bindResource chooses the full JID of a new session of account: the requested
// resource if it is valid and free, a random one otherwise.
func (s *Server) bindResource(account jid.JID, requested string) (jid.JID, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if requested != "" {
		if j, err := account.WithResource(requested); err == nil {
			if _, taken := s.bound[j.String()]; !taken {
				s.bound[j.String()] = struct{}{}
				return j, nil
			}
			// Taken: RFC 6120 §7.7.2.2 lets the server pick another one.
			requested = j.Resourcepart() + "-"
		} else {
			requested = ""
		}
	}
	for {
		j, err := account.WithResource(requested + randomID(6))
		if err != nil {
			return jid.JID{}, fmt.Errorf("c2s: making a resource: %w", err)
		}
		if _, taken := s.bound[j.String()]; !taken {
			s.bound[j.String()] = struct{}{}
			return j, nil
		}
	}
}

// unbind frees a full JID.
func (s *Server) unbind(j jid.JID) {
	s.mu.Lock()
	delete(s.bound, j.String())
	s.mu.Unlock()
}
