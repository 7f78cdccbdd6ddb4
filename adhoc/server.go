package adhoc

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
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
	// command moves on: a not-acceptable *Error shows the form again (see Server),
	// another *Error is returned to the requester; either way the session stays at
	// this stage.
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
	// An *Error with condition not-acceptable shows the last stage's form again, as
	// a refused submission does (see Server); one with bad-payload is returned to the
	// requester and keeps the session; another *Error ends the session and is
	// returned; any other error ends the session with a completed response holding an
	// error note (the error itself is logged, not shown).
	// Required.
	Complete func(ctx context.Context, c Call, forms []*Form) (Result, error)
}

// Server runs a set of commands with XEP-0050 sessions; it implements Executor.
// It keeps sessions in memory, drops expired ones lazily and starts no goroutine.
// It is safe for concurrent use.
//
// A submission refused with not-acceptable (a value a person can correct: by a
// stage's Check, by the next stage's Form, or by Complete) is not answered with an
// IQ error, which every desktop client answers by dropping the form (Gajim, poezio,
// profanity): the session stays at the stage, and the response shows its form again
// with what was submitted, the reason as an error note and, since some clients do
// not show the notes that come with a form (poezio, and profanity while executing),
// also as fixed fields at the top of the form. A reason that begins with a field's
// var and a colon ("rate: …") names the field by its label there ("Rate limit: …").
//
// A result form is shown with its notes as fixed fields at its top as well, for the
// same clients.
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
		return s.complete(ctx, c, call, nil, nil, -1)
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
	for len(sess.forms) <= i {
		sess.forms = append(sess.forms, nil)
	}
	// The submission is kept even when it is refused, so that the form shown again
	// holds what the requester wrote.
	sess.forms[i] = f
	if chk := c.Stages[i].Check; chk != nil {
		if err := chk(ctx, call, f); err != nil {
			return s.refuse(ctx, c, call, sess, i, err)
		}
	}
	if action == ActionNext {
		next, err := s.stageForm(ctx, c, call, sess, i+1)
		if err != nil {
			return s.refuse(ctx, c, call, sess, i, err)
		}
		if next == nil {
			return s.complete(ctx, c, call, sess, sess.forms[:i+1], i)
		}
		return s.present(c, sess, i+1, next, nil), nil
	}
	return s.complete(ctx, c, call, sess, sess.forms[:i+1], i)
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
	f, err := s.stageForm(ctx, c, call, sess, i)
	if err != nil {
		return s.fail(c, call, sess, err, false)
	}
	if f == nil {
		return s.complete(ctx, c, call, sess, priorForms(sess.forms, i), -1)
	}
	return s.present(c, sess, i, f, nil), nil
}

// stageForm builds the form of stage i, filled in with what was submitted there
// before; nil when the stage has nothing to ask.
func (s *Server) stageForm(ctx context.Context, c *Definition, call Call, sess *session, i int) (*Form, error) {
	f, err := c.Stages[i].Form(ctx, call, priorForms(sess.forms, i))
	if err != nil || f == nil {
		return nil, err
	}
	return prefill(f, sess.forms, i), nil
}

// priorForms returns the forms submitted before stage i.
func priorForms(forms []*Form, i int) []*Form {
	if len(forms) > i {
		return forms[:i]
	}
	return forms
}

// present moves the session to stage i and answers with its form f; refusal, when
// not nil, says why the submission of that stage was not accepted.
func (s *Server) present(c *Definition, sess *session, i int, f *Form, refusal *Error) Response {
	sess.stage = i
	last := len(c.Stages) - 1
	resp := Response{
		Node:          c.Node,
		SessionID:     sess.id,
		Status:        StatusExecuting,
		DefaultAction: defaultAction(i, last),
		Form:          f,
	}
	if refusal != nil {
		// A refusal may hold several reasons, one a line: each its own note.
		reasons := strings.Split(refusal.Text, "\n")
		for j, r := range reasons {
			reasons[j] = fieldReason(r, f)
			resp.Notes = append(resp.Notes, Note{Type: NoteError, Text: reasons[j]})
		}
		resp.Form = withFixedText(f, reasons)
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
	return resp
}

// refuse answers a submission of stage i that err refused: a not-acceptable *Error
// shows the stage's form again with the reason; anything else fails the step as
// before (a bad-payload *Error keeps the session).
func (s *Server) refuse(ctx context.Context, c *Definition, call Call, sess *session, i int, err error) (Response, error) {
	var ae *Error
	if !errors.As(err, &ae) || ae.Condition != CondNotAcceptable {
		return s.fail(c, call, sess, err, true)
	}
	f, ferr := s.stageForm(ctx, c, call, sess, i)
	if ferr != nil || f == nil {
		// The stage cannot be shown again (its invite went away, say): end the
		// session with the reason, as before.
		return s.fail(c, call, sess, err, false)
	}
	return s.present(c, sess, i, f, ae), nil
}

// fieldReason writes a reason that begins with a field's var ("rate: …") with the
// field's label instead ("Rate limit: …"): people see labels, never vars.
func fieldReason(text string, f *Form) string {
	v, rest, ok := strings.Cut(text, ": ")
	if !ok {
		return text
	}
	for _, fl := range f.Fields {
		if fl.Var == v && fl.Label != "" && fl.Type != FieldHidden {
			return fl.Label + ": " + rest
		}
	}
	return text
}

// fixedWidth is the longest line of the fixed fields a text is cut into: poezio
// shows a fixed field in half its window, cutting what does not fit.
const fixedWidth = 50

// fixedHeading is the length below which Gajim shows a fixed field as a section
// heading (bold, in the label column) rather than as text: shorter lines are padded
// with spaces to it.
const fixedHeading = 40

// withFixedText returns a copy of f with texts at its top (after a FORM_TYPE) as
// fixed fields, each cut at spaces into lines of at most fixedWidth characters, as
// even as can be, a line shorter than fixedHeading padded with spaces to it. The
// fields have vars of their own, "note-1" and on: clients that keep a form's fields
// by var (slixmpp, so poezio) would show only one of several fields without one.
func withFixedText(f *Form, texts []string) *Form {
	used := make(map[string]bool, len(f.Fields))
	for _, fl := range f.Fields {
		used[fl.Var] = true
	}
	var fixed []Field
	n := 0
	for _, t := range texts {
		for _, line := range wrap(t, fixedWidth) {
			if n := len([]rune(line)); n < fixedHeading {
				line += strings.Repeat(" ", fixedHeading-n)
			}
			v := ""
			for v == "" || used[v] {
				n++
				v = "note-" + strconv.Itoa(n)
			}
			fixed = append(fixed, Field{Var: v, Type: FieldFixed, Values: []string{line}})
		}
	}
	if len(fixed) == 0 {
		return f
	}
	at := 0
	if len(f.Fields) > 0 && f.Fields[0].Var == "FORM_TYPE" {
		at = 1
	}
	out := *f
	out.Fields = make([]Field, 0, len(f.Fields)+len(fixed))
	out.Fields = append(out.Fields, f.Fields[:at]...)
	out.Fields = append(out.Fields, fixed...)
	out.Fields = append(out.Fields, f.Fields[at:]...)
	return &out
}

// wrap cuts s into lines of at most n runes at spaces (a longer word stays whole),
// in as few lines as that takes and as even as can be: "such as 10/m, 100/1h or
// 1000/day" rather than a full line and a short one.
func wrap(s string, n int) []string {
	words := strings.Fields(s)
	total := len([]rune(strings.Join(words, " ")))
	if total == 0 {
		return nil
	}
	lines := greedy(words, n)
	// The narrowest width that still takes no more lines.
	for w := (total + len(lines) - 1) / len(lines); w < n; w++ {
		if l := greedy(words, w); len(l) == len(lines) {
			return l
		}
	}
	return lines
}

// greedy fills lines of at most n runes with words, in order.
func greedy(words []string, n int) []string {
	var lines []string
	var line []rune
	for _, w := range words {
		rw := []rune(w)
		if len(line) > 0 && len(line)+1+len(rw) > n {
			lines = append(lines, string(line))
			line = nil
		}
		if len(line) > 0 {
			line = append(line, ' ')
		}
		line = append(line, rw...)
	}
	if len(line) > 0 {
		lines = append(lines, string(line))
	}
	return lines
}

// prefill copies into a form the values submitted at its stage before (the
// requester went back, or the submission was refused), so that nothing has to be
// typed twice. A submitted option label (Gajim submits labels) becomes its value
// again, so that the option shows as chosen.
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
			vals := append([]string(nil), prev.Values...)
			for k, v := range vals {
				for _, o := range fl.Options {
					if v == o.Label && v != o.Value {
						vals[k] = o.Value
						break
					}
				}
			}
			out.Fields[j].Values = vals
		}
	}
	return &out
}

// complete runs the command's Complete and ends the session (sess may be nil).
// stage is the stage whose submission completes it, shown again when Complete
// refuses a value (not-acceptable); -1 when there is none.
func (s *Server) complete(ctx context.Context, c *Definition, call Call, sess *session, forms []*Form, stage int) (Response, error) {
	res, err := c.Complete(ctx, call, forms)
	if err != nil {
		if sess != nil && stage >= 0 {
			return s.refuse(ctx, c, call, sess, stage, err)
		}
		return s.fail(c, call, sess, err, true)
	}
	if sess != nil {
		s.remove(sess)
	}
	notes := make([]Note, len(res.Notes))
	texts := make([]string, len(res.Notes))
	for i, n := range res.Notes {
		if n.Type == "" {
			n.Type = NoteInfo
		}
		notes[i] = n
		texts[i] = n.Text
	}
	if len(notes) == 0 {
		notes = nil
	}
	form := res.Form
	if form != nil && len(form.Items) == 0 {
		// Clients that show a result form without its notes (poezio) show these.
		form = withFixedText(form, texts)
	}
	return Response{Node: c.Node, SessionID: call.SessionID, Status: StatusCompleted, Notes: notes, Form: form}, nil
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
