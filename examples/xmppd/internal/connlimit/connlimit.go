package connlimit

import (
	"container/list"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/xmpp-invites/invites/internal/clientaddr"
	"github.com/xmpp-invites/invites/internal/logthrottle"
)

// Defaults of Options.
const (
	// DefaultMaxConns bounds the connections of a Listener.
	DefaultMaxConns = 1000
	// DefaultMaxConnsPerAddr bounds the connections of one client address.
	DefaultMaxConnsPerAddr = 100
)

// Refusals: a refused connection's 503 is written within refusalWriteTimeout. Its
// unread request is then drained for up to refusalLinger before it closes, at most
// maxLingering connections at once: closing a socket with unread input resets it, and
// a reset can reach the client before the 503 does, which the client then never reads.
// Past maxLingering (a flood), refusals close at once.
const (
	refusalWriteTimeout = time.Second
	refusalLinger       = 250 * time.Millisecond
	refusalDrainBytes   = 64 << 10
	maxLingering        = 64
)

// Options bound a Listener; the zero value of each field means its default.
type Options struct {
	// MaxConns bounds the connections held at once. Default DefaultMaxConns.
	MaxConns int
	// MaxConnsPerAddr bounds the connections of one client address (IPv4 address,
	// IPv6 /64). Default DefaultMaxConnsPerAddr.
	MaxConnsPerAddr int
	// Logger receives the refusals, held back when they repeat; nil discards.
	Logger *slog.Logger
}

// Listener is a net.Listener that holds at most Options.MaxConns connections, and
// Options.MaxConnsPerAddr of one client address. Make one with New.
type Listener struct {
	net.Listener
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	open   int
	byAddr map[netip.Prefix]int
	idle   *list.List // of the *conn without a request in progress, least recently first

	lingering chan struct{} // a slot per refused connection being drained
}

// New wraps ln.
func New(ln net.Listener, opts Options) *Listener {
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.MaxConnsPerAddr <= 0 {
		opts.MaxConnsPerAddr = DefaultMaxConnsPerAddr
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Listener{
		Listener: ln,
		opts:     opts,
		log:      slog.New(logthrottle.New(opts.Logger.Handler(), logthrottle.Options{})),
		byAddr:   map[netip.Prefix]int{},
		idle:     list.New(),

		lingering: make(chan struct{}, maxLingering),
	}
}

// conn is a connection the Listener counts.
type conn struct {
	net.Conn
	l    *Listener
	key  netip.Prefix
	once sync.Once
	idle *list.Element // in l.idle while idle, guarded by l.mu
}

// Close implements net.Conn and uncounts the connection, once.
func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c) })
	return err
}

// Accept implements net.Listener: it returns the next connection within the bounds,
// answering and closing those past them.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		c, refusal := l.admit(nc)
		if c != nil {
			return c, nil
		}
		key := clientaddr.Key(clientaddr.Of(nc.RemoteAddr()))
		l.log.With("client", clientaddr.String(key)).Warn("HTTP connection refused: " + refusal)
		l.refuse(nc, refusal)
	}
}

// admit counts nc, or says why it is refused. When every connection is taken, the
// least recently used idle one is closed to make room.
func (l *Listener) admit(nc net.Conn) (*conn, string) {
	key := clientaddr.Key(clientaddr.Of(nc.RemoteAddr()))
	var evict *conn
	l.mu.Lock()
	switch {
	case l.byAddr[key] >= l.opts.MaxConnsPerAddr:
		l.mu.Unlock()
		return nil, fmt.Sprintf("too many connections from your address (at most %d)", l.opts.MaxConnsPerAddr)
	case l.open >= l.opts.MaxConns:
		front := l.idle.Front()
		if front == nil {
			l.mu.Unlock()
			return nil, "the server has too many connections"
		}
		evict = front.Value.(*conn)
		l.idle.Remove(front)
		evict.idle = nil
	}
	l.open++
	l.byAddr[key]++
	c := &conn{Conn: nc, l: l, key: key}
	l.mu.Unlock()
	if evict != nil {
		_ = evict.Close() // counted out when closed: l.open may exceed the bound by it meanwhile
	}
	return c, ""
}

// release uncounts c.
func (l *Listener) release(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byAddr[c.key]--; l.byAddr[c.key] <= 0 {
		delete(l.byAddr, c.key)
	}
	if c.idle != nil {
		l.idle.Remove(c.idle)
		c.idle = nil
	}
}

// ConnState goes into http.Server.ConnState: it tells the Listener which
// connections are idle (not yet sent a request, or between requests): those it may
// close to make room, the least recently used first.
func (l *Listener) ConnState(nc net.Conn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := nc.(*conn)
	if !ok || c.l != l {
		return
	}
	switch state {
	case http.StateNew, http.StateIdle:
		// A connection that has sent no request yet is as idle as a keep-alive one
		// between requests: holding connections open without a request must not keep
		// others out.
		if c.idle == nil {
			c.idle = l.idle.PushBack(c)
		}
	default:
		if c.idle != nil {
			l.idle.Remove(c.idle)
			c.idle = nil
		}
	}
}

// Open returns how many connections the Listener holds.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// refuse answers a connection past a bound with 503 and why, and closes it.
func (l *Listener) refuse(nc net.Conn, why string) {
	body := why + "\n"
	_ = nc.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
	_, _ = fmt.Fprintf(nc, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	tc, ok := nc.(interface{ CloseWrite() error })
	if !ok {
		_ = nc.Close()
		return
	}
	_ = tc.CloseWrite()
	select {
	case l.lingering <- struct{}{}:
	default:
		_ = nc.Close()
		return
	}
	go func() {
		defer func() { <-l.lingering }()
		_ = nc.SetReadDeadline(time.Now().Add(refusalLinger))
		_, _ = io.CopyN(io.Discard, nc, refusalDrainBytes)
		_ = nc.Close()
	}()
}

var _ net.Listener = (*Listener)(nil)
