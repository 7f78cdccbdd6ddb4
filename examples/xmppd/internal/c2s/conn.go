package c2s

import (
	"crypto/tls"
	"encoding/xml"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// errTooBig is what a read returns once an element exceeded its budget.
var errTooBig = errors.New("c2s: stanza exceeds the size limit")

// limitConn bounds how many bytes the XML decoder may read per element and lets
// the server end a stream with a stream error even while mellium's writer is idle.
//
// The session's reader resets the budget before each element; a read beyond it
// sends policy-violation, discards every later write (mellium's own closing tag
// included) and fails, which ends the stream.
// The budget is approximate by the decoder's read-ahead (a few kilobytes).
type limitConn struct {
	net.Conn
	tls *tls.Conn // nil before STARTTLS
	raw net.Conn  // the TCP connection under TLS

	limit     atomic.Int64
	remaining atomic.Int64

	wmu    sync.Mutex
	killed bool
}

var _ net.Conn = (*limitConn)(nil)

// newLimitConn wraps c, which runs over the TCP connection raw, with a budget of
// limit bytes.
func newLimitConn(c, raw net.Conn, limit int64) *limitConn {
	lc := &limitConn{Conn: c, raw: raw}
	if t, ok := c.(*tls.Conn); ok {
		lc.tls = t
	}
	lc.setLimit(limit)
	return lc
}

// ConnectionState lets mellium see the TLS state through the wrapper.
func (c *limitConn) ConnectionState() tls.ConnectionState {
	if c.tls == nil {
		return tls.ConnectionState{}
	}
	return c.tls.ConnectionState()
}

// setLimit changes the per-element budget and resets it.
func (c *limitConn) setLimit(n int64) {
	c.limit.Store(n)
	c.remaining.Store(n)
}

// reset starts a new element's budget.
func (c *limitConn) reset() { c.remaining.Store(c.limit.Load()) }

// Read implements net.Conn within the budget.
func (c *limitConn) Read(p []byte) (int, error) {
	rem := c.remaining.Load()
	if rem <= 0 {
		c.kill("policy-violation", "stanza too big")
		return 0, errTooBig
	}
	if int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := c.Conn.Read(p)
	c.remaining.Add(-int64(n))
	return n, err
}

// Write implements net.Conn; after kill it discards.
func (c *limitConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.killed {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// kill sends a stream error and the closing tag once, then discards writes.
// An empty condition just closes the stream.
func (c *limitConn) kill(condition, text string) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.killed {
		return
	}
	c.killed = true
	// A client that does not read must not hold the goroutine forever.
	_ = c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Conn.Write([]byte(streamErrorXML(condition, text)))
}

// abort closes the TCP connection at once, without a word: for a client that does
// not read (a TLS close_notify could not be written) or a failed write. The session's
// reader then fails and the session ends.
func (c *limitConn) abort(error) {
	_ = c.raw.Close()
}

// streamErrorXML returns a stream error (RFC 6120 §4.9) followed by the closing
// stream tag; with an empty condition only the closing tag.
func streamErrorXML(condition, text string) string {
	if condition == "" {
		return `</stream:stream>`
	}
	var b strings.Builder
	b.WriteString(`<stream:error><`)
	b.WriteString(condition)
	b.WriteString(` xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`)
	if text != "" {
		b.WriteString(`<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>`)
		_ = xml.EscapeText(&b, []byte(text))
		b.WriteString(`</text>`)
	}
	b.WriteString(`</stream:error></stream:stream>`)
	return b.String()
}
