package adhoc_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/adhoc/adhoctest"
	"github.com/xmpp-invites/invites/internal/commands/session"
	"mellium.im/xmlstream"
	"mellium.im/xmpp/commands"
	"mellium.im/xmpp/disco/info"
	"mellium.im/xmpp/disco/items"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"
)

var (
	_ mux.IQHandler     = (*adhoc.Handler)(nil)
	_ info.FeatureIter  = (*adhoc.Handler)(nil)
	_ info.IdentityIter = (*adhoc.Handler)(nil)
	_ items.Iter        = (*adhoc.Handler)(nil)
)

func pair(t *testing.T, exec adhoc.Executor, who string, opts adhoc.HandlerOptions) *adhoctest.Pair {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if opts.Role == nil {
		opts.Role = func(_ context.Context, j jid.JID) (adhoc.Role, error) { return roleOf(j.String()), nil }
	}
	p, err := adhoctest.New(ctx, exec, jid.MustParse(who), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("closing the streams: %v", err)
		}
	})
	return p
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func iqErr(err error) string {
	var e *adhoctest.IQError
	if !errors.As(err, &e) {
		if err == nil {
			return ""
		}
		return "not an IQ error: " + err.Error()
	}
	s := string(e.Type) + "/" + string(e.Condition)
	if e.Command != "" {
		s += "+" + e.Command
	}
	return s
}

func nodes(cmds []adhoc.Command) string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.Node+"="+c.Name)
	}
	return strings.Join(out, " ")
}

func TestHandlerDisco(t *testing.T) {
	s := testServer(t, session.Options{})
	for i, tc := range []struct {
		who      string
		items    string
		secretID string // identity of the secret node, "" when hidden
	}{
		0: {alice, "wizard=Wizard now=Now secret=Secret", "automation/command-node/Secret"},
		1: {bob, "wizard=Wizard now=Now", ""},
	} {
		p := pair(t, s, tc.who, adhoc.HandlerOptions{})
		ctx := ctxT(t)
		cmds, err := p.Commands(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := nodes(cmds); got != tc.items {
			t.Errorf("%d: items %q, want %q", i, got, tc.items)
		}
		root, err := p.Info(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(root.Features, func(f info.Feature) bool { return f.Var == adhoc.NS }) {
			t.Errorf("%d: server disco#info lacks %s: %+v", i, adhoc.NS, root.Features)
		}
		sec, err := p.Info(ctx, "secret")
		if err != nil {
			t.Fatal(err)
		}
		var ids, feats []string
		for _, id := range sec.Identity {
			ids = append(ids, id.Category+"/"+id.Type+"/"+id.Name)
		}
		for _, f := range sec.Features {
			feats = append(feats, f.Var)
		}
		slices.Sort(feats)
		if got := strings.Join(ids, " "); got != tc.secretID {
			t.Errorf("%d: identities %q, want %q", i, got, tc.secretID)
		}
		wantFeats := ""
		if tc.secretID != "" {
			wantFeats = adhoc.NS + " " + adhoc.NSData
		}
		if got := strings.Join(feats, " "); got != wantFeats {
			t.Errorf("%d: features %q, want %q", i, got, wantFeats)
		}
	}
}

func TestHandlerSession(t *testing.T) {
	clk := newClock()
	s := testServer(t, session.Options{Now: clk.Now, Timeout: time.Minute, MaxSessions: 2})
	p := pair(t, s, alice, adhoc.HandlerOptions{})
	ctx := ctxT(t)

	resp, err := p.Execute(ctx, adhoc.Request{Node: "wizard", Action: adhoc.ActionExecute})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != adhoc.StatusExecuting || resp.DefaultAction != adhoc.ActionNext || resp.Form == nil || resp.Form.Title != "a after 0" {
		t.Fatalf("first stage: %+v", resp)
	}
	sid := resp.SessionID
	for _, v := range []string{"a", "b"} {
		if resp, err = p.Execute(ctx, adhoc.Request{Node: "wizard", SessionID: sid, Action: adhoc.ActionNext, Form: submit(v, v+"!")}); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(resp.Actions, []adhoc.Action{adhoc.ActionPrev, adhoc.ActionNext, adhoc.ActionComplete}) {
		t.Fatalf("last stage actions %v", resp.Actions)
	}
	if resp, err = p.Execute(ctx, adhoc.Request{Node: "wizard", SessionID: sid, Action: adhoc.ActionComplete, Form: submit("c", "c!")}); err != nil {
		t.Fatal(err)
	}
	if resp.Status != adhoc.StatusCompleted || len(resp.Notes) != 1 || resp.Notes[0].Text != "a=a! b=b! c=c!" {
		t.Fatalf("completed: %+v", resp)
	}

	// Every failure is an IQ error on a stream that goes on.
	started, err := p.Execute(ctx, adhoc.Request{Node: "wizard"})
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		req     adhoc.Request
		advance time.Duration
		want    string
	}{
		0: {req: adhoc.Request{Node: "wizard", SessionID: sid, Action: adhoc.ActionNext}, want: "modify/bad-request+bad-sessionid"},
		1: {req: adhoc.Request{Node: "nope"}, want: "cancel/item-not-found"},
		2: {req: adhoc.Request{Node: "wizard", Action: "jump"}, want: "modify/bad-request+malformed-action"},
		3: {req: adhoc.Request{Node: "wizard", SessionID: started.SessionID, Action: adhoc.ActionPrev}, want: "modify/bad-request+bad-action"},
		4: {req: adhoc.Request{Node: "wizard", SessionID: started.SessionID, Action: adhoc.ActionNext, Form: &adhoc.Form{Type: adhoc.FormResult}}, want: "modify/bad-request+bad-payload"},
		// A refused value shows the form again: no IQ error (see TestHandlerRefusedValue).
		5: {req: adhoc.Request{Node: "wizard", SessionID: started.SessionID, Action: adhoc.ActionNext, Form: submit("a", "bad")}},
		6: {req: adhoc.Request{Node: "wizard"}},
		// Past the bound of 2, a new session replaces the least recently used one.
		7: {req: adhoc.Request{Node: "wizard"}},
		8: {req: adhoc.Request{Node: "wizard", SessionID: started.SessionID, Action: adhoc.ActionNext, Form: submit("a", "1")}, advance: 2 * time.Minute, want: "cancel/not-allowed+session-expired"},
	} {
		clk.Add(tc.advance)
		_, err := p.Execute(ctx, tc.req)
		if got := iqErr(err); got != tc.want {
			t.Errorf("%d: %q (%v), want %q", i, got, err, tc.want)
		}
		if !p.Alive() {
			t.Fatalf("%d: the stream ended", i)
		}
	}
}

// TestHandlerRefusedValue: a value the command refuses comes back over the wire as
// the same stage's form, with what was submitted and the reason as an error note; the
// session goes on.
func TestHandlerRefusedValue(t *testing.T) {
	s := testServer(t, session.Options{})
	p := pair(t, s, alice, adhoc.HandlerOptions{})
	ctx := ctxT(t)
	started, err := p.Execute(ctx, adhoc.Request{Node: "wizard"})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := p.Execute(ctx, adhoc.Request{Node: "wizard", SessionID: started.SessionID, Action: adhoc.ActionNext, Form: submit("a", "bad")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != adhoc.StatusExecuting || resp.SessionID != started.SessionID || len(resp.Notes) != 1 ||
		resp.Notes[0] != (adhoc.Note{Type: adhoc.NoteError, Text: "a is bad"}) {
		t.Fatalf("refused value: %+v", resp)
	}
	if resp.Form == nil || len(resp.Form.Fields) != 1 || resp.Form.Value("a") != "bad" {
		t.Fatalf("refused value, form %+v", resp.Form)
	}
	resp, err = p.Execute(ctx, adhoc.Request{Node: "wizard", SessionID: started.SessionID, Action: adhoc.ActionNext, Form: submit("a", "good")})
	if err != nil || resp.Status != adhoc.StatusExecuting || resp.Form == nil || resp.Form.Title != "b after 1" || len(resp.Notes) != 0 {
		t.Fatalf("corrected value: %+v %v", resp, err)
	}
}

func TestHandlerForbidden(t *testing.T) {
	s := testServer(t, session.Options{})
	p := pair(t, s, bob, adhoc.HandlerOptions{})
	_, err := p.Execute(ctxT(t), adhoc.Request{Node: "secret"})
	if got := iqErr(err); got != "auth/forbidden" {
		t.Fatalf("%q, want auth/forbidden", got)
	}
}

func TestHandlerMelliumRequester(t *testing.T) {
	s := testServer(t, session.Options{})
	p := pair(t, s, alice, adhoc.HandlerOptions{})
	ctx := ctxT(t)
	cmd := commands.Command{JID: p.Host, Node: "wizard"}
	resp, body, err := cmd.Execute(ctx, nil, p.Client)
	if err != nil {
		t.Fatal(err)
	}
	var f *adhoc.Form
	for f == nil {
		tok, terr := body.Token()
		if terr != nil {
			t.Fatal(terr)
		}
		if start, ok := tok.(xml.StartElement); ok && start.Name.Local == "x" {
			f, err = adhoc.DecodeForm(body, &start, adhoc.Limits{})
			if err != nil {
				break
			}
		}
	}
	body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != "executing" || resp.SID == "" || f.Title != "a after 0" {
		t.Fatalf("%+v %+v", resp, f)
	}
	_, body, err = resp.Cancel().Execute(ctx, nil, p.Client)
	if err != nil {
		t.Fatal(err)
	}
	body.Close()
	// mellium v0.23.0's Command.ExecuteIQ leaks the response of an IQ error (its
	// deferred Close sees the named result already set to nil), which stalls the
	// client's stream: check the dead session with a raw request instead.
	_, err = p.Execute(ctx, adhoc.Request{Node: "wizard", SessionID: resp.SID, Action: adhoc.ActionNext})
	if got := iqErr(err); got != "modify/bad-request+bad-sessionid" {
		t.Fatalf("after cancel: %q, want bad-sessionid", got)
	}
}

// recorder is an Executor that remembers the requests it saw.
type recorder struct {
	mu       sync.Mutex
	reqs     []adhoc.Request
	hosts    []string
	execErr  error
	cmdsErr  error
	delay    time.Duration
	response adhoc.Response
	listed   []adhoc.Role // the role of each Commands call
}

func (r *recorder) Commands(ctx context.Context, host, requester string, role adhoc.Role) ([]adhoc.Command, error) {
	r.mu.Lock()
	r.listed = append(r.listed, role)
	r.mu.Unlock()
	if r.cmdsErr != nil {
		return nil, r.cmdsErr
	}
	return []adhoc.Command{{Node: "x", Name: "X for " + requester}}, nil
}

func (r *recorder) Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error) {
	r.mu.Lock()
	r.reqs = append(r.reqs, req)
	r.hosts = append(r.hosts, host)
	r.mu.Unlock()
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			return adhoc.Response{}, ctx.Err()
		}
	}
	return r.response, r.execErr
}

func TestHandlerRequesterIsBound(t *testing.T) {
	rec := &recorder{response: adhoc.Response{SessionID: "s", Status: adhoc.StatusCompleted}}
	p := pair(t, rec, "juliet@example.com/balcony", adhoc.HandlerOptions{})
	ctx := ctxT(t)
	// A forged 'from' changes nothing: the handler only knows the bound JID.
	r, err := p.Client.SendIQElement(ctx, adhoc.Request{Node: "x"}.TokenReader(), stanza.IQ{
		Type: stanza.SetIQ, To: p.Host, From: jid.MustParse("admin@example.com/evil"),
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := p.Execute(ctx, adhoc.Request{Node: "x"}); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) != 2 {
		t.Fatalf("%d requests", len(rec.reqs))
	}
	for i, req := range rec.reqs {
		if req.Requester != "juliet@example.com/balcony" || rec.hosts[i] != "example.com" {
			t.Errorf("%d: requester %q host %q", i, req.Requester, rec.hosts[i])
		}
	}
	if p.Bound.String() != "juliet@example.com/balcony" {
		t.Errorf("bound %s", p.Bound)
	}
}

func TestHandlerExecutorFailures(t *testing.T) {
	for i, tc := range []struct {
		rec  *recorder
		opts adhoc.HandlerOptions
		want string
	}{
		0: {&recorder{execErr: errors.New("plugin exploded")}, adhoc.HandlerOptions{}, "cancel/internal-server-error"},
		1: {&recorder{execErr: &adhoc.Error{Condition: adhoc.CondServiceUnavailable}}, adhoc.HandlerOptions{}, "cancel/service-unavailable"},
		2: {&recorder{delay: time.Minute}, adhoc.HandlerOptions{Timeout: 50 * time.Millisecond}, "cancel/service-unavailable"},
	} {
		p := pair(t, tc.rec, alice, adhoc.HandlerOptions{Timeout: tc.opts.Timeout})
		ctx := ctxT(t)
		_, err := p.Execute(ctx, adhoc.Request{Node: "x"})
		if got := iqErr(err); got != tc.want {
			t.Errorf("%d: %q, want %q", i, got, tc.want)
		}
		if _, err := p.Commands(ctx); err != nil {
			t.Errorf("%d: stream unusable after the failure: %v", i, err)
		}
	}
}

func TestHandlerCommandsFailure(t *testing.T) {
	p := pair(t, &recorder{cmdsErr: errors.New("host API down")}, alice, adhoc.HandlerOptions{})
	ctx := ctxT(t)
	cmds, err := p.Commands(ctx)
	if err != nil || len(cmds) != 0 {
		t.Fatalf("%v %v, want an empty list", cmds, err)
	}
	if _, err := p.Info(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if !p.Alive() {
		t.Fatal("the stream ended")
	}
}

func TestHandlerOversized(t *testing.T) {
	rec := &recorder{response: adhoc.Response{SessionID: "s", Status: adhoc.StatusCompleted}}
	p := pair(t, rec, alice, adhoc.HandlerOptions{Limits: adhoc.Limits{MaxBytes: 1000}})
	ctx := ctxT(t)
	big := submit("a", strings.Repeat("x", 2000))
	_, err := p.Execute(ctx, adhoc.Request{Node: "x", Action: adhoc.ActionComplete, SessionID: "s", Form: big})
	if got := iqErr(err); got != "modify/bad-request+bad-payload" {
		t.Fatalf("%q, want bad-payload", got)
	}
	if _, err := p.Execute(ctx, adhoc.Request{Node: "x"}); err != nil {
		t.Fatalf("next request: %v", err)
	}
	if len(rec.reqs) != 1 {
		t.Fatalf("the executor saw %d requests, want 1", len(rec.reqs))
	}
}

func TestHandlerOtherAddressee(t *testing.T) {
	rec := &recorder{}
	p := pair(t, rec, alice, adhoc.HandlerOptions{})
	r, err := p.Client.SendIQElement(ctxT(t), adhoc.Request{Node: "x"}.TokenReader(), stanza.IQ{
		Type: stanza.SetIQ, To: jid.MustParse("bob@example.com/laptop"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tok, err := r.Token()
	if err != nil {
		t.Fatal(err)
	}
	start, _ := tok.(xml.StartElement)
	iq, err := stanza.NewIQ(start)
	if err != nil || iq.Type != stanza.ErrorIQ {
		t.Fatalf("%+v %v, want an IQ error", iq, err)
	}
	if len(rec.reqs) != 0 {
		t.Fatal("executed a command addressed to someone else")
	}
}

// TestHandlerRole checks that the host's word on the requester's role reaches the
// Executor with each request, and that a host that cannot tell fails the request.
func TestHandlerRole(t *testing.T) {
	done := adhoc.Response{SessionID: "s", Status: adhoc.StatusCompleted}
	for i, tc := range []struct {
		who  string
		role func(context.Context, jid.JID) (adhoc.Role, error)
		want adhoc.Role
		err  string
	}{
		0: {alice, nil, adhoc.RoleAdmin, ""}, // pair's default: the tests' roleOf
		1: {bob, nil, adhoc.RoleUser, ""},
		2: {bob, func(context.Context, jid.JID) (adhoc.Role, error) { return "", errors.New("accounts down") }, "", "cancel/internal-server-error"},
	} {
		rec := &recorder{response: done}
		p := pair(t, rec, tc.who, adhoc.HandlerOptions{Role: tc.role})
		_, err := p.Execute(ctxT(t), adhoc.Request{Node: "x"})
		if got := iqErr(err); got != tc.err {
			t.Fatalf("%d: %q, want %q", i, got, tc.err)
		}
		rec.mu.Lock()
		if tc.err == "" && (len(rec.reqs) != 1 || rec.reqs[0].Role != tc.want) {
			t.Errorf("%d: requests %+v, want one with role %q", i, rec.reqs, tc.want)
		}
		if tc.err != "" && len(rec.reqs) != 0 {
			t.Errorf("%d: %d requests reached the executor", i, len(rec.reqs))
		}
		rec.mu.Unlock()
	}
}

// TestHandlerDefaultRole checks the role of a Handler given no Role: accounts of its
// host are users (the test pair binds accounts of the host only).
func TestHandlerDefaultRole(t *testing.T) {
	for i, tc := range []struct {
		who  string
		want adhoc.Role
	}{
		0: {"juliet@example.com/balcony", adhoc.RoleUser},
	} {
		rec := &recorder{response: adhoc.Response{SessionID: "s", Status: adhoc.StatusCompleted}}
		ctx := ctxT(t)
		p, err := adhoctest.New(ctx, rec, jid.MustParse(tc.who), adhoc.HandlerOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Execute(ctx, adhoc.Request{Node: "x"}); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if len(rec.reqs) != 1 || rec.reqs[0].Role != tc.want {
			t.Errorf("%d: %+v, want role %q", i, rec.reqs, tc.want)
		}
	}
}

// TestHandlerDiscoCost counts the calls one service discovery query costs: one to the
// Executor at most, carrying the role, so the plugin never asks the host back.
func TestHandlerDiscoCost(t *testing.T) {
	rec := &recorder{}
	p := pair(t, rec, alice, adhoc.HandlerOptions{})
	ctx := ctxT(t)
	if _, err := p.Info(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	if len(rec.listed) != 1 || rec.listed[0] != adhoc.RoleAdmin {
		t.Errorf("disco#info on a command node: Commands calls %v, want one with role admin", rec.listed)
	}
	rec.mu.Unlock()
	if _, err := p.Commands(ctx); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	if len(rec.listed) > 2 {
		t.Errorf("disco#items after disco#info: %d Commands calls in all", len(rec.listed))
	}
	rec.mu.Unlock()
}

// TestHandlerErrorCarriesCommand: an IQ error answering a command request carries
// that request's <command/> (node and session ID, no form) before its <error/>, so
// that clients built on slixmpp (poezio) find the session it belongs to and show it;
// slixmpp drops an error it cannot match to a session.
func TestHandlerErrorCarriesCommand(t *testing.T) {
	s := testServer(t, session.Options{})
	h := adhoc.NewHandler(s, host, jid.MustParse(alice), adhoc.HandlerOptions{
		Role: func(_ context.Context, j jid.JID) (adhoc.Role, error) { return roleOf(j.String()), nil },
	})
	for i, tc := range []struct {
		payload string
		want    []string // in this order
		not     []string
	}{
		0: {`<command xmlns="http://jabber.org/protocol/commands" node="wizard" sessionid="NOPE" action="next">` +
			`<x xmlns="jabber:x:data" type="submit"><field var="a"><value>1</value></field></x></command>`,
			[]string{`type="error"`, `<command xmlns="http://jabber.org/protocol/commands" node="wizard" sessionid="NOPE">`, `</command>`, `<error type="modify">`, `bad-sessionid`},
			[]string{`jabber:x:data`}},
		// A request that does not decode: its node and session ID all the same.
		2: {`<command xmlns="http://jabber.org/protocol/commands" node="wizard" sessionid="S1" action="jump"/>`,
			[]string{`type="error"`, `<command xmlns="http://jabber.org/protocol/commands" node="wizard" sessionid="S1">`, `<error type="modify">`, `malformed-action`},
			nil},
		1: {`<command xmlns="http://jabber.org/protocol/commands" node="nope"/>`,
			[]string{`type="error"`, `<command xmlns="http://jabber.org/protocol/commands" node="nope">`, `<error type="cancel">`, `item-not-found`},
			[]string{`sessionid`}},
	} {
		d := xml.NewDecoder(strings.NewReader(tc.payload))
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		start := tok.(xml.StartElement)
		var buf bytes.Buffer
		e := xml.NewEncoder(&buf)
		rw := struct {
			xml.TokenReader
			xmlstream.Encoder
		}{d, e}
		if err := h.HandleIQ(stanza.IQ{ID: "q", Type: stanza.SetIQ, To: jid.MustParse(host)}, rw, &start); err != nil {
			t.Fatal(err)
		}
		if err := e.Flush(); err != nil {
			t.Fatal(err)
		}
		got, at := buf.String(), 0
		for _, w := range tc.want {
			j := strings.Index(got[at:], w)
			if j < 0 {
				t.Fatalf("%d: %q lacks %q (in order)", i, got, w)
			}
			at += j + len(w)
		}
		for _, w := range tc.not {
			if strings.Contains(got, w) {
				t.Errorf("%d: %q has %q", i, got, w)
			}
		}
	}
}

// TestHandlerCloseEndsSessions: when the stream ends, Close cancels through the
// Executor every session the stream left executing (forms left open, or shown again
// with an error), and no other; a session the Executor no longer knows is no failure.
func TestHandlerCloseEndsSessions(t *testing.T) {
	clk := newClock()
	s := testServer(t, session.Options{Now: clk.Now, Timeout: time.Minute})
	ctx := ctxT(t)
	p, err := adhoctest.New(ctx, s, jid.MustParse(alice), adhoc.HandlerOptions{
		Role: func(_ context.Context, j jid.JID) (adhoc.Role, error) { return roleOf(j.String()), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	// Bob's session, on another stream, stays.
	if _, err := s.Execute(ctx, host, adhoc.Request{Requester: bob, Role: adhoc.RoleUser, Node: "wizard"}); err != nil {
		t.Fatal(err)
	}
	var sids []string
	for range 4 {
		resp, err := p.Execute(ctx, adhoc.Request{Node: "wizard"})
		if err != nil {
			t.Fatal(err)
		}
		sids = append(sids, resp.SessionID)
	}
	// One refused (still executing), one cancelled, one completed.
	if _, err := p.Execute(ctx, adhoc.Request{Node: "wizard", SessionID: sids[0], Action: adhoc.ActionNext, Form: submit("a", "bad")}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Execute(ctx, adhoc.Request{Node: "wizard", SessionID: sids[1], Action: adhoc.ActionCancel}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Execute(ctx, adhoc.Request{Node: "now"}); err != nil {
		t.Fatal(err)
	}
	if n := s.Sessions(); n != 4 {
		t.Fatalf("%d sessions open, want 4", n)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := s.Sessions(); n != 1 {
		t.Fatalf("%d sessions open after the stream ended, want bob's alone", n)
	}

	// A session the Executor dropped meanwhile (it expired) is no failure; an
	// Executor that cannot be reached is.
	rec := &recorder{response: adhoc.Response{SessionID: "s1", Status: adhoc.StatusExecuting}}
	p2, err := adhoctest.New(ctx, rec, jid.MustParse(alice), adhoc.HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Execute(ctx, adhoc.Request{Node: "x"}); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	rec.execErr = &adhoc.Error{Condition: adhoc.CondSessionExpired}
	rec.mu.Unlock()
	if err := p2.Close(); err != nil {
		t.Fatalf("closing with an expired session: %v", err)
	}
	rec.mu.Lock()
	last := rec.reqs[len(rec.reqs)-1]
	rec.mu.Unlock()
	if last.Action != adhoc.ActionCancel || last.SessionID != "s1" || last.Requester != p2.Bound.String() || last.Node != "x" {
		t.Fatalf("the cancel sent: %+v", last)
	}
	p3, err := adhoctest.New(ctx, rec, jid.MustParse(alice), adhoc.HandlerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	rec.execErr = nil
	rec.mu.Unlock()
	if _, err := p3.Execute(ctx, adhoc.Request{Node: "x"}); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	rec.execErr = errors.New("the plugin is down")
	rec.mu.Unlock()
	if err := p3.Close(); err == nil || !strings.Contains(err.Error(), "the plugin is down") {
		t.Fatalf("closing with the Executor down: %v", err)
	}
}
