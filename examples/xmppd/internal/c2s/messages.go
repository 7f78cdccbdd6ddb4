package c2s

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/jid"
)

// nsDelay is XEP-0203's namespace: when a message kept offline was sent.
const nsDelay = "urn:xmpp:delay"

// ErrNoOffline means a message found its account offline and the server keeps no
// messages (Config.Offline is nil).
var ErrNoOffline = errors.New("c2s: the account is offline and no messages are kept")

// SendMessage sends a chat message from the server's domain to the account to (a bare
// JID of the domain): at once to its available sessions (those with a non-negative
// priority, RFC 6121 §8.5.2.1.1), or else kept (Config.Offline) and delivered at its
// next available presence, with the time it was sent (XEP-0203) as XEP-0160 asks.
// subject may be empty; lang, when not empty, is the message's xml:lang.
func (s *Server) SendMessage(ctx context.Context, to, subject, body, lang string) error {
	addr, err := jid.Parse(to)
	if err != nil || addr.Localpart() == "" || addr.Resourcepart() != "" || !addr.Domain().Equal(s.domain) {
		return fmt.Errorf("c2s: %q is not an account of %s", to, s.cfg.Domain)
	}
	bare := addr.String()
	id := randomID(8)
	var delivered bool
	for _, sess := range s.hub.available(bare) {
		sess.pmu.Lock()
		prio := sess.priority
		sess.pmu.Unlock()
		if prio < 0 {
			continue
		}
		b, err := messageXML(s.cfg.Domain, bare, id, subject, body, lang, time.Time{})
		if err != nil {
			return err
		}
		if sess.send(b) {
			delivered = true
		}
	}
	if delivered {
		return nil
	}
	if s.cfg.Offline == nil {
		return fmt.Errorf("%w: %s", ErrNoOffline, bare)
	}
	b, err := messageXML(s.cfg.Domain, bare, id, subject, body, lang, time.Now())
	if err != nil {
		return err
	}
	if err := s.cfg.Offline.StoreOffline(ctx, bare, b); err != nil {
		return fmt.Errorf("keeping a message for %s: %w", bare, err)
	}
	return nil
}

// messageXML builds a chat message from the domain; a non-zero delayed adds when it
// was sent (XEP-0203), for a message kept offline.
func messageXML(from, to, id, subject, body, lang string, delayed time.Time) ([]byte, error) {
	var toks []xml.Token
	text := func(name, v string) {
		if v == "" {
			return
		}
		start := xml.StartElement{Name: xml.Name{Local: name}}
		toks = append(toks, start, xml.CharData(v), start.End())
	}
	text("subject", subject)
	text("body", body)
	if !delayed.IsZero() {
		d := xml.StartElement{Name: xml.Name{Space: nsDelay, Local: "delay"}, Attr: []xml.Attr{
			{Name: xml.Name{Local: "from"}, Value: from},
			{Name: xml.Name{Local: "stamp"}, Value: delayed.UTC().Format(time.RFC3339)},
		}}
		toks = append(toks, d, d.End())
	}
	start := xml.StartElement{Name: xml.Name{Local: "message"}, Attr: []xml.Attr{
		{Name: xml.Name{Local: "type"}, Value: "chat"},
		{Name: xml.Name{Local: "id"}, Value: id},
		{Name: xml.Name{Local: "from"}, Value: from},
		{Name: xml.Name{Local: "to"}, Value: to},
	}}
	if lang != "" {
		start.Attr = append(start.Attr, xml.Attr{Name: xml.Name{Space: nsXML, Local: "lang"}, Value: lang})
	}
	return marshal(xmlstream.Wrap(&sliceReader{toks: toks}, start))
}

// deliverOffline hands a session that just became available the messages kept for
// its account.
func (c *conn) deliverOffline(ctx context.Context, owner string) {
	if c.srv.cfg.Offline == nil {
		return
	}
	msgs, err := c.srv.cfg.Offline.TakeOffline(ctx, owner)
	if err != nil {
		c.log.ErrorContext(ctx, "reading the messages kept offline", "err", err)
		return
	}
	for _, b := range msgs {
		c.send(b)
	}
}
