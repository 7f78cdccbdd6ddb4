package plugin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// envDataFD names the environment variable that tells the plugin which of its file
// descriptors is the data path's control socket.
const envDataFD = "INVITES_PLUGIN_DATA_FD"

// maxHeadBytes bounds a request frame: the request line, the header fields, the
// client address.
const maxHeadBytes = 1 << 20

// socketBuffer is the read buffer of each end of a data socket: a request's head and
// an invite's answer fit in it; what does not is read past it.
const socketBuffer = 4 << 10

// maxKeptBuffer is the largest buffer a data socket keeps for its next exchange: a
// larger one, left by a large exchange, is dropped.
const maxKeptBuffer = 64 << 10

// dataOptions bound the data path; ClientConfig fills them.
type dataOptions struct {
	maxResponseBytes int           // a response body
	timeout          time.Duration // one exchange, from sending to the end of the answer
	maxConns         int           // data sockets, that is exchanges in flight
}

// dataPath is the host's end of the data path of one plugin process: a control
// socket handed to the process at start, and a pool of data sockets, each made with
// socketpair(2) and handed over on the control socket (SCM_RIGHTS) as the pool grows.
// Each data socket carries one exchange at a time; the plugin's exit closes them all,
// which fails the exchanges in flight at once.
// It is safe for concurrent use.
type dataPath struct {
	opts  dataOptions
	ctrl  *net.UnixConn
	slots chan struct{} // one token per exchange in flight

	ctrlMu sync.Mutex // serializes sends on ctrl
	child  *os.File   // the plugin's end of ctrl, until started

	mu     sync.Mutex
	idle   []*dataConn
	closed bool

	bufs sync.Pool // *[]byte request frames
}

// dataConn is one data socket.
type dataConn struct {
	c   *net.UnixConn
	r   *bufio.Reader
	buf []byte // the last response payload
}

// newDataPath makes the control socket of a plugin process that cmd will start: it
// adds the plugin's end to cmd.ExtraFiles and names its descriptor in cmd.Env. Call
// started once the process runs, and close when it is gone.
func newDataPath(cmd *exec.Cmd, opts dataOptions) (*dataPath, error) {
	host, child, err := socketPair()
	if err != nil {
		return nil, fmt.Errorf("data path: %w", err)
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, child)
	fd := 2 + len(cmd.ExtraFiles) // ExtraFiles[i] becomes descriptor 3+i
	cmd.Env = append(cmd.Env, envDataFD+"="+strconv.Itoa(fd))
	return &dataPath{opts: opts, ctrl: host, child: child, slots: make(chan struct{}, opts.maxConns)}, nil
}

// socketPair returns both ends of a new unix stream socket pair, close-on-exec: ours
// as a connection, the other as a file to hand over.
func socketPair() (*net.UnixConn, *os.File, error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	ours := os.NewFile(uintptr(fds[0]), "invites-data")
	c, err := net.FileConn(ours)
	_ = ours.Close() // FileConn made its own descriptor
	if err != nil {
		_ = syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return c.(*net.UnixConn), os.NewFile(uintptr(fds[1]), "invites-data-plugin"), nil
}

// started closes this process's copy of the plugin's end of the control socket, so
// that the plugin's exit is seen as the end of the socket.
func (d *dataPath) started() {
	d.ctrlMu.Lock()
	defer d.ctrlMu.Unlock()
	if d.child != nil {
		_ = d.child.Close()
		d.child = nil
	}
}

// close closes every socket; exchanges in flight fail as unavailable.
func (d *dataPath) close() error {
	d.mu.Lock()
	d.closed = true
	idle := d.idle
	d.idle = nil
	d.mu.Unlock()
	for _, c := range idle {
		_ = c.c.Close()
	}
	d.started()
	return d.ctrl.Close()
}

// get waits for a free slot and returns an idle data socket or a new one.
func (d *dataPath) get(ctx context.Context) (*dataConn, error) {
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		<-d.slots
		return nil, fmt.Errorf("%w: the plugin has stopped", ErrUnavailable)
	}
	if n := len(d.idle); n > 0 {
		c := d.idle[n-1]
		d.idle = d.idle[:n-1]
		d.mu.Unlock()
		return c, nil
	}
	d.mu.Unlock()
	c, err := d.dial()
	if err != nil {
		<-d.slots
		return nil, err
	}
	return c, nil
}

// dial makes a data socket and hands the plugin its end.
func (d *dataPath) dial() (*dataConn, error) {
	ours, theirs, err := socketPair()
	if err != nil {
		return nil, err
	}
	defer theirs.Close()
	d.ctrlMu.Lock()
	_, _, err = d.ctrl.WriteMsgUnix([]byte{0}, syscall.UnixRights(int(theirs.Fd())), nil)
	d.ctrlMu.Unlock()
	if err != nil {
		_ = ours.Close()
		return nil, fmt.Errorf("%w: cannot reach the plugin: %w", ErrUnavailable, err)
	}
	return &dataConn{c: ours, r: bufio.NewReaderSize(ours, socketBuffer)}, nil
}

// put returns a data socket whose exchange ended well to the pool.
func (d *dataPath) put(c *dataConn) {
	if cap(c.buf) > maxKeptBuffer {
		c.buf = nil
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		_ = c.c.Close()
	} else {
		d.idle = append(d.idle, c)
		d.mu.Unlock()
	}
	<-d.slots
}

// discard closes a data socket whose exchange failed.
func (d *dataPath) discard(c *dataConn) {
	_ = c.c.Close()
	<-d.slots
}

// exchange forwards r to the plugin and writes its response to w.
// The body crosses as it is read: its first chunk before a data socket is taken (so
// that a slow client with a small body holds none), the rest as it arrives; a body
// that fails to read fails the exchange with its error, wrapped. The plugin has the
// timeout for each write, and for its answer once the body is sent.
// The response is written to w only once it is whole, so a failure leaves w untouched:
// the plugin gone or too slow is ErrUnavailable, the caller giving up ctx's error.
func (d *dataPath) exchange(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	// deadline is when the plugin must have taken a write, or answered, counting from
	// now: a client slow to send its body is not the plugin's fault.
	deadline := func() (time.Time, bool) {
		dl := time.Now().Add(d.opts.timeout)
		if cdl, ok := ctx.Deadline(); ok && cdl.Before(dl) {
			return cdl, true // the caller's deadline comes first
		}
		return dl, false
	}
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	end := !hasBody
	var first []byte // the body's first frame, read before a socket is taken
	if hasBody {
		fp := d.buffer()
		defer d.bufs.Put(fp)
		var err error
		if first, end, err = appendBody((*fp)[:0], r.Body); err != nil {
			return fmt.Errorf("reading the request body: %w", err)
		}
		defer func() { *fp = first[:0] }()
	}
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	bp := d.buffer()
	defer d.bufs.Put(bp)
	dl, _ := deadline()
	b := appendRequest((*bp)[:0], &exchangeRequest{
		Method:        r.Method,
		URI:           uri,
		Host:          r.Host,
		RemoteAddr:    r.RemoteAddr,
		Proto:         r.Proto,
		TLS:           r.TLS != nil,
		HasBody:       hasBody,
		Timeout:       time.Until(dl),
		ContentLength: r.ContentLength,
		Header:        r.Header,
	})
	if len(b) > maxHeadBytes {
		return fmt.Errorf("the request's header is too large (%d bytes)", len(b))
	}
	b = append(b, first...)
	defer func() { *bp = b[:0] }()

	c, err := d.get(ctx)
	if err != nil {
		return err
	}
	// The caller giving up ends the exchange at once.
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetDeadline(time.Unix(1, 0)) })
	var payload []byte
	callers := false
	for err == nil {
		dl, callers = deadline()
		if err = c.c.SetDeadline(dl); err != nil {
			break
		}
		if _, err = c.c.Write(b); err != nil || end {
			break
		}
		var berr error
		if b, end, berr = appendBody(b[:0], r.Body); berr != nil {
			stop()
			d.discard(c) // the plugin sees the body cut short
			return fmt.Errorf("reading the request body: %w", berr)
		}
	}
	if err == nil {
		dl, callers = deadline()
		if err = c.c.SetDeadline(dl); err == nil {
			payload, err = readFrame(c.r, c.buf, maxHeadBytes+d.opts.maxResponseBytes)
			c.buf = payload[:0]
		}
	}
	if !stop() && err == nil {
		// The deadline may have been moved under us: do not reuse the socket.
		err = ctx.Err()
	}
	if err != nil {
		d.discard(c)
		if callers && errors.Is(err, os.ErrDeadlineExceeded) {
			return context.DeadlineExceeded
		}
		return d.exchangeError(ctx, err)
	}
	h := w.Header()
	resp, err := decodeResponse(payload, h)
	if err != nil {
		d.discard(c)
		clear(h) // nothing of a malformed answer reaches the client
		return fmt.Errorf("the plugin's answer is malformed: %w", err)
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body) // a failed write means the client left; nothing to tell it
	d.put(c)
	return nil
}

func (d *dataPath) buffer() *[]byte {
	if bp, ok := d.bufs.Get().(*[]byte); ok {
		if cap(*bp) <= maxKeptBuffer {
			return bp
		}
	}
	b := make([]byte, 0, 4<<10)
	return &b
}

// exchangeError says why an exchange failed.
func (d *dataPath) exchangeError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: the plugin did not answer within %v", ErrUnavailable, d.opts.timeout)
	case errors.Is(err, errFrame):
		return fmt.Errorf("the plugin's answer is malformed: %w", err)
	}
	return fmt.Errorf("%w: the plugin closed the connection", ErrUnavailable)
}
