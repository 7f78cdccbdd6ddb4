package service

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// logEvery is how often a repeated warning or error line of the plugin is logged: a
// store that fails every request (a full disk) logs one line per minute and kind, with
// the count of the ones held back, not one line per request.
const logEvery = time.Minute

// maxThrottledKinds bounds the kinds of line the throttle tells apart; past it, new
// kinds share one budget.
const maxThrottledKinds = 256

// heldBackKey is the attribute that counts the lines held back before a line.
const heldBackKey = "similar_lines_held_back"

// throttle is a slog.Handler that lets a warning or error through once per period for
// each kind of line (its level, message, and the attributes and groups of the logger
// it came from), and holds back the repeats.
// When a period in which lines were held back ends, the last of them is logged with
// similar_lines_held_back, the count of the others; a line let through at once carries
// no count. Lines below warning pass untouched.
type throttle struct {
	next  slog.Handler
	state *throttleState
	// scope is what WithAttrs and WithGroup added, as text: part of the kind.
	scope string
}

// throttleState is shared by a throttle and the handlers derived from it.
type throttleState struct {
	every time.Duration
	now   func() time.Time
	// after runs f once d has passed; time.AfterFunc outside tests.
	after func(d time.Duration, f func())

	mu    sync.Mutex
	kinds map[string]*window
}

// window is one kind's current period.
type window struct {
	start time.Time
	held  int
	last  slog.Record  // the last line held back
	next  slog.Handler // where it goes
	armed bool         // a flush is scheduled for the end of the period
}

// newThrottle wraps next; every is the period (logEvery when zero or less).
func newThrottle(next slog.Handler, every time.Duration) *throttle {
	if every <= 0 {
		every = logEvery
	}
	return &throttle{next: next, state: &throttleState{
		every: every,
		now:   time.Now,
		after: func(d time.Duration, f func()) { time.AfterFunc(d, f) },
		kinds: map[string]*window{},
	}}
}

// Enabled implements slog.Handler.
func (t *throttle) Enabled(ctx context.Context, l slog.Level) bool { return t.next.Enabled(ctx, l) }

// WithAttrs implements slog.Handler.
func (t *throttle) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(t.scope)
	for _, a := range attrs {
		b.WriteString(a.String())
		b.WriteByte(' ')
	}
	return &throttle{next: t.next.WithAttrs(attrs), state: t.state, scope: b.String()}
}

// WithGroup implements slog.Handler.
func (t *throttle) WithGroup(name string) slog.Handler {
	return &throttle{next: t.next.WithGroup(name), state: t.state, scope: t.scope + name + "."}
}

// Handle implements slog.Handler.
func (t *throttle) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return t.next.Handle(ctx, r)
	}
	s := t.state
	key := t.scope + "\x00" + r.Level.String() + "\x00" + r.Message
	s.mu.Lock()
	now := s.now()
	w, ok := s.kinds[key]
	// One place is kept for the overflow kind.
	if !ok && len(s.kinds) >= maxThrottledKinds-1 {
		s.forget(now)
		if len(s.kinds) >= maxThrottledKinds-1 {
			key = "\x00overflow"
			w, ok = s.kinds[key]
		}
	}
	if !ok || (w.held == 0 && now.Sub(w.start) >= s.every) {
		s.kinds[key] = &window{start: now}
		s.mu.Unlock()
		return t.next.Handle(ctx, r)
	}
	w.held++
	w.last, w.next = r.Clone(), t.next
	if !w.armed {
		w.armed = true
		s.after(max(w.start.Add(s.every).Sub(now), 0), func() { s.flush(key) })
	}
	s.mu.Unlock()
	return nil
}

// flush ends the period of a kind: the last line held back, if any, is logged with the
// count of the others, and starts the next period.
func (s *throttleState) flush(key string) {
	s.mu.Lock()
	w, ok := s.kinds[key]
	if !ok || w.held == 0 {
		if ok {
			w.armed = false
		}
		s.mu.Unlock()
		return
	}
	r, next, others := w.last, w.next, w.held-1
	*w = window{start: s.now()}
	s.mu.Unlock()
	r.AddAttrs(slog.Int(heldBackKey, others))
	_ = next.Handle(context.Background(), r) // nowhere to report a failing log
}

// forget drops the kinds whose period ended with nothing held back; s.mu is held.
func (s *throttleState) forget(now time.Time) {
	for k, w := range s.kinds {
		if w.held == 0 && !w.armed && now.Sub(w.start) >= s.every {
			delete(s.kinds, k)
		}
	}
}

var _ slog.Handler = (*throttle)(nil)
