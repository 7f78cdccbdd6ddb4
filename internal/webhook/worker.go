package webhook

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
)

// The message types an endpoint may subscribe to.
const (
	TypeInviteCreated  = "invite.created"
	TypeInviteRedeemed = "invite.redeemed"
	TypeInviteRevoked  = "invite.revoked"
	TypeAccountCreated = "account.created"
)

// Types lists the message types, in the order the documentation gives them.
func Types() []string {
	return []string{TypeInviteCreated, TypeInviteRedeemed, TypeInviteRevoked, TypeAccountCreated}
}

// Defaults of Options and Endpoint.
const (
	// DefaultTimeout bounds one HTTP attempt.
	DefaultTimeout = 10 * time.Second
	// DefaultPollInterval is how often a worker looks for due events when nothing
	// wakes it sooner.
	DefaultPollInterval = 2 * time.Second
	// DefaultMinBackoff is the wait before the second attempt.
	DefaultMinBackoff = 5 * time.Second
	// DefaultMaxBackoff bounds the wait between attempts.
	DefaultMaxBackoff = time.Hour
	// DefaultMaxAge is how long after its event a message is retried: then the worker
	// gives up.
	DefaultMaxAge = 24 * time.Hour
	// DefaultBatch is how many events one claim takes, delivered concurrently.
	DefaultBatch = 16
)

// maxResponseBytes bounds what is read of an endpoint's answer (and discarded).
const maxResponseBytes = 4 << 10

// Endpoint is one webhook receiver.
type Endpoint struct {
	// Name identifies the endpoint in the delivery log and the metrics; unique.
	Name string
	// URL is where messages are POSTed.
	URL string
	// Key is the secret's key (see ParseSecret).
	Key []byte
	// Types are the message types it wants; empty means all.
	Types []string
	// Timeout bounds one attempt. Zero means DefaultTimeout.
	Timeout time.Duration
}

func (e Endpoint) wants(typ string) bool {
	return len(e.Types) == 0 || slices.Contains(e.Types, typ)
}

// Options configure a Worker. The zero value of each optional field means its
// documented default.
type Options struct {
	// Store is the outbox. Required.
	Store outbox.Store
	// Endpoints receive the messages. At least one is required.
	Endpoints []Endpoint
	// Client sends the messages; nil means a client with no redirects followed and
	// each endpoint's timeout.
	Client *http.Client
	// Logger receives a line per failed attempt and per event given up; nil discards.
	Logger *slog.Logger
	// Owner names this worker in leases; default: host name, process ID and a random
	// suffix, unique per Worker.
	Owner string
	// Lease is how long a claim holds events; it must outlast their delivery, and is
	// how long an event waits after its worker died mid-delivery.
	// Default: twice the longest endpoint timeout for each message an event may make
	// (two per endpoint), plus 5 seconds: 45 seconds for one endpoint of the default
	// timeout.
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
	OnAttempt func(outbox.Attempt)
}

// Worker delivers the outbox's events to the endpoints; Run it.
type Worker struct {
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	wake  chan struct{}
	owner string
}

// New returns a Worker, or an error for options it cannot work with.
func New(opts Options) (*Worker, error) {
	if opts.Store == nil {
		return nil, errors.New("webhook worker: no store")
	}
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("webhook worker: no endpoint")
	}
	longest := time.Duration(0)
	seen := map[string]bool{}
	for i := range opts.Endpoints {
		e := &opts.Endpoints[i]
		if e.Name == "" || seen[e.Name] {
			return nil, fmt.Errorf("webhook worker: endpoint %d has no name, or one used twice", i+1)
		}
		seen[e.Name] = true
		if len(e.Key) == 0 {
			return nil, fmt.Errorf("webhook %s: no secret", e.Name)
		}
		if e.Timeout <= 0 {
			e.Timeout = DefaultTimeout
		}
		longest = max(longest, e.Timeout)
	}
	if opts.Lease <= 0 {
		opts.Lease = 2*2*time.Duration(len(opts.Endpoints))*longest + 5*time.Second
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
	if opts.Client == nil {
		opts.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
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
			w.log.Warn("webhook delivery: cannot claim events", "err", err)
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

// message is one POST made of an event.
type message struct {
	id, typ string
	body    []byte
}

// messages returns what an event makes: its own type, and account.created for a
// redemption that registered an account. Other events make none.
func messages(e core.Event) ([]message, error) {
	var types []string
	switch e.Type {
	case core.EventInviteCreated:
		types = []string{TypeInviteCreated}
	case core.EventInviteRevoked:
		types = []string{TypeInviteRevoked}
	case core.EventInviteRedeemed:
		types = []string{TypeInviteRedeemed}
		if e.Purpose == "" || e.Purpose == core.PurposeRegister {
			types = append(types, TypeAccountCreated)
		}
	}
	data := e
	data.Actor.Remote = "" // the client's address stays in the audit log
	out := make([]message, 0, len(types))
	for _, typ := range types {
		body, err := json.Marshal(struct {
			Type      string     `json:"type"`
			Timestamp time.Time  `json:"timestamp"`
			Data      core.Event `json:"data"`
		}{typ, e.Time.UTC(), data})
		if err != nil {
			return nil, fmt.Errorf("encoding event %s: %w", e.ID, err)
		}
		id := e.ID
		if typ == TypeAccountCreated {
			id += ".account"
		}
		out = append(out, message{id: id, typ: typ, body: body})
	}
	return out, nil
}

// doneKey names one message type delivered to one endpoint, in Entry.Done.
func doneKey(endpoint, typ string) string { return endpoint + " " + typ }

// deliver sends one claimed event to every endpoint that wants it and lacks it, and
// records the outcome.
func (w *Worker) deliver(ctx context.Context, e outbox.Entry) {
	msgs, err := messages(e.Event)
	now := w.now()
	if err != nil {
		w.settle(ctx, e, outbox.Failure{Done: e.Done, NextAttempt: now, Error: err.Error(), GiveUp: true}, nil, false)
		return
	}
	done := slices.Clone(e.Done)
	var (
		attempts []outbox.Attempt
		lastErr  string
	)
	for _, ep := range w.opts.Endpoints {
		for _, m := range msgs {
			key := doneKey(ep.Name, m.typ)
			if !ep.wants(m.typ) || slices.Contains(done, key) {
				continue
			}
			a := w.send(ctx, ep, m, e)
			if ctx.Err() != nil {
				return // shutting down: the lease runs out and the event is sent again
			}
			attempts = append(attempts, a)
			if w.opts.OnAttempt != nil {
				w.opts.OnAttempt(a)
			}
			if a.OK() {
				done = append(done, key)
			} else {
				lastErr = ep.Name + ": " + a.Error
			}
		}
	}
	if lastErr == "" {
		w.settle(ctx, e, outbox.Failure{}, attempts, true)
		return
	}
	now = w.now()
	f := outbox.Failure{Done: done, Error: lastErr}
	deadline := e.CreatedAt.Add(w.opts.MaxAge)
	if !now.Before(deadline) {
		f.GiveUp, f.NextAttempt = true, now
		w.log.Error("webhook delivery given up", "event", e.Event.ID, "type", string(e.Event.Type),
			"attempts", e.Attempts, "err", lastErr)
	} else {
		f.NextAttempt = now.Add(w.backoff(e.Attempts))
		if f.NextAttempt.After(deadline) {
			f.NextAttempt = deadline
		}
		w.log.Warn("webhook delivery failed", "event", e.Event.ID, "type", string(e.Event.Type),
			"attempt", e.Attempts, "retry_at", f.NextAttempt.UTC().Format(time.RFC3339), "err", lastErr)
	}
	w.settle(ctx, e, f, attempts, false)
}

// settle records an event's outcome.
func (w *Worker) settle(ctx context.Context, e outbox.Entry, f outbox.Failure, attempts []outbox.Attempt, ok bool) {
	var err error
	if ok {
		err = w.opts.Store.Complete(ctx, e.Event.ID, w.owner, w.now(), attempts)
	} else {
		err = w.opts.Store.Fail(ctx, e.Event.ID, w.owner, f, attempts)
	}
	switch {
	case errors.Is(err, outbox.ErrLeaseLost):
		w.log.Warn("webhook delivery took longer than its lease; another worker may send the event again",
			"event", e.Event.ID, "lease", w.opts.Lease.String())
	case err != nil && ctx.Err() == nil:
		w.log.Error("webhook delivery: cannot record the outcome; the event will be sent again", "event", e.Event.ID, "err", err)
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

// send makes one attempt.
func (w *Worker) send(ctx context.Context, ep Endpoint, m message, e outbox.Entry) outbox.Attempt {
	start := w.now()
	a := outbox.Attempt{EventID: e.Event.ID, Type: m.typ, Host: e.Event.Host, Endpoint: ep.Name,
		Attempt: e.Attempts, At: start}
	ctx, cancel := context.WithTimeout(ctx, ep.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(m.body))
	if err != nil {
		a.Error = "bad URL"
		return a
	}
	ts := start.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "invites-webhook/1")
	req.Header.Set(HeaderID, m.id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, Sign(ep.Key, m.id, ts, m.body))
	resp, err := w.opts.Client.Do(req)
	a.Duration = w.now().Sub(start)
	if err != nil {
		a.Error = describe(ctx, err)
		return a
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	a.Status = resp.StatusCode
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		a.Error = "HTTP status " + strconv.Itoa(resp.StatusCode)
	}
	return a
}

// describe says why a request failed without its URL, which may hold a credential.
func describe(ctx context.Context, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "no answer in time"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Err != nil {
		return ne.Op + ": " + ne.Err.Error()
	}
	return err.Error()
}
