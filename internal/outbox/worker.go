package outbox

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// Sink is where a Worker delivers events: the webhook endpoints, the XMPP host (its
// account states and messages), email, the funnel counters.
type Sink interface {
	// Name names the sink in the delivery log and the metrics: "webhook", "host",
	// "email", "funnel".
	Name() string
	// Wants reports whether the sink acts on events of type t: the core writes the
	// outbox for the types some sink wants.
	Wants(t core.EventType) bool
	// Deliveries returns what the sink does with e; none when it wants nothing of it.
	Deliveries(e core.Event) []Delivery
}

// Delivery is one thing a sink does with one event, such as one message to one
// webhook endpoint.
type Delivery struct {
	// Key names the delivery among all those of its event, so that a retry skips the
	// ones done (Entry.Done): such as "hooks.example.com invite.created" for a webhook.
	Key string
	// Endpoint names the receiver in the delivery log: a webhook's name, "host",
	// "email".
	Endpoint string
	// Type is the type of the message the delivery makes (the event's type, or the
	// type of a message derived from it), for the log.
	Type string
	// Do makes one attempt; attempt counts the claims of the event, from 1.
	Do func(ctx context.Context, attempt int) Result
	// GiveUp, when not nil, returns the effects to record when the worker gives the
	// delivery up (such as an email marked failed), with the last error.
	GiveUp func(lastErr string) []Effect
}

// Result is the outcome of one attempt of a Delivery.
type Result struct {
	// Status is the receiver's answer: an HTTP status, an SMTP reply code; 0 when none.
	Status int
	// Err is why the attempt failed; nil when it succeeded. Never a secret.
	Err error
	// Permanent says that the failure will not get better: the delivery is not tried
	// again (it counts as done, and the failure stays in the log).
	Permanent bool
	// Effects are recorded with the outcome, in the transaction that records it, and
	// only if the worker still holds the event's lease.
	Effects []Effect
	// Committed, when not nil, is called once the outcome is recorded (such as to
	// count it in the metrics).
	Committed func()
}

// Defaults of Options.
const (
	// DefaultPollInterval is how often a worker looks for due events when nothing
	// wakes it sooner.
	DefaultPollInterval = 2 * time.Second
	// DefaultMinBackoff is the wait before the second attempt.
	DefaultMinBackoff = 5 * time.Second
	// DefaultMaxBackoff bounds the wait between attempts.
	DefaultMaxBackoff = time.Hour
	// DefaultMaxAge is how long after its event a delivery is retried: then the worker
	// gives up.
	DefaultMaxAge = 24 * time.Hour
	// DefaultBatch is how many events one claim takes, delivered concurrently.
	DefaultBatch = 16
	// DefaultLease is how long a claim holds its events when no sink says how long
	// its deliveries may take (see Bounded).
	DefaultLease = time.Minute
)

// Bounded is a Sink that knows how long its deliveries of one event may take at most;
// the worker's default lease is twice the sum of its sinks' bounds, plus 5 seconds.
type Bounded interface {
	// MaxDuration bounds the time the deliveries of one event take.
	MaxDuration() time.Duration
}

// Options configure a Worker. The zero value of each optional field means its
// documented default.
type Options struct {
	// Store is the outbox. Required.
	Store Store
	// Sinks receive the events. At least one is required; their names are unique.
	Sinks []Sink
	// Logger receives a line per failed attempt and per delivery given up; nil discards.
	Logger *slog.Logger
	// Owner names this worker in leases; default: host name, process ID and a random
	// suffix, unique per Worker.
	Owner string
	// Lease is how long a claim holds events; it must outlast their delivery, and is
	// how long an event waits after its worker died mid-delivery.
	// Default: twice the sum of the sinks' MaxDuration (see Bounded) plus 5 seconds,
	// or DefaultLease when no sink has one.
	Lease time.Duration
	// PollInterval is how often the worker looks for due events. Default
	// DefaultPollInterval; Notify wakes it sooner.
	PollInterval time.Duration
	// MinBackoff, MaxBackoff and MaxAge shape the retries. Defaults DefaultMinBackoff,
	// DefaultMaxBackoff, DefaultMaxAge.
	MinBackoff, MaxBackoff, MaxAge time.Duration
	// Batch is how many events a claim takes. Default DefaultBatch.
	Batch int
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// OnAttempt, when set, learns of every attempt (for the metrics); it must be quick.
	OnAttempt func(Attempt)
}

// Worker delivers the outbox's events to the sinks; Run it.
type Worker struct {
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	wake  chan struct{}
	owner string
}

// NewWorker returns a Worker, or an error for options it cannot work with.
func NewWorker(opts Options) (*Worker, error) {
	if opts.Store == nil {
		return nil, errors.New("delivery worker: no store")
	}
	if len(opts.Sinks) == 0 {
		return nil, errors.New("delivery worker: no sink")
	}
	seen := map[string]bool{}
	var bound time.Duration
	for _, s := range opts.Sinks {
		if s == nil || s.Name() == "" || seen[s.Name()] {
			return nil, errors.New("delivery worker: each sink needs a name of its own")
		}
		seen[s.Name()] = true
		if b, ok := s.(Bounded); ok {
			bound += b.MaxDuration()
		}
	}
	if opts.Lease <= 0 {
		opts.Lease = DefaultLease
		if bound > 0 {
			opts.Lease = 2*bound + 5*time.Second
		}
	}
	set := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	set(&opts.PollInterval, DefaultPollInterval)
	set(&opts.MinBackoff, DefaultMinBackoff)
	set(&opts.MaxBackoff, DefaultMaxBackoff)
	set(&opts.MaxAge, DefaultMaxAge)
	if opts.Batch <= 0 {
		opts.Batch = DefaultBatch
	}
	w := &Worker{opts: opts, log: opts.Logger, now: opts.Now, wake: make(chan struct{}, 1), owner: opts.Owner}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = crand.Read(b[:])
		w.owner = host + "/" + strconv.Itoa(os.Getpid()) + "/" + hex.EncodeToString(b[:])
	}
	return w, nil
}

// Owner returns the name the worker's leases carry.
func (w *Worker) Owner() string { return w.owner }

// Lease returns how long a claim holds its events.
func (w *Worker) Lease() time.Duration { return w.opts.Lease }

// Wants reports whether some sink acts on events of type t itself (events derived
// from t's are the caller's to think of): the core writes the outbox for these types.
func (w *Worker) Wants(t core.EventType) bool {
	for _, s := range w.opts.Sinks {
		if s.Wants(t) {
			return true
		}
	}
	return false
}

// Notify wakes the worker to look for due events now, such as after an event was
// written; it never blocks.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends. Store failures are logged and retried at the next poll.
func (w *Worker) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
		n, err := w.RunOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			w.log.Warn("event delivery: cannot claim events", "err", err)
			t.Reset(w.opts.PollInterval)
		case n == w.opts.Batch:
			t.Reset(0) // more may be due
		default:
			t.Reset(w.opts.PollInterval)
		}
	}
}

// RunOnce claims one batch of due events and delivers it; it returns how many events
// it claimed.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	entries, err := w.opts.Store.Claim(ctx, w.owner, w.now(), w.opts.Lease, w.opts.Batch)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Go(func() { w.deliver(ctx, e) })
	}
	wg.Wait()
	return len(entries), nil
}

// deliveries returns what the sinks do with an event and the events derived from it,
// with the sink of each.
func (w *Worker) deliveries(e core.Event) ([]Delivery, []string) {
	events := []core.Event{e}
	var (
		out   []Delivery
		sinks []string
	)
	for _, ev := range events {
		for _, s := range w.opts.Sinks {
			if !s.Wants(ev.Type) {
				continue
			}
			for _, d := range s.Deliveries(ev) {
				out = append(out, d)
				sinks = append(sinks, s.Name())
			}
		}
	}
	return out, sinks
}

// deliver makes every delivery of one claimed event that is not done yet, and records
// the outcome.
func (w *Worker) deliver(ctx context.Context, e Entry) {
	ds, sinks := w.deliveries(e.Event)
	done := slices.Clone(e.Done)
	var (
		attempts  []Attempt
		effects   []Effect
		committed []func()
		lastErr   string
		failed    []Delivery
	)
	for i, d := range ds {
		if slices.Contains(done, d.Key) {
			continue
		}
		start := w.now()
		r := d.Do(ctx, e.Attempts)
		if ctx.Err() != nil {
			return // shutting down: the lease runs out and the event is delivered again
		}
		a := Attempt{EventID: e.Event.ID, Type: d.Type, Host: e.Event.Host, Sink: sinks[i], Endpoint: d.Endpoint,
			Attempt: e.Attempts, At: start, Duration: w.now().Sub(start), Status: r.Status}
		if r.Err != nil {
			a.Error = r.Err.Error()
			if a.Error == "" {
				a.Error = "failed"
			}
		}
		attempts = append(attempts, a)
		if w.opts.OnAttempt != nil {
			w.opts.OnAttempt(a)
		}
		effects = append(effects, r.Effects...)
		if r.Committed != nil {
			committed = append(committed, r.Committed)
		}
		switch {
		case r.Err == nil:
			done = append(done, d.Key)
		case r.Permanent:
			done = append(done, d.Key)
			w.log.Warn("event delivery refused for good", "event", e.Event.ID, "type", d.Type,
				"sink", sinks[i], "endpoint", d.Endpoint, "err", a.Error)
		default:
			lastErr = d.Endpoint + ": " + a.Error
			failed = append(failed, d)
		}
	}
	if lastErr == "" {
		w.settle(ctx, e, Failure{}, attempts, effects, committed, true)
		return
	}
	now := w.now()
	f := Failure{Done: done, Error: lastErr}
	deadline := e.CreatedAt.Add(w.opts.MaxAge)
	if !now.Before(deadline) {
		f.GiveUp, f.NextAttempt = true, now
		for _, d := range failed {
			if d.GiveUp != nil {
				effects = append(effects, d.GiveUp(lastErr)...)
			}
		}
		w.log.Error("event delivery given up", "event", e.Event.ID, "type", string(e.Event.Type),
			"attempts", e.Attempts, "err", lastErr)
	} else {
		f.NextAttempt = now.Add(w.backoff(e.Attempts))
		if f.NextAttempt.After(deadline) {
			f.NextAttempt = deadline
		}
		w.log.Warn("event delivery failed", "event", e.Event.ID, "type", string(e.Event.Type),
			"attempt", e.Attempts, "retry_at", f.NextAttempt.UTC().Format(time.RFC3339), "err", lastErr)
	}
	w.settle(ctx, e, f, attempts, effects, committed, false)
}

// settle records an event's outcome, with the effects of its deliveries.
func (w *Worker) settle(ctx context.Context, e Entry, f Failure, attempts []Attempt, effects []Effect, committed []func(), ok bool) {
	var err error
	if ok {
		err = w.opts.Store.Complete(ctx, e.Event.ID, w.owner, w.now(), attempts, effects)
	} else {
		f.Effects = effects
		err = w.opts.Store.Fail(ctx, e.Event.ID, w.owner, f, attempts)
	}
	switch {
	case errors.Is(err, ErrLeaseLost):
		w.log.Warn("event delivery took longer than its lease; another worker may deliver the event again",
			"event", e.Event.ID, "lease", w.opts.Lease.String())
	case err != nil && ctx.Err() == nil:
		w.log.Error("event delivery: cannot record the outcome; the event will be delivered again", "event", e.Event.ID, "err", err)
	case err == nil:
		for _, c := range committed {
			c()
		}
	}
}

// backoff is the wait after the n-th attempt: MinBackoff doubling to MaxBackoff, give
// or take a fifth.
func (w *Worker) backoff(n int) time.Duration {
	d := w.opts.MinBackoff
	for i := 1; i < n && d < w.opts.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.opts.MaxBackoff)
	jitter := time.Duration(rand.Int64N(int64(d)/5 + 1))
	return d - d/10 + jitter
}
