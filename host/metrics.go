package host

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/xmpp-invites/invites/plugin"
)

// PathMetrics, PathHealthz and PathReadyz are where MountOperations routes the
// operations endpoints on the host's HTTP server.
const (
	PathMetrics = "/metrics"
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
)

// DefaultMetricsAllow are the client networks /metrics answers unless
// Config.MetricsAllow says otherwise: the loopback addresses.
func DefaultMetricsAllow() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// metricsTimeout bounds fetching the plugin's metrics for one scrape.
const metricsTimeout = 5 * time.Second

// hostMetrics are the host's own metrics, in a registry of their own.
type hostMetrics struct {
	reg       *prometheus.Registry
	gatherer  prometheus.Gatherer // the host application's, or the Go runtime's
	up        prometheus.Gauge
	restarts  prometheus.Counter
	exchange  *prometheus.HistogramVec
	calls     *prometheus.HistogramVec
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	limited   *prometheus.CounterVec
	refusals  *prometheus.CounterVec
	scrapeErr prometheus.Counter

	eventsQueued    prometheus.Gauge
	eventsDelivered prometheus.Counter
	eventsDropped   *prometheus.CounterVec
}

func newHostMetrics(own prometheus.Gatherer) *hostMetrics {
	m := &hostMetrics{reg: prometheus.NewRegistry(), gatherer: own}
	if own == nil {
		runtime := prometheus.NewRegistry()
		runtime.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		m.gatherer = runtime
	}
	m.up = prometheus.NewGauge(prometheus.GaugeOpts{Name: "invites_plugin_up",
		Help: "1 while the invites plugin runs and answers, 0 while it is down or restarting."})
	m.restarts = prometheus.NewCounter(prometheus.CounterOpts{Name: "invites_plugin_restarts_total",
		Help: "Plugin processes started after the first (crashes, hangs, failed health checks)."})
	m.exchange = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "invites_plugin_exchange_duration_seconds",
		Help:    "Latency of HTTP exchanges with the plugin over the data path, by result (ok, error).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"result"})
	m.calls = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "invites_plugin_call_duration_seconds",
		Help:    "Latency of calls to the plugin (commands, invite checks and redemptions, health), by method.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"method"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "invites_http_requests_total",
		Help: "HTTP requests to the plugin's routes, by route and status code (503 while the plugin is down included)."},
		[]string{"route", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "invites_http_request_duration_seconds",
		Help:    "Latency of HTTP requests to the plugin's routes, as the host answers them, by route.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route"})
	m.limited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "invites_http_rate_limited_total",
		Help: "HTTP requests answered 429 (a key's rate, or too many failed authentications from an address), by route."},
		[]string{"route"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "invites_registrations_refused_total",
		Help: "Registrations with an invite the host refused, by reason (account-exists, invalid-password, invalid-username, not-found, expired, forbidden, unavailable, error)."},
		[]string{"reason"})
	m.scrapeErr = prometheus.NewCounter(prometheus.CounterOpts{Name: "invites_plugin_metrics_errors_total",
		Help: "Scrapes that could not include the plugin's metrics (the plugin down or too slow)."})
	m.eventsQueued = prometheus.NewGauge(prometheus.GaugeOpts{Name: "invites_plugin_events_queued",
		Help: "Host events (logins, ends of streams, account changes) waiting for the plugin."})
	m.eventsDelivered = prometheus.NewCounter(prometheus.CounterOpts{Name: "invites_plugin_events_delivered_total",
		Help: "Host events the plugin took."})
	m.eventsDropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "invites_plugin_events_dropped_total",
		Help: "Host events never delivered, by reason (queue-full: the plugin was down too long; refused: the plugin did not take them; shutdown)."},
		[]string{"reason"})
	for _, r := range []string{"queue-full", "refused", "shutdown"} {
		m.eventsDropped.WithLabelValues(r)
	}
	m.reg.MustRegister(m.up, m.restarts, m.exchange, m.calls, m.requests, m.latency, m.limited, m.refusals, m.scrapeErr,
		m.eventsQueued, m.eventsDelivered, m.eventsDropped)
	return m
}

// observeCall records the latency of one call to the plugin.
func (m *hostMetrics) observeCall(method string, start time.Time) {
	m.calls.WithLabelValues(method).Observe(time.Since(start).Seconds())
}

// refusal names a registration failure for invites_registrations_refused_total.
func refusal(err error) string {
	switch {
	case errors.Is(err, plugin.ErrAccountExists):
		return "account-exists"
	case errors.Is(err, plugin.ErrInvalidPassword):
		return "invalid-password"
	case errors.Is(err, plugin.ErrInvalidUsername):
		return "invalid-username"
	case errors.Is(err, plugin.ErrInviteNotFound):
		return "not-found"
	case errors.Is(err, plugin.ErrInviteExpired):
		return "expired"
	case errors.Is(err, plugin.ErrUsernameNotAllowed):
		return "forbidden"
	case errors.Is(err, plugin.ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// countedRegistration marks a context in which a registration's refusal is counted
// already (by the HostAPI wrapper), so that the redemption it makes is not counted again.
type countedRegistration struct{}

// registrationCounted reports whether ctx is inside a counted registration.
func registrationCounted(ctx context.Context) bool {
	v, _ := ctx.Value(countedRegistration{}).(bool)
	return v
}

// countingAPI is the host's HostAPI as the plugin calls it, counting the
// registrations (web registration) it refuses.
type countingAPI struct {
	api plugin.HostAPI
	m   *hostMetrics
}

// AccountExists implements plugin.HostAPI.
func (c countingAPI) AccountExists(ctx context.Context, jid string) (bool, error) {
	return c.api.AccountExists(ctx, jid)
}

// Register implements plugin.HostAPI, counting a refusal by reason.
func (c countingAPI) Register(ctx context.Context, r plugin.Registration) (string, error) {
	jid, err := c.api.Register(context.WithValue(ctx, countedRegistration{}, true), r)
	if err != nil && !errors.Is(err, errors.ErrUnsupported) {
		c.m.refusals.WithLabelValues(refusal(err)).Inc()
	}
	return jid, err
}

var _ plugin.HostAPI = countingAPI{}

// newCountingAPI wraps api in a countingAPI that is also the plugin.AccountAdmin and
// the plugin.Messenger api is, so that the plugin's glue finds them.
func newCountingAPI(api plugin.HostAPI, m *hostMetrics) plugin.HostAPI {
	c := countingAPI{api: api, m: m}
	admin, isAdmin := api.(plugin.AccountAdmin)
	msgr, isMessenger := api.(plugin.Messenger)
	switch {
	case isAdmin && isMessenger:
		return struct {
			countingAPI
			plugin.AccountAdmin
			plugin.Messenger
		}{c, admin, msgr}
	case isAdmin:
		return struct {
			countingAPI
			plugin.AccountAdmin
		}{c, admin}
	case isMessenger:
		return struct {
			countingAPI
			plugin.Messenger
		}{c, msgr}
	}
	return c
}

// route is the label of a request: the Manifest's route that serves it, else "other".
func (p *Plugin) route(r *http.Request) string {
	if rt, ok, _ := p.routeOf(r); ok {
		return rt.Path
	}
	return "other"
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	code int
}

// WriteHeader implements http.ResponseWriter. (Handler's answers all call it.)
func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// instrument counts and times the requests h answers.
func (p *Plugin) instrument(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		route := p.route(r)
		defer func() {
			code := cmp.Or(sw.code, http.StatusOK)
			if v := recover(); v != nil {
				code = 499 // the client went away: the connection is closed, no status
				defer panic(v)
			}
			p.metrics.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
			p.metrics.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
			if code == http.StatusTooManyRequests {
				p.metrics.limited.WithLabelValues(route).Inc()
			}
		}()
		h.ServeHTTP(sw, r)
	})
}

// MountOperations routes the operations endpoints on mux, beside the host's own routes:
//
//	/metrics   Prometheus metrics of the host and the plugin in one scrape
//	           (MetricsHandler), to Config.MetricsAllow only (default loopback), 403 else
//	/healthz   200 while the host serves HTTP (HealthzHandler)
//	/readyz    200 while the plugin runs and its store answers, else 503 (ReadyzHandler)
//
// A host that serves its own /metrics or health checks uses the handlers instead.
func (p *Plugin) MountOperations(mux *http.ServeMux) {
	mux.Handle(PathMetrics, p.MetricsHandler())
	mux.Handle(PathHealthz, p.HealthzHandler())
	mux.Handle(PathReadyz, p.ReadyzHandler())
}

// allowed reports whether the client of r may read the metrics (Config.MetricsAllow).
// Only the connection's address counts: a forwarded-for header could be forged.
func (p *Plugin) allowed(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, n := range p.cfg.MetricsAllow {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// MetricsHandler serves the Prometheus metrics of the host and of the plugin in one
// scrape, in the format the scraper asks for (the text format by default): the host's
// own, in a registry of its own (plugin up, restarts, data path and call latency,
// HTTP requests by route and status, rate-limited requests, registrations refused;
// Config.MetricsGatherer's or the Go runtime's), and the plugin's, fetched over the
// data path at plugin.PathMetrics, a path the host never routes from outside (events,
// refusals by reason, authentication failures, pending invites, keys, store latency,
// webhooks).
// While the plugin is down its metrics are left out and invites_plugin_up is 0.
// Clients outside Config.MetricsAllow get 403.
func (p *Plugin) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.allowed(r) {
			http.Error(w, "metrics are not served to this address (see metrics_allow)", http.StatusForbidden)
			return
		}
		families := p.pluginMetrics(r.Context())
		g := prometheus.Gatherers{p.metrics.reg, p.metrics.gatherer,
			prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return families, nil })}
		promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	})
}

// pluginMetrics fetches the plugin's metric families over the data path; none while it
// is down or when it fails.
func (p *Plugin) pluginMetrics(ctx context.Context) []*dto.MetricFamily {
	inst, release := p.acquire()
	if inst == nil {
		p.metrics.up.Set(0)
		return nil
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, metricsTimeout)
	defer cancel()
	families, err := fetchMetrics(ctx, inst)
	if err != nil {
		p.metrics.scrapeErr.Inc()
		p.log.Warn("cannot read the invites plugin's metrics", "err", err)
		return nil
	}
	return families
}

// fetchMetrics asks the plugin for its metrics over the data path and decodes them.
func fetchMetrics(ctx context.Context, inst *instance) ([]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, plugin.PathMetrics, nil)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("Accept", string(expfmt.FmtProtoDelim))
	rec := &recorder{header: http.Header{}}
	if err := inst.ServeHTTP(ctx, rec, req); err != nil {
		return nil, err
	}
	if rec.status != http.StatusOK {
		return nil, fmt.Errorf("the plugin answered %d to its metrics path", rec.status)
	}
	dec := expfmt.NewDecoder(&rec.body, expfmt.Format(rec.header.Get("Content-Type")))
	var out []*dto.MetricFamily
	for {
		f := &dto.MetricFamily{}
		err := dec.Decode(f)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decoding the plugin's metrics: %w", err)
		}
		out = append(out, f)
	}
}

// recorder is the http.ResponseWriter of a request the host makes itself.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

// Header implements http.ResponseWriter.
func (r *recorder) Header() http.Header { return r.header }

// WriteHeader implements http.ResponseWriter.
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

// Write implements http.ResponseWriter.
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
