package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/xmpp-invites/invites/plugin"
)

// DefaultMaxQueuedEvents is Config.MaxQueuedEvents when zero.
const DefaultMaxQueuedEvents = 10000

// Bounds of event delivery.
const (
	// maxEventBatch bounds the events of one call to the plugin.
	maxEventBatch = 100
	// eventRetryMin and eventRetryMax bound the wait before a batch is sent again
	// after the plugin was unavailable.
	eventRetryMin = 100 * time.Millisecond
	eventRetryMax = 5 * time.Second
)

// errClosed refuses events after Close.
var errClosed = fmt.Errorf("%w: the server is shutting down", plugin.ErrUnavailable)

// eventQueue holds the events waiting for the plugin, in order, at most max; when it
// is full the oldest goes first.
type eventQueue struct {
	max int

	mu      sync.Mutex
	events  []plugin.Event
	closed  bool
	dropped bool // events were dropped since the last delivery (logged once)
	wake    chan struct{}
}

func newEventQueue(max int) *eventQueue {
	return &eventQueue{max: max, wake: make(chan struct{}, 1)}
}

// Notify hands events to the plugin (Invites.Notify): logins, ends of client
// streams, and accounts created, deleted, disabled or enabled by any means (see
// plugin.EventType), which the plugin acts on. A host that sends them sets
// Config.Events. An event without ID gets a random one, without At the current time,
// without Host the first of Config.Plugin.Domains.
//
// Notify does not wait for the plugin: the events are queued and sent in order, in
// batches, by one goroutine, and sent again while the plugin is down, restarting or
// does not answer, for as long as it takes; at most Config.MaxQueuedEvents wait, the
// oldest dropped past that. A batch the plugin refuses (an event it does not take) is
// logged with the plugin's words and dropped. Drops are counted in
// invites_plugin_events_dropped_total by reason (queue-full, refused, shutdown); Close
// sends what is queued first, within its ShutdownTimeout.
// It fails only after Close.
func (p *Plugin) Notify(_ context.Context, events ...plugin.Event) error {
	now := time.Now()
	for i := range events {
		e := &events[i]
		if e.ID == "" {
			e.ID = newEventID()
		}
		if e.At.IsZero() {
			e.At = now
		}
		if e.Host == "" && len(p.cfg.Plugin.Domains) > 0 {
			e.Host = p.cfg.Plugin.Domains[0]
		}
	}
	q := p.events
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return errClosed
	}
	q.events = append(q.events, events...)
	over := len(q.events) - q.max
	warn := false
	if over > 0 {
		q.events = append(q.events[:0], q.events[over:]...)
		warn, q.dropped = !q.dropped, true
	}
	queued := len(q.events)
	q.mu.Unlock()
	p.metrics.eventsQueued.Set(float64(queued))
	if over > 0 {
		p.metrics.eventsDropped.WithLabelValues("queue-full").Add(float64(over))
		if warn {
			p.log.Warn("too many events wait for the invites plugin: dropping the oldest", "max", q.max)
		}
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// newEventID returns a random event ID.
func newEventID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// peek returns the next batch, without taking it off the queue.
func (q *eventQueue) peek() []plugin.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := min(len(q.events), maxEventBatch)
	out := make([]plugin.Event, n)
	copy(out, q.events)
	return out
}

// done takes the batch sent off the queue: its first n events, unless they were
// dropped meanwhile (a full queue drops the oldest); it returns how many are left.
func (q *eventQueue) done(sent []plugin.Event) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	// Drops take the oldest, so what is left of the batch is a prefix of the queue.
	i := 0
	for i < len(sent) && len(q.events) > 0 && q.events[0].ID != sent[i].ID {
		i++
	}
	n := 0
	for i+n < len(sent) && n < len(q.events) && q.events[n].ID == sent[i+n].ID {
		n++
	}
	q.events = append(q.events[:0], q.events[n:]...)
	return len(q.events)
}

// deliverEvents sends queued events to the plugin until ctx ends, then returns.
func (p *Plugin) deliverEvents(ctx context.Context) {
	q := p.events
	wait := eventRetryMin
	for {
		batch := q.peek()
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
				continue
			}
		}
		err := p.sendEvents(ctx, batch)
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, plugin.ErrUnavailable):
			// Down or restarting: the same batch again, later.
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, eventRetryMax)
			continue
		case err != nil:
			p.metrics.eventsDropped.WithLabelValues("refused").Add(float64(len(batch)))
			p.log.Error("the invites plugin refused events: dropped", "count", len(batch), "err", err)
		default:
			p.metrics.eventsDelivered.Add(float64(len(batch)))
		}
		wait = eventRetryMin
		left := q.done(batch)
		p.metrics.eventsQueued.Set(float64(left))
		if err == nil {
			q.mu.Lock()
			q.dropped = false
			q.mu.Unlock()
		}
	}
}

// sendEvents makes one Notify call to the running plugin.
func (p *Plugin) sendEvents(ctx context.Context, batch []plugin.Event) error {
	inst, release := p.acquire()
	if inst == nil {
		return p.downError()
	}
	defer release()
	defer p.metrics.observeCall("notify", time.Now())
	err := inst.Notify(ctx, batch)
	if errors.Is(err, plugin.ErrUnavailable) {
		p.unavailable()
	}
	return err
}

// flushEvents sends what is queued, for at most d, then refuses new events; what is
// left is counted as dropped at shutdown.
func (p *Plugin) flushEvents(d time.Duration) {
	q := p.events
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		q.mu.Lock()
		n := len(q.events)
		q.mu.Unlock()
		if n == 0 || p.PID() == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	q.mu.Lock()
	q.closed = true
	left := len(q.events)
	q.events = nil
	q.mu.Unlock()
	if left > 0 {
		p.metrics.eventsDropped.WithLabelValues("shutdown").Add(float64(left))
		p.log.Warn("events for the invites plugin dropped at shutdown", "count", left)
	}
	p.metrics.eventsQueued.Set(0)
}
