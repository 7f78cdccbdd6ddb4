package service

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/internal/commands"
	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// lines is a concurrency-safe log sink that counts lines by message.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// with returns the lines that contain every one of the substrings.
func (l *lines) with(subs ...string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range strings.Split(l.buf.String(), "\n") {
		all := line != ""
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			out = append(out, line)
		}
	}
	return out
}

// fakeTimers lets a test decide when the throttle's periods end.
type fakeTimers struct {
	mu  sync.Mutex
	now time.Time
	due []func()
}

func (f *fakeTimers) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTimers) After(_ time.Duration, fn func()) {
	f.mu.Lock()
	f.due = append(f.due, fn)
	f.mu.Unlock()
}

// Advance moves the clock and runs the timers scheduled so far.
func (f *fakeTimers) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	due := f.due
	f.due = nil
	f.mu.Unlock()
	for _, fn := range due {
		fn()
	}
}

// newTestThrottle is a throttle writing text lines to sink on a fake clock.
func newTestThrottle(sink *lines, every time.Duration) (*slog.Logger, *fakeTimers) {
	ft := &fakeTimers{now: time.Unix(1_700_000_000, 0)}
	th := newThrottle(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug}), every)
	th.state.now, th.state.after = ft.Now, ft.After
	return slog.New(th), ft
}

func TestThrottle(t *testing.T) {
	var sink lines
	log, ft := newTestThrottle(&sink, time.Minute)
	http, cmds := log.With("component", "http"), log.With("component", "commands")
	for i := range 100 {
		http.Error("invites api failed", "err", errors.New("disk full"), "i", i)
		cmds.Error("invites api failed", "err", errors.New("disk full")) // same message, another logger
		http.Info("invite created", "i", i)                              // below warning: never held back
	}
	http.Warn("invites api failed") // another level: another kind
	if got := len(sink.with("component=http", "invites api failed", "level=ERROR")); got != 1 {
		t.Errorf("%d error lines from http within the period, want 1", got)
	}
	if got := len(sink.with("component=commands", "invites api failed")); got != 1 {
		t.Errorf("%d lines from commands within the period, want 1", got)
	}
	if got := len(sink.with("level=WARN", "invites api failed")); got != 1 {
		t.Errorf("%d warnings, want 1", got)
	}
	if got := len(sink.with("invite created")); got != 100 {
		t.Errorf("%d info lines, want all 100", got)
	}
	// The end of the period logs the last line held back, with the count of the others.
	ft.Advance(time.Minute)
	last := sink.with("component=http", "level=ERROR", heldBackKey+"=")
	if len(last) != 1 || !strings.Contains(last[0], "i=99") || !strings.Contains(last[0], heldBackKey+"=98") {
		t.Errorf("at the end of the period: %q; want the last line (i=99) with %s=98", last, heldBackKey)
	}
	// Lines stop: nothing more is logged, and the next one goes through at once.
	ft.Advance(time.Minute)
	ft.Advance(time.Minute)
	http.Error("invites api failed", "err", "again")
	if got := sink.with("component=http", "err=again"); len(got) != 1 || strings.Contains(got[0], heldBackKey) {
		t.Errorf("a line after a quiet period: %q, want it at once, without a count", got)
	}
}

// TestThrottleKindsBounded floods the throttle with more kinds of line than it tells
// apart: its memory stays bounded and lines stay bounded too.
func TestThrottleKindsBounded(t *testing.T) {
	var sink lines
	log, _ := newTestThrottle(&sink, time.Minute)
	for i := range 10 * maxThrottledKinds {
		log.With("n", i).Error("boom")
	}
	th := log.Handler().(*throttle)
	th.state.mu.Lock()
	n := len(th.state.kinds)
	th.state.mu.Unlock()
	if n > maxThrottledKinds {
		t.Errorf("the throttle remembers %d kinds, more than %d", n, maxThrottledKinds)
	}
	if got := len(sink.with("boom")); got > maxThrottledKinds {
		t.Errorf("%d lines logged, want at most %d", got, maxThrottledKinds)
	}
}

// fullStore is a SQLite store whose writes fail as on a full disk.
type fullStore struct{ *sqlite.Store }

var errFull = errors.New("database or disk is full")

func (fullStore) CreateInvite(context.Context, core.Invite, core.InviteWrite) error { return errFull }

func (fullStore) ChangeInvite(context.Context, string, func(*core.Invite) (core.InviteChange, error)) (core.Invite, error) {
	return core.Invite{}, errFull
}

// TestFullDiskLogsBounded is issue 15's "every request on a full disk logs a line": with
// a store whose writes fail, many HTTP requests (each a 500) and ad-hoc commands log
// one line each per period, not one per request.
func TestFullDiskLogsBounded(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{Durability: sqlite.DurabilityCrash})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	svc, err := core.NewService(core.Options{Store: fullStore{st}, Hosts: []core.HostConfig{{Domain: "example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, cred, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	var sink lines
	s := New(slog.New(slog.NewTextHandler(&sink, nil)))
	hosts := []core.HostConfig{{Domain: "example.com"}}
	if s.ops, err = newOps(config.Config{}, hosts, fullStore{st}, s.log); err != nil {
		t.Fatal(err)
	}
	mux, _ := s.routes(svc, config.Config{}, core.Rate{N: 20, Period: time.Minute}, nil, nil)
	cmds, err := commands.New(svc, nil, commands.Options{Server: adhoc.ServerOptions{Logger: s.log.With("component", "commands")}})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/invites_api", nil)
		r.Header.Set("Authorization", "Bearer "+cred)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		if rec.Code != http.StatusInternalServerError {
			t.Fatalf("request %d on a full disk: %d, want 500", i, rec.Code)
		}
		// An administrator's ad-hoc invite creation fails too.
		req := adhoc.Request{Node: commands.NodeCreateAccount, Requester: "admin@example.com/r", Role: adhoc.RoleAdmin}
		start, err := cmds.Execute(ctx, "example.com", req)
		if err != nil || start.Status != adhoc.StatusExecuting {
			t.Fatalf("ad-hoc create-account: %+v, %v", start, err)
		}
		req.SessionID, req.Action, req.Form = start.SessionID, adhoc.ActionComplete, &adhoc.Form{Type: adhoc.FormSubmit}
		if resp, err := cmds.Execute(ctx, "example.com", req); err != nil || len(resp.Notes) == 0 || resp.Notes[0].Type != adhoc.NoteError {
			t.Fatalf("ad-hoc create-account on a full disk: %+v, %v; want an error note", resp, err)
		}
	}
	if got := sink.with("invites api failed", "database or disk is full"); len(got) != 1 {
		t.Errorf("%d log lines for %d failed requests, want 1:\n%s", len(got), n, strings.Join(got, "\n"))
	}
	if got := sink.with("ad-hoc command failed", "database or disk is full"); len(got) != 1 {
		t.Errorf("%d log lines for %d failed ad-hoc commands, want 1:\n%s", len(got), n, strings.Join(got, "\n"))
	}
	if got := sink.with("level=ERROR"); len(got) > 2 {
		t.Errorf("%d error lines for %d failed requests and commands, want at most one of each kind:\n%s",
			len(got), n, strings.Join(got, "\n"))
	}
}
