package logthrottle_test

import (
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/logthrottle"
	"github.com/xmpp-invites/invites/internal/testlog"
)

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
func newTestThrottle(sink *testlog.Buffer, every time.Duration) (*slog.Logger, *fakeTimers) {
	ft := &fakeTimers{now: time.Unix(1_700_000_000, 0)}
	th := logthrottle.New(slog.NewTextHandler(sink, &slog.HandlerOptions{Level: slog.LevelDebug}),
		logthrottle.Options{Every: every, Now: ft.Now, After: ft.After})
	return slog.New(th), ft
}

func TestThrottle(t *testing.T) {
	var sink testlog.Buffer
	log, ft := newTestThrottle(&sink, time.Minute)
	http, cmds := log.With("component", "http"), log.With("component", "commands")
	for i := range 100 {
		http.Error("invites api failed", "err", errors.New("disk full"), "i", i)
		cmds.Error("invites api failed", "err", errors.New("disk full")) // same message, another logger
		http.Info("invite created", "i", i)                              // below warning: never held back
	}
	http.Warn("invites api failed") // another level: another kind
	if got := len(sink.Lines("component=http", "invites api failed", "level=ERROR")); got != 1 {
		t.Errorf("%d error lines from http within the period, want 1", got)
	}
	if got := len(sink.Lines("component=commands", "invites api failed")); got != 1 {
		t.Errorf("%d lines from commands within the period, want 1", got)
	}
	if got := len(sink.Lines("level=WARN", "invites api failed")); got != 1 {
		t.Errorf("%d warnings, want 1", got)
	}
	if got := len(sink.Lines("invite created")); got != 100 {
		t.Errorf("%d info lines, want all 100", got)
	}
	// The end of the period logs the last line held back, with the count of the others.
	ft.Advance(time.Minute)
	last := sink.Lines("component=http", "level=ERROR", logthrottle.HeldBackKey+"=")
	if len(last) != 1 || !strings.Contains(last[0], "i=99") || !strings.Contains(last[0], logthrottle.HeldBackKey+"=98") {
		t.Errorf("at the end of the period: %q; want the last line (i=99) with %s=98", last, logthrottle.HeldBackKey)
	}
	// Lines stop: nothing more is logged, and the next one goes through at once.
	ft.Advance(time.Minute)
	ft.Advance(time.Minute)
	http.Error("invites api failed", "err", "again")
	if got := sink.Lines("component=http", "err=again"); len(got) != 1 || strings.Contains(got[0], logthrottle.HeldBackKey) {
		t.Errorf("a line after a quiet period: %q, want it at once, without a count", got)
	}
}

// TestThrottleKindsBounded floods the throttle with more kinds of line than it tells
// apart: its memory stays bounded and lines stay bounded too.
func TestThrottleKindsBounded(t *testing.T) {
	var sink testlog.Buffer
	log, _ := newTestThrottle(&sink, time.Minute)
	const maxKinds = logthrottle.DefaultMaxKinds
	for i := range 10 * maxKinds {
		log.With("n", i).Error("boom")
	}
	if n := log.Handler().(*logthrottle.Handler).Kinds(); n > maxKinds {
		t.Errorf("the throttle remembers %d kinds, more than %d", n, maxKinds)
	}
	if got := len(sink.Lines("boom")); got > maxKinds {
		t.Errorf("%d lines logged, want at most %d", got, maxKinds)
	}
}

// TestThrottleLevel: with Level info, info lines are held back like warnings, and
// debug lines still pass.
func TestThrottleLevel(t *testing.T) {
	var sink testlog.Buffer
	ft := &fakeTimers{now: time.Unix(1_700_000_000, 0)}
	log := slog.New(logthrottle.New(slog.NewTextHandler(&sink, &slog.HandlerOptions{Level: slog.LevelDebug}),
		logthrottle.Options{Now: ft.Now, After: ft.After, Level: slog.LevelInfo}))
	for range 50 {
		log.Info("invitation refused", "client", "192.0.2.7")
		log.Debug("detail")
	}
	if got := len(sink.Lines("invitation refused")); got != 1 {
		t.Errorf("%d info lines within the period, want 1", got)
	}
	if got := len(sink.Lines("detail")); got != 50 {
		t.Errorf("%d debug lines, want all 50", got)
	}
	ft.Advance(time.Minute)
	if got := sink.Lines("invitation refused", logthrottle.HeldBackKey+"=48"); len(got) != 1 {
		t.Errorf("at the end of the period: %q", sink.Lines("invitation refused"))
	}
}
