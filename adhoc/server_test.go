package adhoc_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
)

var _ adhoc.Executor = (*adhoc.Server)(nil)

const (
	host  = "example.com"
	alice = "alice@example.com/phone"
	bob   = "bob@example.com/laptop"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func stageForm(name string) func(context.Context, adhoc.Call, []*adhoc.Form) (*adhoc.Form, error) {
	return func(_ context.Context, _ adhoc.Call, prior []*adhoc.Form) (*adhoc.Form, error) {
		f := &adhoc.Form{Type: adhoc.FormForm, Title: fmt.Sprintf("%s after %d", name, len(prior)),
			Fields: []adhoc.Field{{Var: name, Type: adhoc.FieldTextSingle}}}
		if name == "c" {
			f.Fields[0].Label = "C field"
		}
		return f, nil
	}
}

func submit(kv ...string) *adhoc.Form {
	f := &adhoc.Form{Type: adhoc.FormSubmit}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Fields = append(f.Fields, adhoc.Field{Var: kv[i], Values: []string{kv[i+1]}})
	}
	return f
}

// testServer runs three commands: a three-stage "wizard", a one-shot "now" and an
// admin-only "secret".
func testServer(t *testing.T, opts adhoc.ServerOptions) *adhoc.Server {
	t.Helper()
	s, err := adhoc.NewServer([]adhoc.Definition{
		{
			Node: "wizard",
			Name: "Wizard",
			Stages: []adhoc.Stage{
				{Form: stageForm("a"), Check: func(_ context.Context, _ adhoc.Call, f *adhoc.Form) error {
					if f.Value("a") == "bad" {
						return &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "a is bad"}
					}
					return nil
				}},
				{Form: stageForm("b")},
				{Form: stageForm("c")},
			},
			Complete: func(_ context.Context, c adhoc.Call, forms []*adhoc.Form) (adhoc.Result, error) {
				var vals []string
				for _, f := range forms {
					for _, fl := range f.Fields {
						vals = append(vals, fl.Var+"="+strings.Join(fl.Values, ","))
					}
				}
				switch got := strings.Join(vals, " "); {
				case strings.Contains(got, "c=retry"):
					return adhoc.Result{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "c: try c again"}
				case strings.Contains(got, "c=boom"):
					return adhoc.Result{}, errors.New("store on fire")
				case strings.Contains(got, "c=deny"):
					return adhoc.Result{}, &adhoc.Error{Condition: adhoc.CondForbidden}
				default:
					return adhoc.Result{Notes: []adhoc.Note{{Type: adhoc.NoteInfo, Text: got}}}, nil
				}
			},
		},
		{
			Node: "now",
			Name: "Now",
			Complete: func(context.Context, adhoc.Call, []*adhoc.Form) (adhoc.Result, error) {
				return adhoc.Result{Notes: []adhoc.Note{{Text: "done"}}}, nil
			},
		},
		{
			Node:   "secret",
			Name:   "Secret",
			Role:   adhoc.RoleAdmin,
			Stages: []adhoc.Stage{{Form: stageForm("s")}},
			Complete: func(context.Context, adhoc.Call, []*adhoc.Form) (adhoc.Result, error) {
				return adhoc.Result{}, nil
			},
		},
	}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// roleOf is the role the tests' host gives a requester: alice administers host, other
// accounts of host are users, anyone else nothing.
func roleOf(requester string) adhoc.Role {
	local, domain, ok := strings.Cut(requester, "@")
	if !ok || local == "" {
		return adhoc.RoleNone
	}
	domain, _, _ = strings.Cut(domain, "/")
	switch {
	case domain != host:
		return adhoc.RoleNone
	case local == "alice":
		return adhoc.RoleAdmin
	}
	return adhoc.RoleUser
}

func condOf(err error) adhoc.Condition {
	var ae *adhoc.Error
	if errors.As(err, &ae) {
		return ae.Condition
	}
	if err != nil {
		return "other: " + adhoc.Condition(err.Error())
	}
	return ""
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

func runSteps(t *testing.T, s *adhoc.Server, clk *clock, steps []step) {
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
				wantActions: exec, wantNote: "error:a is bad", wantFields: "note-1=a is bad|a=bad"},
			{sid: "$", action: adhoc.ActionNext, form: &adhoc.Form{Type: adhoc.FormForm}, wantErr: adhoc.CondBadPayload},
			{sid: "$", action: adhoc.ActionNext, form: submit("a", "good"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next default=next"},
			{sid: "$", action: adhoc.ActionNext, form: submit("b", "x"), wantStatus: adhoc.StatusExecuting, wantActions: "prev next complete default=complete"},
			// Refused by Complete: the last stage again, its reason naming the field by its label.
			{sid: "$", action: adhoc.ActionComplete, form: submit("c", "retry"), wantStatus: adhoc.StatusExecuting, wantTitle: "c after 2",
				wantActions: "prev next complete default=complete", wantNote: "error:C field: try c again",
				wantFields: "note-1=C field: try c again|c=retry"},
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
				wantActions: "prev next complete default=complete", wantNote: "error:C field: try c again"},
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
			s := testServer(t, adhoc.ServerOptions{Now: clk.Now, Timeout: 10 * time.Minute})
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

func TestServerBounds(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := testServer(t, adhoc.ServerOptions{Now: clk.Now, Timeout: time.Minute, MaxSessions: 2, MaxTotalSessions: 3})
	start := func(who string) (string, error) {
		resp, err := s.Execute(ctx, host, adhoc.Request{Requester: who, Node: "wizard"})
		return resp.SessionID, err
	}
	a1, err := start(alice)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := start(alice); err != nil {
		t.Fatal(err)
	}
	if _, err := start(alice); condOf(err) != adhoc.CondResourceConstraint {
		t.Fatalf("third session of alice: %v, want resource-constraint", err)
	}
	// One-shot commands open no session, so they still work.
	if _, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Node: "now"}); err != nil {
		t.Fatalf("one-shot at the bound: %v", err)
	}
	if _, err := start(bob); err != nil {
		t.Fatalf("bob is not bound by alice's sessions: %v", err)
	}
	if _, err := start("carol@example.com/x"); condOf(err) != adhoc.CondResourceConstraint {
		t.Fatalf("beyond the total: %v, want resource-constraint", err)
	}
	if _, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Node: "wizard", SessionID: a1, Action: adhoc.ActionCancel}); err != nil {
		t.Fatal(err)
	}
	if _, err := start(alice); err != nil {
		t.Fatalf("after a cancel: %v", err)
	}
	if n := s.Sessions(); n != 3 {
		t.Fatalf("%d sessions, want 3", n)
	}
	// Expired sessions free their places, and their owners hear session-expired.
	clk.Add(2 * time.Minute)
	c1, err := start("carol@example.com/x")
	if err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if n := s.Sessions(); n != 1 {
		t.Fatalf("%d sessions after the sweep, want 1", n)
	}
	if _, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Node: "wizard", SessionID: a1, Action: adhoc.ActionNext}); condOf(err) != adhoc.CondBadSessionID {
		t.Fatalf("canceled session: %v", err)
	}
	if len(c1) < 26 {
		t.Fatalf("session id %q too short to be unguessable", c1)
	}
}

func TestServerExpiredTombstone(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := testServer(t, adhoc.ServerOptions{Now: clk.Now, Timeout: time.Minute})
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
	s := testServer(t, adhoc.ServerOptions{})
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
	done := func(context.Context, adhoc.Call, []*adhoc.Form) (adhoc.Result, error) { return adhoc.Result{}, nil }
	for i, defs := range [][]adhoc.Definition{
		0: {{Complete: done}},
		1: {{Node: "a", Complete: done}, {Node: "a", Complete: done}},
		2: {{Node: "a"}},
		3: {{Node: "a", Complete: done, Stages: []adhoc.Stage{{}}}},
		4: {{Node: "a", Complete: done, Role: "root"}},
	} {
		if _, err := adhoc.NewServer(defs, adhoc.ServerOptions{}); err == nil {
			t.Errorf("%d: no error", i)
		}
	}
}

func TestServerOversizedForm(t *testing.T) {
	s := testServer(t, adhoc.ServerOptions{Limits: adhoc.Limits{MaxFields: 2}})
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
	s := testServer(t, adhoc.ServerOptions{MaxSessions: 1000, MaxTotalSessions: 100000})
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
	s, err := adhoc.NewServer([]adhoc.Definition{{
		Node: "mine",
		Role: adhoc.RoleUser,
		Stages: []adhoc.Stage{{Form: func(_ context.Context, c adhoc.Call, _ []*adhoc.Form) (*adhoc.Form, error) {
			seen = append(seen, c.Role)
			return &adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{{Var: "x", Type: adhoc.FieldTextSingle}}}, nil
		}}},
		Complete: func(_ context.Context, c adhoc.Call, _ []*adhoc.Form) (adhoc.Result, error) {
			seen = append(seen, c.Role)
			return adhoc.Result{}, nil
		},
	}}, adhoc.ServerOptions{})
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

// TestServerShownAgain covers what people see of a refusal and of a result, in the
// clients that show only some of a response (poezio shows fixed fields but neither
// notes nor instructions; profanity shows no notes while a command executes).
func TestServerShownAgain(t *testing.T) {
	ctx := context.Background()
	long := "Accounts: write a whole number of accounts, from 1 to 1000000, or 0 for any number until the invite expires"
	s, err := adhoc.NewServer([]adhoc.Definition{
		{
			Node: "pick",
			Stages: []adhoc.Stage{
				{Form: func(context.Context, adhoc.Call, []*adhoc.Form) (*adhoc.Form, error) {
					return &adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{{Var: "which", Type: adhoc.FieldListSingle,
						Label: "Which", Options: []adhoc.Option{{Label: "First one (1)", Value: "1"}, {Label: "Gone (2)", Value: "2"}}}}}, nil
				}},
				{Form: func(_ context.Context, _ adhoc.Call, prior []*adhoc.Form) (*adhoc.Form, error) {
					if prior[0].Value("which") != "1" {
						return nil, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "which: no such thing " + prior[0].Value("which")}
					}
					return &adhoc.Form{Type: adhoc.FormForm, Fields: []adhoc.Field{{Var: "n", Type: adhoc.FieldTextSingle, Label: "Accounts"}}}, nil
				}},
			},
			Complete: func(_ context.Context, _ adhoc.Call, forms []*adhoc.Form) (adhoc.Result, error) {
				if forms[1].Value("n") != "3" {
					return adhoc.Result{}, &adhoc.Error{Condition: adhoc.CondNotAcceptable, Text: "n: write a whole number of accounts, from 1 to 1000000, or 0 for any number until the invite expires"}
				}
				return adhoc.Result{
					Notes: []adhoc.Note{{Type: adhoc.NoteWarn, Text: "Keep it."}},
					Form: &adhoc.Form{Type: adhoc.FormResult, Fields: []adhoc.Field{
						{Var: "FORM_TYPE", Type: adhoc.FieldHidden, Values: []string{"urn:example"}},
						{Var: "uri", Values: []string{"xmpp:x"}}}},
				}, nil
			},
		},
	}, adhoc.ServerOptions{})
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
			out = append(out, fl.Var+"="+strings.TrimRight(strings.Join(fl.Values, ","), " "))
		}
		return strings.Join(out, "|")
	}
	resp, err := s.Execute(ctx, host, adhoc.Request{Requester: alice, Role: adhoc.RoleAdmin, Node: "pick"})
	if err != nil {
		t.Fatal(err)
	}
	sid := resp.SessionID

	// The next stage's form refuses the choice: the first stage again, the label a
	// client submitted (Gajim) turned back into its value.
	resp = do(sid, submit("which", "Gone (2)"))
	if got := fields(resp.Form); resp.Status != adhoc.StatusExecuting || got != "note-1=Which: no such thing Gone (2)|which=2" ||
		len(resp.Notes) != 1 || resp.Notes[0].Type != adhoc.NoteError {
		t.Fatalf("refused choice: %s %q %+v", resp.Status, got, resp.Notes)
	}
	if resp = do(sid, submit("which", "1")); resp.Form == nil || resp.Form.Fields[0].Var != "n" {
		t.Fatalf("second stage: %+v", resp)
	}

	// Complete refuses a value: a long reason comes in fixed fields of 40 to 50
	// characters (Gajim shows a shorter one as a heading: padded with spaces), cut at
	// spaces, as even as can be, in order, and whole in the note.
	resp = do(sid, submit("n", "many"))
	var lines []string
	for _, fl := range resp.Form.Fields {
		if fl.Type == adhoc.FieldFixed {
			if n := len([]rune(fl.Values[0])); n > 50 || n < 40 {
				t.Errorf("fixed line %q is %d characters long", fl.Values[0], n)
			}
			lines = append(lines, strings.TrimRight(fl.Values[0], " "))
		}
	}
	if short := len([]rune(lines[len(lines)-1])); short < 30 {
		t.Errorf("uneven lines: %q", lines)
	}
	if strings.Join(lines, " ") != long || len(lines) < 3 || resp.Notes[0].Text != long || resp.Form.Value("n") != "many" {
		t.Fatalf("refused value: lines %q, notes %+v, form %s", lines, resp.Notes, fields(resp.Form))
	}

	// A result form carries its notes too, after its FORM_TYPE.
	resp = do(sid, submit("n", "3"))
	if got := fields(resp.Form); resp.Status != adhoc.StatusCompleted || got != "FORM_TYPE=urn:example|note-1=Keep it.|uri=xmpp:x" ||
		len(resp.Notes) != 1 || resp.Notes[0] != (adhoc.Note{Type: adhoc.NoteWarn, Text: "Keep it."}) {
		t.Fatalf("result: %s %q %+v", resp.Status, got, resp.Notes)
	}
}
