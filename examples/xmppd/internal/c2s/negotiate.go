package c2s

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/stream"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
	"github.com/xmpp-invites/invites/internal/clientaddr"
)

// Namespaces of negotiation (RFC 6120).
const (
	nsClient   = stanza.NSClient
	nsStream   = "http://etherx.jabber.org/streams"
	nsTLS      = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession  = "urn:ietf:params:xml:ns:xmpp-session"
	mechPLAIN  = "PLAIN"
	langStream = "en"
	nsXML      = "http://www.w3.org/XML/1998/namespace"
)

// streamError is a failure that ends the stream with a stream error.
type streamError struct {
	condition string
	text      string
}

// Error implements error.
func (e *streamError) Error() string {
	if e.text == "" {
		return "c2s: stream error " + e.condition
	}
	return "c2s: stream error " + e.condition + ": " + e.text
}

// conn is the state of one client connection.
type conn struct {
	srv    *Server
	lc     *limitConn
	log    *slog.Logger
	remote net.Addr
	raw    net.Conn // the TCP connection, which another goroutine may close (eviction)

	// What the connection holds in Server.admit, guarded by its mutex.
	slot           bool         // one of the MaxConnections slots
	pendingKey     netip.Prefix // its address while unauthenticated, else zero
	sessionAccount string       // once logged in: its account, counted
	sessionKey     netip.Prefix // and its address, counted

	// Negotiation.
	connected    time.Time
	timer        *time.Timer // ends the negotiation at its deadline
	headerSent   bool
	flow         *register.Flow
	registering  bool        // has the longest deadline
	invited      atomic.Bool // holds a valid invitation: never evicted
	account      jid.JID     // set by SASL
	addr         jid.JID     // set by binding
	lang         string      // the xml:lang of the client's stream header
	authFailures int

	// Output of a bound session: stanzas written in order by writer.
	out        chan []byte
	written    chan struct{} // a stanza was written (room in out)
	writerDone chan struct{}
	omu        sync.Mutex
	oclosed    bool

	// Presence (RFC 6121 §4), guarded by pmu.
	pmu        sync.Mutex
	available  bool
	interested bool     // asked for the roster: gets roster pushes
	last       *element // last available presence broadcast
	priority   int
	directed   map[string]struct{} // addresses sent directed available presence
}

// isAvailable reports whether the session sent available presence.
func (c *conn) isAvailable() bool {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return c.available
}

// randomID returns n random bytes in hex.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// errNegotiationTimeout is why a negotiation that took too long ends.
var errNegotiationTimeout = errors.New("c2s: negotiation took too long")

// newConn returns the state of a new client connection nc.
func (s *Server) newConn(nc net.Conn) *conn {
	c := &conn{
		srv:        s,
		lc:         newLimitConn(nc, nc, s.cfg.MaxPreAuthSize),
		log:        s.log.With("remote", nc.RemoteAddr().String()),
		remote:     nc.RemoteAddr(),
		raw:        nc,
		connected:  time.Now(),
		out:        make(chan []byte, outQueueLen),
		written:    make(chan struct{}, 1),
		writerDone: make(chan struct{}),
	}
	if s.cfg.Registration != nil {
		c.flow = s.cfg.Registration.Start(clientaddr.Of(nc.RemoteAddr()))
		c.flow.SetRemote(nc.RemoteAddr().String())
	}
	return c
}

// handle runs one connection, admitted by the caller, to its end; the caller
// releases it from s.admit after.
func (s *Server) handle(ctx context.Context, c *conn) {
	nc := c.raw
	defer func() { _ = c.lc.Close() }()
	defer func() {
		if !c.addr.Equal(jid.JID{}) {
			s.hub.unbind(c.addr, c)
		}
	}()

	// The negotiation has a deadline that moves with its stage (see Config): short
	// until TLS is up, longer until authentication, longest while registering.
	nctx, cancel := context.WithCancelCause(ctx)
	c.timer = time.AfterFunc(s.cfg.HelloTimeout, func() { cancel(errNegotiationTimeout) })
	// mellium sets a past deadline when ctx ends but clears it again at once, which
	// can leave a blocked read blocked, and would race with a deadline set here:
	// shutting the reading side is certain, and the stream error can still be sent.
	fired := make(chan struct{})
	stop := context.AfterFunc(nctx, func() {
		if cr, ok := nc.(interface{ CloseRead() error }); ok {
			_ = cr.CloseRead()
		} else {
			_ = nc.SetReadDeadline(time.Unix(1, 0))
		}
		close(fired)
	})
	sess, err := xmpp.ReceiveSession(nctx, c.lc, 0, c.negotiate)
	c.timer.Stop()
	if !stop() {
		<-fired
		if err == nil {
			err = nctx.Err()
		}
	}
	var late string // why the negotiation's context ended, if it did
	switch {
	case ctx.Err() != nil:
		late = "system-shutdown"
	case nctx.Err() != nil:
		late = "connection-timeout"
	}
	cancel(nil)
	if err != nil {
		c.fail(ctx, err, late)
		return
	}
	if c.addr.Equal(jid.JID{}) {
		c.lc.kill("internal-server-error", "")
		return
	}
	c.log = c.log.With("jid", c.addr.String())
	c.log.InfoContext(ctx, "session started")

	s.mu.Lock()
	s.sessions[c] = sess
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, c)
		s.mu.Unlock()
	}()
	// Counted in s.sessions first, then checked: an account disabled or deleted
	// meanwhile either is seen here or has its sessions ended by EndSessions.
	if text := s.refusedLogin(ctx, c.account); text != "" {
		if ctx.Err() != nil {
			// The server is shutting down: that, not the account, is why.
			c.lc.kill("system-shutdown", "")
			_ = sess.Close()
			return
		}
		c.log.InfoContext(ctx, "session refused", "reason", text)
		c.lc.kill("policy-violation", text)
		_ = sess.Close()
		return
	}
	if s.cfg.OnLogin != nil {
		s.cfg.OnLogin(ctx, c.addr, c.lang)
	}
	if s.cfg.OnStreamEnd != nil {
		defer s.cfg.OnStreamEnd(ctx, c.addr)
	}
	go c.writer()
	if ctx.Err() != nil {
		// Shut down while the session was starting: closeAll may have missed it.
		c.closeOut()
		<-c.writerDone
		c.lc.kill("system-shutdown", "")
		_ = sess.Close()
		return
	}
	c.lc.setLimit(s.cfg.MaxStanzaSize)
	err = c.serveSession(ctx, sess)
	var se *streamError
	switch {
	case errors.As(err, &se):
		c.log.InfoContext(ctx, "session ended with a stream error", "condition", se.condition, "text", se.text)
		c.lc.kill(se.condition, se.text)
	case errors.Is(err, errTooBig):
		c.log.InfoContext(ctx, "session ended: stanza too big")
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), ctx.Err() != nil:
		_ = sess.Close()
		c.log.InfoContext(ctx, "session ended")
	default:
		var xe *xml.SyntaxError
		if errors.As(err, &xe) {
			c.lc.kill("not-well-formed", "")
		}
		c.log.InfoContext(ctx, "session ended with an error", "err", err)
	}
}

// extendDeadline moves the negotiation's deadline to d after the connection
// started, unless it is later already.
func (c *conn) extendDeadline(d time.Duration) {
	if left := time.Until(c.connected.Add(d)); left > 0 {
		c.timer.Reset(left)
	}
}

// fail ends a stream whose negotiation failed, with a stream error where one fits.
// late is the condition to use when the negotiation's context ended (time ran out
// or the server is stopping), empty if it did not.
func (c *conn) fail(ctx context.Context, err error, late string) {
	var se *streamError
	var xe *xml.SyntaxError
	var ste stream.Error
	switch {
	case errors.As(err, &se):
	case errors.Is(err, errTooBig):
		return // the limit already sent its error
	case late != "":
		se = &streamError{condition: late}
	case errors.As(err, &xe):
		se = &streamError{condition: "not-well-formed"}
	case errors.Is(err, io.EOF):
		se = &streamError{}
	case errors.Is(err, os.ErrDeadlineExceeded):
		se = &streamError{condition: "connection-timeout"}
	case errors.As(err, &ste):
		se = &streamError{condition: ste.Err}
	default:
		se = &streamError{condition: "undefined-condition"}
	}
	c.log.DebugContext(ctx, "stream closed during negotiation", "err", err)
	// The read may have ended on a deadline; the error still has to go out, and a
	// TLS write that fails on a deadline would spoil the close_notify after it.
	_ = c.lc.SetDeadline(time.Time{})
	_ = c.lc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if !c.headerSent {
		_, _ = c.lc.Write([]byte(c.header(randomID(8))))
	}
	c.lc.kill(se.condition, se.text)
}

// header returns our stream header.
func (c *conn) header(id string) string {
	return fmt.Sprintf(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='%s' version='1.0' id='%s' from='%s' xml:lang='%s'>`,
		nsStream, id, c.srv.cfg.Domain, langStream)
}

// negotiate is the xmpp.Negotiator: each call handles one stream (up to a restart
// or to the end of negotiation).
func (c *conn) negotiate(ctx context.Context, in, out *stream.Info, s *xmpp.Session, _ any) (xmpp.SessionState, io.ReadWriter, any, error) {
	r := s.TokenReader()
	defer r.Close()

	c.lc.reset()
	if err := c.expectHeader(r, in); err != nil {
		return 0, nil, nil, err
	}
	if c.flow != nil {
		c.flow.SetLang(c.lang)
	}
	id := randomID(8)
	if _, err := c.lc.Write([]byte(c.header(id))); err != nil {
		return 0, nil, nil, fmt.Errorf("c2s: sending stream header: %w", err)
	}
	c.headerSent = true
	*out = stream.Info{
		Name:    xml.Name{Space: nsStream, Local: "stream"},
		XMLNS:   stanza.NSClient,
		From:    c.srv.domain,
		ID:      id,
		Version: stream.DefaultVersion,
		Lang:    langStream,
	}

	state := s.State()
	switch {
	case state&xmpp.Secure == 0:
		rw, err := c.startTLS(ctx, r)
		if err != nil {
			return 0, nil, nil, err
		}
		return xmpp.Secure, rw, nil, nil
	case state&xmpp.Authn == 0:
		if err := c.authenticate(ctx, r); err != nil {
			return 0, nil, nil, err
		}
		// Binding follows at once: a little time for it whatever is left.
		c.extendDeadline(time.Since(c.connected) + c.srv.cfg.HelloTimeout)
		// A restart on the same connection (RFC 6120 §6.4.6).
		return xmpp.Authn, s.Conn(), nil, nil
	default:
		if err := c.bind(ctx, r); err != nil {
			return 0, nil, nil, err
		}
		// The session's remote address is the bound JID from now on, not
		// whatever the client put in its stream header.
		in.From = c.addr
		in.To = c.srv.domain
		return xmpp.Ready, nil, nil, nil
	}
}

// expectHeader reads the client's stream header into in.
func (c *conn) expectHeader(r xml.TokenReader, in *stream.Info) error {
	for {
		tok, err := r.Token()
		if err != nil {
			return fmt.Errorf("c2s: reading stream header: %w", err)
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if t.Target != "xml" {
				return &streamError{condition: "restricted-xml"}
			}
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return &streamError{condition: "bad-format"}
			}
		case xml.StartElement:
			if t.Name.Space != nsStream || t.Name.Local != "stream" {
				return &streamError{condition: "invalid-namespace"}
			}
			// mellium looks for xml:lang under the prefix, which encoding/xml has
			// already turned into the XML namespace's URL.
			c.lang = ""
			for _, a := range t.Attr {
				if a.Name.Local == "lang" && (a.Name.Space == "xml" || a.Name.Space == nsXML) {
					c.lang = a.Value
				}
			}
			if err := in.FromStartElement(t); err != nil {
				var se stream.Error
				if errors.As(err, &se) {
					return &streamError{condition: se.Err}
				}
				return &streamError{condition: "bad-format"}
			}
			switch {
			case in.XMLNS != stanza.NSClient:
				return &streamError{condition: "invalid-namespace", text: "only jabber:client streams are served"}
			case in.Version.Major != 1:
				return &streamError{condition: "unsupported-version"}
			case !in.To.Equal(jid.JID{}) && !in.To.Equal(c.srv.domain):
				return &streamError{condition: "host-unknown"}
			}
			return nil
		default:
			return &streamError{condition: "restricted-xml"}
		}
	}
}

// next reads the start of the next top-level element, skipping whitespace.
// The end of the client's stream is io.EOF.
func (c *conn) next(r xml.TokenReader) (xml.StartElement, error) {
	c.lc.reset()
	for {
		tok, err := r.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return xml.StartElement{}, &streamError{condition: "bad-format", text: "text at the top level"}
			}
		case xml.StartElement:
			if t.Name.Space == nsStream {
				if t.Name.Local == "error" {
					return xml.StartElement{}, io.EOF
				}
				return xml.StartElement{}, &streamError{condition: "unsupported-stanza-type"}
			}
			return t, nil
		case xml.EndElement:
			return xml.StartElement{}, io.EOF
		default:
			return xml.StartElement{}, &streamError{condition: "restricted-xml"}
		}
	}
}

// elementDecoder returns a decoder over the element that start opened, positioned after
// start (so DecodeElement(v, &start) works), ending after its end element.
func elementDecoder(r xml.TokenReader, start xml.StartElement) (*xml.Decoder, error) {
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(start), xmlstream.InnerElement(r)))
	if _, err := d.Token(); err != nil {
		return nil, err
	}
	return d, nil
}

// drain consumes what is left of an element.
func drain(d *xml.Decoder) error {
	for {
		if _, err := d.Token(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// write sends raw XML during negotiation.
func (c *conn) write(s string) error {
	if _, err := c.lc.Write([]byte(s)); err != nil {
		return fmt.Errorf("c2s: writing: %w", err)
	}
	return nil
}

// startTLS offers STARTTLS as the only feature and upgrades the connection.
func (c *conn) startTLS(ctx context.Context, r xml.TokenReader) (io.ReadWriter, error) {
	if err := c.write(`<stream:features><starttls xmlns='` + nsTLS + `'><required/></starttls></stream:features>`); err != nil {
		return nil, err
	}
	start, err := c.next(r)
	if err != nil {
		return nil, err
	}
	if start.Name.Space != nsTLS || start.Name.Local != "starttls" {
		return nil, &streamError{condition: "policy-violation", text: "STARTTLS is required"}
	}
	d, err := elementDecoder(r, start)
	if err != nil {
		return nil, err
	}
	if err := drain(d); err != nil {
		return nil, err
	}
	if err := c.write(`<proceed xmlns='` + nsTLS + `'/>`); err != nil {
		return nil, err
	}
	tc := tls.Server(c.lc.Conn, c.srv.cfg.TLS)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("c2s: TLS handshake: %w", err)
	}
	c.lc = newLimitConn(tc, c.lc.raw, c.srv.cfg.MaxPreAuthSize)
	c.headerSent = false
	c.extendDeadline(c.srv.cfg.AuthTimeout)
	return c.lc, nil
}

// features lists the features of a secure, unauthenticated stream.
func (c *conn) features() string {
	var b strings.Builder
	b.WriteString(`<stream:features><mechanisms xmlns='` + nsSASL + `'>`)
	for _, m := range c.mechanisms() {
		b.WriteString(`<mechanism>` + m + `</mechanism>`)
	}
	b.WriteString(`</mechanisms>`)
	if c.flow != nil && c.srv.cfg.Registration.Mode() != register.Closed {
		for _, ns := range register.FeatureNamespaces() {
			b.WriteString(`<register xmlns='` + ns + `'/>`)
		}
	}
	b.WriteString(`</stream:features>`)
	return b.String()
}

// mechanisms are the SASL mechanisms offered: SCRAM always, PLAIN only over TLS.
func (c *conn) mechanisms() []string {
	m := scram.Mechanisms()
	if c.lc.tls != nil {
		m = append(m, mechPLAIN)
	}
	return m
}

// authenticate serves the unauthenticated stream (SASL and registration) until a
// SASL exchange succeeds.
func (c *conn) authenticate(ctx context.Context, r xml.TokenReader) error {
	if err := c.write(c.features()); err != nil {
		return err
	}
	for {
		start, err := c.next(r)
		if err != nil {
			return err
		}
		d, err := elementDecoder(r, start)
		if err != nil {
			return err
		}
		switch {
		case start.Name.Space == nsSASL && start.Name.Local == "auth":
			ok, err := c.sasl(ctx, r, d, start)
			if err != nil {
				return err
			}
			if ok {
				c.log = c.log.With("account", c.account.String())
				c.log.InfoContext(ctx, "authenticated")
				return nil
			}
			c.authFailures++
			if c.authFailures >= c.srv.cfg.MaxAuthFailures {
				return &streamError{condition: "policy-violation", text: "too many failed authentication attempts"}
			}
		case start.Name.Space == nsSASL && start.Name.Local == "abort":
			if err := drain(d); err != nil {
				return err
			}
			if err := c.saslFailure("aborted", ""); err != nil {
				return err
			}
		case start.Name.Space == stanza.NSClient && start.Name.Local == "iq":
			if err := c.preAuthIQ(ctx, d, start); err != nil {
				return err
			}
			if c.flow != nil && c.flow.Exhausted() {
				return &streamError{condition: "policy-violation", text: "too many invalid invitations"}
			}
		case start.Name.Space == stanza.NSClient && (start.Name.Local == "message" || start.Name.Local == "presence"):
			return &streamError{condition: "not-authorized"}
		default:
			return &streamError{condition: "unsupported-stanza-type"}
		}
	}
}

// saslFailure sends a SASL failure (RFC 6120 §6.5).
func (c *conn) saslFailure(condition, text string) error {
	var b strings.Builder
	b.WriteString(`<failure xmlns='` + nsSASL + `'><` + condition + `/>`)
	if text != "" {
		b.WriteString(`<text xml:lang='en'>`)
		_ = xml.EscapeText(&b, []byte(text))
		b.WriteString(`</text>`)
	}
	b.WriteString(`</failure>`)
	return c.write(b.String())
}

// saslData sends a challenge or success with optional data.
func (c *conn) saslData(name string, data []byte) error {
	if data == nil {
		return c.write(`<` + name + ` xmlns='` + nsSASL + `'/>`)
	}
	return c.write(`<` + name + ` xmlns='` + nsSASL + `'>` + base64.StdEncoding.EncodeToString(data) + `</` + name + `>`)
}

// saslText decodes the base64 payload of <auth/> or <response/>; "=" is empty.
func saslText(s string) ([]byte, bool, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return nil, false, nil
	case "=":
		return []byte{}, true, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, true, err
}

// readResponse reads the client's <response/> (or <abort/>).
func (c *conn) readResponse(r xml.TokenReader) (data []byte, aborted bool, err error) {
	start, err := c.next(r)
	if err != nil {
		return nil, false, err
	}
	d, err := elementDecoder(r, start)
	if err != nil {
		return nil, false, err
	}
	if start.Name.Space != nsSASL || (start.Name.Local != "response" && start.Name.Local != "abort") {
		return nil, false, &streamError{condition: "policy-violation", text: "expected a SASL response"}
	}
	var v struct {
		Text string `xml:",chardata"`
	}
	if err := d.DecodeElement(&v, &start); err != nil {
		return nil, false, fmt.Errorf("c2s: reading SASL response: %w", err)
	}
	if start.Name.Local == "abort" {
		return nil, true, nil
	}
	b, _, err := saslText(v.Text)
	if err != nil {
		return nil, false, errBadEncoding
	}
	return b, false, nil
}

// errBadEncoding marks a response that is not base64.
var errBadEncoding = errors.New("c2s: bad base64")

// sasl runs one SASL exchange started by <auth/>. It reports whether the client
// authenticated; a non-nil error ends the stream.
func (c *conn) sasl(ctx context.Context, r xml.TokenReader, d *xml.Decoder, start xml.StartElement) (bool, error) {
	var auth struct {
		Mechanism string `xml:"mechanism,attr"`
		Text      string `xml:",chardata"`
	}
	if err := d.DecodeElement(&auth, &start); err != nil {
		return false, fmt.Errorf("c2s: reading <auth/>: %w", err)
	}
	offered := false
	for _, m := range c.mechanisms() {
		offered = offered || m == auth.Mechanism
	}
	if !offered {
		return false, c.saslFailure("invalid-mechanism", "")
	}
	data, present, err := saslText(auth.Text)
	if err != nil {
		return false, c.saslFailure("incorrect-encoding", "")
	}
	if !present {
		// No initial response: ask for it with an empty challenge (RFC 6120 §6.4.2).
		var ended bool
		if data, ended, err = c.challenge(r, nil); ended {
			return false, err
		}
	}
	if !c.srv.fails.reserve(c.remote) {
		c.srv.warnLimited(ctx, c.remote, "too many failed logins from this address: login refused")
		return false, c.saslFailure("temporary-auth-failure", "too many failed attempts, try again later")
	}
	rctx, cancel := context.WithTimeout(ctx, c.srv.cfg.RequestTimeout)
	defer cancel()
	var ok bool
	if auth.Mechanism == mechPLAIN {
		ok, err = c.plain(rctx, data)
	} else {
		ok, err = c.scram(rctx, r, auth.Mechanism, data)
	}
	if ok {
		c.srv.fails.succeeded(c.remote)
	}
	return ok, err
}

// plain checks SASL PLAIN (RFC 4616) against the stored SCRAM-SHA-256 credential:
// mellium.im/sasl parses the message, the permission check derives the keys again
// from the stored salt.
func (c *conn) plain(ctx context.Context, data []byte) (bool, error) {
	var user, authzid string
	var lookupErr error
	srv := sasl.NewServer(sasl.Plain, func(n *sasl.Negotiator) bool {
		u, p, z := n.Credentials()
		user, authzid = string(u), string(z)
		addr, err := c.srv.accountFor(user)
		if err != nil {
			scramDummy(string(p))
			return false
		}
		cred, err := c.srv.cfg.Credentials.Credential(ctx, addr.String(), scram.SHA256)
		if err != nil {
			lookupErr = err
			scramDummy(string(p))
			return false
		}
		return cred.Verify(string(p))
	})
	_, _, err := srv.Step(data)
	switch {
	case errors.Is(err, sasl.ErrInvalidChallenge):
		return false, c.saslFailure("malformed-request", "")
	case lookupErr != nil && !errors.Is(lookupErr, accounts.ErrNotFound):
		c.log.ErrorContext(ctx, "looking up credentials", "err", lookupErr)
		return false, c.saslFailure("temporary-auth-failure", "")
	case err != nil:
		c.log.InfoContext(ctx, "authentication failed", "mechanism", mechPLAIN)
		return false, c.saslFailure("not-authorized", "")
	}
	return c.succeed(ctx, user, authzid, nil)
}

// scramDummy spends the time of a credential check, so unknown users answer as
// slowly as known ones.
func scramDummy(pass string) {
	c := scram.Credential{Mechanism: scram.SHA256, Salt: make([]byte, scram.SaltSize), Iterations: scram.DefaultIterations}
	_ = c.Verify(pass)
}

// scram runs a SCRAM exchange whose client-first-message is first.
func (c *conn) scram(ctx context.Context, r xml.TokenReader, mechanism string, first []byte) (bool, error) {
	ex, err := c.srv.scram.Start(mechanism)
	if err != nil {
		return false, c.saslFailure("invalid-mechanism", "")
	}
	msg := first
	for {
		resp, done, err := ex.Step(ctx, msg)
		switch {
		case errors.Is(err, scram.ErrMalformed):
			return false, c.saslFailure("malformed-request", "")
		case errors.Is(err, scram.ErrAuthFailed), errors.Is(err, scram.ErrChannelBinding):
			c.log.InfoContext(ctx, "authentication failed", "mechanism", mechanism)
			return false, c.saslFailure("not-authorized", "")
		case err != nil:
			c.log.ErrorContext(ctx, "SCRAM exchange", "err", err)
			return false, c.saslFailure("temporary-auth-failure", "")
		case done:
			return c.succeed(ctx, ex.Username(), ex.Authzid(), resp)
		}
		var ended bool
		if msg, ended, err = c.challenge(r, resp); ended {
			return false, err
		}
	}
}

// challenge sends a SASL challenge and reads the client's response.
// When the exchange ends there (a response that is not base64, an abort, a broken
// stream), ended is true and the caller returns (false, err): err is nil when the
// failure was sent and the stream goes on.
func (c *conn) challenge(r xml.TokenReader, data []byte) (resp []byte, ended bool, err error) {
	if err := c.saslData("challenge", data); err != nil {
		return nil, true, err
	}
	resp, aborted, err := c.readResponse(r)
	switch {
	case errors.Is(err, errBadEncoding):
		return nil, true, c.saslFailure("incorrect-encoding", "")
	case err != nil:
		return nil, true, err
	case aborted:
		return nil, true, c.saslFailure("aborted", "")
	}
	return resp, false, nil
}

// succeed checks the authorization identity, records the account and sends
// success with the mechanism's additional data.
func (c *conn) succeed(ctx context.Context, user, authzid string, data []byte) (bool, error) {
	account, err := c.srv.accountFor(user)
	if err != nil {
		return false, c.saslFailure("not-authorized", "")
	}
	if authzid != "" {
		z, err := jid.Parse(authzid)
		if err != nil || !z.Equal(account) {
			return false, c.saslFailure("invalid-authzid", "")
		}
	}
	// The password was right: an account that may not log in is told why.
	if text := c.srv.refusedLogin(ctx, account); text != "" {
		c.srv.fails.succeeded(c.remote)
		c.log.InfoContext(ctx, "login refused", "account", account.String(), "reason", text)
		return false, c.saslFailure("account-disabled", text)
	}
	// The account and its address within their shares of sessions (admission),
	// before success is said.
	why := c.srv.admit.login(c, account.String(), c.srv.cfg.Unlimited(account))
	switch why {
	case tooManyForAccount, tooManyForAddr:
		c.srv.fails.succeeded(c.remote) // the credentials were right
		text := fmt.Sprintf("too many sessions of this account (at most %d): close one first", c.srv.cfg.MaxSessionsPerAccount)
		if why == tooManyForAddr {
			text = fmt.Sprintf("too many sessions from your address (at most %d)", c.srv.cfg.MaxSessionsPerAddr)
		}
		c.srv.warnLimited(context.Background(), c.remote, "login refused: "+text)
		return false, &streamError{condition: "policy-violation", text: text}
	}
	c.account = account
	return true, c.saslData("success", data)
}
