package plugin

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"
)

// The plugin's end of the data path.

// deadlineGrace is how much longer than the host waits a handler may run.
const deadlineGrace = 100 * time.Millisecond

// maxExchange bounds a handler however long its request's body takes to arrive (the
// host's own server bounds that first).
const maxExchange = 2 * time.Minute

// dataServer serves the exchanges the host sends on the data sockets it hands over.
type dataServer struct {
	impl    Invites
	log     *slog.Logger
	maxResp int          // response body bound
	served  atomic.Int64 // exchanges begun, for tidyMemory
	carried atomic.Int64 // body bytes received and sent, for tidyMemory
}

// acceptData receives data sockets on ctrl, serving each on its own goroutine, until
// ctrl ends (the host closed it or is gone).
func (s *dataServer) acceptData(ctx context.Context, ctrl *net.UnixConn) {
	buf := make([]byte, 16)
	oob := make([]byte, syscall.CmsgSpace(16*4))
	for {
		n, oobn, _, _, err := ctrl.ReadMsgUnix(buf, oob)
		if err != nil || (n == 0 && oobn == 0) {
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("data path control socket failed", "err", err)
			}
			return
		}
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			s.log.Warn("data path: malformed control message", "err", err)
			continue
		}
		for _, m := range msgs {
			fds, err := syscall.ParseUnixRights(&m)
			if err != nil {
				continue
			}
			for _, fd := range fds {
				f := os.NewFile(uintptr(fd), "invites-data")
				c, err := net.FileConn(f)
				_ = f.Close()
				if err != nil {
					s.log.Warn("data path: unusable socket", "err", err)
					continue
				}
				go s.serveConn(ctx, c)
			}
		}
	}
}

// tidyMemory gives the heap's free memory back to the system once the data path has
// been quiet for a period after carrying more than tidyAfter bytes of bodies: the
// runtime keeps that memory until its next collection, which an idle plugin may not
// start for two minutes, so that a burst of large requests would keep the plugin's
// resident set up that long. Under steady load it does nothing: free memory is then
// reused.
func (s *dataServer) tidyMemory(ctx context.Context, period time.Duration) {
	const tidyAfter = 1 << 20
	t := time.NewTicker(period)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := s.served.Load()
		if n == last && s.carried.Load() > tidyAfter {
			s.carried.Store(0)
			debug.FreeOSMemory()
		}
		last = n
	}
}

// serveConn serves exchanges on one data socket, one after the other, until the host
// closes it.
func (s *dataServer) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, socketBuffer)
	var in, out []byte
	w := &bufferWriter{max: s.maxResp}
	body := &bodyReader{br: br, carried: &s.carried}
	for {
		payload, err := readFrame(br, in, maxHeadBytes)
		in = payload[:0]
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("data path: reading a request failed", "err", err)
			}
			return
		}
		req, err := decodeRequest(payload)
		if err != nil {
			s.log.Warn("data path: malformed request", "err", err)
			return
		}
		s.served.Add(1)
		w.reset()
		body.reset(req.HasBody)
		s.serveOne(ctx, w, &req, body)
		// What the handler left of the body is read before the answer, which the host
		// reads once it has sent the whole body.
		if _, err := io.Copy(io.Discard, body); err != nil {
			s.log.Debug("data path: the request body was cut short", "err", err)
			return
		}
		s.carried.Add(int64(len(w.body)))
		out = appendResponse(out[:0], w.status, w.header, w.body)
		if _, err := c.Write(out); err != nil {
			s.log.Debug("data path: writing a response failed", "err", err)
			return
		}
		if cap(in) > maxKeptBuffer {
			in = nil
		}
		if cap(out) > maxKeptBuffer {
			out = nil
		}
		if cap(w.body) > maxKeptBuffer {
			w.body = nil
		}
	}
}

// bodyReader reads the body frames of one request after the other on a data socket.
type bodyReader struct {
	br    *bufio.Reader
	chunk []byte // what is left of the current frame
	buf   []byte // the frames' room
	done  bool   // the empty frame was read, or there is no body
	err   error
	onEnd func() // called once when done or err is set
	// carried counts the bytes read, when not nil.
	carried *atomic.Int64
}

// reset readies r for a request with or without body frames.
func (r *bodyReader) reset(hasBody bool) {
	r.chunk, r.done, r.err, r.onEnd = nil, !hasBody, nil, nil
}

// ended reports whether the body is at its end (or failed), else has f called when
// it gets there.
func (r *bodyReader) ended(f func()) bool {
	if r.done || r.err != nil {
		return true
	}
	r.onEnd = f
	return false
}

// end calls onEnd, once.
func (r *bodyReader) end() {
	if f := r.onEnd; f != nil {
		r.onEnd = nil
		f()
	}
}

// Read implements io.Reader.
func (r *bodyReader) Read(p []byte) (int, error) {
	for len(r.chunk) == 0 {
		switch {
		case r.err != nil:
			return 0, r.err
		case r.done:
			return 0, io.EOF
		}
		payload, err := readFrame(r.br, r.buf, 1+chunkBytes)
		r.buf = payload[:0]
		switch {
		case errors.Is(err, io.EOF):
			r.err = io.ErrUnexpectedEOF
		case err != nil:
			r.err = err
		case payload[0] != kindBody:
			r.err = frameError("not a body frame")
		case len(payload) == 1:
			r.done = true
		}
		if r.done || r.err != nil {
			r.end()
			continue
		}
		r.chunk = payload[1:]
		if r.carried != nil {
			r.carried.Add(int64(len(r.chunk)))
		}
	}
	n := copy(p, r.chunk)
	r.chunk = r.chunk[n:]
	return n, nil
}

// serveOne runs the implementation on one request, leaving the answer in w.
func (s *dataServer) serveOne(ctx context.Context, w *bufferWriter, req *exchangeRequest, body *bodyReader) {
	if req.Timeout > 0 {
		// The handler's context ends a little after the host stops waiting, so that the
		// host, not a race, decides what its client sees. The host waits from the end of
		// the body: so does the handler.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, maxExchange)
		defer cancel()
		t := time.AfterFunc(maxExchange, cancel)
		defer t.Stop()
		start := func() { t.Reset(req.Timeout + deadlineGrace) }
		if body.ended(start) {
			start()
		}
	}
	r, err := newHTTPRequest(ctx, req, body)
	if err != nil {
		w.fail(http.StatusBadRequest, "malformed request")
		return
	}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("HTTP handler panicked", "panic", fmt.Sprint(p), "path", r.URL.Path)
			w.fail(http.StatusInternalServerError, "internal error")
		}
	}()
	if err := s.impl.ServeHTTP(ctx, w, r); err != nil {
		s.log.Error("HTTP exchange failed", "err", err, "path", r.URL.Path)
		w.fail(http.StatusInternalServerError, "internal error")
		return
	}
	if w.over {
		s.log.Error("HTTP response too large", "path", r.URL.Path, "limit", w.max)
		w.fail(http.StatusInternalServerError, "internal error")
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
}

// newHTTPRequest builds the request the implementation sees.
func newHTTPRequest(ctx context.Context, req *exchangeRequest, body io.Reader) (*http.Request, error) {
	u, err := url.ParseRequestURI(req.URI)
	if err != nil {
		return nil, err
	}
	proto := req.Proto
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		proto, major, minor = "HTTP/1.1", 1, 1
	}
	// Built on the stack: WithContext makes the one copy the handler sees.
	r := http.Request{
		Method:        req.Method,
		URL:           u,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        req.Header,
		Body:          http.NoBody,
		ContentLength: req.ContentLength,
		Host:          req.Host,
		RemoteAddr:    req.RemoteAddr,
		RequestURI:    req.URI,
	}
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	if req.HasBody {
		r.Body = io.NopCloser(body)
	}
	if req.TLS {
		// The host terminated TLS; only its presence crosses the boundary.
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	return (&r).WithContext(ctx), nil
}

// bufferWriter is the http.ResponseWriter of one exchange: it holds the whole response
// (at most max body bytes) until the handler returns.
type bufferWriter struct {
	header http.Header
	status int
	body   []byte
	max    int
	over   bool
}

// maxReusedHeader is the most fields a response header map may have held to be
// cleared and used again for the next exchange rather than dropped.
const maxReusedHeader = 32

// reset readies w for the next exchange on its socket. The header map of the last
// one, already encoded, is cleared and used again: a handler sets the same fields on
// every response, and the map's room for them need not be made anew each time.
func (w *bufferWriter) reset() {
	if w.header == nil || len(w.header) > maxReusedHeader {
		w.header = make(http.Header)
	} else {
		clear(w.header)
	}
	w.status = 0
	w.body = w.body[:0]
	w.over = false
}

// fail replaces the response with a short error.
func (w *bufferWriter) fail(status int, text string) {
	w.header = http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Content-Type-Options": {"nosniff"}}
	w.status = status
	w.body = append(w.body[:0], text+"\n"...)
	w.over = false
}

// Header implements http.ResponseWriter.
func (w *bufferWriter) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter; informational statuses are not
// forwarded.
func (w *bufferWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
}

// errResponseTooLarge fails writes past the response bound.
var errResponseTooLarge = errors.New("response too large")

// Write implements http.ResponseWriter.
func (w *bufferWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if len(w.body)+len(p) > w.max {
		w.over = true
		return 0, errResponseTooLarge
	}
	w.body = append(w.body, p...)
	return len(p), nil
}
