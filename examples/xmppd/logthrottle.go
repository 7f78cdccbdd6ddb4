package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// repeatEvery is how often registration logs a repeated warning or error: an account
// store or an invites plugin failing every registration (a full disk) logs one line
// per minute and kind, not one per attempt.
const repeatEvery = time.Minute

// maxRepeatKinds bounds the kinds of line a repeatLimiter tells apart; past it, new
// kinds share one budget.
const maxRepeatKinds = 64

// repeatLimiter is a slog.Handler that lets a warning or error through once per
// period for each kind of line (level, message, and the attributes of the logger it
// came from) and counts the others; the next line of that kind let through carries
// similar_lines_held_back, the count of those held back since the one before.
// Lines below warning pass untouched.
type repeatLimiter struct {
	next  slog.Handler
	scope string
	state *repeatState
}

type repeatState struct {
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	kinds map[string]*repeatWindow
}

type repeatWindow struct {
	start time.Time
	held  int
}

// limitRepeats wraps l's handler in a repeatLimiter of period every.
func limitRepeats(l *slog.Logger, every time.Duration) *slog.Logger {
	return slog.New(&repeatLimiter{next: l.Handler(),
		state: &repeatState{every: every, now: time.Now, kinds: map[string]*repeatWindow{}}})
}

// Enabled implements slog.Handler.
func (r *repeatLimiter) Enabled(ctx context.Context, l slog.Level) bool {
	return r.next.Enabled(ctx, l)
}

// WithAttrs implements slog.Handler.
func (r *repeatLimiter) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(r.scope)
	for _, a := range attrs {
		b.WriteString(a.String())
		b.WriteByte(' ')
	}
	return &repeatLimiter{next: r.next.WithAttrs(attrs), scope: b.String(), state: r.state}
}

// WithGroup implements slog.Handler.
func (r *repeatLimiter) WithGroup(name string) slog.Handler {
	return &repeatLimiter{next: r.next.WithGroup(name), scope: r.scope + name + ".", state: r.state}
}

// Handle implements slog.Handler.
func (r *repeatLimiter) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level < slog.LevelWarn {
		return r.next.Handle(ctx, rec)
	}
	s := r.state
	key := r.scope + "\x00" + rec.Level.String() + "\x00" + rec.Message
	s.mu.Lock()
	now := s.now()
	w, ok := s.kinds[key]
	if !ok && len(s.kinds) >= maxRepeatKinds-1 { // one place is kept for the overflow
		for k, v := range s.kinds {
			if now.Sub(v.start) >= s.every && v.held == 0 {
				delete(s.kinds, k)
			}
		}
		if len(s.kinds) >= maxRepeatKinds-1 {
			key = "\x00overflow"
			w, ok = s.kinds[key]
		}
	}
	if ok && now.Sub(w.start) < s.every {
		w.held++
		s.mu.Unlock()
		return nil
	}
	held := 0
	if ok {
		held = w.held
	}
	s.kinds[key] = &repeatWindow{start: now}
	s.mu.Unlock()
	if held > 0 {
		rec = rec.Clone()
		rec.AddAttrs(slog.Int("similar_lines_held_back", held))
	}
	return r.next.Handle(ctx, rec)
}

var _ slog.Handler = (*repeatLimiter)(nil)
