package c2s

import (
	"context"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
)

// textNoFederation is the text of the error for stanzas to other servers.
const textNoFederation = "this server does not route to other domains"

// errNoFederation is the answer to a stanza for another server: there is no
// server-to-server link.
var errNoFederation = stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable,
	Text: map[string]string{"": textNoFederation}}

// accountExists reports whether the bare JID is an account; without an account
// directory, any account with a session counts.
func (c *conn) accountExists(ctx context.Context, bare string) bool {
	if len(c.srv.hub.sessions(bare)) > 0 {
		return true
	}
	if c.srv.cfg.Accounts == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, c.srv.cfg.RequestTimeout)
	defer cancel()
	ok, err := c.srv.cfg.Accounts.Exists(ctx, bare)
	if err != nil {
		c.log.ErrorContext(ctx, "looking up an account", "err", err)
	}
	return ok
}

// routeIQ handles an IQ for another entity than the server and the client's own
// account: another session is given it; for another account the server answers
// (it serves nothing on their behalf); other servers are not reachable.
func (c *conn) routeIQ(ctx context.Context, el element, to jid.JID) error {
	if !to.Domain().Equal(c.srv.domain) || to.Localpart() == "" {
		return c.bounce(ctx, el, errNoFederation)
	}
	if to.Resourcepart() != "" {
		if s := c.srv.hub.session(to); s != nil {
			c.deliver(s, el, to.String())
			return nil
		}
	}
	// RFC 6120 §10.5.3.2, §10.5.4: for a bare JID, or a session that is gone, the
	// server answers.
	return c.bounce(ctx, el, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable})
}

// routeMessage delivers a message between local accounts (RFC 6121 §8.5).
func (c *conn) routeMessage(ctx context.Context, el element, to jid.JID) error {
	typ := el.attr("type")
	switch {
	case to.Equal(jid.JID{}):
		to = c.addr.Bare() // RFC 6120 §8.1.1.1: no 'to' is the sender's own account
	case to.Localpart() == "" && to.Domain().Equal(c.srv.domain):
		return nil // for the server itself: nothing is served by message
	case !to.Domain().Equal(c.srv.domain):
		return c.bounce(ctx, el, errNoFederation)
	}
	if to.Resourcepart() != "" {
		if s := c.srv.hub.session(to); s != nil {
			c.deliver(s, el, to.String())
			return nil
		}
		if typ == "groupchat" {
			return c.bounce(ctx, el, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable})
		}
		if typ == "error" {
			return nil
		}
	}
	bare := to.Bare().String()
	if !c.accountExists(ctx, bare) {
		return c.bounce(ctx, el, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable})
	}
	switch typ {
	case "error":
		return nil
	case "groupchat":
		return c.bounce(ctx, el, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable})
	}
	delivered := false
	for _, s := range c.srv.hub.available(bare) {
		s.pmu.Lock()
		prio := s.priority
		s.pmu.Unlock()
		if prio >= 0 {
			c.deliver(s, el, to.String())
			delivered = true
		}
	}
	if delivered || typ == "headline" {
		return nil
	}
	// No session to give it to, and no offline storage: RFC 6121 §8.5.2.2.1.
	return c.bounce(ctx, el, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable,
		Text: map[string]string{"": to.Bare().String() + " is not online"}})
}
