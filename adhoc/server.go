package adhoc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Defaults for the zero fields of ServerOptions.
const (
	// DefaultSessionTimeout is how long a session may sit idle: people fill in forms
	// by hand.
	DefaultSessionTimeout = 10 * time.Minute
	// DefaultMaxSessions bounds the open sessions of one requester (full JID).
	DefaultMaxSessions = 8
	// DefaultMaxTotalSessions bounds the open sessions of a Server.
	DefaultMaxTotalSessions = 4096
)

// ServerOptions configure a Server.
type ServerOptions struct {
	// Timeout is how long a session may be idle before it expires; a request in an
	// expired session gets session-expired.
	// Zero means DefaultSessionTimeout.
	Timeout time.Duration
	// MaxSessions bounds the open sessions of one requester; one more gets
	// resource-constraint.
	// Zero means DefaultMaxSessions.
	MaxSessions int
	// MaxTotalSessions bounds the open sessions of all requesters together, so that
	// memory stays bounded.
	// Zero means DefaultMaxTotalSessions.
	MaxTotalSessions int
	// Limits bound the forms Execute accepts, as the decoders do; the zero value
	// means the defaults of Limits.
	Limits Limits
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives failures of commands (never their data); nil discards them.
	Logger *slog.Logger
}

// Call is what a command step learns of the request it serves.
type Call struct {
	// Host is the XMPP domain the command runs on.
	Host string
	// Requester is the requester's full JID, as bound to its stream.
	Requester string
	// Role is what the host says the requester is, with this request (Request.Role):
	// a command open to several roles decides with it what the requester may do.
	Role Role
	// Node is the command's node.
	Node string
	// SessionID names the session.
	SessionID string
	// Lang is the xml:lang of the request, if any.
	Lang string
}

// Stage is one form of a multi-stage command.
type Stage struct {
	// Form builds the form shown at this stage.
	// forms holds the forms submitted at the stages before it (forms[i] for stage i),
	// so a later stage can depend on earlier answers.
	// A nil form with a nil error means there is nothing to ask: the command completes
	// at once, its Complete receiving the forms submitted so far.
	// Required.
	Form func(ctx context.Context, c Call, forms []*Form) (*Form, error)
	// Check, when not nil, validates the form submitted at this stage before the
	// command moves on; an *Error (such as not-acceptable) is returned to the requester
	// and the session stays at this stage.
	Check func(ctx context.Context, c Call, form *Form) error
}

// Result is what a command completes with.
type Result struct {
	// Notes are messages for the user.
	Notes []Note
	// Form is an optional result form or table.
	Form *Form
}

// Definition defines a command a Server runs.
//
// A command with no Stages completes on execute.
// Otherwise the requester is shown the form of each stage in turn; it may go back
// (prev) from any stage but the first, on (next) from any, and complete from the last
// one, when Complete runs with every submitted form. On the last stage next is offered
// too and means complete, as Prosody does, since some clients (poezio) submit every
// form with next.
type Definition struct {
	// Node identifies the command, such as "urn:xmpp:invite#invite". Required.
	Node string
	// Name is the human-readable name listed in service discovery.
	Name string
	// Role is the least role a requester needs to see and run the command, as the
	// host says with each request (Request.Role), so revoked rights apply at once and
	// no check calls back to the host.
	// RoleNone lets every requester with a bound JID run it.
	Role Role
	// Stages are the forms to fill in, in order.
	Stages []Stage
	// Complete runs the command.
	// An *Error with condition not-acceptable or bad-payload is returned to the
	// requester, who may correct the last form and submit it again; another *Error
	// ends the session and is returned; any other error ends the session with a
	// completed response holding an error note (the error itself is logged, not shown).
	// Required.
	Complete func(ctx context.Context, c Call, forms []*Form) (Result, error)
}

// Server runs a set of commands with XEP-0050 sessions; it implements Executor.
// It keeps sessions in memory, drops expired ones lazily and starts no goroutine.
// It is safe for concurrent use.
type Server struct {
	cmds     map[string]*Definition
	order    []*Definition
	timeout  time.Duration
	maxPer   int
	maxTotal int
	lim      Limits
	now      func() time.Time
	log      *slog.Logger

	mu        sync.Mutex
	sessions  map[string]*session
	perOwner  map[string]int
	expired   map[string]tombstone // sessions dropped by expiry, to answer session-expired
	lastSweep time.Time
}

type session struct {
	id, owner, node string

	// step serializes the requests of one session; fields below are guarded by it.
	step  sync.Mutex
	stage int
	forms []*Form

	// guarded by Server.mu
	lastUsed time.Time
	removed  bool
}

type tombstone struct {
	owner string
	at    time.Time
}

// NewServer checks the command definitions and returns a Server running them.
func NewServer(cmds []Definition, opts ServerOptions) (*Server, error) {
	s := &Server{
		cmds:     make(map[string]*Definition, len(cmds)),
		timeout:  opts.Timeout,
		maxPer:   opts.MaxSessions,
		maxTotal: opts.MaxTotalSessions,
		lim:      opts.Limits.withDefaults(),
		now:      opts.Now,
		log:      opts.Logger,
		sessions: make(map[string]*session),
		perOwner: make(map[string]int),
		expired:  make(map[string]tombstone),
	}
	if s.timeout <= 0 {
		s.timeout = DefaultSessionTimeout
	}
	if s.maxPer <= 0 {
		s.maxPer = DefaultMaxSessions
	}
	if s.maxTotal <= 0 {
		s.maxTotal = DefaultMaxTotalSessions
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for i := range cmds {
		c := cmds[i]
		if c.Node == "" {
			return nil, errors.New("adhoc: command without node")
		}
		if _, dup := s.cmds[c.Node]; dup {
			return nil, fmt.Errorf("adhoc: duplicate command %q", c.Node)
		}
		if c.Complete == nil {
			return nil, fmt.Errorf("adhoc: command %q has no Complete", c.Node)
		}
		if !c.Role.Valid() {
			return nil, fmt.Errorf("adhoc: command %q has an unknown role %q", c.Node, c.Role)
		}
		for j, st := range c.Stages {
			if st.Form == nil {
				return nil, fmt.Errorf("adhoc: command %q stage %d has no Form", c.Node, j)
			}
		}
		c.Stages = append([]Stage(nil), c.Stages...)
		s.cmds[c.Node] = &c
		s.order = append(s.order, &c)
	}
	return s, nil
}

// Commands implements Executor: it lists, in definition order, the commands a
// requester with role may run.
func (s *Server) Commands(_ context.Context, _, _ string, role Role) ([]Command, error) {
	var out []Command
	for _, c := range s.order {
		if role.AtLeast(c.Role) {
			out = append(out, Command{Node: c.Node, Name: c.Name})
		}
	}
	return out, nil
}

// Execute implements Executor: it runs one request of a command on host.
// Protocol failures are *Error values; see the package documentation.
func (s *Server) Execute(ctx context.Context, host string, req Request) (Response, error) {
	// Requests that did not come through the decoders (such as across the plugin
	// boundary) are held to the same rules.
	if err := req.Validate(s.lim); err != nil {
		return Response{}, err
	}
	c, ok := s.cmds[req.Node]
	if !ok {
		return Response{}, &Error{Condition: CondItemNotFound, Text: "no such command"}
	}
	if !req.Role.AtLeast(c.Role) || req.Requester == "" {
		return Response{}, &Error{Condition: CondForbidden, Text: "not allowed to run this command"}
	}
	call := Call{Host: host, Requester: req.Requester, Role: req.Role, Node: c.Node, SessionID: req.SessionID, Lang: req.Lang}
	if req.SessionID == "" {
		return s.start(ctx, c, call, req)
	}
	sess, err := s.lookup(req)
	if err != nil {
		return Response{}, err
	}
	sess.step.Lock()
	defer sess.step.Unlock()
	s.mu.Lock()
	gone := sess.removed
	s.mu.Unlock()
	if gone {
		return Response{}, &Error{Condition: CondBadSessionID, Text: "session ended"}
	}
	return s.step(ctx, c, call, sess, req)
}

// start opens a session with the first request.
func (s *Server) start(ctx context.Context, c *Definition, call Call, req Request) (Response, error) {
	if req.Action != "" && req.Action != ActionExecute {
		return Response{}, &Error{Condition: CondBadAction, Text: "a command starts with execute"}
	}
	call.SessionID = rand.Text()
	if len(c.Stages) == 0 {
		return s.complete(ctx, c, call, nil, nil)
	}
	sess, err := s.open(call)
	if err != nil {
		return Response{}, err
	}
	sess.step.Lock()
	defer sess.step.Unlock()
	return s.show(ctx, c, call, sess, 0)
}

// open registers a new session, within the bounds.
func (s *Server) open(call Call) (*session, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Sub(s.lastSweep) >= s.timeout/2 || s.perOwner[call.Requester] >= s.maxPer || len(s.sessions) >= s.maxTotal {
		s.sweepLocked(now)
	}
	if s.perOwner[call.Requester] >= s.maxPer {
		return nil, &Error{Condition: CondResourceConstraint, Text: "too many open command sessions"}
	}
	if len(s.sessions) >= s.maxTotal {
		return nil, &Error{Condition: CondResourceConstraint, Text: "too many open command sessions on this server"}
	}
	sess := &session{id: call.SessionID, owner: call.Requester, node: call.Node, lastUsed: now}
	s.sessions[sess.id] = sess
	s.perOwner[sess.owner]++
	return sess, nil
}

// lookup finds the session of a request and marks it used.
func (s *Server) lookup(req Request) (*session, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[req.SessionID]
	if !ok {
		if t, ok := s.expired[req.SessionID]; ok && t.owner == req.Requester {
			return nil, &Error{Condition: CondSessionExpired, Text: "session expired"}
		}
		return nil, &Error{Condition: CondBadSessionID, Text: "no such session"}
	}
	if sess.owner != req.Requester || sess.node != req.Node {
		// Do not tell another requester that the session exists.
		return nil, &Error{Condition: CondBadSessionID, Text: "no such session"}
	}
	if now.Sub(sess.lastUsed) >= s.timeout {
		s.removeLocked(sess, now, true)
		return nil, &Error{Condition: CondSessionExpired, Text: "session expired"}
	}
	sess.lastUsed = now
	return sess, nil
}

// sweepLocked drops expired sessions and old tombstones; s.mu is held.
func (s *Server) sweepLocked(now time.Time) {
	s.lastSweep = now
	for _, sess := range s.sessions {
		if now.Sub(sess.lastUsed) >= s.timeout {
			s.removeLocked(sess, now, true)
		}
	}
	for id, t := range s.expired {
		if now.Sub(t.at) >= s.timeout {
			delete(s.expired, id)
		}
	}
}

// removeLocked ends a session; s.mu is held.
// Expired sessions leave a tombstone (while there is room) so that their owner hears
// session-expired rather than bad-sessionid.
func (s *Server) removeLocked(sess *session, now time.Time, expired bool) {
	if sess.removed {
		return
	}
	sess.removed = true
	delete(s.sessions, sess.id)
	if s.perOwner[sess.owner]--; s.perOwner[sess.owner] <= 0 {
		delete(s.perOwner, sess.owner)
	}
	if expired && len(s.expired) < s.maxTotal {
		s.expired[sess.id] = tombstone{owner: sess.owner, at: now}
	}
}

func (s *Server) remove(sess *session) {
	s.mu.Lock()
	s.removeLocked(sess, s.now(), false)
	s.mu.Unlock()
}

// step runs one request within an open session; sess.step is held.
func (s *Server) step(ctx context.Context, c *Definition, call Call, sess *session, req Request) (Response, error) {
	last := len(c.Stages) - 1
	i := sess.stage
	action := req.Action
	if action == "" || action == ActionExecute {
		action = defaultAction(i, last)
	}
	switch action {
	case ActionCancel:
		s.remove(sess)
		return Response{Node: c.Node, SessionID: sess.id, Status: StatusCanceled}, nil
	case ActionPrev:
		if i == 0 {
			return Response{}, &Error{Condition: CondBadAction, Text: "no previous stage"}
		}
		return s.show(ctx, c, call, sess, i-1)
	case ActionNext, ActionComplete:
		if action == ActionComplete && i != last {
			return Response{}, &Error{Condition: CondBadAction, Text: "action not offered at this stage"}
		}
		if i >= last {
			// Next on the last stage completes, as Prosody does: clients such as poezio
			// submit every form with next.
			action = ActionComplete
		}
	default:
		return Response{}, &Error{Condition: CondBadAction, Text: "action not offered at this stage"}
	}
	f := req.Form
	if f == nil {
		f = &Form{Type: FormSubmit}
	}
	if f.Type != FormSubmit {
		return Response{}, badPayload("expected a submitted form")
	}
	if chk := c.Stages[i].Check; chk != nil {
		if err := chk(ctx, call, f); err != nil {
			return s.fail(c, call, sess, err, true)
		}
	}
	for len(sess.forms) <= i {
		sess.forms = append(sess.forms, nil)
	}
	sess.forms[i] = f
	if action == ActionNext {
		return s.show(ctx, c, call, sess, i+1)
	}
	return s.complete(ctx, c, call, sess, sess.forms[:i+1])
}

func defaultAction(i, last int) Action {
	if i < last {
		return ActionNext
	}
	return ActionComplete
}

// show moves the session to stage i and returns its form, or completes the command
// when the stage has nothing to ask.
func (s *Server) show(ctx context.Context, c *Definition, call Call, sess *session, i int) (Response, error) {
	prior := sess.forms
	if len(prior) > i {
		prior = prior[:i]
	}
	f, err := c.Stages[i].Form(ctx, call, prior)
	if err != nil {
		return s.fail(c, call, sess, err, false)
	}
	if f == nil {
		return s.complete(ctx, c, call, sess, prior)
	}
	f = prefill(f, sess.forms, i)
	sess.stage = i
	last := len(c.Stages) - 1
	resp := Response{
		Node:          c.Node,
		SessionID:     sess.id,
		Status:        StatusExecuting,
		DefaultAction: defaultAction(i, last),
		Form:          f,
	}
	if i > 0 {
		resp.Actions = append(resp.Actions, ActionPrev)
	}
	// The last stage offers next as well as complete (both complete), as Prosody
	// does: some clients only ever send next.
	resp.Actions = append(resp.Actions, ActionNext)
	if i == last {
		resp.Actions = append(resp.Actions, ActionComplete)
	}
	return resp, nil
}

// prefill copies into a form the values submitted at its stage before the requester
// went back, so that nothing has to be typed twice.
func prefill(f *Form, forms []*Form, i int) *Form {
	if i >= len(forms) || forms[i] == nil {
		return f
	}
	out := *f
	out.Fields = append([]Field(nil), f.Fields...)
	for j, fl := range out.Fields {
		if fl.Var == "" || fl.Type == FieldFixed || fl.Type == FieldHidden {
			continue
		}
		if prev, ok := forms[i].Field(fl.Var); ok {
			out.Fields[j].Values = append([]string(nil), prev.Values...)
		}
	}
	return &out
}

// complete runs the command's Complete and ends the session (sess may be nil).
func (s *Server) complete(ctx context.Context, c *Definition, call Call, sess *session, forms []*Form) (Response, error) {
	res, err := c.Complete(ctx, call, forms)
	if err != nil {
		return s.fail(c, call, sess, err, true)
	}
	if sess != nil {
		s.remove(sess)
	}
	notes := make([]Note, len(res.Notes))
	for i, n := range res.Notes {
		if n.Type == "" {
			n.Type = NoteInfo
		}
		notes[i] = n
	}
	if len(notes) == 0 {
		notes = nil
	}
	return Response{Node: c.Node, SessionID: call.SessionID, Status: StatusCompleted, Notes: notes, Form: res.Form}, nil
}

// fail answers a failed step.
// With retry, a not-acceptable or bad-payload *Error keeps the session open; other
// *Errors end it and are returned; other errors end it with an error note.
func (s *Server) fail(c *Definition, call Call, sess *session, err error, retry bool) (Response, error) {
	var ae *Error
	if errors.As(err, &ae) {
		if sess != nil && !(retry && (ae.Condition == CondNotAcceptable || ae.Condition == CondBadPayload)) {
			s.remove(sess)
		}
		return Response{}, ae
	}
	if sess != nil {
		s.remove(sess)
	}
	s.log.Error("ad-hoc command failed", "node", c.Node, "err", err)
	return Response{
		Node:      c.Node,
		SessionID: call.SessionID,
		Status:    StatusCompleted,
		Notes:     []Note{{Type: NoteError, Text: "The command failed; the server's log says why."}},
	}, nil
}

// Sessions reports how many sessions are open, expired ones included until they are
// dropped.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

var _ Executor = (*Server)(nil)
