package testclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"mellium.im/sasl"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
)

// Namespaces used by the client.
const (
	NSStream = "http://etherx.jabber.org/streams"
	NSTLS    = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL   = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSBind   = "urn:ietf:params:xml:ns:xmpp-bind"
)

// Element is one top-level element as received.
type Element struct {
	// XMLName is the element's name.
	XMLName xml.Name
	// Attrs are its attributes.
	Attrs []xml.Attr `xml:",any,attr"`
	// Inner is its content, as raw XML.
	Inner string `xml:",innerxml"`
}

// Attr returns the attribute named local.
func (e Element) Attr(local string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// String shows the element for test failures.
func (e Element) String() string {
	return fmt.Sprintf("<%s xmlns=%q %v>%s</%s>", e.XMLName.Local, e.XMLName.Space, e.Attrs, e.Inner, e.XMLName.Local)
}

// Client is one raw client connection.
type Client struct {
	conn     net.Conn
	d        *xml.Decoder
	domain   string
	from     string
	features Element
	opts     Options
}

// Options change how Dial opens the stream.
type Options struct {
	// From is put in the stream header's 'from' (a client may lie there).
	From string
	// NoTLS stops after the first stream's features, without STARTTLS.
	NoTLS bool
	// Record, if not nil, receives every byte read from the server (after TLS,
	// decrypted), for checks of the wire format.
	Record io.Writer
	// Whitespace puts whitespace before and after everything the client sends,
	// stream headers included, as RFC 6120 §11.7 allows between top-level elements.
	Whitespace bool
	// LocalAddr is the local IP address to connect from; empty: the system's choice.
	LocalAddr string
	// Lang is put in the stream header's xml:lang; empty: none.
	Lang string
}

// Dial connects to addr, opens a stream to domain, negotiates STARTTLS (unless
// opts.NoTLS) and opens the secure stream.
// The connection's deadline is ctx's.
func Dial(ctx context.Context, addr, domain string, opts Options) (*Client, error) {
	var dialer net.Dialer
	if opts.LocalAddr != "" {
		dialer.LocalAddr = &net.TCPAddr{IP: net.ParseIP(opts.LocalAddr)}
	}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("testclient: dialing: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c := &Client{conn: conn, domain: domain, from: opts.From, opts: opts}
	if err := c.open(); err != nil {
		_ = conn.Close()
		return nil, err
	}
	if opts.NoTLS {
		return c, nil
	}
	if err := c.Send(`<starttls xmlns='` + NSTLS + `'/>`); err != nil {
		_ = conn.Close()
		return nil, err
	}
	el, err := c.Next()
	if err != nil || el.XMLName.Local != "proceed" {
		_ = conn.Close()
		return nil, fmt.Errorf("testclient: STARTTLS refused: %v %v", el, err)
	}
	tc := tls.Client(conn, &tls.Config{ServerName: domain, InsecureSkipVerify: true}) // #nosec G402 -- tests against a self-signed server
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("testclient: TLS: %w", err)
	}
	c.conn = tc
	if err := c.open(); err != nil {
		_ = tc.Close()
		return nil, err
	}
	return c, nil
}

// open sends a stream header and reads the server's header and features.
func (c *Client) open() error {
	hdr := `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='` + NSStream + `' version='1.0' to='` + c.domain + `'`
	if c.from != "" {
		hdr += ` from='` + c.from + `'`
	}
	if c.opts.Lang != "" {
		hdr += ` xml:lang='` + c.opts.Lang + `'`
	}
	if err := c.Send(hdr + `>`); err != nil {
		return err
	}
	var r io.Reader = c.conn
	if c.opts.Record != nil {
		r = io.TeeReader(c.conn, c.opts.Record)
	}
	c.d = xml.NewDecoder(r)
	for {
		tok, err := c.d.Token()
		if err != nil {
			return fmt.Errorf("testclient: reading stream header: %w", err)
		}
		if s, ok := tok.(xml.StartElement); ok {
			if s.Name.Local != "stream" || s.Name.Space != NSStream {
				return fmt.Errorf("testclient: unexpected %v", s.Name)
			}
			break
		}
	}
	f, err := c.Next()
	if err != nil {
		return err
	}
	if f.XMLName.Local != "features" {
		return fmt.Errorf("testclient: expected features, got %v", f)
	}
	c.features = f
	return nil
}

// Features returns the features of the current stream.
func (c *Client) Features() Element { return c.features }

// Send writes raw XML (with whitespace around it if Options.Whitespace).
func (c *Client) Send(s string) error {
	if c.opts.Whitespace {
		s = "\n " + s + "\n\t"
	}
	if _, err := io.WriteString(c.conn, s); err != nil {
		return fmt.Errorf("testclient: writing: %w", err)
	}
	return nil
}

// Next reads the next top-level element; the end of the server's stream is io.EOF.
func (c *Client) Next() (Element, error) {
	for {
		tok, err := c.d.Token()
		if err != nil {
			return Element{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			var el Element
			if err := c.d.DecodeElement(&el, &t); err != nil {
				return Element{}, err
			}
			return el, nil
		case xml.EndElement:
			return Element{}, io.EOF
		}
	}
}

// IQ sends an IQ and returns the next element (its answer).
func (c *Client) IQ(s string) (Element, error) {
	if err := c.Send(s); err != nil {
		return Element{}, err
	}
	return c.Next()
}

// ErrAuth is a SASL failure.
var ErrAuth = errors.New("testclient: authentication failed")

// Plain authenticates with SASL PLAIN, restarts the stream and binds resource
// (empty: the server chooses). It returns the bound JID.
func (c *Client) Plain(user, pass, resource string) (string, error) {
	msg := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
	if err := c.Send(`<auth xmlns='` + NSSASL + `' mechanism='PLAIN'>` + msg + `</auth>`); err != nil {
		return "", err
	}
	el, err := c.Next()
	if err != nil {
		return "", err
	}
	if el.XMLName.Local != "success" {
		return "", fmt.Errorf("%w: %v", ErrAuth, el)
	}
	if err := c.open(); err != nil {
		return "", err
	}
	return c.Bind(resource)
}

// Bind binds a resource and returns the full JID the server assigned.
func (c *Client) Bind(resource string) (string, error) {
	req := `<iq type='set' id='bind1'><bind xmlns='` + NSBind + `'/></iq>`
	if resource != "" {
		req = `<iq type='set' id='bind1'><bind xmlns='` + NSBind + `'><resource>` + resource + `</resource></bind></iq>`
	}
	el, err := c.IQ(req)
	if err != nil {
		return "", err
	}
	var b struct {
		JID string `xml:"bind>jid"`
	}
	if err := xml.Unmarshal([]byte("<x>"+el.Inner+"</x>"), &b); err != nil || el.Attr("type") != "result" {
		return "", fmt.Errorf("testclient: bind failed: %v %v", el, err)
	}
	return strings.TrimSpace(b.JID), nil
}

// Close ends the stream and the connection.
func (c *Client) Close() error {
	_ = c.Send(`</stream:stream>`)
	return c.conn.Close()
}

// Login logs user in with mellium's client over STARTTLS (accepting the test server's
// self-signed certificate) and SASL mech, binds a resource, and serves the session in
// the background; the caller closes it.
func Login(ctx context.Context, addr, user, pass string, mech sasl.Mechanism) (*xmpp.Session, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	sess, err := xmpp.NewClientSession(ctx, jid.MustParse(user+"@localhost"), conn,
		xmpp.StartTLS(&tls.Config{ServerName: "localhost", InsecureSkipVerify: true}), // #nosec G402 -- self-signed test server
		xmpp.SASL("", pass, mech),
		xmpp.BindResource(),
	)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	go func() { _ = sess.Serve(nil) }()
	return sess, nil
}

// RepeatedNamespaces checks a transcript of what a server sent (see Options.Record)
// and returns every element that declares the default namespace it inherits
// already, such as <item xmlns='…disco#items'/> inside a disco#items query: valid
// XML that some clients cannot read. Each stream header starts afresh.
func RepeatedNamespaces(transcript []byte) ([]string, error) {
	d := xml.NewDecoder(bytes.NewReader(transcript))
	d.Strict = false
	var found []string
	scope := []string{""}
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			return found, nil
		}
		if err != nil {
			return found, fmt.Errorf("testclient: reading the transcript: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space == "stream" && t.Name.Local == "stream" {
				scope = scope[:1]
			}
			inherited := scope[len(scope)-1]
			ns := inherited
			for _, a := range t.Attr {
				if a.Name.Space == "" && a.Name.Local == "xmlns" {
					if a.Value == inherited {
						found = append(found, fmt.Sprintf("<%s xmlns='%s'> inside an element of that namespace", t.Name.Local, a.Value))
					}
					ns = a.Value
				}
			}
			scope = append(scope, ns)
		case xml.EndElement:
			if len(scope) > 1 {
				scope = scope[:len(scope)-1]
			}
		}
	}
}
