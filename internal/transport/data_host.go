package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/xmpp-invites/invites/plugin"
)

// EnvDataFD names the environment variable that tells the plugin which of its file
// descriptors is the data path's control socket.
const EnvDataFD = "INVITES_PLUGIN_DATA_FD"

// Defaults for the zero fields of DataOptions.
const (
	// DefaultMaxBodyBytes bounds a request body the host forwards: the most any plugin
	// config may accept (16 MiB).
	DefaultMaxBodyBytes = 16 << 20
	// DefaultMaxResponseBytes bounds a response body either side holds (4 MiB).
	DefaultMaxResponseBytes = 4 << 20
	// DefaultExchangeTimeout bounds one HTTP exchange with the plugin.
	DefaultExchangeTimeout = 10 * time.Second
	// DefaultMaxConns bounds the data sockets, that is the exchanges in flight.
	DefaultMaxConns = 64
)

// maxHeadBytes bounds what a frame holds besides its body: the request line, the
// header fields, the client address.
const maxHeadBytes = 1 << 20

// DataOptions bound the data path. The zero value of each field means its default.
type DataOptions struct {
	// MaxBodyBytes bounds a request body; a longer one fails with ErrBodyTooLarge
	// before anything is sent. Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxResponseBytes bounds a response body. Default DefaultMaxResponseBytes.
	MaxResponseBytes int
	// Timeout bounds one exchange, from sending the request to the end of the
	// response. Default DefaultExchangeTimeout.
	Timeout time.Duration
	// MaxConns bounds the data sockets, that is the exchanges in flight; more wait for
	// a free one. Default DefaultMaxConns.
	MaxConns int
	// Log receives each log record the plugin sends with an exchange's answer
	// (record.go), before the answer is written to the client; nil drops them.
	// It is called from the goroutines of the exchanges, at once.
	Log func(t time.Time, level slog.Level, msg string, attrs []slog.Attr)
}

func (o DataOptions) withDefaults() DataOptions {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultExchangeTimeout
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	return o
}

// DataPath is the host's end of the data path of one plugin process: a control
// socket handed to the process at start, and a pool of data sockets, each made with
// socketpair(2) and handed over on the control socket (SCM_RIGHTS) as the pool grows.
// Each data socket carries one exchange at a time; the plugin's exit closes them all,
// which fails the exchanges in flight at once.
// It is safe for concurrent use.
type DataPath struct {
	opts  DataOptions
	ctrl  *net.UnixConn
	slots chan struct{} // one token per exchange in flight

	ctrlMu sync.Mutex // serializes sends on ctrl
	child  *os.File   // the plugin's end of ctrl, until Started

	mu     sync.Mutex
	idle   []*dataConn
	closed bool

	bufs sync.Pool // *[]byte request frames
	ph   *protoHost
	ps   *protoSync
}

// dataConn is one data socket.
type dataConn struct {
	c   *net.UnixConn
	r   *bufio.Reader
	buf []byte // the last response payload
}

// NewDataPath makes the control socket of a plugin process that cmd will start: it
// adds the plugin's end to cmd.ExtraFiles and names its descriptor in cmd.Env
// (EnvDataFD). Call Started once the process runs, and Close when it is gone.
func NewDataPath(cmd *exec.Cmd, opts DataOptions) (*DataPath, error) {
	opts = opts.withDefaults()
	host, child, err := socketPair()
	if err != nil {
		return nil, fmt.Errorf("data path: %w", err)
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, child)
	fd := 2 + len(cmd.ExtraFiles) // ExtraFiles[i] becomes descriptor 3+i
	cmd.Env = append(cmd.Env, EnvDataFD+"="+strconv.Itoa(fd))
	d := &DataPath{opts: opts, ctrl: host, child: child, slots: make(chan struct{}, opts.MaxConns)}
	if os.Getenv("INVITES_RECORDS_ON_STDERR") != "" {
		cmd.Env = append(cmd.Env, "INVITES_RECORDS_ON_STDERR=1")
	}
	if protoHTTP() {
		cmd.Env = append(cmd.Env, envDataHTTP+"="+protoMode())
		if protoMode() == "1" {
			d.ph = newProtoHost(d)
		} else {
			d.ps = &protoSync{}
		}
	}
	return d, nil
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

// Started closes this process's copy of the plugin's end of the control socket, so
// that the plugin's exit is seen as the end of the socket.
func (d *DataPath) Started() {
	d.ctrlMu.Lock()
	defer d.ctrlMu.Unlock()
	if d.child != nil {
		_ = d.child.Close()
		d.child = nil
	}
}

// Close closes every socket; exchanges in flight fail as unavailable.
func (d *DataPath) Close() error {
	d.mu.Lock()
	d.closed = true
	idle := d.idle
	d.idle = nil
	d.mu.Unlock()
	for _, c := range idle {
		_ = c.c.Close()
	}
	d.Started()
	return d.ctrl.Close()
}

// get waits for a free slot and returns an idle data socket or a new one.
func (d *DataPath) get(ctx context.Context) (*dataConn, error) {
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		<-d.slots
		return nil, fmt.Errorf("%w: the plugin has stopped", plugin.ErrUnavailable)
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
func (d *DataPath) dial() (*dataConn, error) {
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
		return nil, fmt.Errorf("%w: cannot reach the plugin: %w", plugin.ErrUnavailable, err)
	}
	return &dataConn{c: ours, r: bufio.NewReaderSize(ours, 16<<10)}, nil
}

// put returns a data socket whose exchange ended well to the pool.
func (d *DataPath) put(c *dataConn) {
	if cap(c.buf) > 256<<10 {
		c.buf = nil // do not hold a large response's buffer for ever
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
func (d *DataPath) discard(c *dataConn) {
	_ = c.c.Close()
	<-d.slots
}

// Exchange forwards r to the plugin and writes its response to w.
// It reads the whole request body first (at most MaxBodyBytes: ErrBodyTooLarge; a
// failed read: ErrRequestBody), and writes to w only once the whole response is in,
// so a failure leaves w untouched: the plugin gone or too slow is ErrUnavailable, the
// caller giving up ctx's error.
func (d *DataPath) Exchange(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if d.ph != nil {
		return d.ph.exchange(ctx, d, w, r)
	}
	if d.ps != nil {
		return d.ps.exchange(ctx, d, w, r)
	}
	deadline := time.Now().Add(d.opts.Timeout)
	callers := false // the caller's deadline comes first
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline, callers = dl, true
	}
	uri := r.RequestURI
	if uri == "" {
		uri = r.URL.RequestURI()
	}
	bp := d.buffer()
	defer d.bufs.Put(bp)
	b := appendRequestHead((*bp)[:0], &exchangeRequest{
		Method:     r.Method,
		URI:        uri,
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		Proto:      r.Proto,
		TLS:        r.TLS != nil,
		Timeout:    time.Until(deadline),
		Header:     r.Header,
	})
	if len(b) > maxHeadBytes {
		return fmt.Errorf("%w: request head of %d bytes", ErrBodyTooLarge, len(b))
	}
	b, err := appendBody(b, r, d.opts.MaxBodyBytes)
	*bp = b[:0]
	if err != nil {
		return err
	}
	b = endFrame(b)

	c, err := d.get(ctx)
	if err != nil {
		return err
	}
	// The caller giving up (the client went away) ends the exchange at once.
	stop := context.AfterFunc(ctx, func() { _ = c.c.SetDeadline(time.Unix(1, 0)) })
	var payload []byte
	err = c.c.SetDeadline(deadline)
	if err == nil {
		_, err = c.c.Write(b)
	}
	if err == nil {
		payload, err = d.readAnswer(c)
	}
	if !stop() {
		// The deadline may have been moved under us: do not reuse the socket.
		if err == nil {
			err = ctx.Err()
		}
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

// readAnswer reads the frames of the plugin's answer: the log records of the exchange,
// which it logs, then the response frame, whose payload it returns.
func (d *DataPath) readAnswer(c *dataConn) ([]byte, error) {
	for n := 0; ; n++ {
		payload, err := readFrame(c.r, c.buf, maxHeadBytes+d.opts.MaxResponseBytes)
		c.buf = payload[:0]
		if err != nil || len(payload) == 0 || payload[0] != kindRecord {
			return payload, err
		}
		if n == maxExchangeRecords {
			return nil, frameError("too many log records")
		}
		rec, err := decodeRecord(payload)
		if err != nil {
			return nil, err
		}
		if d.opts.Log != nil {
			d.opts.Log(rec.Time, rec.Level, rec.Message, rec.Attrs)
		}
	}
}

func (d *DataPath) buffer() *[]byte {
	if bp, ok := d.bufs.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, 4<<10)
	return &b
}

// appendBody appends r's body to b, at most limit bytes.
func appendBody(b []byte, r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return b, nil
	}
	if r.ContentLength > limit {
		return b, ErrBodyTooLarge
	}
	start := len(b)
	if r.ContentLength > 0 && cap(b)-len(b) < int(r.ContentLength) {
		nb := make([]byte, len(b), len(b)+int(r.ContentLength)+1)
		copy(nb, b)
		b = nb
	}
	for {
		if int64(len(b)-start) > limit {
			return b, ErrBodyTooLarge
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if errors.Is(err, io.EOF) {
			if int64(len(b)-start) > limit {
				return b, ErrBodyTooLarge
			}
			return b, nil
		}
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				return b, ErrBodyTooLarge
			}
			return b, fmt.Errorf("%w: %w", ErrRequestBody, err)
		}
	}
}

// exchangeError says why an exchange failed.
func (d *DataPath) exchangeError(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("%w: the plugin did not answer within %v", plugin.ErrUnavailable, d.opts.Timeout)
	case errors.Is(err, errFrame):
		return fmt.Errorf("the plugin's answer is malformed: %w", err)
	}
	return fmt.Errorf("%w: the plugin closed the connection", plugin.ErrUnavailable)
}
