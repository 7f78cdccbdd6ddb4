package transport

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/xmpp-invites/invites/plugin"
)

// A measurement prototype (issue 26): HTTP/1.1 on the same host-made data sockets,
// chosen with INVITES_DATA_PATH in the host's environment (passed on to the plugin):
//
//	""           frames (frame.go), the default
//	"1" "http"   an http.Transport dialing the data sockets, an http.Server on the
//	             plugin's end
//	"2"          Request.Write and http.ReadResponse on pooled sockets (no Transport
//	             goroutines), an http.Server on the plugin's end
//	"3"          the same client, a loop of http.ReadRequest and Response.Write on
//	             the plugin's end
//	"4"          the same, header lines written by hand on both ends
//
// It exists so that bench can build this commit and measure the variants against
// frames in one run; the next commits remove it.

const envDataHTTP = "INVITES_DATA_PATH"

func protoHTTP() bool { return protoMode() != "" }

func protoMode() string {
	if m := os.Getenv(envDataHTTP); m != "http" {
		return m
	}
	return "1"
}

type protoHost struct {
	t    *http.Transport
	bufs sync.Pool
}

func newProtoHost(d *DataPath) *protoHost {
	return &protoHost{t: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, err := d.dial()
			if err != nil {
				return nil, err
			}
			return c.c, nil
		},
		MaxConnsPerHost:     d.opts.MaxConns,
		MaxIdleConnsPerHost: d.opts.MaxConns,
		MaxIdleConns:        d.opts.MaxConns,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
		IdleConnTimeout:     0,
	}}
}

func (p *protoHost) exchange(ctx context.Context, d *DataPath, w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
	defer cancel()
	u := &url.URL{Scheme: "http", Host: "invites", Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	h := r.Header
	h.Del("Invites-Client-Addr")
	h["Invites-Client-Addr"] = []string{r.RemoteAddr}
	out := &http.Request{Method: r.Method, URL: u, Header: h, Body: r.Body, ContentLength: r.ContentLength, Host: r.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	out = out.WithContext(ctx)
	resp, err := p.t.RoundTrip(out)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %w", plugin.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	bp, _ := p.bufs.Get().(*bytes.Buffer)
	if bp == nil {
		bp = new(bytes.Buffer)
	}
	bp.Reset()
	defer p.bufs.Put(bp)
	if _, err := io.Copy(bp, io.LimitReader(resp.Body, int64(d.opts.MaxResponseBytes)+1)); err != nil {
		return fmt.Errorf("%w: %w", plugin.ErrUnavailable, err)
	}
	wh := w.Header()
	for k, v := range resp.Header {
		wh[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(bp.Bytes())
	return nil
}

type chanListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *chanListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *chanListener) Addr() net.Addr { return &net.UnixAddr{Name: "invites-data", Net: "unix"} }

func protoServe(s *dataServer) *chanListener {
	l := &chanListener{ch: make(chan net.Conn), done: make(chan struct{})}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header["Invites-Client-Addr"]; len(a) > 0 {
			r.RemoteAddr = a[0]
			delete(r.Header, "Invites-Client-Addr")
		}
		if err := s.impl.ServeHTTP(r.Context(), w, r); err != nil {
			http.Error(w, "internal error", 500)
		}
	}), ReadHeaderTimeout: time.Minute}
	go func() {
		err := srv.Serve(l)
		if err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Warn("proto http", "err", err)
		}
	}()
	return l
}

// Variant: synchronous client on pooled conns.
type syncConn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

type protoSync struct {
	mu   sync.Mutex
	idle []*syncConn
	bufs sync.Pool
}

func (p *protoSync) exchange(ctx context.Context, d *DataPath, w http.ResponseWriter, r *http.Request) error {
	select {
	case d.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-d.slots }()
	var sc *syncConn
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		sc = p.idle[n-1]
		p.idle = p.idle[:n-1]
	}
	p.mu.Unlock()
	if sc == nil {
		c, err := d.dial()
		if err != nil {
			return err
		}
		sc = &syncConn{c: c.c, br: bufio.NewReader(c.c), bw: bufio.NewWriter(c.c)}
	}
	deadline := time.Now().Add(d.opts.Timeout)
	_ = sc.c.SetDeadline(deadline)
	h := r.Header
	h.Del("Invites-Client-Addr")
	h["Invites-Client-Addr"] = []string{r.RemoteAddr}
	u := &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	out := &http.Request{Method: r.Method, URL: u, Header: h, Body: r.Body, ContentLength: r.ContentLength, Host: r.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if r.ContentLength == 0 {
		out.Body = nil
	}
	fail := func(err error) error {
		_ = sc.c.Close()
		return fmt.Errorf("%w: %w", plugin.ErrUnavailable, err)
	}
	if protoMode() == "4" {
		body, _ := io.ReadAll(r.Body)
		h.Del("Invites-Client-Addr")
		h.Del("Content-Length")
		writeRequestManual(sc.bw, r, r.RemoteAddr, body)
	} else if err := out.Write(sc.bw); err != nil {
		return fail(err)
	}
	if err := sc.bw.Flush(); err != nil {
		return fail(err)
	}
	resp, err := http.ReadResponse(sc.br, out)
	if err != nil {
		return fail(err)
	}
	bp, _ := p.bufs.Get().(*bytes.Buffer)
	if bp == nil {
		bp = new(bytes.Buffer)
	}
	bp.Reset()
	defer p.bufs.Put(bp)
	if _, err := io.Copy(bp, io.LimitReader(resp.Body, int64(d.opts.MaxResponseBytes)+1)); err != nil {
		return fail(err)
	}
	resp.Body.Close()
	wh := w.Header()
	for k, v := range resp.Header {
		wh[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(bp.Bytes())
	if resp.Close {
		_ = sc.c.Close()
	} else {
		p.mu.Lock()
		p.idle = append(p.idle, sc)
		p.mu.Unlock()
	}
	return nil
}

// minimal server loop
type minWriter struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (m *minWriter) Header() http.Header { return m.h }
func (m *minWriter) WriteHeader(c int) {
	if m.status == 0 {
		m.status = c
	}
}
func (m *minWriter) Write(b []byte) (int, error) {
	if m.status == 0 {
		m.status = 200
	}
	return m.body.Write(b)
}

func protoMinServe(s *dataServer, c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	w := &minWriter{h: http.Header{}}
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if a := req.Header["Invites-Client-Addr"]; len(a) > 0 {
			req.RemoteAddr = a[0]
			delete(req.Header, "Invites-Client-Addr")
		}
		clear(w.h)
		w.status = 0
		w.body.Reset()
		if err := s.impl.ServeHTTP(context.Background(), w, req); err != nil {
			w.status = 500
		}
		if w.status == 0 {
			w.status = 200
		}
		_, _ = io.Copy(io.Discard, req.Body)
		if protoMode() == "4" {
			writeResponseManual(bw, w.status, w.h, w.body.Bytes())
		} else {
			resp := &http.Response{StatusCode: w.status, ProtoMajor: 1, ProtoMinor: 1, Header: w.h,
				ContentLength: int64(w.body.Len()), Body: io.NopCloser(&w.body), Request: req}
			if err := resp.Write(bw); err != nil {
				return
			}
		}
		if err := bw.Flush(); err != nil {
			return
		}
	}
}

func writeHeaderFields(bw *bufio.Writer, h http.Header) {
	for k, vs := range h {
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
}

func writeRequestManual(bw *bufio.Writer, r *http.Request, addr string, body []byte) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(r.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\nInvites-Client-Addr: ")
	bw.WriteString(addr)
	bw.WriteString("\r\n")
	writeHeaderFields(bw, r.Header)
	if len(body) > 0 || r.Method == "POST" || r.Method == "PUT" || r.Method == "PATCH" {
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.Itoa(len(body)))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	bw.Write(body)
}

func writeResponseManual(bw *bufio.Writer, status int, h http.Header, body []byte) {
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(status))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(status))
	bw.WriteString("\r\n")
	h.Del("Content-Length")
	writeHeaderFields(bw, h)
	bw.WriteString("Content-Length: ")
	bw.WriteString(strconv.Itoa(len(body)))
	bw.WriteString("\r\n\r\n")
	bw.Write(body)
}
