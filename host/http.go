package host

import (
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/plugin"
)

// downRetryAfter is the Retry-After of a plugin that is not coming back by itself.
const downRetryAfter = 60 * time.Second

// Handler returns the invite API (/invites_api) as served by the plugin; mount it on
// the host's HTTP server.
// While the plugin is down it answers 503 Service Unavailable with Retry-After;
// a request body over Config.MaxBodyBytes gets 413, one that cannot be read 400, and a
// failure of the plugin's side 502.
func (p *Plugin) Handler() http.Handler { return http.HandlerFunc(p.serveHTTP) }

func (p *Plugin) serveHTTP(w http.ResponseWriter, r *http.Request) {
	inst, release := p.acquire()
	if inst == nil {
		p.writeError(w, r, http.StatusServiceUnavailable, "the invites service is unavailable; try again later")
		return
	}
	defer release()
	tw := &trackingWriter{ResponseWriter: w}
	err := inst.invites.ServeHTTP(r.Context(), tw, r)
	if err == nil {
		return
	}
	if tw.wrote {
		// The status is out: cut the response so the client cannot take it as whole.
		p.log.Warn("invites plugin HTTP response cut short", "err", err)
		panic(http.ErrAbortHandler)
	}
	var maxBytes *http.MaxBytesError
	switch {
	case errors.Is(err, plugin.ErrBodyTooLarge), errors.As(err, &maxBytes):
		p.writeError(w, r, http.StatusRequestEntityTooLarge, "request body too large")
	case r.Context().Err() != nil:
		// The client went away; nobody reads an answer.
	case errors.Is(err, plugin.ErrUnavailable):
		p.unavailable()
		p.writeError(w, r, http.StatusServiceUnavailable, "the invites service is unavailable; try again later")
	case errors.Is(err, plugin.ErrRequestBody):
		p.writeError(w, r, http.StatusBadRequest, "cannot read the request body")
	default:
		p.log.Error("invites plugin HTTP exchange failed", "err", err)
		p.writeError(w, r, http.StatusBadGateway, "the invites service failed")
	}
}

// retryAfter is how many seconds a client should wait while the plugin is down.
func (p *Plugin) retryAfter() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	d := time.Second
	switch {
	case p.gaveUp || p.ctx.Err() != nil:
		d = downRetryAfter
	case !p.retryAt.IsZero():
		d = max(d, time.Until(p.retryAt)+time.Second)
	}
	return int(math.Ceil(d.Seconds()))
}

// writeError answers like the invite API does: problem details (RFC 9457) for clients
// that accept JSON, short text otherwise; CORS-readable and never cached.
func (p *Plugin) writeError(w http.ResponseWriter, r *http.Request, status int, detail string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		h.Set("Retry-After", strconv.Itoa(p.retryAfter()))
	}
	if acceptsJSON(r) {
		h.Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"type":"about:blank","title":%q,"status":%d,"detail":%q}`+"\n",
			http.StatusText(status), status, detail)
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, detail)
}

// acceptsJSON reports whether Accept names application/json or
// application/problem+json with a non-zero quality.
func acceptsJSON(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || (mt != "application/json" && mt != "application/problem+json") {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			return true
		}
	}
	return false
}

// trackingWriter notes whether the response has begun.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

// WriteHeader implements http.ResponseWriter, noting that the response has begun.
func (w *trackingWriter) WriteHeader(code int) {
	if code >= 200 {
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter, noting that the response has begun.
func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer (to flush).
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
