package c2s

import (
	"context"
	"encoding/xml"
	"errors"

	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/roster"
	"github.com/xmpp-invites/invites/plugin"
)

// nsPreAuth is XEP-0379's namespace: a subscription request carrying a token.
const nsPreAuth = "urn:xmpp:pars:0"

// maxDirected bounds the addresses one session remembers sending directed presence.
const maxDirected = 256

// ContactInvites redeems contact invites for accounts that exist already: a
// subscription request carrying <preauth xmlns='urn:xmpp:pars:0' token='…'/>
// (XEP-0379), sent by requester to the invite's inviter.
type ContactInvites interface {
	// RedeemContact uses token for the account requester (a bare JID) on host and
	// returns the bare JID of the invite's inviter and the groups it names.
	// Any error leaves the request an ordinary one, which the inviter answers.
	RedeemContact(ctx context.Context, host, token, requester string) (inviter string, groups []string, err error)
}

// presence handles a presence stanza from the client (RFC 6121 §3, §4).
func (c *conn) presence(ctx context.Context, el element, to jid.JID) error {
	typ := el.attr("type")
	switch typ {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		return c.subscription(ctx, el, to, typ)
	case "probe":
		return nil // the server probes for its clients
	case "", "unavailable":
		if to.Equal(jid.JID{}) {
			return c.broadcast(ctx, el, typ)
		}
		return c.directedPresence(ctx, el, to, typ)
	case "error":
		if s := c.srv.hub.session(to); s != nil && to.Resourcepart() != "" {
			c.deliver(s, el, to.String())
		}
		return nil
	}
	return c.bounce(ctx, el, stanza.Error{Type: stanza.Modify, Condition: stanza.BadRequest})
}

// subscription handles subscribe, subscribed, unsubscribe and unsubscribed.
func (c *conn) subscription(ctx context.Context, el element, to jid.JID, typ string) error {
	svc := c.srv.cfg.Roster
	if svc == nil || to.Localpart() == "" || to.Bare().Equal(c.addr.Bare()) {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.srv.cfg.RequestTimeout)
	defer cancel()
	owner, contact := c.addr.Bare().String(), to.Bare().String()
	var eff roster.Effects
	var err error
	switch typ {
	case "subscribe":
		var settled bool
		eff, settled, err = c.contactInvite(ctx, el, contact)
		if err == nil && !settled {
			// The token, if any, is not passed on.
			el = el.without(xml.Name{Space: nsPreAuth, Local: "preauth"})
			eff, err = svc.Subscribe(ctx, owner, contact)
		}
	case "subscribed":
		eff, err = svc.Subscribed(ctx, owner, contact)
	case "unsubscribe":
		eff, err = svc.Unsubscribe(ctx, owner, contact)
	case "unsubscribed":
		eff, err = svc.Unsubscribed(ctx, owner, contact)
	}
	switch {
	case errors.Is(err, roster.ErrRemote):
		return c.bounce(ctx, el, stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable,
			Text: map[string]string{"": "this server does not route to other domains"}})
	case errors.Is(err, roster.ErrInvalid), errors.Is(err, roster.ErrTooMany):
		return c.bounce(ctx, el, rosterError(ctx, c, err))
	case err != nil:
		c.log.ErrorContext(ctx, "presence subscription", "type", typ, "err", err)
		return c.bounce(ctx, el, stanza.Error{Type: stanza.Wait, Condition: stanza.InternalServerError})
	}
	c.srv.apply(ctx, eff, &el)
	return nil
}

// contactInvite handles a subscription request that carries a contact invite's
// token (XEP-0379): when the invite is the contact's, both are subscribed to each
// other at once and settled is true. With no token, or one that is not usable, the
// request goes on as an ordinary one.
func (c *conn) contactInvite(ctx context.Context, el element, contact string) (eff roster.Effects, settled bool, err error) {
	pa, ok := el.childStart(xml.Name{Space: nsPreAuth, Local: "preauth"})
	if !ok {
		return roster.Effects{}, false, nil
	}
	var token string
	for _, a := range pa.Attr {
		if a.Name.Local == "token" {
			token = a.Value
		}
	}
	ci := c.srv.cfg.ContactInvites
	if token == "" || ci == nil {
		return roster.Effects{}, false, nil
	}
	owner := c.addr.Bare().String()
	// The client's address goes with the redemption, for the plugin's audit record.
	inviter, groups, err := ci.RedeemContact(plugin.WithClientAddr(ctx, c.remote.String()), c.srv.cfg.Domain, token, owner)
	if err != nil {
		c.log.InfoContext(ctx, "contact invite not used: the subscription request goes to the contact", "contact", contact, "reason", err.Error())
		return roster.Effects{}, false, nil
	}
	if inviter != contact {
		// The token is spent, but not on this contact: the request stays ordinary.
		c.log.InfoContext(ctx, "contact invite not used: it was made by another account", "contact", contact, "inviter", inviter)
		return roster.Effects{}, false, nil
	}
	c.log.InfoContext(ctx, "contact invite redeemed", "inviter", inviter)
	eff, err = c.srv.welcome(ctx, owner, inviter, groups)
	return eff, err == nil, err
}

// broadcast handles presence without 'to': available or unavailable, sent to the
// account's subscribers and its own sessions (RFC 6121 §4.2, §4.4, §4.5).
// The first available presence also probes the contacts and hands the session the
// subscription requests waiting for it.
func (c *conn) broadcast(ctx context.Context, el element, typ string) error {
	c.pmu.Lock()
	wasAvailable := c.available
	var directed map[string]struct{}
	if typ == "" {
		c.available, c.last, c.priority = true, &el, el.priority()
	} else {
		c.available, c.last = false, nil
		directed, c.directed = c.directed, nil
	}
	c.pmu.Unlock()
	if typ == "unavailable" && !wasAvailable {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.srv.cfg.RequestTimeout)
	defer cancel()
	owner := c.addr.Bare().String()
	for _, s := range c.srv.hub.available(owner) {
		c.deliver(s, el, s.addr.String())
	}
	c.toSubscribers(ctx, el)
	for to := range directed {
		if j, err := jid.Parse(to); err == nil {
			c.directedPresence(ctx, el, j, typ)
		}
	}
	if typ != "" || wasAvailable {
		return nil
	}
	if el.priority() >= 0 {
		c.deliverOffline(ctx, owner)
	}
	return c.initialPresence(ctx, owner)
}

// toSubscribers sends el to every available session of the account's subscribers.
func (c *conn) toSubscribers(ctx context.Context, el element) {
	svc := c.srv.cfg.Roster
	if svc == nil {
		return
	}
	subs, err := svc.Subscribers(ctx, c.addr.Bare().String())
	if err != nil {
		c.log.ErrorContext(ctx, "reading subscribers", "err", err)
		return
	}
	for _, sub := range subs {
		for _, s := range c.srv.hub.available(sub) {
			c.deliver(s, el, s.addr.String())
		}
	}
}

// initialPresence gives a session that just became available the presence of its
// contacts and its own other sessions, and the subscription requests waiting.
func (c *conn) initialPresence(ctx context.Context, owner string) error {
	for _, s := range c.srv.hub.available(owner) {
		if s != c {
			s.shareWith(c)
		}
	}
	svc := c.srv.cfg.Roster
	if svc == nil {
		return nil
	}
	subs, err := svc.Subscriptions(ctx, owner)
	if err != nil {
		c.log.ErrorContext(ctx, "reading subscriptions", "err", err)
		return nil
	}
	for _, contact := range subs {
		for _, s := range c.srv.hub.available(contact) {
			s.shareWith(c)
		}
	}
	pending, err := svc.Pending(ctx, owner)
	if err != nil {
		c.log.ErrorContext(ctx, "reading pending subscription requests", "err", err)
		return nil
	}
	for _, from := range pending {
		if b, err := stanzaXML("presence", nil, "type", "subscribe", "from", from, "to", owner); err == nil {
			c.send(b)
		}
	}
	return nil
}

// shareWith sends s's current presence to the session to.
func (s *conn) shareWith(to *conn) {
	s.pmu.Lock()
	last := s.last
	s.pmu.Unlock()
	if last != nil {
		if b, err := last.bytes(s.addr.String(), to.addr.String()); err == nil {
			to.send(b)
		}
	}
}

// directedPresence sends available or unavailable presence to one address
// (RFC 6121 §4.6): a session, or every available session of an account.
func (c *conn) directedPresence(_ context.Context, el element, to jid.JID, typ string) error {
	if to.Localpart() == "" || !to.Domain().Equal(c.srv.domain) {
		return nil // the server itself, or another server: nothing to do
	}
	key := to.String()
	c.pmu.Lock()
	if typ == "" && len(c.directed) < maxDirected {
		if c.directed == nil {
			c.directed = map[string]struct{}{}
		}
		c.directed[key] = struct{}{}
	} else if typ == "unavailable" {
		delete(c.directed, key)
	}
	c.pmu.Unlock()
	if to.Resourcepart() != "" {
		if s := c.srv.hub.session(to); s != nil {
			c.deliver(s, el, key)
		}
		return nil
	}
	for _, s := range c.srv.hub.available(key) {
		c.deliver(s, el, key)
	}
	return nil
}

// deliver sends el from this session to the session s, addressed to.
func (c *conn) deliver(s *conn, el element, to string) {
	b, err := el.bytes(c.addr.String(), to)
	if err != nil {
		c.log.Error("encoding a stanza", "err", err)
		return
	}
	s.send(b)
}

// offline takes a session that is ending out of the hub and tells the account's
// subscribers and other sessions that it is unavailable.
func (c *conn) offline(ctx context.Context) {
	c.srv.hub.unbind(c.addr, c)
	c.pmu.Lock()
	was := c.available
	c.pmu.Unlock()
	if !was {
		return
	}
	el := element{start: xml.StartElement{Name: xml.Name{Space: nsClient, Local: "presence"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "type"}, Value: "unavailable"}}}}
	// The stream is gone but its goodbye is still owed: a context of its own.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.srv.cfg.RequestTimeout)
	defer cancel()
	_ = c.broadcast(bctx, el, "unavailable")
}

// welcome applies a redeemed invite to account: subscribed both ways with inviter
// (when there is one) and a member of each group.
func (s *Server) welcome(ctx context.Context, account, inviter string, groups []string) (roster.Effects, error) {
	var all roster.Effects
	svc := s.cfg.Roster
	if svc == nil {
		return all, nil
	}
	if inviter != "" && inviter != account {
		eff, err := svc.Mutual(ctx, account, inviter)
		if err != nil {
			return all, err
		}
		all.Pushes = append(all.Pushes, eff.Pushes...)
		all.Share = append(all.Share, eff.Share...)
	}
	for _, g := range groups {
		eff, err := svc.JoinGroup(ctx, g, account)
		if err != nil {
			return all, err
		}
		all.Pushes = append(all.Pushes, eff.Pushes...)
		all.Share = append(all.Share, eff.Share...)
	}
	return all, nil
}

// Welcome applies what a redeemed invite says to the new account (a bare JID):
// subscribed both ways with inviter (a bare JID; empty for none), as XEP-0401 §5.5
// asks of contact invites, and put in each of groups with their members; the
// sessions of everyone concerned get their roster pushes and presence.
func (s *Server) Welcome(ctx context.Context, account, inviter string, groups []string) error {
	eff, err := s.welcome(ctx, account, inviter, groups)
	s.apply(ctx, eff, nil)
	return err
}

// apply carries out a roster operation's effects on the online sessions. original,
// if not nil, is the subscription stanza the client sent, delivered with what it
// carries where the effects say so.
func (s *Server) apply(_ context.Context, eff roster.Effects, original *element) {
	for _, p := range eff.Pushes {
		for _, sess := range s.hub.interested(p.Owner) {
			if b, err := pushXML(p.Item, sess.addr.String()); err == nil {
				sess.send(b)
			}
		}
	}
	for _, st := range eff.Stanzas {
		for _, sess := range s.hub.available(st.To) {
			var b []byte
			var err error
			if st.Original && original != nil {
				b, err = original.bytes(st.From, st.To)
			} else {
				b, err = stanzaXML("presence", nil, "type", st.Type, "from", st.From, "to", st.To)
			}
			if err == nil {
				sess.send(b)
			}
		}
	}
	for _, sh := range eff.Share {
		for _, to := range s.hub.available(sh.To) {
			for _, of := range s.hub.available(sh.Of) {
				of.shareWith(to)
			}
		}
	}
	for _, sh := range eff.Unshare {
		for _, to := range s.hub.available(sh.To) {
			for _, of := range s.hub.available(sh.Of) {
				if b, err := stanzaXML("presence", nil, "type", "unavailable", "from", of.addr.String(), "to", to.addr.String()); err == nil {
					to.send(b)
				}
			}
		}
	}
}
