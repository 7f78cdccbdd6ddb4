package adhoctest

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/commands"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"
)

// Pair is a client stream connected to a server stream whose multiplexer holds
// service discovery and an adhoc.Handler.
type Pair struct {
	// Client is the requester's end; it is served in a goroutine.
	Client *xmpp.Session
	// Server is the server's end; it is served in a goroutine.
	Server *xmpp.Session
	// Host is the server's domain.
	Host jid.JID
	// Bound is the requester's full JID, as resource binding made it.
	Bound jid.JID
	// Handler is the server's command handler, closed when the server's stream ends.
	Handler *adhoc.Handler

	serverDone chan error
	clientDone chan error
}

// New connects a client for requester (a full JID of an account on the host) to a
// server for requester's domain that runs exec.
func New(ctx context.Context, exec adhoc.Executor, requester jid.JID, opts adhoc.HandlerOptions) (*Pair, error) {
	host := requester.Domain()
	cConn, sConn := net.Pipe()
	type accepted struct {
		s     *xmpp.Session
		bound jid.JID
		err   error
	}
	ch := make(chan accepted, 1)
	go func() {
		var bound jid.JID
		s, err := xmpp.ReceiveSession(ctx, sConn, xmpp.Secure|xmpp.Authn, xmpp.NewNegotiator(
			func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
				return xmpp.StreamConfig{Features: []xmpp.StreamFeature{
					xmpp.BindCustom(func(_ jid.JID, res string) (jid.JID, error) {
						if res == "" {
							res = requester.Resourcepart()
						}
						if res == "" {
							res = "adhoctest"
						}
						j, err := requester.Bare().WithResource(res)
						bound = j
						return j, err
					}),
				}}
			}))
		ch <- accepted{s, bound, err}
	}()
	client, err := xmpp.NewSession(ctx, host, requester, cConn, xmpp.Secure|xmpp.Authn, xmpp.NewNegotiator(
		func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
			return xmpp.StreamConfig{Features: []xmpp.StreamFeature{xmpp.BindResource()}}
		}))
	if err != nil {
		cConn.Close()
		sConn.Close()
		<-ch
		return nil, fmt.Errorf("adhoctest: client: %w", err)
	}
	acc := <-ch
	if acc.err != nil {
		cConn.Close()
		return nil, fmt.Errorf("adhoctest: server: %w", acc.err)
	}
	h := adhoc.NewHandler(exec, host.String(), acc.bound, opts)
	p := &Pair{
		Client:     client,
		Server:     acc.s,
		Host:       host,
		Bound:      acc.bound,
		Handler:    h,
		serverDone: make(chan error, 1),
		clientDone: make(chan error, 1),
	}
	m := mux.New(stanza.NSClient, disco.Handle(), h.Option())
	go func() { p.serverDone <- acc.s.Serve(m) }()
	go func() { p.clientDone <- client.Serve(nil) }()
	return p, nil
}

// Close ends both streams, then closes the Handler as a server does when a stream
// ends, and returns the error the server's Serve ended with (a Handler that returned
// an error would have ended the stream early with it), or the Handler's Close's.
func (p *Pair) Close() error {
	cerr := p.Client.Close()
	timeout := time.After(5 * time.Second)
	var serr error
	select {
	case serr = <-p.serverDone:
	case <-timeout:
		return errors.New("adhoctest: server stream did not end")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Handler.Close(ctx); err != nil {
		return fmt.Errorf("adhoctest: closing the handler: %w", err)
	}
	select {
	case <-p.clientDone:
	case <-timeout:
		return errors.New("adhoctest: client stream did not end")
	}
	if serr != nil && !errors.Is(serr, io.EOF) && !errors.Is(serr, net.ErrClosed) && !errors.Is(serr, io.ErrClosedPipe) {
		return serr
	}
	if cerr != nil && !errors.Is(cerr, net.ErrClosed) && !errors.Is(cerr, io.ErrClosedPipe) {
		return cerr
	}
	return nil
}

// Alive reports whether the server's stream is still being served.
func (p *Pair) Alive() bool {
	select {
	case err := <-p.serverDone:
		p.serverDone <- err
		return false
	default:
		return true
	}
}

// IQError is an IQ error a requester received.
type IQError struct {
	// Type is the error type, such as modify.
	Type stanza.ErrorType
	// Condition is the stanza error condition, such as bad-request.
	Condition stanza.Condition
	// Command is the local name of the child in the commands namespace, if any, such as
	// bad-sessionid.
	Command string
	// Text is the error's text, if any.
	Text string
}

// Error implements error.
func (e *IQError) Error() string {
	s := string(e.Type) + "/" + string(e.Condition)
	if e.Command != "" {
		s += "+" + e.Command
	}
	if e.Text != "" {
		s += ": " + e.Text
	}
	return "adhoctest: " + s
}

// Execute sends a request as a client does and returns the response, or an *IQError.
func (p *Pair) Execute(ctx context.Context, req adhoc.Request) (adhoc.Response, error) {
	return p.Send(ctx, req.TokenReader())
}

// Send sends any payload in an <iq type='set'/> to the server and reads the answer as a
// command response, or an *IQError.
func (p *Pair) Send(ctx context.Context, payload xml.TokenReader) (adhoc.Response, error) {
	return Send(ctx, p.Client, p.Host, payload)
}

// Send sends payload in an <iq type='set'/> to "to" over any client session (also a
// real one, over TLS to a real server) and reads the answer as a command response, or
// an *IQError.
// It reads the IQ itself because mellium's requester side (commands.ExecuteIQ) stalls
// the stream on an IQ error in v0.23.0.
func Send(ctx context.Context, client *xmpp.Session, to jid.JID, payload xml.TokenReader) (adhoc.Response, error) {
	r, err := client.SendIQElement(ctx, payload, stanza.IQ{Type: stanza.SetIQ, To: to})
	if err != nil {
		return adhoc.Response{}, err
	}
	defer r.Close()
	tok, err := r.Token()
	if err != nil {
		return adhoc.Response{}, err
	}
	iqStart, ok := tok.(xml.StartElement)
	if !ok {
		return adhoc.Response{}, fmt.Errorf("adhoctest: unexpected %T", tok)
	}
	iq, err := stanza.NewIQ(iqStart)
	if err != nil {
		return adhoc.Response{}, err
	}
	inner := xmlstream.Inner(r)
	for {
		tok, err := inner.Token()
		if err != nil {
			if iq.Type == stanza.ResultIQ && errors.Is(err, io.EOF) {
				return adhoc.Response{}, errors.New("adhoctest: empty result")
			}
			return adhoc.Response{}, err
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if iq.Type == stanza.ErrorIQ && start.Name.Local == "error" {
			return adhoc.Response{}, decodeError(inner, start)
		}
		if iq.Type == stanza.ErrorIQ && start.Name == (xml.Name{Space: adhoc.NS, Local: "command"}) {
			// The request's command, which an error may carry before its <error/>.
			if err := xmlstream.Skip(inner); err != nil {
				return adhoc.Response{}, err
			}
			continue
		}
		if iq.Type == stanza.ResultIQ {
			return adhoc.DecodeResponse(inner, &start, adhoc.Limits{MaxItems: 1 << 20, MaxTokens: 1 << 24, MaxBytes: 1 << 28})
		}
		return adhoc.Response{}, fmt.Errorf("adhoctest: unexpected %s in IQ of type %s", start.Name.Local, iq.Type)
	}
}

func decodeError(r xml.TokenReader, start xml.StartElement) error {
	var v struct {
		Type  string `xml:"type,attr"`
		Conds []struct {
			XMLName xml.Name
			Text    string `xml:",chardata"`
		} `xml:",any"`
	}
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(start), r))
	if err := d.Decode(&v); err != nil {
		return err
	}
	e := &IQError{Type: stanza.ErrorType(v.Type)}
	for _, c := range v.Conds {
		switch {
		case c.XMLName.Space == stanza.NSError && c.XMLName.Local == "text":
			e.Text = strings.TrimSpace(c.Text)
		case c.XMLName.Space == stanza.NSError:
			e.Condition = stanza.Condition(c.XMLName.Local)
		case c.XMLName.Space == adhoc.NS:
			e.Command = c.XMLName.Local
		}
	}
	return e
}

// Commands lists the commands the server offers the requester (disco#items of the
// commands node), with mellium's requester side.
func (p *Pair) Commands(ctx context.Context) ([]adhoc.Command, error) {
	iter := commands.Fetch(ctx, p.Host, p.Client)
	defer iter.Close()
	var out []adhoc.Command
	for iter.Next() {
		c := iter.Command()
		if !c.JID.Equal(p.Host) {
			return nil, fmt.Errorf("adhoctest: command %s on %s, not on the host", c.Node, c.JID)
		}
		out = append(out, adhoc.Command{Node: c.Node, Name: c.Name})
	}
	return out, iter.Err()
}

// Info returns disco#info of a node of the host ("" for the host itself).
func (p *Pair) Info(ctx context.Context, node string) (disco.Info, error) {
	return disco.GetInfo(ctx, node, p.Host, p.Client)
}
