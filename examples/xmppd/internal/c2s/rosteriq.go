package c2s

import (
	"context"
	"encoding/xml"
	"errors"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/roster"
)

// Roster payloads (RFC 6121 §2.1), written with encoding/xml.
type (
	rosterQuery struct {
		XMLName xml.Name     `xml:"jabber:iq:roster query"`
		Items   []rosterItem `xml:"item"`
	}
	rosterItem struct {
		JID          string   `xml:"jid,attr"`
		Name         string   `xml:"name,attr,omitempty"`
		Subscription string   `xml:"subscription,attr,omitempty"`
		Ask          string   `xml:"ask,attr,omitempty"`
		Approved     string   `xml:"approved,attr,omitempty"`
		Groups       []string `xml:"group"`
	}
)

// wireItem turns an item into its XML form.
func wireItem(it roster.Item) rosterItem {
	w := rosterItem{JID: it.JID, Name: it.Name, Subscription: string(it.Subscription), Groups: it.Groups}
	if it.Ask {
		w.Ask = "subscribe"
	}
	if it.Approved {
		w.Approved = "true"
	}
	return w
}

// rosterHandler answers roster gets and sets (RFC 6121 §2) for one session.
type rosterHandler struct {
	c   *conn
	ctx context.Context // the session's: ends when the server stops
}

// HandleIQ implements mux.IQHandler.
func (h rosterHandler) HandleIQ(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	c := h.c
	if !iq.To.Equal(c.addr.Bare()) && !iq.To.Equal(c.addr) && !iq.To.Equal(c.srv.domain) && iq.To.String() != "" {
		return reply(t, iq, nil, stanza.Error{Type: stanza.Auth, Condition: stanza.Forbidden})
	}
	ctx, cancel := context.WithTimeout(h.ctx, c.srv.cfg.RequestTimeout)
	defer cancel()
	svc := c.srv.cfg.Roster
	owner := c.addr.Bare().String()
	if iq.Type == stanza.GetIQ {
		c.pmu.Lock()
		c.interested = true
		c.pmu.Unlock()
		q := rosterQuery{}
		if svc != nil {
			items, err := svc.Get(ctx, owner)
			if err != nil {
				c.log.ErrorContext(ctx, "reading the roster", "err", err)
				return reply(t, iq, nil, stanza.Error{Type: stanza.Wait, Condition: stanza.InternalServerError})
			}
			for _, it := range items {
				q.Items = append(q.Items, wireItem(it))
			}
		}
		return reply(t, iq, q, nil)
	}

	var q rosterQuery
	if err := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t)).Decode(&q); err != nil {
		return reply(t, iq, nil, stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest})
	}
	if len(q.Items) != 1 || q.Items[0].JID == "" {
		return reply(t, iq, nil, stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest,
			Text: map[string]string{"": "a roster set holds exactly one item with a jid"}})
	}
	if svc == nil {
		return reply(t, iq, nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable})
	}
	it := q.Items[0]
	var eff roster.Effects
	var err error
	if it.Subscription == string(roster.Remove) {
		eff, err = svc.Remove(ctx, owner, it.JID)
	} else {
		// Any other subscription or ask a client sends is ignored (RFC 6121 §2.1.2).
		eff, err = svc.Set(ctx, owner, roster.Item{JID: it.JID, Name: it.Name, Groups: it.Groups})
	}
	if err != nil {
		return reply(t, iq, nil, rosterError(ctx, c, err))
	}
	c.srv.apply(ctx, eff, nil)
	return reply(t, iq, nil, nil)
}

// rosterError maps a roster.Service failure to a stanza error.
func rosterError(ctx context.Context, c *conn, err error) stanza.Error {
	text := map[string]string{"": err.Error()}
	switch {
	case errors.Is(err, roster.ErrNotFound):
		return stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound}
	case errors.Is(err, roster.ErrInvalid):
		return stanza.Error{Type: stanza.Modify, Condition: stanza.NotAcceptable, Text: text}
	case errors.Is(err, roster.ErrTooMany):
		return stanza.Error{Type: stanza.Cancel, Condition: stanza.NotAllowed, Text: text}
	case errors.Is(err, roster.ErrRemote):
		return stanza.Error{Type: stanza.Cancel, Condition: stanza.RemoteServerNotFound, Text: text}
	}
	c.log.ErrorContext(ctx, "changing the roster", "err", err)
	return stanza.Error{Type: stanza.Wait, Condition: stanza.InternalServerError}
}

// reply answers iq on t: a result carrying payload, or the error.
func reply(t xmlstream.TokenWriter, iq stanza.IQ, payload any, err error) error {
	r, err := answerIQ(iq, payload, err)
	if err != nil {
		return err
	}
	_, err = xmlstream.Copy(t, r)
	return err
}

// answerIQ is the answer to iq: a result carrying payload, or when err is not nil an
// error stanza saying it (see asStanzaError). It fails only when payload cannot be
// marshalled.
func answerIQ(iq stanza.IQ, payload any, err error) (xml.TokenReader, error) {
	if err != nil {
		return iq.Error(asStanzaError(err)), nil
	}
	p, err := payloadTokens(payload)
	if err != nil {
		return nil, err
	}
	return iq.Result(p), nil
}

// pushXML builds a roster push of it to the session full (RFC 6121 §2.1.6).
func pushXML(it roster.Item, full string) ([]byte, error) {
	p, err := payloadTokens(rosterQuery{Items: []rosterItem{wireItem(it)}})
	if err != nil {
		return nil, err
	}
	return stanzaXML("iq", p, "type", "set", "id", "push-"+randomID(6), "to", full)
}
