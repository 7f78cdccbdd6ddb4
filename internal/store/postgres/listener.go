package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// Timings of the key listener.
const (
	// listenIdle is how long the listener waits for a notification before it checks
	// that its connection is alive.
	listenIdle = 5 * time.Second
	// listenPing bounds that check, and each connection attempt.
	listenPing = 5 * time.Second
	// listenRetryMax caps the wait between connection attempts.
	listenRetryMax = 5 * time.Second
)

// listenerPrefix begins the application_name of a listener's connection, as
// pg_stat_activity shows it; the channel name follows, so that a node can count the
// listeners of its schema.
const listenerPrefix = "invites key listener "

// Payload prefixes on the channel: a key deletion, and a listener's acknowledgement of
// one.
const (
	notifyDelete = "d:"
	notifyAck    = "a:"
)

// listener keeps a connection of its own that LISTENs on the store's key channel, and
// counts the notifications of key deletions on any node. While it is not connected, or
// before its first connection, it vouches for nothing, so that no node serves a key
// from memory that another may have deleted unseen; each (re)connection counts as a
// change, since notifications sent meanwhile were lost.
//
// A listener acknowledges each deletion it has counted with a notification of its own,
// and a node that deletes a key waits for the acknowledgements of every listener
// connected when it committed: once DeleteKey returns, every node that vouches for its
// key version has counted the deletion, so the next request anywhere reads the key.
type listener struct {
	cfg     *pgx.ConnConfig
	channel string
	log     *slog.Logger

	version atomic.Uint64
	up      atomic.Bool
	pid     atomic.Uint32 // of the listening connection's backend, for tests

	mu      sync.Mutex
	waiters map[string]*waiter // deletions this node sent, by token

	quit chan struct{}
	done chan struct{}
	once sync.Once
}

// channelName is the notification channel of a schema: an identifier of at most 63
// bytes whatever the schema's name.
func channelName(schema string) string {
	h := sha256.Sum256([]byte(schema))
	return "invites_keys_" + hex.EncodeToString(h[:12])
}

// waiter counts the acknowledgements of one deletion.
type waiter struct {
	want, got int
	done      chan struct{}
}

func newListener(cfg *pgx.ConnConfig, schema string, log *slog.Logger) *listener {
	cfg = cfg.Copy()
	cfg.RuntimeParams["application_name"] = listenerPrefix + channelName(schema)
	// A wait that times out must leave the connection usable: interrupt it with a
	// deadline rather than a cancel request to the server.
	cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()}
	}
	l := &listener{
		cfg:     cfg,
		channel: channelName(schema),
		log:     log,
		waiters: make(map[string]*waiter),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go l.run()
	return l
}

// state returns the number of key changes seen, and whether the listener is
// connected, so that the number can be trusted.
func (l *listener) state() (uint64, bool) {
	if !l.up.Load() {
		return 0, false
	}
	return l.version.Load(), true
}

// bump counts a change this node made itself.
func (l *listener) bump() { l.version.Add(1) }

// name is the application_name of the listeners of this channel.
func (l *listener) name() string { return listenerPrefix + l.channel }

// expect returns a fresh token for a deletion this node is about to notify, and a
// waiter whose done channel closes once want listeners (set by the caller before it
// commits) have acknowledged it; the waiter is nil while the listener is down.
func (l *listener) expect() (string, *waiter) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	if !l.up.Load() {
		return token, nil
	}
	w := &waiter{want: 1, done: make(chan struct{})}
	l.mu.Lock()
	l.waiters[token] = w
	l.mu.Unlock()
	return token, w
}

// setWant sets how many acknowledgements a waiter needs.
func (l *listener) setWant(w *waiter, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w.want = max(n, 1)
	if w.got >= w.want {
		closeOnce(w)
	}
}

func closeOnce(w *waiter) {
	select {
	case <-w.done:
	default:
		close(w.done)
	}
}

// forget drops the waiter of a payload.
func (l *listener) forget(token string) {
	l.mu.Lock()
	delete(l.waiters, token)
	l.mu.Unlock()
}

func (l *listener) close() {
	l.once.Do(func() { close(l.quit) })
	<-l.done
}

func (l *listener) run() {
	defer close(l.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-l.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	wait := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := l.session(ctx)
		l.up.Store(false)
		l.version.Add(1)
		if ctx.Err() != nil {
			return
		}
		l.log.Warn("key notifications interrupted; keys are read on every request until they resume", "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, listenRetryMax)
	}
}

// session connects, listens, and counts notifications until the connection fails or
// ctx ends.
func (l *listener) session(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, listenPing)
	conn, err := pgx.ConnectConfig(cctx, l.cfg)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	cctx, cancel = context.WithTimeout(ctx, listenPing)
	_, err = conn.Exec(cctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize())
	cancel()
	if err != nil {
		return err
	}
	// Anything may have changed while no one listened.
	l.pid.Store(conn.PgConn().PID())
	l.version.Add(1)
	l.up.Store(true)
	for {
		wctx, cancel := context.WithTimeout(ctx, listenIdle)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil:
			if err := l.handle(ctx, conn, n.Payload); err != nil {
				return err
			}
			continue
		case !pgconn.Timeout(err):
			return err
		}
		// Quiet for a while: make sure the connection still works, or a dead one would
		// keep vouching for a version no one can change any more.
		pctx, cancel := context.WithTimeout(ctx, listenPing)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return errors.Join(errors.New("the listening connection stopped answering"), err)
		}
	}
}

// handle counts a deletion and acknowledges it, or counts an acknowledgement of a
// deletion this node made.
func (l *listener) handle(ctx context.Context, conn *pgx.Conn, payload string) error {
	switch {
	case len(payload) > len(notifyAck) && payload[:len(notifyAck)] == notifyAck:
		l.mu.Lock()
		if w, ok := l.waiters[payload[len(notifyAck):]]; ok {
			w.got++
			if w.got >= w.want {
				closeOnce(w)
			}
		}
		l.mu.Unlock()
		return nil
	case len(payload) > len(notifyDelete) && payload[:len(notifyDelete)] == notifyDelete:
		l.version.Add(1)
		actx, cancel := context.WithTimeout(ctx, listenPing)
		defer cancel()
		_, err := conn.Exec(actx, `SELECT pg_notify($1, $2)`, l.channel, notifyAck+payload[len(notifyDelete):])
		return err
	}
	// Anything else on the channel may be a change this version does not know.
	l.version.Add(1)
	return nil
}
