package adhoc

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"mellium.im/xmlstream"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"
)

// DefaultCallTimeout bounds one call of a Handler to its Executor.
const DefaultCallTimeout = 10 * time.Second

// HandlerOptions configure a Handler.
type HandlerOptions struct {
	// Timeout bounds each call to the Executor, per stanza; the stream waits for it, as
	// mellium handles one stanza at a time.
	// Zero means DefaultCallTimeout.
	Timeout time.Duration
	// Limits bound the requests the Handler decodes; the zero value means the
	// defaults of Limits.
	Limits Limits
	// BaseContext returns the parent of each per-stanza context, so that a server
	// shutting down can cancel calls in flight; nil means context.Background.
	BaseContext func() context.Context
	// Logger receives Executor failures the requester cannot be told about; nil
	// discards them.
	Logger *slog.Logger
	// Role says what the host holds the requester (the JID bound to the stream) for:
	// its administrators, its accounts. It is asked for every request and every
	// service discovery query, so a change applies at once, and is sent to the
	// Executor with it, which then decides without asking the host back.
	// An error fails the request (internal-server-error) and lists no commands.
	// Nil means RoleUser for a requester with a localpart on the Handler's host, and
	// RoleNone for anyone else.
	Role func(ctx context.Context, requester jid.JID) (Role, error)
}

// commandsTTL is how long a Handler reuses the command list it got for a role: one
// disco#info query asks for its features and its identities, which is one call to
// the Executor, not two.
const commandsTTL = time.Second

// Handler answers ad-hoc commands and their service discovery on one client stream,
// by calling an Executor.
// It implements mux.IQHandler, info.FeatureIter, info.IdentityIter and items.Iter;
// add it to the stream's multiplexer with Option, next to disco.Handle.
// It advertises http://jabber.org/protocol/commands in the server's disco#info, lists
// in disco#items of that node only the commands the Executor says the requester may
// run, and answers disco#info on each command node with the identity
// automation/command-node and the features commands and jabber:x:data.
//
// A Handler never returns an error for a request that fails (that would end the
// stream): it answers with an IQ error and returns nil.
// Only a failure to write its answer is returned.
//
// It remembers the sessions its stream left executing (at most maxOpen), so that
// Close can end them when the stream ends.
type Handler struct {
	exec      Executor
	host      string
	hostJID   jid.JID
	requester jid.JID
	timeout   time.Duration
	lim       Limits
	base      func() context.Context
	log       *slog.Logger
	role      func(ctx context.Context, requester jid.JID) (Role, error)
	now       func() time.Time

	mu     sync.Mutex // guards the cached command list and the open sessions
	cached []Command
	cRole  Role
	cAt    time.Time
	open   map[string]opened // by session ID
}

// opened is a session the Handler saw opened: its node and the role of its last
// request.
type opened struct {
	node string
	role Role
}

// maxOpen bounds the sessions a Handler remembers; an Executor bounds them anyway
// (session.Server replaces the least recently used), so a stream that opens more
// leaves the rest to it.
const maxOpen = 64

// NewHandler returns a Handler for one stream.
// host is the domain the server serves on that stream; requester is the full JID
// bound to the stream by resource binding, never a 'from' the client wrote.
// It panics if exec is nil or host is not a valid domain, as mux options do: both are
// the server's own configuration.
func NewHandler(exec Executor, host string, requester jid.JID, opts HandlerOptions) *Handler {
	if exec == nil {
		panic("adhoc: nil Executor")
	}
	hj, err := jid.New("", host, "")
	if err != nil || host == "" {
		panic("adhoc: invalid host " + host)
	}
	h := &Handler{
		exec:      exec,
		host:      hj.Domainpart(),
		hostJID:   hj,
		requester: requester,
		timeout:   opts.Timeout,
		lim:       opts.Limits.withDefaults(),
		base:      opts.BaseContext,
		log:       opts.Logger,
		role:      opts.Role,
		now:       time.Now,
	}
	if h.role == nil {
		h.role = h.defaultRole
	}
	if h.timeout <= 0 {
		h.timeout = DefaultCallTimeout
	}
	if h.base == nil {
		h.base = context.Background
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h
}

// Option registers the Handler for <iq type='set'><command/></iq> on a multiplexer:
//
//	mux.New(stanza.NSClient, disco.Handle(), h.Option())
//
// Service discovery reaches it through disco.Handle, which asks every registered
// handler for its features, identities and items.
func (h *Handler) Option() mux.Option {
	return mux.IQ(stanza.SetIQ, xml.Name{Space: NS, Local: "command"}, h)
}

func (h *Handler) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(h.base(), h.timeout)
}

// defaultRole is the Role of HandlerOptions without one: an account of the host is a
// user, anyone else nothing.
func (h *Handler) defaultRole(_ context.Context, requester jid.JID) (Role, error) {
	if requester.Localpart() != "" && requester.Domainpart() == h.host {
		return RoleUser, nil
	}
	return RoleNone, nil
}

// HandleIQ implements mux.IQHandler: it decodes the command, runs it and answers.
func (h *Handler) HandleIQ(iq stanza.IQ, t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	if iq.Type != stanza.SetIQ && iq.Type != stanza.GetIQ {
		return nil
	}
	reply := stanza.IQ{ID: iq.ID, Type: stanza.ResultIQ, From: h.hostJID, To: h.requester}
	if !iq.To.Equal(jid.JID{}) && !iq.To.Equal(h.hostJID) {
		// Not for us: commands of other entities are theirs to answer.
		return h.replyError(t, reply, &Error{Condition: CondServiceUnavailable}, nil)
	}
	if iq.Type != stanza.SetIQ {
		return h.replyError(t, reply, &Error{Condition: CondBadPayload, Text: "commands are sent with type set"}, nil)
	}
	req, err := DecodeRequest(t, start, h.lim)
	if err != nil {
		return h.replyError(t, reply, err, echoOf(start))
	}
	req.Requester = h.requester.String()
	ctx, cancel := h.ctx()
	defer cancel()
	if req.Role, err = h.role(ctx, h.requester); err != nil {
		h.log.Error("cannot tell the requester's role", "err", err)
		return h.replyError(t, reply, &Error{Condition: CondInternalServerError}, &req)
	}
	resp, err := h.exec.Execute(ctx, h.host, req)
	h.track(req, resp, err)
	if err != nil {
		return h.replyError(t, reply, err, &req)
	}
	if resp.Node == "" {
		resp.Node = req.Node
	}
	_, err = xmlstream.Copy(t, reply.Wrap(resp.TokenReader()))
	return err
}

// track remembers the session a response leaves executing, and forgets one that
// ended or that the Executor no longer knows.
func (h *Handler) track(req Request, resp Response, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) && (ae.Condition == CondBadSessionID || ae.Condition == CondSessionExpired) {
			delete(h.open, req.SessionID)
		}
		return
	}
	if resp.Status != StatusExecuting {
		delete(h.open, resp.SessionID)
		return
	}
	if _, ok := h.open[resp.SessionID]; !ok && len(h.open) >= maxOpen {
		return
	}
	if h.open == nil {
		h.open = make(map[string]opened)
	}
	h.open[resp.SessionID] = opened{node: req.Node, role: req.Role}
}

// Close ends the command sessions the stream left executing, by sending the Executor
// a cancel for each, as if the requester had; a server calls it once the stream has
// ended, so that forms left open (clients such as profanity never cancel them) do not
// outlive their stream.
// It returns the failures of the cancels, but for sessions the Executor no longer
// knows; each cancel is bounded by HandlerOptions.Timeout within ctx.
// The Handler forgets the sessions either way.
func (h *Handler) Close(ctx context.Context) error {
	h.mu.Lock()
	open := h.open
	h.open = nil
	h.mu.Unlock()
	var errs []error
	for id, o := range open {
		cctx, cancel := context.WithTimeout(ctx, h.timeout)
		_, err := h.exec.Execute(cctx, h.host, Request{Requester: h.requester.String(), Role: o.role, Node: o.node, SessionID: id, Action: ActionCancel})
		cancel()
		var ae *Error
		if err != nil && !(errors.As(err, &ae) && (ae.Condition == CondBadSessionID || ae.Condition == CondSessionExpired)) {
			errs = append(errs, fmt.Errorf("ending the command session of %s: %w", o.node, err))
		}
	}
	return errors.Join(errs...)
}

// replyError answers with the stanza error for err.
// With the request it answers (req not nil), the error carries the request's
// <command/> with its node and session ID, without the form (RFC 6120 §8.3.1 lets an
// error include what it answers): clients built on slixmpp (poezio) find the
// command's session by that ID and, without it, drop the error unseen.
func (h *Handler) replyError(t xmlstream.TokenWriter, reply stanza.IQ, err error, req *Request) error {
	var ae *Error
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, context.DeadlineExceeded):
		h.log.Warn("ad-hoc command timed out", "err", err)
		ae = &Error{Condition: CondServiceUnavailable, Text: "the command timed out"}
	default:
		h.log.Error("ad-hoc command failed", "err", err)
		ae = &Error{Condition: CondInternalServerError}
	}
	reply.Type = stanza.ErrorIQ
	payload := ae.TokenReader()
	if req != nil {
		attrs := []xml.Attr{{Name: xml.Name{Local: "node"}, Value: req.Node}}
		if req.SessionID != "" {
			attrs = append(attrs, xml.Attr{Name: xml.Name{Local: "sessionid"}, Value: req.SessionID})
		}
		cmd := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: NS, Local: "command"}, Attr: attrs})
		payload = xmlstream.MultiReader(cmd, payload)
	}
	_, werr := xmlstream.Copy(t, reply.Wrap(payload))
	return werr
}

// echoOf returns the node and session ID of a command request that could not be
// decoded, from its start element, for the error to carry (see replyError); values
// longer than a session ID may be are left out.
func echoOf(start *xml.StartElement) *Request {
	var req Request
	for _, a := range start.Attr {
		if a.Name.Space != "" || len(a.Value) > MaxSessionIDLen {
			continue
		}
		switch a.Name.Local {
		case "node":
			req.Node = a.Value
		case "sessionid":
			req.SessionID = a.Value
		}
	}
	return &req
}

// StanzaError returns the stanza error XEP-0050 §4.4 gives for e's condition, and the
// name of the child element in the commands namespace that goes with it, if any.
// An unknown condition is an internal-server-error.
func (e *Error) StanzaError() (stanza.Error, string) {
	se := stanza.Error{Type: stanza.Cancel, Condition: stanza.InternalServerError}
	child := ""
	switch e.Condition {
	case CondMalformedAction, CondBadAction, CondBadLocale, CondBadPayload, CondBadSessionID:
		se.Type, se.Condition, child = stanza.Modify, stanza.BadRequest, string(e.Condition)
	case CondSessionExpired:
		se.Type, se.Condition, child = stanza.Cancel, stanza.NotAllowed, string(e.Condition)
	case CondForbidden:
		se.Type, se.Condition = stanza.Auth, stanza.Forbidden
	case CondItemNotFound:
		se.Type, se.Condition = stanza.Cancel, stanza.ItemNotFound
	case CondNotAcceptable:
		se.Type, se.Condition = stanza.Modify, stanza.NotAcceptable
	case CondResourceConstraint:
		se.Type, se.Condition = stanza.Wait, stanza.ResourceConstraint
	case CondServiceUnavailable:
		se.Type, se.Condition = stanza.Cancel, stanza.ServiceUnavailable
	}
	if e.Text != "" {
		se.Text = map[string]string{"": e.Text}
	}
	return se, child
}

// TokenReader returns e as the <error/> element of an IQ error.
func (e *Error) TokenReader() xml.TokenReader {
	se, child := e.StanzaError()
	var payload xml.TokenReader
	if child != "" {
		payload = xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: NS, Local: child}})
	}
	return se.Wrap(payload)
}

// commands lists what the requester may run; a failure is logged and lists nothing,
// since service discovery cannot carry the error without ending the stream.
// A list got for the same role within commandsTTL is reused.
func (h *Handler) commands() []Command {
	ctx, cancel := h.ctx()
	defer cancel()
	role, err := h.role(ctx, h.requester)
	if err != nil {
		h.log.Warn("cannot tell the requester's role", "err", err)
		return nil
	}
	now := h.now()
	h.mu.Lock()
	if h.cAt != (time.Time{}) && h.cRole == role && now.Sub(h.cAt) < commandsTTL {
		cmds := h.cached
		h.mu.Unlock()
		return cmds
	}
	h.mu.Unlock()
	cmds, err := h.exec.Commands(ctx, h.host, h.requester.String(), role)
	if err != nil {
		h.log.Warn("listing ad-hoc commands failed", "err", err)
		return nil
	}
	h.mu.Lock()
	h.cached, h.cRole, h.cAt = cmds, role, now
	h.mu.Unlock()
	return cmds
}

func (h *Handler) command(node string) (Command, bool) {
	for _, c := range h.commands() {
		if c.Node == node {
			return c, true
		}
	}
	return Command{}, false
}

// ForFeatures implements info.FeatureIter: the server itself supports commands, and
// each command node the requester may run supports commands and data forms.
func (h *Handler) ForFeatures(node string, f func(info.Feature) error) error {
	switch node {
	case "", NS:
		return f(info.Feature{Var: NS})
	}
	if _, ok := h.command(node); !ok {
		return nil
	}
	if err := f(info.Feature{Var: NS}); err != nil {
		return err
	}
	return f(info.Feature{Var: NSData})
}

// ForIdentities implements info.IdentityIter: automation/command-list for the
// commands node, automation/command-node for each command the requester may run.
func (h *Handler) ForIdentities(node string, f func(info.Identity) error) error {
	switch node {
	case "":
		return nil
	case NS:
		return f(info.Identity{Category: "automation", Type: "command-list"})
	}
	c, ok := h.command(node)
	if !ok {
		return nil
	}
	return f(info.Identity{Category: "automation", Type: "command-node", Name: c.Name})
}

// ForItems implements items.Iter: on the commands node, the commands the requester may
// run, and nothing else.
func (h *Handler) ForItems(node string, f func(items.Item) error) error {
	if node != NS {
		return nil
	}
	for _, c := range h.commands() {
		if err := f(items.Item{JID: h.hostJID, Node: c.Node, Name: c.Name}); err != nil {
			return err
		}
	}
	return nil
}

var (
	_ mux.IQHandler     = (*Handler)(nil)
	_ info.FeatureIter  = (*Handler)(nil)
	_ info.IdentityIter = (*Handler)(nil)
	_ items.Iter        = (*Handler)(nil)
)
