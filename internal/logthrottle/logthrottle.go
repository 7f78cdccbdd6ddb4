// Package logthrottle holds back log lines that repeat: a slog.Handler that lets a
// warning or error through once per period for each kind of line, and logs the last
// one it held back, with the count of the others, when the period ends.
//
// A store that fails every request (a full disk) would otherwise write one line per
// request; with the throttle it writes one line per minute and kind, which an
// operator can read and a log shipper can carry. Lines below warning (or the level
// Options.Level names) pass untouched.
// The plugin's log and the example server's registration log go through it.
package logthrottle

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Defaults for the zero fields of Options.
const (
	// DefaultEvery is how often a repeated line is logged.
	DefaultEvery = time.Minute
	// DefaultMaxKinds bounds the kinds of line a Handler tells apart; past it, new
	// kinds share one budget.
	DefaultMaxKinds = 256
)

// HeldBackKey is the attribute that counts the lines held back before a line.
const HeldBackKey = "similar_lines_held_back"

// Options tune a Handler; the zero value of each field means its default.
type Options struct {
	// Every is the period: a kind of line is logged at most once per Every.
	// Default DefaultEvery.
	Every time.Duration
	// MaxKinds bounds the kinds of line told apart. Default DefaultMaxKinds.
	MaxKinds int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// After runs f once d has passed; nil means time.AfterFunc.
	After func(d time.Duration, f func())
	// Level is the lowest level held back; lines below it pass untouched.
	// Nil means slog.LevelWarn. A log of refusals a client can cause at will (refused
	// invitations, at info) is throttled from slog.LevelInfo.
	Level slog.Leveler
}

// Handler is a slog.Handler that lets a warning or error (Options.Level and above)
// through once per period for each kind of line (its level, message, and the attributes and groups of the logger
// it came from), and holds back the repeats.
// When a period in which lines were held back ends, the last of them is logged with
// similar_lines_held_back, the count of the others; a line let through at once carries
// no count. Lines below Options.Level pass untouched.
type Handler struct {
	next  slog.Handler
	state *throttleState
	// scope is what WithAttrs and WithGroup added, as text: part of the kind.
	scope string
}

// throttleState is shared by a Handler and the handlers derived from it.
type throttleState struct {
	every    time.Duration
	maxKinds int
	level    slog.Leveler
	now      func() time.Time
	after    func(d time.Duration, f func())

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

// New returns a Handler that throttles what it passes to next.
func New(next slog.Handler, opts Options) *Handler {
	st := &throttleState{every: opts.Every, maxKinds: opts.MaxKinds, now: opts.Now, after: opts.After,
		level: opts.Level, kinds: map[string]*window{}}
	if st.level == nil {
		st.level = slog.LevelWarn
	}
	if st.every <= 0 {
		st.every = DefaultEvery
	}
	if st.maxKinds <= 0 {
		st.maxKinds = DefaultMaxKinds
	}
	if st.now == nil {
		st.now = time.Now
	}
	if st.after == nil {
		st.after = func(d time.Duration, f func()) { time.AfterFunc(d, f) }
	}
	return &Handler{next: next, state: st}
}

// Kinds returns how many kinds of line the Handler remembers.
func (t *Handler) Kinds() int {
	t.state.mu.Lock()
	defer t.state.mu.Unlock()
	return len(t.state.kinds)
}

// Enabled implements slog.Handler.
func (t *Handler) Enabled(ctx context.Context, l slog.Level) bool { return t.next.Enabled(ctx, l) }

// WithAttrs implements slog.Handler.
func (t *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(t.scope)
	for _, a := range attrs {
		b.WriteString(a.String())
		b.WriteByte(' ')
	}
	return &Handler{next: t.next.WithAttrs(attrs), state: t.state, scope: b.String()}
}

// WithGroup implements slog.Handler.
func (t *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: t.next.WithGroup(name), state: t.state, scope: t.scope + name + "."}
}

// Handle implements slog.Handler.
func (t *Handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < t.state.level.Level() {
		return t.next.Handle(ctx, r)
	}
	s := t.state
	key := t.scope + "\x00" + r.Level.String() + "\x00" + r.Message
	s.mu.Lock()
	now := s.now()
	w, ok := s.kinds[key]
	// One place is kept for the overflow kind.
	if !ok && len(s.kinds) >= s.maxKinds-1 {
		s.forget(now)
		if len(s.kinds) >= s.maxKinds-1 {
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
	r.AddAttrs(slog.Int(HeldBackKey, others))
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

var _ slog.Handler = (*Handler)(nil)
