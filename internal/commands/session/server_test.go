package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/commands/session"
	"github.com/xmpp-invites/invites/internal/commands/session/sessiontest"
)

var _ adhoc.Executor = (*session.Server)(nil)

const (
	host  = sessiontest.Host
	alice = sessiontest.Alice
	bob   = sessiontest.Bob
)

var (
	newClock  = sessiontest.NewClock
	stageForm = sessiontest.StageForm
	submit    = sessiontest.Submit
	roleOf    = sessiontest.Role
	condOf    = sessiontest.Cond
)

type clock = sessiontest.Clock

func testServer(t *testing.T, opts session.Options) *session.Server {
	t.Helper()
	s, err := sessiontest.Wizard(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type step struct {
	who     string
	node    string
	sid     string // "" = none; "$" = the session's id
	action  adhoc.Action
	form    *adhoc.Form
	advance time.Duration

	wantErr     adhoc.Condition
	wantStatus  adhoc.Status
	wantTitle   string
	wantActions string
	wantValue   string // value of the form's only field (prefill)
	wantNote    string
	wantFields  string // when set: the form's fields, "var=value,…" joined by "|"
}

func runSteps(t *testing.T, s *session.Server, clk *clock, steps []step) {
	t.Helper()
	ctx := context.Background()
	var sid string
	for i, st := range steps {
		clk.Add(st.advance)
		req := adhoc.Request{Requester: st.who, Node: st.node, Action: st.action, Form: st.form}
		if req.Requester == "" {
			req.Requester = alice
		}
		if req.Node == "" {
			req.Node = "wizard"
		}
		req.Role = roleOf(req.Requester)
		switch st.sid {
		case "$":
			req.SessionID = sid
		default:
			req.SessionID = st.sid
		}
		resp, err := s.Execute(ctx, host, req)
		if got := condOf(err); got != st.wantErr {
			t.Fatalf("%d: error %q, want %q", i, got, st.wantErr)
		}
		if err != nil {
			continue
		}
		if sid == "" || st.sid == "" {
			sid = resp.SessionID
		}
		if resp.SessionID == "" {
			t.Fatalf("%d: response without session id", i)
		}
		if resp.Status != st.wantStatus {
			t.Fatalf("%d: status %q, want %q", i, resp.Status, st.wantStatus)
		}
		var acts []string
		for _, a := range resp.Actions {
			acts = append(acts, string(a))
		}
		if resp.Status == adhoc.StatusExecuting {
			acts = append(acts, "default="+string(resp.DefaultAction))
		}
		if got := strings.Join(acts, " "); got != st.wantActions {
			t.Fatalf("%d: actions %q, want %q", i, got, st.wantActions)
		}
		if st.wantTitle != "" && (resp.Form == nil || resp.Form.Title != st.wantTitle) {
			t.Fatalf("%d: form %+v, want title %q", i, resp.Form, st.wantTitle)
		}
		if resp.Form != nil && len(resp.Form.Fields) == 1 {
			if got := strings.Join(resp.Form.Fields[0].Values, ","); got != st.wantValue {
				t.Fatalf("%d: prefilled %q, want %q", i, got, st.wantValue)
			}
		}
		if st.wantFields != "" {
			var fields []string
			for _, fl := range resp.Form.Fields {
				fields = append(fields, fl.Var+"="+strings.TrimRight(strings.Join(fl.Values, ","), " "))
			}
			if got := strings.Join(fields, "|"); got != st.wantFields {
				t.Fatalf("%d: fields %q, want %q", i, got, st.wantFields)
			}
		}
		var notes []string
		for _, n := range resp.Notes {
			notes = append(notes, string(n.Type)+":"+n.Text)
		}
		if got := strings.Join(notes, "|"); got != st.wantNote {
			t.Fatalf("%d: notes %q, want %q", i, got, st.wantNote)
		}
	}
}

func TestServerSessions(t *testing.T) {
	const exec = "next default=next"
	for i, tc := range []struct {
		name  string
		steps []step
	}{
		0: {"every stage, back and forth", []step{
			{wantStatus: adhoc.StatusExecuting, wantTitle: "a after 0", wantActions: "next default=next"},
			{sid: "$", action: adhoc.ActionNext, form: submit("a", "1"), wantStatus: adhoc.StatusExecuting, wantTitle: "b after 1", wantActions: "prev next default=next"},
			{sid: "$", action: adhoc.ActionPrev, wantStatus: adhoc.StatusExecuting, wantTitle: "a after 0", wantActions: "next default=next", wantValue: "1"},
			{sid: "$", action: adhoc.ActionExecute, form: submit("a", "2"), wantStatus: adhoc.StatusExecuting, wantTitle: "b after 1", wantActions: "prev next default=next"},
			{sid: "$", action: adhoc.ActionNext, form: submit("b", "3"), wantStatus: adhoc.StatusExecuting, wantTitle: "c after 2", wantActions: "prev next complete default=complete"},
			{sid: "$", action: adhoc.ActionPrev, wantStatus: adhoc.StatusExecuting, wantTitle: "b after 1", wantActions: "prev next default=next", wantValue: "3"},
			{sid: "$", form: submit("b", "4"), wantStatus: adhoc.StatusExecuting, wantTitle: "c after 2", wantActions: "prev next complete default=complete"},
			{sid: "$", action: adhoc.ActionComplete, form: submit("c", "5"), wantStatus: adhoc.StatusCompleted, wantNote: "info:a=2 b=4 c=5"},
			{sid: "$", action: adhoc.ActionNext, form: submit("c", "5"), wantErr: adhoc.CondBadSessionID},
		}},
		1: {"cancel, then the id is dead", []step{
			{wantStatus: adhoc.StatusExecuting, wantActions: exec},
			{sid: "$", action: adhoc.ActionNext, form: submit("a", "1"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next default=next"},
			{sid: "$", action: adhoc.ActionCancel, wantStatus: adhoc.StatusCanceled},
			{sid: "$", action: adhoc.ActionPrev, wantErr: adhoc.CondBadSessionID},
			{sid: "$", action: adhoc.ActionCancel, wantErr: adhoc.CondBadSessionID},
		}},
		2: {"actions not offered", []step{
			{action: adhoc.ActionNext, wantErr: adhoc.CondBadAction},
			{action: adhoc.ActionComplete, wantErr: adhoc.CondBadAction},
			{wantStatus: adhoc.StatusExecuting, wantActions: exec},
			{sid: "$", action: adhoc.ActionPrev, wantErr: adhoc.CondBadAction},
			{sid: "$", action: adhoc.ActionComplete, form: submit("a", "1"), wantErr: adhoc.CondBadAction},
			{sid: "$", action: "jump", wantErr: adhoc.CondMalformedAction},
			{sid: "$", action: adhoc.ActionNext, form: submit("a", "1"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next default=next"},
			{sid: "$", action: adhoc.ActionNext, form: submit("b", "1"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next complete default=complete"},
			// Next on the last stage completes (poezio sends nothing else).
			{sid: "$", action: adhoc.ActionNext, form: submit("c", "1"), wantStatus: adhoc.StatusCompleted, wantNote: "info:a=1 b=1 c=1"},
		}},
		3: {"foreign and stale session ids", []step{
			{wantStatus: adhoc.StatusExecuting, wantActions: exec},
			{who: bob, sid: "$", action: adhoc.ActionNext, form: submit("a", "1"), wantErr: adhoc.CondBadSessionID},
			{who: "alice@example.com/laptop", sid: "$", action: adhoc.ActionNext, form: submit("a", "1"), wantErr: adhoc.CondBadSessionID},
			{node: "now", sid: "$", action: adhoc.ActionNext, wantErr: adhoc.CondBadSessionID},
			{sid: "NOTASESSION", action: adhoc.ActionNext, wantErr: adhoc.CondBadSessionID},
			// Still alice's and still alive.
			{sid: "$", action: adhoc.ActionNext, form: submit("a", "1"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next default=next"},
		}},
		4: {"idle timeout", []step{
			{wantStatus: adhoc.StatusExecuting, wantActions: exec},
			{sid: "$", advance: 9 * time.Minute, action: adhoc.ActionNext, form: submit("a", "1"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next default=next"},
			{sid: "$", advance: 9 * time.Minute, action: adhoc.ActionPrev, wantStatus: adhoc.StatusExecuting, wantActions: exec, wantValue: "1"},
			{sid: "$", advance: 10 * time.Minute, action: adhoc.ActionNext, form: submit("a", "1"), wantErr: adhoc.CondSessionExpired},
			{sid: "$", action: adhoc.ActionNext, form: submit("a", "1"), wantErr: adhoc.CondSessionExpired},
			{who: bob, sid: "$", action: adhoc.ActionNext, form: submit("a", "1"), wantErr: adhoc.CondBadSessionID},
		}},
		5: {"invalid data keeps the session and shows the form again", []step{
			{wantStatus: adhoc.StatusExecuting, wantActions: exec},
			// Refused by the stage's Check: the same form, what was sent, the reason.
			{sid: "$", action: adhoc.ActionNext, form: submit("a", "bad"), wantStatus: adhoc.StatusExecuting, wantTitle: "a after 0",
				wantActions: exec, wantNote: "error:a is bad", wantValue: "bad", wantFields: "a=bad"},
			{sid: "$", action: adhoc.ActionNext, form: &adhoc.Form{Type: adhoc.FormForm}, wantErr: adhoc.CondBadPayload},
			{sid: "$", action: adhoc.ActionNext, form: submit("a", "good"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next default=next"},
			{sid: "$", action: adhoc.ActionNext, form: submit("b", "x"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next complete default=complete"},
			// Refused by Complete: the last stage again, with its reason.
			{sid: "$", action: adhoc.ActionComplete, form: submit("c", "retry"), wantStatus: adhoc.StatusExecuting, wantTitle: "c after 2",
				wantActions: "prev next complete default=complete", wantNote: "error:c: try c again", wantValue: "retry"},
			{sid: "$", action: adhoc.ActionComplete, form: submit("c", "ok"), wantStatus: adhoc.StatusCompleted, wantNote: "info:a=good b=x c=ok"},
		}},
		6: {"a failing command completes with an error note", []step{
			{wantStatus: adhoc.StatusExecuting, wantActions: exec},
			{sid: "$", form: submit("a", "1"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next default=next"},
			{sid: "$", form: submit("b", "1"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next complete default=complete"},
			{sid: "$", form: submit("c", "boom"), wantStatus: adhoc.StatusCompleted, wantNote: "error:The command failed; the server's log says why."},
			{sid: "$", form: submit("c", "ok"), wantErr: adhoc.CondBadSessionID},
		}},
		7: {"another protocol error ends the session", []step{
			{wantStatus: adhoc.StatusExecuting, wantActions: exec},
			{sid: "$", form: submit("a", "1"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next default=next"},
			{sid: "$", form: submit("b", "1"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next complete default=complete"},
			{sid: "$", form: submit("c", "deny"), wantErr: adhoc.CondForbidden},
			{sid: "$", form: submit("c", "ok"), wantErr: adhoc.CondBadSessionID},
		}},
		9: {"next through every stage, as poezio does", []step{
			{wantStatus: adhoc.StatusExecuting, wantActions: exec},
			{sid: "$", action: adhoc.ActionNext, form: submit("a", "1"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next default=next"},
			{sid: "$", action: adhoc.ActionNext, form: submit("b", "2"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next complete default=complete"},
			{sid: "$", action: adhoc.ActionNext, form: submit("c", "retry"), wantStatus: adhoc.StatusExecuting, wantTitle: "c after 2",
				wantActions: "prev next complete default=complete", wantNote: "error:c: try c again", wantValue: "retry"},
			{sid: "$", action: adhoc.ActionNext, form: submit("c", "3"), wantStatus: adhoc.StatusCompleted, wantNote: "info:a=1 b=2 c=3"},
			{sid: "$", action: adhoc.ActionNext, form: submit("c", "3"), wantErr: adhoc.CondBadSessionID},
		}},
		8: {"permissions and nodes", []step{
			{node: "nope", wantErr: adhoc.CondItemNotFound},
			{node: "", wantErr: ""}, // defaults to wizard
			{who: bob, node: "secret", wantErr: adhoc.CondForbidden},
			{node: "secret", wantStatus: adhoc.StatusExecuting, wantActions: "next complete default=complete"},
			{who: bob, node: "secret", sid: "$", action: adhoc.ActionComplete, wantErr: adhoc.CondForbidden},
			{node: "secret", sid: "$", action: adhoc.ActionComplete, wantStatus: adhoc.StatusCompleted},
			{node: "now", wantStatus: adhoc.StatusCompleted, wantNote: "info:done"},
			{who: "", node: "now", wantStatus: adhoc.StatusCompleted, wantNote: "info:done"},
		}},
	} {
		t.Run(fmt.Sprintf("%d %s", i, tc.name), func(t *testing.T) {
			clk := newClock()
			s := testServer(t, session.Options{Now: clk.Now, Timeout: 10 * time.Minute})
			// Step 8 of case 8 expects the empty default title check to pass.
			for j := range tc.steps {
				if tc.steps[j].wantErr == "" && tc.steps[j].wantStatus == "" {
					tc.steps[j].wantStatus = adhoc.StatusExecuting
					tc.steps[j].wantActions = exec
				}
			}
			runSteps(t, s, clk, tc.steps)
		})
	}
}

// TestServerBounds: a requester at its bound, or a server at its total, never gets
// resource-constraint: the new session replaces the least recently used one (of that
// requester, or of all), which then answers session-expired to its owner only.
func TestServerBounds(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := testServer(t, session.Options{Now: clk.Now, Timeout: time.Minute, MaxSessions: 2, MaxTotalSessions: 3})
	start := func(who string) string {
		t.Helper()
		clk.Add(time.Second) // sessions are ordered by their last use
		resp, err := s.Execute(ctx, host, adhoc.Request{Requester: who, Role: roleOf(who), Node: "wizard"})
		if err != nil {
			t.Fatalf("new session of %s: %v", who, err)
		}
		return resp.SessionID
	}
	next := func(who, sid string) error {
		clk.Add(time.Second)
		_, err := s.Execute(ctx, host, adhoc.Request{Requester: who, Role: roleOf(who), Node: "wizard", SessionID: sid,
			Action: adhoc.ActionNext, Form: submit("a", "1")})
		return err
	}
	a1, a2 := start(alice), start(alice)
	if err := next(alice, a1); err != nil { // a1 is now more recent than a2
		t.Fatal(err)
	}
	a3 := start(alice)
	var ae *adhoc.Error
	if err := next(alice, a2); !errors.As(err, &ae) || ae.Condition != adhoc.CondSessionExpired ||
		ae.Text != "session replaced by a newer one: at most 2 are open at once" {
		t.Fatalf("alice's least recently used session: %v, want session-expired saying why", err)
	}
	if err := next(bob, a2); condOf(err) != adhoc.CondBadSessionID {
		t.Fatalf("someone else asking for it: %v, want bad-sessionid", err)
	}
	for _, sid := range []string{a1, a3} {
		if err := next(alice, sid); err != nil {
			t.Fatalf("a newer session of alice: %v", err)
		}
	}
	// One-shot commands open no session.
	if _, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Node: "now"}); err != nil {
		t.Fatalf("one-shot at the bound: %v", err)
	}
	if n := s.Sessions(); n != 2 {
		t.Fatalf("%d sessions, want 2", n)
	}
	// The total: bob's session is the third; carol's replaces the least recently used
	// of all, alice's a1 (a3 was used after it).
	b1 := start(bob)
	start("carol@example.com/x")
	if err := next(alice, a1); condOf(err) != adhoc.CondSessionExpired {
		t.Fatalf("the least recently used session of all: %v, want session-expired", err)
	}
	if err := next(bob, b1); err != nil {
		t.Fatalf("bob's: %v", err)
	}
	if n := s.Sessions(); n != 3 {
		t.Fatalf("%d sessions, want 3", n)
	}
	// Expired sessions go first, and their owners hear session-expired.
	clk.Add(2 * time.Minute)
	c1 := start("carol@example.com/x")
	if n := s.Sessions(); n != 1 {
		t.Fatalf("%d sessions after the sweep, want 1", n)
	}
	if err := next(alice, a3); condOf(err) != adhoc.CondSessionExpired {
		t.Fatalf("expired session: %v", err)
	}
	if len(c1) < 26 {
		t.Fatalf("session id %q too short to be unguessable", c1)
	}
}

// TestServerManySessionsNeverRefused: a client that never cancels (profanity) opens
// far more forms than the bound, and is never refused.
func TestServerManySessionsNeverRefused(t *testing.T) {
	s := testServer(t, session.Options{})
	ctx := context.Background()
	for i := range 10 * session.DefaultMaxSessions {
		if _, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Role: adhoc.RoleAdmin, Node: "wizard"}); err != nil {
			t.Fatalf("form %d: %v", i, err)
		}
	}
	if n := s.Sessions(); n != session.DefaultMaxSessions {
		t.Fatalf("%d sessions open, want %d", n, session.DefaultMaxSessions)
	}
}

// TestServerCancelWithoutRole: a requester may end its own session whatever its role
// now is (a host ending a stream's sessions may not know it), and no one else's.
func TestServerCancelWithoutRole(t *testing.T) {
	s := testServer(t, session.Options{})
	ctx := context.Background()
	resp, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Role: adhoc.RoleAdmin, Node: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	cancel := adhoc.Request{Requester: bob, Role: adhoc.RoleAdmin, Node: "secret", SessionID: resp.SessionID, Action: adhoc.ActionCancel}
	if _, err := s.Execute(ctx, host, cancel); condOf(err) != adhoc.CondBadSessionID {
		t.Fatalf("bob cancelling alice's session: %v", err)
	}
	cancel.Requester, cancel.Role = alice, adhoc.RoleNone
	if got, err := s.Execute(ctx, host, cancel); err != nil || got.Status != adhoc.StatusCanceled {
		t.Fatalf("alice cancelling her own session without a role: %+v %v", got, err)
	}
	if n := s.Sessions(); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
	// Without a session, a role is needed as before.
	if _, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Node: "secret", Action: adhoc.ActionCancel}); condOf(err) != adhoc.CondForbidden {
		t.Fatalf("cancel without a session nor a role: %v", err)
	}
}

func TestServerExpiredTombstone(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := testServer(t, session.Options{Now: clk.Now, Timeout: time.Minute})
	resp, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Node: "wizard"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(90 * time.Second)
	// Bob's new session sweeps alice's away.
	if _, err := s.Execute(ctx, host, adhoc.Request{Requester: bob, Node: "wizard"}); err != nil {
		t.Fatal(err)
	}
	if n := s.Sessions(); n != 1 {
		t.Fatalf("%d sessions, want 1", n)
	}
	req := adhoc.Request{Requester: alice, Node: "wizard", SessionID: resp.SessionID, Action: adhoc.ActionNext}
	if _, err := s.Execute(ctx, host, req); condOf(err) != adhoc.CondSessionExpired {
		t.Fatalf("swept session: %v, want session-expired", err)
	}
	req.Requester = bob
	if _, err := s.Execute(ctx, host, req); condOf(err) != adhoc.CondBadSessionID {
		t.Fatalf("someone else's swept session: %v, want bad-sessionid", err)
	}
}

func TestServerCommands(t *testing.T) {
	s := testServer(t, session.Options{})
	for i, tc := range []struct {
		who  string
		role adhoc.Role
		want string
	}{
		0: {alice, adhoc.RoleAdmin, "wizard now secret"},
		1: {bob, adhoc.RoleUser, "wizard now"},
		2: {alice, adhoc.RoleNone, "wizard now"},
		3: {alice, adhoc.Role("root"), ""},
	} {
		cmds, err := s.Commands(context.Background(), host, tc.who, tc.role)
		if err != nil {
			t.Fatal(err)
		}
		var nodes []string
		for _, c := range cmds {
			nodes = append(nodes, c.Node)
		}
		if got := strings.Join(nodes, " "); got != tc.want {
			t.Errorf("%d: %q, want %q", i, got, tc.want)
		}
	}
}

func TestNewServerRejects(t *testing.T) {
	done := func(context.Context, session.Call, []*adhoc.Form) (session.Result, error) {
		return session.Result{}, nil
	}
	for i, defs := range [][]session.Definition{
		0: {{Complete: done}},
		1: {{Node: "a", Complete: done}, {Node: "a", Complete: done}},
		2: {{Node: "a"}},
		3: {{Node: "a", Complete: done, Stages: []session.Stage{{}}}},
		4: {{Node: "a", Complete: done, Role: "root"}},
	} {
		if _, err := session.NewServer(defs, session.Options{}); err == nil {
			t.Errorf("%d: no error", i)
		}
	}
}

func TestServerOversizedForm(t *testing.T) {
	s := testServer(t, session.Options{Limits: adhoc.Limits{MaxFields: 2}})
	ctx := context.Background()
	resp, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Node: "wizard"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Execute(ctx, host, adhoc.Request{Requester: alice, Node: "wizard", SessionID: resp.SessionID,
		Action: adhoc.ActionNext, Form: submit("a", "1", "b", "2", "c", "3")})
	if condOf(err) != adhoc.CondBadPayload {
		t.Fatalf("%v, want bad-payload", err)
	}
}

func TestServerConcurrent(t *testing.T) {
	s := testServer(t, session.Options{MaxSessions: 1000, MaxTotalSessions: 100000})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			who := fmt.Sprintf("user%d@example.com/r", g)
			for range 50 {
				resp, err := s.Execute(ctx, host, adhoc.Request{Requester: who, Node: "wizard"})
				if err != nil {
					errs <- err
					return
				}
				for _, v := range []string{"a", "b", "c"} {
					resp, err = s.Execute(ctx, host, adhoc.Request{Requester: who, Node: "wizard", SessionID: resp.SessionID, Form: submit(v, who)})
					if err != nil {
						errs <- err
						return
					}
				}
				if resp.Status != adhoc.StatusCompleted {
					errs <- fmt.Errorf("status %s", resp.Status)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := s.Sessions(); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

// TestServerCallRole: each step of a command learns the role the host gave that
// request, so a command open to users and administrators can tell them apart, and a
// role that changes between the steps of a session applies at once.
func TestServerCallRole(t *testing.T) {
	var seen []adhoc.Role
	s, err := session.NewServer([]session.Definition{{
		Node: "mine",
		Role: adhoc.RoleUser,
		Stages: []session.Stage{{Form: func(_ context.Context, c session.Call, _ []*adhoc.Form) (*adhoc.Form, error) {
			seen = append(seen, c.Role)
			return &adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{{Var: "x", Type: adhoc.FieldTextSingle}}}, nil
		}}},
		Complete: func(_ context.Context, c session.Call, _ []*adhoc.Form) (session.Result, error) {
			seen = append(seen, c.Role)
			return session.Result{}, nil
		},
	}}, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	first, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Role: adhoc.RoleAdmin, Node: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Role: adhoc.RoleUser, Node: "mine",
		SessionID: first.SessionID, Action: adhoc.ActionComplete, Form: submit("x", "1")}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != adhoc.RoleAdmin || seen[1] != adhoc.RoleUser {
		t.Errorf("roles seen %v, want [admin user]", seen)
	}
}

// TestServerShownAgain: a refusal shows the stage again with what was submitted and
// the reason as an error note, and is logged without the values submitted; a result
// keeps its notes and form as the command gave them.
func TestServerShownAgain(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	s, err := session.NewServer([]session.Definition{
		{
			Node: "pick",
			Stages: []session.Stage{
				{Form: func(context.Context, session.Call, []*adhoc.Form) (*adhoc.Form, error) {
					return &adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{{Var: "which", Type: adhoc.FieldListSingle,
						Label: "Which", Options: []adhoc.Option{{Label: "First one (1)", Value: "1"}, {Label: "Gone (2)", Value: "2"}}}}}, nil
				}},
				{Form: func(_ context.Context, _ session.Call, prior []*adhoc.Form) (*adhoc.Form, error) {
					if prior[0].Value("which") != "1" {
						return nil, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "which: no such thing " + strconv.Quote(prior[0].Value("which"))}
					}
					return &adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{{Var: "n", Type: adhoc.FieldTextSingle, Label: "Accounts"}}}, nil
				}},
			},
			Complete: func(_ context.Context, _ session.Call, forms []*adhoc.Form) (session.Result, error) {
				if forms[1].Value("n") != "3" {
					return session.Result{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "n: write a whole number"}
				}
				return session.Result{
					Notes: []adhoc.Note{{Type: adhoc.NoteWarn, Text: "Keep it."}},
					Form: &adhoc.Form{Type: adhoc.FormResult, Fields: []adhoc.Field{
						{Var: "FORM_TYPE", Type: adhoc.FieldHidden, Values: []string{"urn:example"}},
						{Var: "uri", Values: []string{"xmpp:x"}}}},
				}, nil
			},
		},
	}, session.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	do := func(sid string, f *adhoc.Form) adhoc.Response {
		t.Helper()
		resp, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Role: adhoc.RoleAdmin, Node: "pick", SessionID: sid, Action: adhoc.ActionNext, Form: f})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	fields := func(f *adhoc.Form) string {
		var out []string
		for _, fl := range f.Fields {
			out = append(out, fl.Var+"="+strings.Join(fl.Values, ","))
		}
		return strings.Join(out, "|")
	}
	resp, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Role: adhoc.RoleAdmin, Node: "pick"})
	if err != nil {
		t.Fatal(err)
	}
	sid := resp.SessionID

	// The next stage's form refuses the choice: the first stage again, as submitted.
	resp = do(sid, submit("which", "Secret/Value"))
	if got := fields(resp.Form); resp.Status != adhoc.StatusExecuting || got != "which=Secret/Value" ||
		len(resp.Notes) != 1 || resp.Notes[0] != (adhoc.Note{Type: adhoc.NoteError, Text: `which: no such thing "Secret/Value"`}) {
		t.Fatalf("refused choice: %s %q %+v", resp.Status, got, resp.Notes)
	}
	if out := logs.String(); !strings.Contains(out, `msg="ad-hoc command step refused" node=pick stage=0 reason="which: no such thing \"…\""`) ||
		strings.Contains(out, "Secret") {
		t.Fatalf("log of the refusal:\n%s", out)
	}
	if resp = do(sid, submit("which", "1")); resp.Form == nil || resp.Form.Fields[0].Var != "n" {
		t.Fatalf("second stage: %+v", resp)
	}
	resp = do(sid, submit("n", "many"))
	if got := fields(resp.Form); got != "n=many" || resp.Notes[0].Text != "n: write a whole number" {
		t.Fatalf("refused value: %q %+v", got, resp.Notes)
	}
	resp = do(sid, submit("n", "3"))
	if got := fields(resp.Form); resp.Status != adhoc.StatusCompleted || got != "FORM_TYPE=urn:example|uri=xmpp:x" ||
		len(resp.Notes) != 1 || resp.Notes[0] != (adhoc.Note{Type: adhoc.NoteWarn, Text: "Keep it."}) {
		t.Fatalf("result: %s %q %+v", resp.Status, got, resp.Notes)
	}
}

// pagedServer runs "pages", which lists the numbers 1 to n, per items a page, after a
// one-field stage, and "all", the same without a stage. The page cursor is the first
// number of the page.
func pagedServer(t *testing.T, n, per int) *session.Server {
	t.Helper()
	list := func(_ context.Context, c session.Call, _ []*adhoc.Form) (session.Result, error) {
		first := 1
		if c.Page != "" {
			var err error
			if first, err = strconv.Atoi(c.Page); err != nil {
				return session.Result{}, err
			}
		}
		last := min(first+per-1, n)
		f := &adhoc.Form{Type: adhoc.FormResult, Title: fmt.Sprintf("%d to %d", first, last)}
		res := session.Result{Form: f}
		if last < n {
			res.NextPage = strconv.Itoa(last + 1)
		}
		return res, nil
	}
	s, err := session.NewServer([]session.Definition{
		{Node: "pages", Stages: []session.Stage{{Form: stageForm("a")}}, Complete: list},
		{Node: "all", Complete: list},
	}, session.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestServerPages: a long result is shown page by page while the session executes,
// each page a form with next (the default), complete and, but on the first page of a
// command without stages, prev; the last page completes.
func TestServerPages(t *testing.T) {
	type turn struct {
		action adhoc.Action
		form   *adhoc.Form
		want   string // status, title, actions
		err    adhoc.Condition
	}
	for i, tc := range []struct {
		node  string
		n     int
		turns []turn
	}{
		0: {"all", 3, []turn{{want: "completed 1 to 3 result"}}},
		1: {"all", 7, []turn{
			{want: "executing 1 to 3 form next complete default=next"},
			{action: adhoc.ActionPrev, err: adhoc.CondBadAction},
			// Clients send the page's fields back: they are ignored.
			{action: adhoc.ActionNext, form: submit("x", "y"), want: "executing 4 to 6 form prev next complete default=next"},
			{action: adhoc.ActionPrev, want: "executing 1 to 3 form next complete default=next"},
			{want: "executing 4 to 6 form prev next complete default=next"},
			{want: "completed 7 to 7 result"},
			{err: adhoc.CondBadSessionID},
		}},
		2: {"all", 7, []turn{
			{want: "executing 1 to 3 form next complete default=next"},
			{action: adhoc.ActionNext, want: "executing 4 to 6 form prev next complete default=next"},
			// Complete ends the command on the page shown.
			{action: adhoc.ActionComplete, want: "completed 4 to 6 result"},
			{err: adhoc.CondBadSessionID},
		}},
		3: {"pages", 4, []turn{
			{want: "executing a after 0 form next complete default=complete"},
			{action: adhoc.ActionNext, form: submit("a", "1"), want: "executing 1 to 3 form prev next complete default=next"},
			// From the first page, prev goes back to the stage, filled in.
			{action: adhoc.ActionPrev, want: "executing a after 0 form next complete default=complete"},
			{action: adhoc.ActionComplete, form: submit("a", "2"), want: "executing 1 to 3 form prev next complete default=next"},
			{action: adhoc.ActionCancel, want: "canceled"},
		}},
	} {
		s := pagedServer(t, tc.n, 3)
		ctx := context.Background()
		sid := ""
		for j, tu := range tc.turns {
			resp, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Node: tc.node, SessionID: sid, Action: tu.action, Form: tu.form})
			if condOf(err) != tu.err {
				t.Fatalf("%d.%d: %v, want %q", i, j, err, tu.err)
			}
			if err != nil {
				continue
			}
			sid = resp.SessionID
			got := string(resp.Status)
			if resp.Form != nil {
				got += " " + resp.Form.Title + " " + string(resp.Form.Type)
			}
			for _, a := range resp.Actions {
				got += " " + string(a)
			}
			if resp.Status == adhoc.StatusExecuting {
				got += " default=" + string(resp.DefaultAction)
			}
			if got != tu.want {
				t.Fatalf("%d.%d: %q, want %q", i, j, got, tu.want)
			}
		}
		if n := s.Sessions(); n != 0 {
			t.Fatalf("%d: %d sessions left", i, n)
		}
	}
}

// TestServerValidatesRequests checks that Execute holds a request that did not come
// through adhoc.DecodeRequest to the same rules.
func TestServerValidatesRequests(t *testing.T) {
	s := testServer(t, session.Options{})
	ctx := context.Background()
	resp, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Node: "wizard"})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		req  adhoc.Request
		want adhoc.Condition
	}{
		0: {adhoc.Request{Action: "jump"}, adhoc.CondMalformedAction},
		1: {adhoc.Request{Action: adhoc.ActionNext, Form: &adhoc.Form{Type: adhoc.FormSubmit, Fields: []adhoc.Field{{Var: "a", Type: "colour"}}}}, adhoc.CondBadPayload},
		2: {adhoc.Request{Action: adhoc.ActionNext, Form: &adhoc.Form{Type: adhoc.FormResult}}, adhoc.CondBadPayload},
	} {
		req := tc.req
		req.Requester, req.Node, req.SessionID = alice, "wizard", resp.SessionID
		if _, err := s.Execute(ctx, host, req); condOf(err) != tc.want {
			t.Errorf("%d: %v, want %s", i, err, tc.want)
		}
	}
}

// TestServerEndRequester: the sessions of a stream that ended end at once, answering
// session-expired with the reason; other requesters' sessions, the same account's
// other resources' among them, stay; a new stream of the same full JID starts afresh.
func TestServerEndRequester(t *testing.T) {
	ctx := context.Background()
	s := testServer(t, session.Options{MaxSessions: 3})
	other := strings.Replace(alice, "/", "/other", 1)
	open := func(who string) string {
		t.Helper()
		resp, err := s.Execute(ctx, host, adhoc.Request{Requester: who, Role: roleOf(who), Node: "wizard"})
		if err != nil {
			t.Fatal(err)
		}
		return resp.SessionID
	}
	next := func(who, sid string) error {
		_, err := s.Execute(ctx, host, adhoc.Request{Requester: who, Role: roleOf(who), Node: "wizard", SessionID: sid,
			Action: adhoc.ActionNext, Form: submit("a", "1")})
		return err
	}
	mine := []string{open(alice), open(alice), open(alice)}
	theirs := []string{open(other), open(bob)}
	if n := s.EndRequester(alice); n != 3 {
		t.Fatalf("ended %d sessions, want 3", n)
	}
	if n := s.EndRequester(alice); n != 0 {
		t.Fatalf("ended %d sessions again, want 0", n)
	}
	for _, sid := range mine {
		var ae *adhoc.Error
		if err := next(alice, sid); !errors.As(err, &ae) || ae.Condition != adhoc.CondSessionExpired ||
			ae.Text != "session ended with the connection that opened it" {
			t.Errorf("a session of the ended stream: %v", err)
		}
	}
	if err := next(other, theirs[0]); err != nil {
		t.Errorf("another resource's session: %v", err)
	}
	if err := next(bob, theirs[1]); err != nil {
		t.Errorf("bob's session: %v", err)
	}
	// The same full JID on a new stream opens its whole share again.
	for range 3 {
		open(alice)
	}
	if n := s.Sessions(); n != 5 {
		t.Errorf("%d sessions, want 5", n)
	}
}
