package plugin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/xmpp-invites/invites/plugin/internal/pluginv1"
)

// HTTP across the boundary.
//
// The host sends the request head with as much of the body as fits in ChunkSize, and
// end set when that is all of it: such a request is one message, sent on a lane, an
// HTTPExchanges stream kept open and reused one exchange after another, which saves
// setting up a call per exchange (about a fifth of the boundary's cost).
// A larger body goes over ServeHTTPChunked: the other chunks follow from a second
// goroutine while the host already waits for the response.
// The plugin buffers what its handler writes up to ChunkSize and sends the response
// head with the first chunk when the handler returns, flushes or fills the buffer;
// the part with end set (on a lane) or the end of the stream ends the response.
// A small exchange is thus one message each way.

// responseStream is the host's end of either RPC.
type responseStream interface {
	Recv() (*pb.HTTPResponsePart, error)
}

// ServeHTTP forwards one request to the plugin and writes its response to w.
// It writes nothing to w when it fails before the plugin answered; a failure after
// that leaves a partial response, which the caller should abort.
func (c *invitesClient) ServeHTTP(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	first, body, err := c.firstPart(r)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, c.opts.HTTPTimeout)
	defer cancel()
	if first.End {
		l, err := c.getLane()
		if err != nil {
			return callError(ctx, "http", err)
		}
		// The exchange's deadline, or the client going away, ends the lane under it.
		stop := context.AfterFunc(sctx, l.cancel)
		if err := l.exchange(w, first); err != nil {
			l.cancel()
			return callError(ctx, "http", err)
		}
		if stop() {
			c.putLane(l)
		}
		return nil
	}

	stream, err := c.rpc.ServeHTTPChunked(sctx)
	if err != nil {
		return callError(ctx, "http", err)
	}
	if err := stream.Send(first); err != nil && !errors.Is(err, io.EOF) {
		return callError(ctx, "http", err)
	}
	// pumpErr is set by the pump before it returns; read it only after <-pumped.
	pumped := make(chan struct{})
	var pumpErr error
	go func() {
		defer close(pumped)
		pumpErr = c.pumpBody(stream, body, int64(len(first.Body)))
		if pumpErr != nil {
			cancel() // the plugin must not take a truncated body for a whole one
		}
	}()
	err = copyResponse(w, stream, false)
	cancel()
	<-pumped
	if err != nil && pumpErr != nil {
		return pumpErr // the cause: the body could not be read or was too large
	}
	if err != nil {
		return callError(ctx, "http", err)
	}
	return nil
}

// firstPart reads the start of the body and builds the first message.
// body is what remains to be read, nil when first holds all of it.
func (c *invitesClient) firstPart(r *http.Request) (first *pb.HTTPRequestPart, body io.Reader, err error) {
	uri := r.URL.RequestURI()
	if r.URL.Path == "" && r.RequestURI != "" {
		uri = r.RequestURI
	}
	head := &pb.HTTPRequestHead{
		Method:        r.Method,
		RequestUri:    uri,
		Host:          r.Host,
		Header:        headerToProto(r.Header),
		RemoteAddr:    r.RemoteAddr,
		ContentLength: r.ContentLength,
		Tls:           r.TLS != nil,
		Proto:         r.Proto,
	}
	first = &pb.HTTPRequestPart{Head: head}
	if r.Body == nil || r.Body == http.NoBody {
		first.End = true
		return first, nil, nil
	}
	if r.ContentLength > c.opts.MaxBodyBytes {
		return nil, nil, ErrBodyTooLarge
	}
	size := int64(ChunkSize)
	if r.ContentLength >= 0 && r.ContentLength < size {
		size = r.ContentLength + 1 // one more byte to see the end without a second read
	}
	buf := make([]byte, size)
	n, err := io.ReadFull(r.Body, buf)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		first.End = true
	case err != nil:
		return nil, nil, fmt.Errorf("%w: %w", ErrRequestBody, err)
	}
	first.Body = buf[:n]
	if first.End {
		return first, nil, nil
	}
	return first, r.Body, nil
}

// pumpBody sends the rest of the body in chunks, then closes the sending side.
// sent is how many body bytes went with the head.
func (c *invitesClient) pumpBody(stream pb.Invites_ServeHTTPChunkedClient, body io.Reader, sent int64) error {
	buf := make([]byte, ChunkSize)
	for {
		n, err := io.ReadFull(body, buf)
		end := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !end {
			return fmt.Errorf("%w: %w", ErrRequestBody, err)
		}
		sent += int64(n)
		if sent > c.opts.MaxBodyBytes {
			return ErrBodyTooLarge
		}
		if n > 0 || end {
			// A failed Send means the plugin ended the exchange (it answered without
			// reading everything, or went away): copyResponse sees why.
			if serr := stream.Send(&pb.HTTPRequestPart{Body: buf[:n], End: end}); serr != nil {
				return nil
			}
		}
		if end {
			_ = stream.CloseSend()
			return nil
		}
	}
}

// maxIdleLanes bounds the idle lanes a client keeps; more are closed after use.
const maxIdleLanes = 64

// lane is one HTTPExchanges stream, carrying one exchange at a time.
type lane struct {
	stream pb.Invites_HTTPExchangesClient
	cancel context.CancelFunc
}

// getLane takes an idle lane, or opens one.
func (c *invitesClient) getLane() (*lane, error) {
	c.lanesMu.Lock()
	if n := len(c.lanes); n > 0 {
		l := c.lanes[n-1]
		c.lanes = c.lanes[:n-1]
		c.lanesMu.Unlock()
		return l, nil
	}
	c.lanesMu.Unlock()
	ctx, cancel := context.WithCancel(c.base)
	stream, err := c.rpc.HTTPExchanges(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	return &lane{stream: stream, cancel: cancel}, nil
}

// putLane keeps a lane whose exchange ended well for the next one.
func (c *invitesClient) putLane(l *lane) {
	c.lanesMu.Lock()
	if len(c.lanes) < maxIdleLanes {
		c.lanes = append(c.lanes, l)
		c.lanesMu.Unlock()
		return
	}
	c.lanesMu.Unlock()
	_ = l.stream.CloseSend()
	l.cancel()
}

// exchange sends a one-message request on the lane and copies the response to w.
func (l *lane) exchange(w http.ResponseWriter, first *pb.HTTPRequestPart) error {
	if err := l.stream.Send(first); err != nil {
		if errors.Is(err, io.EOF) {
			// The plugin ended the lane; Recv tells why.
			if _, rerr := l.stream.Recv(); rerr != nil && !errors.Is(rerr, io.EOF) {
				return rerr
			}
			return errors.New("plugin: HTTP lane closed")
		}
		return err
	}
	return copyResponse(w, l.stream, true)
}

// copyResponse writes the plugin's response to w; onLane says the part with end set
// ends it, rather than the stream's end.
func copyResponse(w http.ResponseWriter, stream responseStream, onLane bool) error {
	part, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("plugin: response ended before its head")
		}
		return err
	}
	head := part.GetHead()
	if head == nil {
		return errors.New("plugin: response without head")
	}
	status := int(head.GetStatus())
	if status < 200 || status > 999 {
		return fmt.Errorf("plugin: response status %d", status)
	}
	h := w.Header()
	for _, f := range head.GetHeader() {
		h[f.GetName()] = f.GetValues()
	}
	w.WriteHeader(status)
	rc := http.NewResponseController(w)
	for {
		if b := part.GetBody(); len(b) > 0 {
			if _, err := w.Write(b); err != nil {
				return fmt.Errorf("plugin: writing response: %w", err)
			}
		}
		if part.GetFlush() {
			_ = rc.Flush()
		}
		if onLane && part.GetEnd() {
			return nil
		}
		part, err = stream.Recv()
		if errors.Is(err, io.EOF) {
			if onLane {
				return errors.New("plugin: HTTP lane ended within a response")
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func headerToProto(h http.Header) []*pb.Header {
	if len(h) == 0 {
		return nil
	}
	out := make([]*pb.Header, 0, len(h))
	for k, vs := range h {
		out = append(out, &pb.Header{Name: k, Values: vs})
	}
	return out
}

func headerFromProto(hs []*pb.Header) http.Header {
	h := make(http.Header, len(hs))
	for _, f := range hs {
		h[f.GetName()] = f.GetValues()
	}
	return h
}

// HTTPExchanges serves exchanges one after another on a lane, each request one message.
// An error ends the lane: the host drops it and the exchange under way fails.
func (s *invitesServer) HTTPExchanges(stream pb.Invites_HTTPExchangesServer) error {
	for {
		first, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil // the host closed the lane
		}
		if err != nil {
			return err
		}
		if !first.GetEnd() {
			return status.Error(codes.InvalidArgument, "plugin: a chunked body needs ServeHTTPChunked")
		}
		if err := s.serveExchange(stream.Context(), first, nil, stream, true); err != nil {
			return err
		}
	}
}

// ServeHTTPChunked serves an exchange whose request body comes in chunks.
func (s *invitesServer) ServeHTTPChunked(stream pb.Invites_ServeHTTPChunkedServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	return s.serveExchange(stream.Context(), first, stream, stream, false)
}

// requestStream is the plugin's end of ServeHTTPChunked, where body chunks arrive.
type requestStream interface {
	Recv() (*pb.HTTPRequestPart, error)
}

// partSender is the plugin's end of either RPC, where the response goes.
type partSender interface {
	Send(*pb.HTTPResponsePart) error
}

// serveExchange serves one exchange with the implementation's ServeHTTP; more is nil
// when first holds the whole body; onLane marks the response's last part with end.
func (s *invitesServer) serveExchange(ctx context.Context, first *pb.HTTPRequestPart, more requestStream, out partSender, onLane bool) (err error) {
	req, err := requestFromProto(ctx, first, more)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	w := &streamResponseWriter{stream: out, header: make(http.Header), onLane: onLane}
	defer func() {
		if p := recover(); p != nil {
			err = status.Errorf(codes.Internal, "plugin: HTTP handler panicked: %v", p)
		}
	}()
	if err := s.impl.ServeHTTP(ctx, w, req); err != nil {
		return implError(err)
	}
	return w.finish()
}

func requestFromProto(ctx context.Context, first *pb.HTTPRequestPart, more requestStream) (*http.Request, error) {
	h := first.GetHead()
	if h == nil {
		return nil, errors.New("plugin: request without head")
	}
	u, err := url.ParseRequestURI(h.GetRequestUri())
	if err != nil {
		return nil, fmt.Errorf("plugin: request URI: %w", err)
	}
	proto := h.GetProto()
	major, minor, ok := http.ParseHTTPVersion(proto)
	if !ok {
		proto, major, minor = "HTTP/1.1", 1, 1
	}
	r := &http.Request{
		Method:        h.GetMethod(),
		URL:           u,
		Proto:         proto,
		ProtoMajor:    major,
		ProtoMinor:    minor,
		Header:        headerFromProto(h.GetHeader()),
		ContentLength: h.GetContentLength(),
		Host:          h.GetHost(),
		RemoteAddr:    h.GetRemoteAddr(),
		RequestURI:    h.GetRequestUri(),
	}
	if h.GetTls() {
		// The host terminated TLS; only its presence crosses the boundary.
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	switch {
	case first.GetEnd() && len(first.GetBody()) == 0:
		r.Body = http.NoBody
	case !first.GetEnd() && more == nil:
		return nil, errors.New("plugin: request body cut")
	default:
		r.Body = &streamBody{stream: more, buf: first.GetBody(), end: first.GetEnd()}
	}
	return r.WithContext(ctx), nil
}

// streamBody reads a request body from the stream's parts.
type streamBody struct {
	stream requestStream // nil when buf is the whole body
	buf    []byte
	end    bool
	err    error
}

// Read implements io.ReadCloser over the request stream.
func (b *streamBody) Read(p []byte) (int, error) {
	for len(b.buf) == 0 {
		switch {
		case b.err != nil:
			return 0, b.err
		case b.end:
			return 0, io.EOF
		}
		part, err := b.stream.Recv()
		if errors.Is(err, io.EOF) {
			// The host closed its side without marking the end: the body was cut.
			b.err = io.ErrUnexpectedEOF
			continue
		}
		if err != nil {
			b.err = err
			continue
		}
		b.buf, b.end = part.GetBody(), part.GetEnd()
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	return n, nil
}

// Close implements io.ReadCloser over the request stream.
func (b *streamBody) Close() error {
	if b.err == nil {
		b.err = http.ErrBodyReadAfterClose
	}
	return nil
}

// streamResponseWriter buffers a handler's response into stream parts.
type streamResponseWriter struct {
	stream partSender
	header http.Header
	onLane bool // the last part carries end (HTTPExchanges)

	mu       sync.Mutex
	status   int
	sent     http.Header // the header as it was at WriteHeader
	headSent bool
	buf      []byte
	err      error
}

// Header implements http.ResponseWriter over the response stream.
func (w *streamResponseWriter) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter over the response stream.
func (w *streamResponseWriter) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writeHeader(code)
}

func (w *streamResponseWriter) writeHeader(code int) {
	if w.status != 0 || code < 200 {
		return // informational responses are not forwarded
	}
	w.status = code
	w.sent = w.header.Clone()
}

// Write implements http.ResponseWriter over the response stream.
func (w *streamResponseWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	w.writeHeader(http.StatusOK)
	n := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, min(ChunkSize, max(len(p), 512)))
		}
		k := min(len(p), ChunkSize-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == ChunkSize {
			if err := w.send(false, false); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// Flush sends what is buffered and asks the host to flush too.
// It implements http.Flusher.
func (w *streamResponseWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	w.writeHeader(http.StatusOK)
	_ = w.send(true, false)
}

// send sends the buffer, with the head the first time.
func (w *streamResponseWriter) send(flush, end bool) error {
	part := &pb.HTTPResponsePart{Body: w.buf, Flush: flush, End: end}
	if !w.headSent {
		part.Head = &pb.HTTPResponseHead{Status: int32(w.status), Header: headerToProto(w.sent)}
		w.headSent = true
	}
	if err := w.stream.Send(part); err != nil {
		w.err = fmt.Errorf("plugin: sending response: %w", err)
		return w.err
	}
	w.buf = w.buf[:0]
	return nil
}

// finish sends the rest of the response once the handler has returned.
func (w *streamResponseWriter) finish() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	w.writeHeader(http.StatusOK)
	if w.headSent && len(w.buf) == 0 && !w.onLane {
		return nil
	}
	return w.send(false, w.onLane)
}
