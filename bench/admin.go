package main

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/commands"
	"mellium.im/xmpp/jid"
)

// nodeCreateKey is the ad-hoc command that makes an API key (internal/commands).
const nodeCreateKey = "urn:xmpp-invites:keys#create"

// adminClient is an administrator logged in over c2s.
type adminClient struct {
	session *xmpp.Session
	server  jid.JID
	served  chan error
}

// dialAdmin connects to the c2s listener at addr and logs in as user@benchDomain:
// STARTTLS (the server's certificate is self-signed, so it is not verified), SASL
// SCRAM-SHA-256, resource binding.
func dialAdmin(ctx context.Context, addr, user, password string) (*adminClient, error) {
	origin, err := jid.New(user, benchDomain, "")
	if err != nil {
		return nil, fmt.Errorf("admin address: %w", err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dialing c2s: %w", err)
	}
	tlsConfig := &tls.Config{
		ServerName: benchDomain,
		// The example server makes its own self-signed certificate.
		InsecureSkipVerify: true, //nolint:gosec // loopback benchmark only
		MinVersion:         tls.VersionTLS12,
	}
	s, err := xmpp.NewClientSession(ctx, origin, conn,
		xmpp.StartTLS(tlsConfig),
		xmpp.SASL("", password, sasl.ScramSha256),
		xmpp.BindResource(),
	)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("logging in as %s: %w", origin, err)
	}
	c := &adminClient{session: s, server: origin.Domain(), served: make(chan error, 1)}
	go func() { c.served <- s.Serve(nil) }()
	return c, nil
}

// Close ends the stream and waits a while for the server to end its side.
func (c *adminClient) Close(ctx context.Context) error {
	err := c.session.Close()
	select {
	case serr := <-c.served:
		if serr != nil && !errors.Is(serr, net.ErrClosed) {
			err = errors.Join(err, serr)
		}
	case <-ctx.Done():
		err = errors.Join(err, c.session.Conn().Close())
	case <-time.After(2 * time.Second):
		err = errors.Join(err, c.session.Conn().Close())
	}
	return err
}

// xform is enough of a XEP-0004 data form to read fields.
type xform struct {
	XMLName xml.Name `xml:"jabber:x:data x"`
	Type    string   `xml:"type,attr"`
	Fields  []struct {
		Var    string   `xml:"var,attr"`
		Values []string `xml:"value"`
	} `xml:"field"`
}

// value returns the first value of the field v, or "".
func (f xform) value(v string) string {
	for _, fl := range f.Fields {
		if fl.Var == v && len(fl.Values) > 0 {
			return fl.Values[0]
		}
	}
	return ""
}

// readForm reads the data form in a command's payload, if any.
func readForm(payload xml.TokenReader) (xform, bool, error) {
	d := xml.NewTokenDecoder(payload)
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return xform{}, false, nil
			}
			return xform{}, false, fmt.Errorf("reading command payload: %w", err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if start.Name.Space == "jabber:x:data" && start.Name.Local == "x" {
			var f xform
			if err := d.DecodeElement(&f, &start); err != nil {
				return xform{}, false, fmt.Errorf("decoding form: %w", err)
			}
			return f, true, nil
		}
		if err := d.Skip(); err != nil {
			return xform{}, false, fmt.Errorf("reading command payload: %w", err)
		}
	}
}

// submitForm is a submitted form with one value per field.
func submitForm(fields map[string]string) xml.TokenReader {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	var inner []xml.TokenReader
	for _, k := range names {
		inner = append(inner, xmlstream.Wrap(
			xmlstream.Wrap(xmlstream.Token(xml.CharData(fields[k])), xml.StartElement{Name: xml.Name{Local: "value"}}),
			xml.StartElement{Name: xml.Name{Local: "field"}, Attr: []xml.Attr{{Name: xml.Name{Local: "var"}, Value: k}}},
		))
	}
	return xmlstream.Wrap(xmlstream.MultiReader(inner...), xml.StartElement{
		Name: xml.Name{Space: "jabber:x:data", Local: "x"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "submit"}},
	})
}

// CreateKey runs the create-key command, execute then complete, and returns the key.
func (c *adminClient) CreateKey(ctx context.Context, name string) (string, error) {
	cmd := commands.Command{JID: c.server, Node: nodeCreateKey}
	resp, payload, err := cmd.Execute(ctx, nil, c.session)
	if err != nil {
		return "", fmt.Errorf("executing %s: %w", nodeCreateKey, err)
	}
	form, ok, err := readForm(payload)
	payload.Close()
	if err != nil {
		return "", err
	}
	if resp.Status != "executing" || !ok || form.Type != "form" {
		return "", fmt.Errorf("executing %s: status %q, want a form", nodeCreateKey, resp.Status)
	}
	resp, payload, err = resp.Complete().Execute(ctx, submitForm(map[string]string{"name": name}), c.session)
	if err != nil {
		return "", fmt.Errorf("completing %s: %w", nodeCreateKey, err)
	}
	form, ok, err = readForm(payload)
	payload.Close()
	if err != nil {
		return "", err
	}
	key := form.value("key")
	if resp.Status != "completed" || !ok || !strings.Contains(key, "/") {
		return "", fmt.Errorf("completing %s: status %q, no key in the result", nodeCreateKey, resp.Status)
	}
	return key, nil
}
