package host

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// readyTimeout bounds the health check of one /readyz request.
const readyTimeout = 2 * time.Second

// readyCacheTTL is how long a /readyz answer is reused: load balancers probing often
// cost the store one lookup a second at most.
const readyCacheTTL = time.Second

// readiness caches the last /readyz answer.
type readiness struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// HealthzHandler answers 200 while the host process serves HTTP: a liveness probe.
// It says nothing of the plugin (see ReadyzHandler).
func (p *Plugin) HealthzHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
}

// ReadyzHandler answers 200 when the plugin runs and its store answers (Health), else
// 503: a readiness probe. Clients in Config.MetricsAllow are told why it is not
// ready; others only that it is not. An answer is reused for a second.
func (p *Plugin) ReadyzHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := p.ready(r.Context())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err == nil {
			_, _ = w.Write([]byte("ready\n"))
			return
		}
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		msg := "not ready\n"
		if p.allowed(r) {
			msg = "not ready: " + err.Error() + "\n"
		}
		_, _ = w.Write([]byte(msg))
	})
}

// ready checks the plugin's health, or reuses an answer younger than readyCacheTTL.
func (p *Plugin) ready(ctx context.Context) error {
	p.readiness.mu.Lock()
	defer p.readiness.mu.Unlock()
	if !p.readiness.at.IsZero() && time.Since(p.readiness.at) < readyCacheTTL {
		return p.readiness.err
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	err := p.Health(ctx)
	p.readiness.at, p.readiness.err = time.Now(), err
	return err
}
