package c2s

import (
	"context"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"

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

// maxPreBindStanzas bounds the IQs a client may send before binding a resource.
const maxPreBindStanzas = 16

// bindQuery is the payload of a bind IQ (RFC 6120 §7).
type bindQuery struct {
	XMLName  xml.Name `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
	Resource string   `xml:"resource,omitempty"`
	JID      string   `xml:"jid,omitempty"`
}

// bind offers resource binding and binds the account that authenticated (never the
// stream's 'from') to the requested resource, or to one of the server's choice.
// Whitespace between the stream header and the bind IQ is skipped like anywhere
// else (RFC 6120 §11.7).
func (c *conn) bind(ctx context.Context, r xml.TokenReader) error {
	if err := c.write(`<stream:features><bind xmlns='` + nsBind + `'/><session xmlns='` + nsSession + `'><optional/></session></stream:features>`); err != nil {
		return err
	}
	for range maxPreBindStanzas {
		start, err := c.next(r)
		if err != nil {
			return err
		}
		if start.Name.Space != nsClient || start.Name.Local != "iq" {
			return &streamError{condition: "not-authorized", text: "bind a resource first"}
		}
		d, err := elementDecoder(r, start)
		if err != nil {
			return err
		}
		iq, err := stanza.NewIQ(start)
		if err != nil {
			return &streamError{condition: "invalid-from", text: "malformed address"}
		}
		iq.From = jid.JID{}
		payload, ok, err := firstChild(d)
		if err != nil {
			return err
		}
		if !ok || iq.Type != stanza.SetIQ || payload.Name != (xml.Name{Space: nsBind, Local: "bind"}) {
			if err := drain(d); err != nil {
				return err
			}
			if iq.Type == stanza.GetIQ || iq.Type == stanza.SetIQ {
				if err := c.replyIQ(iq, nil, stanza.Error{Type: stanza.Cancel, Condition: stanza.NotAllowed,
					Text: map[string]string{"": "bind a resource first"}}); err != nil {
					return err
				}
			}
			continue
		}
		var q bindQuery
		if err := d.DecodeElement(&q, &payload); err != nil {
			return fmt.Errorf("c2s: reading bind: %w", err)
		}
		if err := drain(d); err != nil {
			return err
		}
		j, err := c.srv.hub.bind(c.account, strings.TrimSpace(q.Resource), c)
		if err != nil {
			c.log.ErrorContext(ctx, "binding", "err", err)
			if err := c.replyIQ(iq, nil, stanza.Error{Type: stanza.Wait, Condition: stanza.InternalServerError}); err != nil {
				return err
			}
			continue
		}
		c.addr = j
		return c.replyIQ(iq, bindQuery{JID: j.String()}, nil)
	}
	return &streamError{condition: "policy-violation", text: "bind a resource first"}
}

// handler builds the handler of the IQs an authenticated session sends the server,
// and what to call when the session ends: a command handler with a Close method
// (*adhoc.Handler) ends there the command sessions the stream left open.
func (c *conn) handler(ctx context.Context) (xmpp.Handler, func()) {
	var cmds CommandHandler
	if c.srv.cfg.NewCommandHandler != nil {
		cmds = c.srv.cfg.NewCommandHandler(ctx, c.addr, c.remote)
	}
	end := func() {}
	if cl, ok := cmds.(interface{ Close(context.Context) error }); ok {
		end = func() {
			if err := cl.Close(ctx); err != nil {
				c.log.WarnContext(ctx, "ending the ad-hoc command sessions of the stream", "err", err)
			}
		}
	}
	dh := discoHandler{cmds: cmds}
	rh := rosterHandler{c: c, ctx: ctx}
	opts := []mux.Option{
		ping.Handle(),
		mux.IQ(stanza.GetIQ, xml.Name{Space: disco.NSInfo, Local: "query"}, dh),
		mux.IQ(stanza.GetIQ, xml.Name{Space: disco.NSItems, Local: "query"}, dh),
		mux.IQFunc(stanza.SetIQ, xml.Name{Space: nsSession, Local: "session"}, func(iq stanza.IQ, t xmlstream.TokenReadEncoder, _ *xml.StartElement) error {
			_, err := xmlstream.Copy(t, iq.Result(nil))
			return err
		}),
		mux.IQ(stanza.GetIQ, xml.Name{Space: nsRoster, Local: "query"}, rh),
		mux.IQ(stanza.SetIQ, xml.Name{Space: nsRoster, Local: "query"}, rh),
	}
	if cmds != nil {
		opts = append(opts, mux.IQ(stanza.SetIQ, xml.Name{Space: commands.NS, Local: "command"}, loggedCommands{cmds: cmds, log: c.log}))
	}
	return mux.New(stanza.NSClient, opts...), end
}

// discoHandler answers disco#info and disco#items (XEP-0030) for the server and
// for the client's own account; the command handler describes the command nodes.
type discoHandler struct {
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
	var node string
	for _, a := range start.Attr {
		if a.Name.Local == "node" {
			node = a.Value
		}
	}
	isInfo := start.Name.Space == disco.NSInfo
	// Only the server (or a resource of it) and the client's own account get here.
	toServer := iq.To.Localpart() == ""
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
