package c2s

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
)

// asStanzaError returns err as a stanza error, internal-server-error if it is not one.
func asStanzaError(err error) stanza.Error {
	var se stanza.Error
	if errors.As(err, &se) {
		return se
	}
	return stanza.Error{Type: stanza.Wait, Condition: stanza.InternalServerError}
}

// replyIQ answers iq during negotiation: a result carrying payload, or the error.
func (c *conn) replyIQ(iq stanza.IQ, payload any, err error) error {
	r, err := answerIQ(iq, payload, err)
	if err != nil {
		return err
	}
	b, err := marshal(r)
	if err != nil {
		return err
	}
	return c.write(string(b))
}

// firstChild reads up to the first child element of the element d is in.
func firstChild(d *xml.Decoder) (xml.StartElement, bool, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, false, fmt.Errorf("c2s: reading IQ payload: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, true, nil
		case xml.EndElement:
			return xml.StartElement{}, false, nil
		}
	}
}

// preAuthIQ answers an IQ on a stream that is not authenticated: the pre-auth
// token (XEP-0445) and registration (XEP-0077, with the form's invitation field);
// anything else is refused.
func (c *conn) preAuthIQ(ctx context.Context, d *xml.Decoder, start xml.StartElement) error {
	iq, err := stanza.NewIQ(start)
	if err != nil {
		return &streamError{condition: "invalid-from", text: "malformed address"}
	}
	// The client is nobody yet: whatever 'from' it wrote is dropped.
	iq.From = jid.JID{}
	if iq.Type != stanza.GetIQ && iq.Type != stanza.SetIQ {
		return drain(d)
	}
	payload, ok, err := firstChild(d)
	if err != nil {
		return err
	}
	if !ok {
		return c.replyIQ(iq, nil, stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest})
	}
	if !iq.To.Equal(jid.JID{}) && !iq.To.Equal(c.srv.domain) {
		if err := drain(d); err != nil {
			return err
		}
		return c.replyIQ(iq, nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable})
	}
	rctx, cancel := context.WithTimeout(ctx, c.srv.cfg.RequestTimeout)
	defer cancel()

	namePreAuth := xml.Name{Space: register.NSPreAuth, Local: "preauth"}
	nameRegister := xml.Name{Space: register.NS, Local: "query"}
	defer c.registeringDeadline(payload.Name == nameRegister && iq.Type == stanza.GetIQ)
	var result any
	switch {
	case c.flow == nil:
		err = stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}
	case payload.Name == namePreAuth && iq.Type == stanza.SetIQ:
		var p register.PreAuth
		if derr := d.DecodeElement(&p, &payload); derr != nil {
			return fmt.Errorf("c2s: reading preauth: %w", derr)
		}
		err = c.flow.PreAuth(rctx, p.Token)
	case payload.Name == nameRegister && iq.Type == stanza.GetIQ:
		var q register.Query
		q, err = c.flow.Query()
		if err == nil {
			result = q
		}
	case payload.Name == nameRegister && iq.Type == stanza.SetIQ:
		req, derr := register.DecodeRequest(d, &payload)
		switch {
		case derr != nil:
			var se *xml.SyntaxError
			if errors.As(derr, &se) {
				return derr
			}
			err = stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest}
		case req.Remove:
			err = c.flow.Remove()
		default:
			var addr string
			addr, err = c.flow.Submit(rctx, req)
			if err == nil {
				c.log.InfoContext(ctx, "registered", "jid", addr)
				if c.flow.AwaitsApproval() {
					result = register.Registered{Instructions: register.TextAwaitsApproval}
				}
			}
		}
	default:
		err = stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}
	}
	if derr := drain(d); derr != nil {
		return derr
	}
	return c.replyIQ(iq, result, err)
}

// registeringDeadline gives the negotiation its longest deadline, room for a person
// filling in the registration form, once the stream holds a valid invitation (a
// pre-auth token, or the form's invitation field), or, where registration is open to
// anyone, once it asked for the form (formAsked). Asking for the form of an
// invite-only server does not: 100 addresses asking for it must not hold every slot.
// A connection holding a valid invitation is also never evicted (see admission).
func (c *conn) registeringDeadline(formAsked bool) {
	if c.flow == nil {
		return
	}
	if c.flow.Validated() {
		c.invited.Store(true)
	}
	if !c.registering && (c.flow.Validated() || formAsked && c.srv.cfg.Registration.Mode() == register.Open) {
		c.registering = true
		c.extendDeadline(c.srv.cfg.NegotiationTimeout)
	}
}
