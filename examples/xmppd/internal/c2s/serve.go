package c2s

import (
	"context"
	"encoding/xml"
	"errors"
	"slices"

	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/commands"
	"mellium.im/xmpp/disco"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"
)

// Disco identities and features (XEP-0030).
const (
	nsInvite = "urn:xmpp:invite"
	nsRoster = "jabber:iq:roster"
	// ServerName is the name of the server's disco identity.
	ServerName = "xmppd (invites example server)"
)

// bind offers resource binding and binds with xmpp.BindCustom to the account
// that authenticated.
func (c *conn) bind(ctx context.Context, s *xmpp.Session) error {
	if err := c.write(`<stream:features><bind xmlns='` + nsBind + `'/><session xmlns='` + nsSession + `'><optional/></session></stream:features>`); err != nil {
		return err
	}
	c.lc.reset()
	feature := xmpp.BindCustom(func(_ jid.JID, resource string) (jid.JID, error) {
		// The first argument is the stream's 'from', which the client chose: ignored.
		j, err := c.srv.bindResource(c.account, resource)
		if err != nil {
			c.log.ErrorContext(ctx, "binding", "err", err)
			return jid.JID{}, stanza.Error{Type: stanza.Wait, Condition: stanza.InternalServerError}
		}
		c.addr = j
		return j, nil
	})
	if _, _, err := feature.Negotiate(ctx, s, nil); err != nil {
		return err
	}
	if c.addr.Equal(jid.JID{}) {
		return &streamError{condition: "internal-server-error", text: "resource binding failed"}
	}
	return nil
}

// handler builds the handler of an authenticated session.
func (c *conn) handler(ctx context.Context) xmpp.Handler {
	var cmds CommandHandler
	if c.srv.cfg.NewCommandHandler != nil {
		cmds = c.srv.cfg.NewCommandHandler(ctx, c.addr)
	}
	dh := discoHandler{c: c, cmds: cmds}
	opts := []mux.Option{
		ping.Handle(),
		mux.IQ(stanza.GetIQ, xml.Name{Space: disco.NSInfo, Local: "query"}, dh),
		mux.IQ(stanza.GetIQ, xml.Name{Space: disco.NSItems, Local: "query"}, dh),
		mux.IQFunc(stanza.SetIQ, xml.Name{Space: nsSession, Local: "session"}, func(iq stanza.IQ, t xmlstream.TokenReadEncoder, _ *xml.StartElement) error {
			_, err := xmlstream.Copy(t, iq.Result(nil))
			return err
		}),
		// No rosters are kept: clients asking at login get an empty one (RFC 6121 §2.1.3)
		// rather than an error; roster pushes and sets are not served.
		mux.IQFunc(stanza.GetIQ, xml.Name{Space: nsRoster, Local: "query"}, func(iq stanza.IQ, t xmlstream.TokenReadEncoder, _ *xml.StartElement) error {
			_, err := xmlstream.Copy(t, iq.Result(xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: nsRoster, Local: "query"}})))
			return err
		}),
	}
	if cmds != nil {
		opts = append(opts, mux.IQ(stanza.SetIQ, xml.Name{Space: commands.NS, Local: "command"}, cmds))
	}
	return guard{c: c, next: mux.New(stanza.NSClient, opts...)}
}

// guard is the outermost handler: it resets the size budget, stamps 'from' with
// the bound JID, refuses stanzas for other addresses (nothing is routed), and
// turns malformed XML into a not-well-formed stream error.
type guard struct {
	c    *conn
	next xmpp.Handler
}

// HandleXMPP implements xmpp.Handler.
func (g guard) HandleXMPP(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	c := g.c
	c.lc.reset()
	defer c.lc.reset()

	var to string
	attrs := start.Attr[:0]
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "from":
			continue
		case a.Name.Space == "" && a.Name.Local == "to":
			to = a.Value
		}
		attrs = append(attrs, a)
	}
	start.Attr = append(attrs, xml.Attr{Name: xml.Name{Local: "from"}, Value: c.addr.String()})

	if to != "" && !c.local(to) {
		return g.refuse(t, start)
	}
	err := g.next.HandleXMPP(t, start)
	if err == nil {
		// Read what the handler left of the stanza here rather than in mellium, so
		// that malformed XML gets its stream error (mellium's own would stay
		// unflushed in v0.23.0).
		_, err = xmlstream.Copy(xmlstream.Discard(), t)
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		c.lc.kill("not-well-formed", "")
	}
	return err
}

// local reports whether to addresses this server or the client's own account.
func (c *conn) local(to string) bool {
	j, err := jid.Parse(to)
	if err != nil {
		return false
	}
	return j.Equal(c.srv.domain) || j.Equal(c.addr.Bare()) || j.Equal(c.addr)
}

// refuse answers a stanza for an address this server does not route to.
func (g guard) refuse(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if start.Name.Local != "iq" && start.Name.Local != "message" {
		return nil // presence: dropped
	}
	var typ string
	for _, a := range start.Attr {
		if a.Name.Local == "type" {
			typ = a.Value
		}
	}
	if typ == "error" || typ == "result" {
		return nil
	}
	iq, err := stanza.NewIQ(*start)
	if err != nil {
		return nil
	}
	reply := iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable,
		Text: map[string]string{"": "this server does not route stanzas"}})
	if start.Name.Local == "message" {
		reply = xmlstream.Wrap(stanza.Error{Type: stanza.Cancel, Condition: stanza.ServiceUnavailable}.TokenReader(),
			stanza.Message{XMLName: start.Name, ID: iq.ID, To: iq.From, From: iq.To, Type: stanza.ErrorMessage}.StartElement())
	}
	_, err = xmlstream.Copy(t, reply)
	return err
}

// discoHandler answers disco#info and disco#items (XEP-0030) for the server and
// for the client's own account; the command handler describes the command nodes.
type discoHandler struct {
	c    *conn
	cmds CommandHandler // nil when there are no commands
}

// Disco payloads, written with encoding/xml.
type (
	discoInfo struct {
		XMLName    xml.Name        `xml:"http://jabber.org/protocol/disco#info query"`
		Node       string          `xml:"node,attr,omitempty"`
		Identities []discoIdentity `xml:"identity"`
		Features   []discoFeature  `xml:"feature"`
	}
	discoIdentity struct {
		Category string `xml:"category,attr"`
		Type     string `xml:"type,attr"`
		Name     string `xml:"name,attr,omitempty"`
	}
	discoFeature struct {
		Var string `xml:"var,attr"`
	}
	discoItems struct {
		XMLName xml.Name    `xml:"http://jabber.org/protocol/disco#items query"`
		Node    string      `xml:"node,attr,omitempty"`
		Items   []discoItem `xml:"item"`
	}
	discoItem struct {
		JID  string `xml:"jid,attr"`
		Node string `xml:"node,attr,omitempty"`
		Name string `xml:"name,attr,omitempty"`
	}
)

// features turns namespaces into disco features.
func features(vars ...string) []discoFeature {
	out := make([]discoFeature, len(vars))
	for i, v := range vars {
		out[i] = discoFeature{Var: v}
	}
	return out
}

// HandleIQ implements mux.IQHandler.
func (h discoHandler) HandleIQ(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	c := h.c
	var node string
	for _, a := range start.Attr {
		if a.Name.Local == "node" {
			node = a.Value
		}
	}
	isInfo := start.Name.Space == disco.NSInfo
	toServer := iq.To.Equal(jid.JID{}) || iq.To.Equal(c.srv.domain)
	var payload any
	switch {
	case !toServer && node == "" && isInfo:
		// The client's own account.
		payload = discoInfo{
			Identities: []discoIdentity{{Category: "account", Type: "registered"}},
			Features:   features(disco.NSInfo),
		}
	case !toServer && node == "":
		payload = discoItems{}
	case !toServer:
	case isInfo:
		di := discoInfo{Node: node}
		if node == "" {
			di.Identities = []discoIdentity{{Category: "server", Type: "im", Name: ServerName}}
			di.Features = features(disco.NSInfo, disco.NSItems, ping.NS, nsInvite)
		}
		if err := h.extraInfo(node, &di); err != nil {
			return err
		}
		if node == "" || len(di.Identities)+len(di.Features) > 0 {
			payload = di
		}
	default:
		di := discoItems{Node: node}
		known := node == "" || node == commands.NS
		if h.cmds != nil {
			if err := h.cmds.ForItems(node, func(it items.Item) error {
				di.Items = append(di.Items, discoItem{JID: it.JID.String(), Node: it.Node, Name: it.Name})
				return nil
			}); err != nil {
				return err
			}
			if !known {
				_ = h.cmds.ForIdentities(node, func(info.Identity) error { known = true; return nil })
			}
		}
		if known {
			payload = di
		}
	}
	if payload == nil {
		_, err := xmlstream.Copy(t, iq.Error(stanza.Error{Type: stanza.Cancel, Condition: stanza.ItemNotFound}))
		return err
	}
	r, err := payloadTokens(payload)
	if err != nil {
		return err
	}
	_, err = xmlstream.Copy(t, iq.Result(r))
	return err
}

// extraInfo adds what the command handler says about node (the commands node and
// each command the requester may run).
func (h discoHandler) extraInfo(node string, di *discoInfo) error {
	if h.cmds == nil {
		return nil
	}
	if err := h.cmds.ForIdentities(node, func(i info.Identity) error {
		di.Identities = append(di.Identities, discoIdentity{Category: i.Category, Type: i.Type, Name: i.Name})
		return nil
	}); err != nil {
		return err
	}
	return h.cmds.ForFeatures(node, func(f info.Feature) error {
		if !slices.Contains(di.Features, discoFeature{Var: f.Var}) {
			di.Features = append(di.Features, discoFeature{Var: f.Var})
		}
		return nil
	})
}
