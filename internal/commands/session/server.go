package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
)

// Defaults for the zero fields of Options.
const (
	// DefaultTimeout is how long a session may sit idle: people fill in forms by hand.
	DefaultTimeout = 10 * time.Minute
	// DefaultMaxSessions bounds the open sessions of one requester (full JID).
	DefaultMaxSessions = 8
	// DefaultMaxTotalSessions bounds the open sessions of a Server.
	DefaultMaxTotalSessions = 4096
)

// Options configure a Server.
type Options struct {
	// Timeout is how long a session may be idle before it expires; a request in an
	// expired session gets session-expired.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxSessions bounds the open sessions of one requester: a new one replaces the
	// requester's least recently used session, which then answers session-expired.
	// Zero means DefaultMaxSessions.
	MaxSessions int
	// MaxTotalSessions bounds the open sessions of all requesters together, so that
	// memory stays bounded: a new one past it replaces the least recently used
	// session of all.
	// Zero means DefaultMaxTotalSessions.
	MaxTotalSessions int
	// Limits bound the forms Execute accepts, as adhoc's decoders do; the zero value
	// means the defaults of adhoc.Limits.
	Limits adhoc.Limits
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives failures of commands and refused steps (never the values
	// submitted); nil discards them.
	Logger *slog.Logger
}

// Call is what a command step learns of the request it serves.
type Call struct {
	// Host is the XMPP domain the command runs on.
	Host string
	// Requester is the requester's full JID, as bound to its stream.
	Requester string
	// Role is what the host says the requester is, with this request
	// (adhoc.Request.Role): a command open to several roles decides with it what the
	// requester may do.
	Role adhoc.Role
	// Node is the command's node.
	Node string
	// SessionID names the session.
	SessionID string
	// Lang is the xml:lang of the request, if any.
	Lang string
	// Page is, for Definition.Complete, the page of a paged result it is asked for:
	// "" for the first, else a Result.NextPage it returned before in this session.
	Page string
}

// Stage is one form of a multi-stage command.
type Stage struct {
	// Form builds the form shown at this stage.
	// forms holds the forms submitted at the stages before it (forms[i] for stage i),
	// so a later stage can depend on earlier answers.
	// A nil form with a nil error means there is nothing to ask: the command completes
	// at once, its Complete receiving the forms submitted so far.
	// Required.
	Form func(ctx context.Context, c Call, forms []*adhoc.Form) (*adhoc.Form, error)
	// Check, when not nil, validates the form submitted at this stage before the
	// command moves on: a not-acceptable *adhoc.Error shows the form again (see
	// Server), another *adhoc.Error is returned to the requester; either way the
	// session stays at this stage.
	Check func(ctx context.Context, c Call, form *adhoc.Form) error
}

// Result is what a command completes with, or one page of it.
type Result struct {
	// Notes are messages for the user.
	Notes []adhoc.Note
	// Form is an optional result form.
	Form *adhoc.Form
	// NextPage, when not empty, says that Form is one page of a longer result and
	// names the next one (see Call.Page): the session stays open and the requester
	// is shown this page with next (the next page), complete (done) and prev.
	NextPage string
}

// Definition defines a command a Server runs.
//
// A command with no Stages completes on execute.
// Otherwise the requester is shown the form of each stage in turn; it may go back
// (prev) from any stage but the first, on (next) from any, and complete from the last
// one, when Complete runs with every submitted form. On the last stage next is offered
// too and means complete, as Prosody does, since some clients (poezio) submit every
// form with next.
//
// A Complete that returns a Result with NextPage shows a long result page by page:
// each page is shown while the session executes, with next for the next page (the
// default action, so that every client can page on), prev for the page before (from
// the first page, back to the last stage), and complete, which ends the command on the
// page shown; the last page (no NextPage) completes the command.
type Definition struct {
	// Node identifies the command, such as "urn:xmpp:invite#invite". Required.
	Node string
	// Name is the human-readable name listed in service discovery.
	Name string
	// Role is the least role a requester needs to see and run the command, as the
	// host says with each request (adhoc.Request.Role), so revoked rights apply at
	// once and no check calls back to the host.
	// adhoc.RoleNone lets every requester with a bound JID run it.
	Role adhoc.Role
	// Stages are the forms to fill in, in order.
	Stages []Stage
	// Complete runs the command, or gives the page c.Page of its result.
	// An *adhoc.Error with condition not-acceptable shows the last stage's form again,
	// as a refused submission does (see Server); one with bad-payload is returned to
	// the requester and keeps the session; another *adhoc.Error ends the session and
	// is returned; any other error ends the session with a completed response holding
	// an error note (the error itself is logged, not shown).
	// Required.
	Complete func(ctx context.Context, c Call, forms []*adhoc.Form) (Result, error)
}

// Server runs a set of commands with XEP-0050 sessions; it implements adhoc.Executor.
// It keeps sessions in memory, drops expired ones lazily and starts no goroutine.
// It is safe for concurrent use.
//
// Sessions have ids from crypto/rand and belong to the full JID that started them
// (any other JID using the id gets bad-sessionid); they end when completed or
// canceled, expire after an idle timeout (session-expired), and are bounded per
// requester and in total, a new one replacing the least recently used, so that no
// requester is ever refused a new session (a client that never cancels, such as
// profanity, included). The requester's own cancel is honoured whatever its role.
//
// A submission refused with not-acceptable (a value a person can correct: by a
// stage's Check, by the next stage's Form, or by Complete) is not answered with an
// IQ error, which every desktop client answers by dropping the form (Gajim, poezio,
// profanity): the session stays at the stage, and the response shows its form again
// with what was submitted and the reason as an error note; the step is logged at
// info, without the values submitted.
type Server struct {
	cmds     map[string]*Definition
	order    []*Definition
	timeout  time.Duration
	maxPer   int
	maxTotal int
	lim      adhoc.Limits
	now      func() time.Time
	log      *slog.Logger

	mu        sync.Mutex
	sessions  map[string]*session
	owners    map[string][]*session // the open sessions of each requester
	ended     map[string]tombstone  // sessions that expired or were replaced
	lastSweep time.Time
}

type session struct {
	id, owner, node string

	// step serializes the requests of one session; fields below are guarded by it.
	step  sync.Mutex
	stage int
	forms []*adhoc.Form
	// paging is set while the session shows the pages of a result; pages holds
	// the Call.Page of each page shown so far, the last being the one shown, and
	// next the page after it.
	paging bool
	pages  []string
	next   string

	// guarded by Server.mu
	lastUsed time.Time
	removed  bool
}

// tombstone remembers a session that ended without its owner's word, so that the
// owner hears session-expired rather than bad-sessionid.
type tombstone struct {
	owner, why string
	at         time.Time
}

// Why a session ended without its owner's word.
const (
	whyExpired     = "session expired"
	whyReplaced    = "session replaced by a newer one"
	whyStreamEnded = "session ended with the connection that opened it"
)

// NewServer checks the command definitions and returns a Server running them.
func NewServer(cmds []Definition, opts Options) (*Server, error) {
	s := &Server{
		cmds:     make(map[string]*Definition, len(cmds)),
		timeout:  opts.Timeout,
		maxPer:   opts.MaxSessions,
		maxTotal: opts.MaxTotalSessions,
		lim:      opts.Limits,
		now:      opts.Now,
		log:      opts.Logger,
		sessions: make(map[string]*session),
		owners:   make(map[string][]*session),
		ended:    make(map[string]tombstone),
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
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
			return nil, errors.New("session: command without node")
		}
		if _, dup := s.cmds[c.Node]; dup {
			return nil, fmt.Errorf("session: duplicate command %q", c.Node)
		}
		if c.Complete == nil {
			return nil, fmt.Errorf("session: command %q has no Complete", c.Node)
		}
		if !c.Role.Valid() {
			return nil, fmt.Errorf("session: command %q has an unknown role %q", c.Node, c.Role)
		}
		for j, st := range c.Stages {
			if st.Form == nil {
				return nil, fmt.Errorf("session: command %q stage %d has no Form", c.Node, j)
			}
		}
		c.Stages = append([]Stage(nil), c.Stages...)
		s.cmds[c.Node] = &c
		s.order = append(s.order, &c)
	}
	return s, nil
}

// Commands implements adhoc.Executor: it lists, in definition order, the commands a
// requester with role may run.
func (s *Server) Commands(_ context.Context, _, _ string, role adhoc.Role) ([]adhoc.Command, error) {
	var out []adhoc.Command
	for _, c := range s.order {
		if role.AtLeast(c.Role) {
			out = append(out, adhoc.Command{Node: c.Node, Name: c.Name})
		}
	}
	return out, nil
}

// Execute implements adhoc.Executor: it runs one request of a command on host.
// Protocol failures are *adhoc.Error values, as adhoc.Error describes.
func (s *Server) Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error) {
	// Requests that did not come through adhoc's decoders (such as across the plugin
	// boundary) are held to the same rules.
	if err := req.Validate(s.lim); err != nil {
		return adhoc.Response{}, err
	}
	c, ok := s.cmds[req.Node]
	if !ok {
		return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondItemNotFound, Text: "no such command"}
	}
	cancel := req.Action == adhoc.ActionCancel && req.SessionID != ""
	// Ending one's own session needs no right: a requester whose role changed, or a
	// server ending the sessions of a stream (adhoc.Handler.Close), may always.
	if req.Requester == "" || (!cancel && !req.Role.AtLeast(c.Role)) {
		return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondForbidden, Text: "not allowed to run this command"}
	}
	call := Call{Host: host, Requester: req.Requester, Role: req.Role, Node: c.Node, SessionID: req.SessionID, Lang: req.Lang}
	if req.SessionID == "" {
		return s.start(ctx, c, call, req)
	}
	sess, err := s.lookup(req)
	if err != nil {
		return adhoc.Response{}, err
	}
	if cancel {
		// Not behind sess.step: a cancel does not wait for a slow step to end.
		s.remove(sess)
		return adhoc.Response{Node: c.Node, SessionID: sess.id, Status: adhoc.StatusCanceled}, nil
	}
	sess.step.Lock()
	defer sess.step.Unlock()
	s.mu.Lock()
	gone := sess.removed
	s.mu.Unlock()
	if gone {
		return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondBadSessionID, Text: "session ended"}
	}
	if sess.paging {
		return s.turn(ctx, c, call, sess, req)
	}
	return s.step(ctx, c, call, sess, req)
}

// start opens a session with the first request.
func (s *Server) start(ctx context.Context, c *Definition, call Call, req adhoc.Request) (adhoc.Response, error) {
	if req.Action != "" && req.Action != adhoc.ActionExecute {
		return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondBadAction, Text: "a command starts with execute"}
	}
	call.SessionID = rand.Text()
	if len(c.Stages) == 0 {
		return s.complete(ctx, c, call, nil, nil, -1)
	}
	sess := s.open(call)
	sess.step.Lock()
	defer sess.step.Unlock()
	return s.show(ctx, c, call, sess, 0)
}

// open registers a new session, replacing the least recently used one of its
// requester, or of all, when that is needed to stay within the bounds.
func (s *Server) open(call Call) *session {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	own := s.owners[call.Requester]
	if now.Sub(s.lastSweep) >= s.timeout/2 || len(own) >= s.maxPer || len(s.sessions) >= s.maxTotal {
		s.sweepLocked(now)
		own = s.owners[call.Requester]
	}
	if len(own) >= s.maxPer {
		s.removeLocked(leastRecent(own), now, whyReplaced)
	}
	if len(s.sessions) >= s.maxTotal {
		all := make([]*session, 0, len(s.sessions))
		for _, o := range s.sessions {
			all = append(all, o)
		}
		s.removeLocked(leastRecent(all), now, whyReplaced)
	}
	sess := &session{id: call.SessionID, owner: call.Requester, node: call.Node, lastUsed: now}
	s.sessions[sess.id] = sess
	s.owners[sess.owner] = append(s.owners[sess.owner], sess)
	return sess
}

// leastRecent returns the session of ss used longest ago.
func leastRecent(ss []*session) *session {
	lru := ss[0]
	for _, o := range ss[1:] {
		if o.lastUsed.Before(lru.lastUsed) {
			lru = o
		}
	}
	return lru
}

// lookup finds the session of a request and marks it used.
func (s *Server) lookup(req adhoc.Request) (*session, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[req.SessionID]
	if !ok {
		if t, ok := s.ended[req.SessionID]; ok && t.owner == req.Requester {
			text := t.why
			if t.why == whyReplaced {
				text = fmt.Sprintf("%s: at most %d are open at once", t.why, s.maxPer)
			}
			return nil, &adhoc.Error{Condition: adhoc.CondSessionExpired, Text: text}
		}
		return nil, &adhoc.Error{Condition: adhoc.CondBadSessionID, Text: "no such session"}
	}
	if sess.owner != req.Requester || sess.node != req.Node {
		// Do not tell another requester that the session exists.
		return nil, &adhoc.Error{Condition: adhoc.CondBadSessionID, Text: "no such session"}
	}
	if now.Sub(sess.lastUsed) >= s.timeout {
		s.removeLocked(sess, now, whyExpired)
		return nil, &adhoc.Error{Condition: adhoc.CondSessionExpired, Text: whyExpired}
	}
	sess.lastUsed = now
	return sess, nil
}

// sweepLocked drops expired sessions and old tombstones; s.mu is held.
func (s *Server) sweepLocked(now time.Time) {
	s.lastSweep = now
	for id, t := range s.ended {
		if now.Sub(t.at) >= s.timeout {
			delete(s.ended, id)
		}
	}
	for _, sess := range s.sessions {
		if now.Sub(sess.lastUsed) >= s.timeout {
			s.removeLocked(sess, now, whyExpired)
		}
	}
}

// removeLocked ends a session; s.mu is held.
// A session that ends without its owner's word (why is not empty) leaves a tombstone
// while there is room.
func (s *Server) removeLocked(sess *session, now time.Time, why string) {
	if sess.removed {
		return
	}
	sess.removed = true
	delete(s.sessions, sess.id)
	own := s.owners[sess.owner]
	for i, o := range own {
		if o == sess {
			own = append(own[:i], own[i+1:]...)
			break
		}
	}
	if len(own) == 0 {
		delete(s.owners, sess.owner)
	} else {
		s.owners[sess.owner] = own
	}
	if why != "" && len(s.ended) < s.maxTotal {
		s.ended[sess.id] = tombstone{owner: sess.owner, why: why, at: now}
	}
}

func (s *Server) remove(sess *session) {
	s.mu.Lock()
	s.removeLocked(sess, s.now(), "")
	s.mu.Unlock()
}

// step runs one request within an open session at a stage; sess.step is held.
func (s *Server) step(ctx context.Context, c *Definition, call Call, sess *session, req adhoc.Request) (adhoc.Response, error) {
	last := len(c.Stages) - 1
	i := sess.stage
	action := req.Action
	if action == "" || action == adhoc.ActionExecute {
		action = defaultAction(i, last)
	}
	switch action {
	case adhoc.ActionPrev:
		if i == 0 {
			return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondBadAction, Text: "no previous stage"}
		}
		return s.show(ctx, c, call, sess, i-1)
	case adhoc.ActionNext, adhoc.ActionComplete:
		if action == adhoc.ActionComplete && i != last {
			return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondBadAction, Text: "action not offered at this stage"}
		}
		if i >= last {
			// Next on the last stage completes, as Prosody does: clients such as poezio
			// submit every form with next.
			action = adhoc.ActionComplete
		}
	default:
		return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondBadAction, Text: "action not offered at this stage"}
	}
	f := req.Form
	if f == nil {
		f = &adhoc.Form{Type: adhoc.FormSubmit}
	}
	if f.Type != adhoc.FormSubmit {
		return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondBadPayload, Text: "expected a submitted form"}
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
	if action == adhoc.ActionNext {
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

func defaultAction(i, last int) adhoc.Action {
	if i < last {
		return adhoc.ActionNext
	}
	return adhoc.ActionComplete
}

// show moves the session to stage i and returns its form, or completes the command
// when the stage has nothing to ask.
func (s *Server) show(ctx context.Context, c *Definition, call Call, sess *session, i int) (adhoc.Response, error) {
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
func (s *Server) stageForm(ctx context.Context, c *Definition, call Call, sess *session, i int) (*adhoc.Form, error) {
	f, err := c.Stages[i].Form(ctx, call, priorForms(sess.forms, i))
	if err != nil || f == nil {
		return nil, err
	}
	return prefill(f, sess.forms, i), nil
}

// priorForms returns the forms submitted before stage i.
func priorForms(forms []*adhoc.Form, i int) []*adhoc.Form {
	if len(forms) > i {
		return forms[:i]
	}
	return forms
}

// present moves the session to stage i and answers with its form f; refusal, when
// not nil, says why the submission of that stage was not accepted.
func (s *Server) present(c *Definition, sess *session, i int, f *adhoc.Form, refusal *adhoc.Error) adhoc.Response {
	sess.stage = i
	sess.paging, sess.pages, sess.next = false, nil, ""
	last := len(c.Stages) - 1
	resp := adhoc.Response{
		Node:          c.Node,
		SessionID:     sess.id,
		Status:        adhoc.StatusExecuting,
		DefaultAction: defaultAction(i, last),
		Form:          f,
	}
	if refusal != nil {
		// A refusal may hold several reasons, one a line: each its own note.
		for _, r := range strings.Split(refusal.Text, "\n") {
			resp.Notes = append(resp.Notes, adhoc.Note{Type: adhoc.NoteError, Text: r})
		}
		s.log.Info("ad-hoc command step refused", "node", c.Node, "stage", i, "reason", withoutValues(refusal.Text))
	}
	if i > 0 {
		resp.Actions = append(resp.Actions, adhoc.ActionPrev)
	}
	// The last stage offers next as well as complete (both complete), as Prosody
	// does: some clients only ever send next.
	resp.Actions = append(resp.Actions, adhoc.ActionNext)
	if i == last {
		resp.Actions = append(resp.Actions, adhoc.ActionComplete)
	}
	return resp
}

// quoted matches a quoted value in a reason, as strconv.Quote and %q write them.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// withoutValues returns a reason for the log, with the values it quotes (what the
// requester typed, which may be a secret in the wrong field) left out.
func withoutValues(reason string) string {
	if len(reason) > 300 {
		reason = reason[:300]
	}
	return quoted.ReplaceAllString(reason, `"…"`)
}

// refuse answers a submission of stage i that err refused: a not-acceptable
// *adhoc.Error shows the stage's form again with the reason; anything else fails the
// step as before (a bad-payload *adhoc.Error keeps the session).
func (s *Server) refuse(ctx context.Context, c *Definition, call Call, sess *session, i int, err error) (adhoc.Response, error) {
	var ae *adhoc.Error
	if !errors.As(err, &ae) || ae.Condition != adhoc.CondNotAcceptable {
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

// prefill copies into a form the values submitted at its stage before (the
// requester went back, or the submission was refused), so that nothing has to be
// typed twice.
func prefill(f *adhoc.Form, forms []*adhoc.Form, i int) *adhoc.Form {
	if i >= len(forms) || forms[i] == nil {
		return f
	}
	out := *f
	out.Fields = append([]adhoc.Field(nil), f.Fields...)
	for j, fl := range out.Fields {
		if fl.Var == "" || fl.Type == adhoc.FieldFixed || fl.Type == adhoc.FieldHidden {
			continue
		}
		if prev, ok := forms[i].Field(fl.Var); ok {
			out.Fields[j].Values = append([]string(nil), prev.Values...)
		}
	}
	return &out
}

// complete runs the command's Complete for its first page and ends the session (sess
// may be nil), unless the result has more pages: then the session shows them.
// stage is the stage whose submission completes it, shown again when Complete
// refuses a value (not-acceptable); -1 when there is none.
func (s *Server) complete(ctx context.Context, c *Definition, call Call, sess *session, forms []*adhoc.Form, stage int) (adhoc.Response, error) {
	call.Page = ""
	res, err := c.Complete(ctx, call, forms)
	if err != nil {
		if sess != nil && stage >= 0 {
			return s.refuse(ctx, c, call, sess, stage, err)
		}
		return s.fail(c, call, sess, err, true)
	}
	if res.NextPage == "" {
		return s.completed(c, call, sess, res), nil
	}
	if sess == nil {
		sess = s.open(call) // no one knows its id yet: its step lock is not needed
	}
	sess.paging, sess.pages, sess.next = true, []string{""}, res.NextPage
	return s.pageResponse(c, sess, res), nil
}

// turn runs one request while a session shows the pages of a result; sess.step is
// held. A form submitted with it (clients send the page's fields back) is ignored.
func (s *Server) turn(ctx context.Context, c *Definition, call Call, sess *session, req adhoc.Request) (adhoc.Response, error) {
	forms := priorForms(sess.forms, len(c.Stages))
	page := func(p string) (Result, error) {
		call.Page = p
		return c.Complete(ctx, call, forms)
	}
	switch req.Action {
	case "", adhoc.ActionExecute, adhoc.ActionNext:
		res, err := page(sess.next)
		if err != nil {
			return s.fail(c, call, sess, err, false)
		}
		if res.NextPage == "" {
			return s.completed(c, call, sess, res), nil
		}
		sess.pages, sess.next = append(sess.pages, sess.next), res.NextPage
		return s.pageResponse(c, sess, res), nil
	case adhoc.ActionPrev:
		if len(sess.pages) == 1 {
			if len(c.Stages) == 0 {
				return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondBadAction, Text: "no previous page"}
			}
			return s.show(ctx, c, call, sess, len(c.Stages)-1)
		}
		prev := sess.pages[len(sess.pages)-2]
		res, err := page(prev)
		if err != nil {
			return s.fail(c, call, sess, err, false)
		}
		sess.pages = sess.pages[:len(sess.pages)-1]
		if res.NextPage == "" {
			// The list shrank meanwhile: this is its last page now.
			return s.completed(c, call, sess, res), nil
		}
		sess.next = res.NextPage
		return s.pageResponse(c, sess, res), nil
	case adhoc.ActionComplete:
		res, err := page(sess.pages[len(sess.pages)-1])
		if err != nil {
			return s.fail(c, call, sess, err, false)
		}
		return s.completed(c, call, sess, res), nil
	}
	return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondBadAction, Text: "action not offered at this stage"}
}

// pageResponse shows a page of a result while the session executes: its form as a
// form (the type a client expects while a command executes), with next as the
// default action.
func (s *Server) pageResponse(c *Definition, sess *session, res Result) adhoc.Response {
	resp := adhoc.Response{
		Node:          c.Node,
		SessionID:     sess.id,
		Status:        adhoc.StatusExecuting,
		DefaultAction: adhoc.ActionNext,
		Notes:         withTypes(res.Notes),
	}
	if res.Form != nil {
		f := *res.Form
		f.Type = adhoc.FormForm
		resp.Form = &f
	}
	if len(sess.pages) > 1 || len(c.Stages) > 0 {
		resp.Actions = append(resp.Actions, adhoc.ActionPrev)
	}
	resp.Actions = append(resp.Actions, adhoc.ActionNext, adhoc.ActionComplete)
	return resp
}

// completed ends the session, if any, with res.
func (s *Server) completed(c *Definition, call Call, sess *session, res Result) adhoc.Response {
	if sess != nil {
		s.remove(sess)
	}
	f := res.Form
	if f != nil && f.Type != adhoc.FormResult {
		cp := *f
		cp.Type = adhoc.FormResult
		f = &cp
	}
	return adhoc.Response{Node: c.Node, SessionID: call.SessionID, Status: adhoc.StatusCompleted, Notes: withTypes(res.Notes), Form: f}
}

// withTypes returns notes with the default type, info, written out; nil for none.
func withTypes(notes []adhoc.Note) []adhoc.Note {
	if len(notes) == 0 {
		return nil
	}
	out := make([]adhoc.Note, len(notes))
	for i, n := range notes {
		if n.Type == "" {
			n.Type = adhoc.NoteInfo
		}
		out[i] = n
	}
	return out
}

// fail answers a failed step.
// With retry, a not-acceptable or bad-payload *adhoc.Error keeps the session open;
// other *adhoc.Errors end it and are returned; other errors end it with an error note.
func (s *Server) fail(c *Definition, call Call, sess *session, err error, retry bool) (adhoc.Response, error) {
	var ae *adhoc.Error
	if errors.As(err, &ae) {
		if sess != nil && !(retry && (ae.Condition == adhoc.CondNotAcceptable || ae.Condition == adhoc.CondBadPayload)) {
			s.remove(sess)
		}
		return adhoc.Response{}, ae
	}
	if sess != nil {
		s.remove(sess)
	}
	s.log.Error("ad-hoc command failed", "node", c.Node, "err", err)
	return adhoc.Response{
		Node:      c.Node,
		SessionID: call.SessionID,
		Status:    adhoc.StatusCompleted,
		Notes:     []adhoc.Note{{Type: adhoc.NoteError, Text: "The command failed; the server's log says why."}},
	}, nil
}

// EndRequester ends at once every session of requester (a full JID), as the end of
// the stream it was bound to ends the forms it left open: the host says so (a
// stream-ended event), so that a client that never cancels does not hold sessions
// until they expire, and a new stream with the same full JID starts afresh.
// A request in one of them later gets session-expired. It returns how many it ended.
func (s *Server) EndRequester(requester string) int {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	own := slices.Clone(s.owners[requester])
	for _, sess := range own {
		s.removeLocked(sess, now, whyStreamEnded)
	}
	return len(own)
}

// Sessions reports how many sessions are open, expired ones included until they are
// dropped.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

var _ adhoc.Executor = (*Server)(nil)
