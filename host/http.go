package host

import (
	"errors"
	"net/http"
	"time"

	"github.com/xmpp-invites/invites/httpapi"
	"github.com/xmpp-invites/invites/internal/transport"
	"github.com/xmpp-invites/invites/plugin"
)

// Handler returns the plugin's HTTP side; route the paths of the Manifest to it (Mount
// does). The host stays in front: its server's timeouts and client address apply, and
// Handler answers itself, as problem details (RFC 9457) or text:
//
//	503 + Retry-After   the plugin is down (until the next start is tried), or did not
//	                    answer in time
//	413                 a body over Config.MaxBodyBytes, before the plugin sees it
//	400                 a body that could not be read; a client that went away gets
//	                    its connection closed, never a response that looks whole
//	502                 the plugin's answer was malformed
//
// Each request is counted in the host's metrics (see MetricsHandler) by route and
// status.
func (p *Plugin) Handler() http.Handler { return p.instrument(http.HandlerFunc(p.serveHTTP)) }

// Mount routes each path of the plugin's Manifest (the invite API, and the pages when
// the plugin serves them) to Handler on mux, beside the host's own routes.
func (p *Plugin) Mount(mux *http.ServeMux) {
	h := p.Handler()
	for _, route := range p.manifest.Routes {
		if route == plugin.PathMetrics {
			continue // the host fetches it; nobody outside
		}
		mux.Handle(route, h)
	}
}

func (p *Plugin) serveHTTP(w http.ResponseWriter, r *http.Request) {
	inst, release := p.acquire()
	if inst == nil {
		p.writeError(w, r, http.StatusServiceUnavailable, "the invites service is unavailable; try again later")
		return
	}
	defer release()
	start := time.Now()
	err := inst.invites.ServeHTTP(r.Context(), w, r)
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
	case errors.Is(err, transport.ErrBodyTooLarge):
		p.writeError(w, r, http.StatusRequestEntityTooLarge, "request body too large")
	case r.Context().Err() != nil:
		// The client went away, or stopped sending its body: close the connection
		// rather than answer what it could take for a whole response.
		panic(http.ErrAbortHandler)
	case errors.Is(err, transport.ErrRequestBody):
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

// writeError answers like the plugin does, CORS-readable.
func (p *Plugin) writeError(w http.ResponseWriter, r *http.Request, status int, detail string) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	e := &httpapi.Error{Status: status, Detail: detail}
	if status == http.StatusServiceUnavailable {
		e.RetryAfter = p.retryIn()
	}
	httpapi.WriteError(w, r, e)
}
