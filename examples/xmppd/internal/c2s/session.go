package c2s

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// Bounds of a session's output.
const (
	// outQueueLen bounds the stanzas waiting to be written to one client; a client
	// that lets it fill up (it does not read) loses its connection.
	outQueueLen = 512
	// writeTimeout bounds the write of one stanza.
	writeTimeout = 30 * time.Second
)

// errSlowClient ends a session whose client does not read what it is sent.
var errSlowClient = errors.New("c2s: the client does not read its stream")

// send queues b for the client without waiting: what other sessions deliver.
// A client whose queue is full is disconnected (it stopped reading); false means b
// was not queued.
func (c *conn) send(b []byte) bool {
	c.omu.Lock()
	defer c.omu.Unlock()
	if c.oclosed {
		return false
	}
	select {
	case c.out <- b:
		return true
	default:
		c.oclosed = true
		close(c.out)
		c.log.Warn("disconnecting a client that does not read its stream")
		c.lc.abort(errSlowClient)
		return false
	}
}

// reply queues b for the client, waiting for room: answers to what the client
// itself sent, so a client that does not read stops being read.
func (c *conn) reply(ctx context.Context, b []byte) error {
	// send may close the queue meanwhile (a client that does not read), so every
	// attempt is made under omu, without blocking; in between, wait for the writer.
	for {
		c.omu.Lock()
		if c.oclosed {
			c.omu.Unlock()
			return errSlowClient
		}
		select {
		case c.out <- b:
			c.omu.Unlock()
			return nil
		default:
		}
		c.omu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.written:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// closeOut ends the queue; the writer stops once it is written.
func (c *conn) closeOut() {
	c.omu.Lock()
	defer c.omu.Unlock()
	if !c.oclosed {
		c.oclosed = true
		close(c.out)
	}
}

// writer writes the queue to the client until it is closed; a failed write closes
// the connection, which ends the session.
func (c *conn) writer() {
	defer close(c.writerDone)
	for b := range c.out {
		_ = c.lc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := c.lc.Write(b); err != nil {
			c.lc.abort(err)
			for range c.out {
			}
			return
		}
		select {
		case c.written <- struct{}{}:
		default:
		}
	}
}

// serveSession serves a bound session until the client ends its stream, the
// connection fails or the server stops, then takes the session offline.
func (c *conn) serveSession(ctx context.Context, sess *xmpp.Session) error {
	r := sess.TokenReader()
	defer r.Close()
	h, end := c.handler(ctx)
	var err error
	for {
		var start xml.StartElement
		if start, err = c.next(r); err != nil {
			break
		}
		if err = c.dispatch(ctx, r, start, h); err != nil {
			break
		}
	}
	end() // before the full JID is free for another stream
	c.offline(ctx)
	c.closeOut()
	<-c.writerDone
	return err
}

// dispatch handles one top-level element of a bound session.
func (c *conn) dispatch(ctx context.Context, r xml.TokenReader, start xml.StartElement, h xmpp.Handler) error {
	if start.Name.Space != nsClient {
		return &streamError{condition: "unsupported-stanza-type"}
	}
	// Whatever 'from' the client wrote, the stanza is from its bound JID.
	attrs := start.Attr[:0]
	var to jid.JID
	for _, a := range start.Attr {
		if a.Name.Space == "" && a.Name.Local == "from" {
			continue
		}
		if a.Name.Space == "" && a.Name.Local == "to" && a.Value != "" {
			j, err := jid.Parse(a.Value)
			if err != nil {
				return c.badAddress(ctx, r, start)
			}
			to = j
		}
		attrs = append(attrs, a)
	}
	start.Attr = append(attrs, xml.Attr{Name: xml.Name{Local: "from"}, Value: c.addr.String()})

	switch start.Name.Local {
	case "iq":
		if c.forServer(to) {
			return c.serveIQ(ctx, r, start, h)
		}
		el, err := readElement(r, start)
		if err != nil {
			return err
		}
		return c.routeIQ(ctx, el, to)
	case "message":
		el, err := readElement(r, start)
		if err != nil {
			return err
		}
		return c.routeMessage(ctx, el, to)
	case "presence":
		el, err := readElement(r, start)
		if err != nil {
			return err
		}
		return c.presence(ctx, el, to)
	}
	return &streamError{condition: "unsupported-stanza-type"}
}

// badAddress answers a stanza whose 'to' is not a JID with jid-malformed.
func (c *conn) badAddress(ctx context.Context, r xml.TokenReader, start xml.StartElement) error {
	el, err := readElement(r, start)
	if err != nil {
		return err
	}
	return c.bounce(ctx, el, stanza.Error{Type: stanza.Modify, Condition: stanza.JIDMalformed})
}

// forServer reports whether an IQ to addr is the server's to answer: addressed to
// the server (or a resource of it), or to the client's own account (RFC 6120
// §10.3.3, §10.5.4).
func (c *conn) forServer(addr jid.JID) bool {
	if addr.Localpart() == "" && addr.Domain().Equal(c.srv.domain) {
		return true
	}
	return addr.Equal(jid.JID{}) || addr.Equal(c.addr.Bare()) || addr.Equal(c.addr)
}

// serveIQ runs the session's handler on an IQ for the server and sends its answer;
// an IQ request left unanswered gets service-unavailable.
func (c *conn) serveIQ(ctx context.Context, r xml.TokenReader, start xml.StartElement, h xmpp.Handler) error {
	var buf bytes.Buffer
	w := &answerWriter{nsWriter: newNSWriter(xml.NewEncoder(&buf), nsClient)}
	for _, a := range start.Attr {
		if a.Name.Space == "" && a.Name.Local == "id" {
			w.id = a.Value
		}
	}
	inner := xmlstream.InnerElement(r)
	err := h.HandleXMPP(struct {
		xml.TokenReader
		xmlstream.Encoder
	}{inner, w}, &start)
	if err == nil {
		// Read what the handler left, so that malformed XML is noticed here.
		_, err = xmlstream.Copy(xmlstream.Discard(), inner)
	}
	if err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return &streamError{condition: "not-well-formed"}
		}
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	iq, _ := stanza.NewIQ(start)
	if !w.answered && (iq.Type == stanza.GetIQ || iq.Type == stanza.SetIQ) {
		b, err := marshal(iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}))
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	if buf.Len() == 0 {
		return nil
	}
	if err := c.reply(ctx, buf.Bytes()); err != nil {
		return fmt.Errorf("c2s: answering: %w", err)
	}
	return nil
}

// answerWriter collects what a handler writes and notes whether it answered the IQ.
type answerWriter struct {
	*nsWriter
	id       string
	depth    int
	answered bool
}

// EncodeToken implements xmlstream.TokenWriter.
func (w *answerWriter) EncodeToken(t xml.Token) error {
	switch tok := t.(type) {
	case xml.StartElement:
		if w.depth == 0 && tok.Name.Local == "iq" {
			var id, typ string
			for _, a := range tok.Attr {
				switch a.Name.Local {
				case "id":
					id = a.Value
				case "type":
					typ = a.Value
				}
			}
			if id == w.id && (typ == string(stanza.ResultIQ) || typ == string(stanza.ErrorIQ)) {
				w.answered = true
			}
		}
		w.depth++
	case xml.EndElement:
		w.depth--
	}
	return w.nsWriter.EncodeToken(t)
}

// Encode implements xmlstream.Encoder.
func (w *answerWriter) Encode(v any) error { return encodeXML(w, v, nil) }

// EncodeElement implements xmlstream.Encoder.
func (w *answerWriter) EncodeElement(v any, start xml.StartElement) error {
	return encodeXML(w, v, &start)
}

// bounce answers a stanza the client sent with a stanza error from the address it
// was sent to (RFC 6120 §8.3); errors and results are never answered.
func (c *conn) bounce(ctx context.Context, el element, se stanza.Error) error {
	switch el.attr("type") {
	case "error", "result":
		return nil
	}
	from := el.attr("to")
	if from == "" {
		from = c.srv.cfg.Domain
	}
	start := xml.StartElement{Name: xml.Name{Local: el.start.Name.Local}}
	for _, a := range []xml.Attr{
		{Name: xml.Name{Local: "type"}, Value: "error"},
		{Name: xml.Name{Local: "id"}, Value: el.attr("id")},
		{Name: xml.Name{Local: "from"}, Value: from},
		{Name: xml.Name{Local: "to"}, Value: c.addr.String()},
	} {
		if a.Value != "" {
			start.Attr = append(start.Attr, a)
		}
	}
	b, err := marshal(xmlstream.Wrap(se.TokenReader(), start))
	if err != nil {
		return err
	}
	return c.reply(ctx, b)
}
