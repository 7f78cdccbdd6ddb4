package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/xmpp-invites/invites/plugin"
)

// knownRoutes are the contract's paths, which Mount routes before the plugin has said
// what it serves (it may serve them once it starts).
func knownRoutes() []string {
	return []string{plugin.PathAPI, plugin.PathAPI + "/", plugin.PathInvite, plugin.PathRegister}
}

// Handler returns the plugin's HTTP side; route the paths of the Manifest to it (Mount
// does). The host stays in front: its server's timeouts and client address apply, and
// Handler answers itself, as problem details (RFC 9457) or text:
//
//	503 + Retry-After   the plugin is down or not started yet (until the next start is
//	                    tried), did not answer in time, or the bodies in flight would
//	                    pass Config.MaxBodyBytesInFlight
//	413                 a body over its route's limit (plugin.Route), from its
//	                    Content-Length before reading it, or once one byte too many
//	                    has arrived; the plugin never sees more
//	404                 a path the plugin does not serve
//	400                 a body that could not be read; a client that went away gets
//	                    its connection closed, never a response that looks whole
//	502                 the plugin's answer was malformed
//
// A body is forwarded as it arrives, never held whole. Once it has been read, the
// exchange finishes even if the client closes its side of the connection.
// Each request is counted in the host's metrics (see MetricsHandler) by route and
// status.
func (p *Plugin) Handler() http.Handler { return p.instrument(http.HandlerFunc(p.serveHTTP)) }

// Mount routes each path of the plugin's Manifest (the invite API, and the pages when
// the plugin serves them), and the contract's paths until it has first started, to
// Handler on mux, beside the host's own routes.
func (p *Plugin) Mount(mux *http.ServeMux) {
	h := p.Handler()
	paths := knownRoutes()
	for _, r := range p.Manifest().Routes {
		if r.Path != plugin.PathMetrics && !slices.Contains(paths, r.Path) {
			paths = append(paths, r.Path)
		}
	}
	for _, path := range paths {
		mux.Handle(path, h)
	}
}

// routeOf returns the route of the Manifest that serves r (an exact path, or the
// longest prefix ending in "/"), or false; and whether a Manifest is known yet.
func (p *Plugin) routeOf(r *http.Request) (route plugin.Route, ok, known bool) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	path := r.URL.Path
	for _, rt := range p.manifest.Routes {
		switch {
		case rt.Path == plugin.PathMetrics:
		case rt.Path == path:
			return rt, true, true
		case strings.HasSuffix(rt.Path, "/") && strings.HasPrefix(path, rt.Path) && len(rt.Path) > len(route.Path):
			route, ok = rt, true
		}
	}
	return route, ok, len(p.manifest.Routes) > 0
}

func (p *Plugin) serveHTTP(w http.ResponseWriter, r *http.Request) {
	route, served, known := p.routeOf(r)
	if known && !served {
		p.writeError(w, r, http.StatusNotFound, "not found")
		return
	}
	inst, release := p.acquire()
	if inst == nil || !known {
		if release != nil {
			release()
		}
		p.writeError(w, r, http.StatusServiceUnavailable, "the invites service is unavailable; try again later")
		return
	}
	defer release()
	if r.ContentLength > route.MaxBodyBytes {
		p.tooLarge(w, r, route)
		return
	}
	body := &body{r: r.Body, left: route.MaxBodyBytes, inFlight: &p.bodies, max: p.cfg.MaxBodyBytesInFlight}
	defer body.release()
	out := r.WithContext(context.WithoutCancel(r.Context()))
	if r.Body != nil && r.Body != http.NoBody {
		out.Body = body
	}
	start := time.Now()
	// Not the client's context: a client that closes its side once its request is sent
	// still gets the answer. One that goes away before its body is in fails the body.
	err := inst.ServeHTTP(out.Context(), w, out)
	result := "ok"
	if err != nil {
		result = "error"
	}
	p.metrics.exchange.WithLabelValues(result).Observe(time.Since(start).Seconds())
	if err == nil {
		return
	}
	// Nothing was written to w: the data path writes only a whole response.
	switch {
	case errors.Is(body.err, errTooLarge):
		p.tooLarge(w, r, route)
	case errors.Is(body.err, errBusy):
		p.writeError(w, r, http.StatusServiceUnavailable, "the server is busy; try again shortly")
	case body.err != nil && r.Context().Err() != nil:
		// The client went away, or stopped sending its body: close the connection
		// rather than answer what it could take for a whole response.
		panic(http.ErrAbortHandler)
	case body.err != nil:
		w.Header().Set("Connection", "close")
		p.writeError(w, r, http.StatusBadRequest, "cannot read the request body")
	case errors.Is(err, plugin.ErrUnavailable):
		p.unavailable()
		p.log.Warn("invites plugin HTTP exchange failed", "err", err)
		p.writeError(w, r, http.StatusServiceUnavailable, "the invites service is unavailable; try again later")
	default:
		p.log.Error("invites plugin HTTP exchange failed", "err", err)
		p.writeError(w, r, http.StatusBadGateway, "the invites service failed")
	}
}

func (p *Plugin) tooLarge(w http.ResponseWriter, r *http.Request, route plugin.Route) {
	w.Header().Set("Connection", "close") // what is left of the body is not read
	p.writeError(w, r, http.StatusRequestEntityTooLarge,
		fmt.Sprintf("the request body is too large: %s accepts at most %s", route.Path, bytesInWords(route.MaxBodyBytes)))
}

// bytesInWords says a size as a person would: "512 bytes", "16 KiB", "1.5 MiB".
func bytesInWords(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', -1, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', -1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// Why a body could not be forwarded.
var (
	errTooLarge = errors.New("request body too large")
	errBusy     = errors.New("too many request bodies in flight")
)

// body is a request body on its way to the plugin: it stops one byte past its route's
// limit (errTooLarge), and takes what it reads from the host's budget of bytes in
// flight (errBusy), which release gives back. Its first failure sticks.
type body struct {
	r        io.ReadCloser
	left     int64 // bytes it may still read
	inFlight *atomic.Int64
	max      int64
	taken    int64
	err      error
}

// Read implements io.Reader.
func (b *body) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	if n > 0 {
		b.left -= int64(n)
		if b.inFlight.Add(int64(n)) > b.max {
			b.inFlight.Add(-int64(n))
			b.err = errBusy
			return 0, b.err
		}
		b.taken += int64(n)
		if b.left < 0 {
			b.err = errTooLarge
			return 0, b.err
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		b.err = err
	}
	return n, err
}

// Close implements io.Closer; the server closes the client's body.
func (b *body) Close() error { return nil }

// release gives the bytes read back to the budget.
func (b *body) release() { b.inFlight.Add(-b.taken) }

// writeError answers like the plugin does: CORS-readable, not cached, problem details
// (RFC 9457) for a client that accepts JSON, else a line of text.
func (p *Plugin) writeError(w http.ResponseWriter, r *http.Request, status int, detail string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(int((p.retryIn()+time.Second-1)/time.Second)))
	}
	text := []byte(detail + "\n")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if strings.Contains(r.Header.Get("Accept"), "json") {
		text, _ = json.Marshal(map[string]any{"type": "about:blank", "title": http.StatusText(status),
			"status": status, "detail": detail}) // strings and an int: cannot fail
		text = append(text, '\n')
		h.Set("Content-Type", "application/problem+json")
	}
	h.Set("Content-Length", strconv.Itoa(len(text)))
	w.WriteHeader(status)
	_, _ = w.Write(text) // a failed write means the client left; nothing to tell it
}
