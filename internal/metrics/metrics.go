package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
)

// Counter is what the metrics count in the store at each scrape; the SQLite and
// PostgreSQL stores implement it.
type Counter interface {
	// CountPending returns how many invites are pending at now, per host.
	CountPending(ctx context.Context, now time.Time) (map[string]int, error)
	// CountKeys returns how many API keys each host has.
	CountKeys(ctx context.Context) (map[string]int, error)
}

// Backlogger reports the webhook outbox's backlog; outbox.Store implements it.
type Backlogger interface {
	// OutboxBacklog counts what is waiting in the outbox.
	OutboxBacklog(ctx context.Context) (outbox.Backlog, error)
}

// Options configure Plugin.
type Options struct {
	// Hosts are the domains served: the only values of the host label. Others count
	// as "other".
	Hosts []string
	// Counter counts pending invites and keys at scrape time; nil leaves those
	// gauges out.
	Counter Counter
	// Backlog reports the webhook outbox at scrape time; nil leaves those gauges out.
	Backlog Backlogger
	// MinCountInterval is the least time between two counts in the store; scrapes
	// within it see the last count. Zero means one second.
	MinCountInterval time.Duration
	// CountTimeout bounds the counts of one scrape. Zero means two seconds.
	CountTimeout time.Duration
	// Logger receives count failures; nil discards.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Plugin holds the plugin's metrics. It is a core.Observer. Safe for concurrent use.
type Plugin struct {
	opts  Options
	log   *slog.Logger
	now   func() time.Time
	reg   *prometheus.Registry
	hosts map[string]bool

	created, redeemed, revoked, expired, updated *prometheus.CounterVec
	refused, keyChanges, authFailures            *prometheus.CounterVec
	pending, keys                                *prometheus.GaugeVec
	storeDuration                                *prometheus.HistogramVec
	deliveries, sinkDeliveries, funnel           *prometheus.CounterVec
	deliveryDuration                             *prometheus.HistogramVec
	outboxPending, outboxGivenUp, outboxAge      prometheus.Gauge

	mu        sync.Mutex
	countedAt time.Time
}

// storeBuckets returns the latency buckets of store calls, in seconds: from 100 µs (a
// cached SQLite read) to 5 s (a PostgreSQL failover).
func storeBuckets() []float64 {
	return []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}
}

// New returns the plugin's metrics in a registry of their own.
func New(opts Options) *Plugin {
	p := &Plugin{opts: opts, log: opts.Logger, now: opts.Now, reg: prometheus.NewRegistry(), hosts: map[string]bool{}}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.opts.MinCountInterval <= 0 {
		p.opts.MinCountInterval = time.Second
	}
	if p.opts.CountTimeout <= 0 {
		p.opts.CountTimeout = 2 * time.Second
	}
	for _, h := range opts.Hosts {
		p.hosts[h] = true
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		p.reg.MustRegister(c)
		return c
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		p.reg.MustRegister(g)
		return g
	}
	p.created = counter("invites_created_total", "Invites created, by host and kind.", "host", "kind")
	p.redeemed = counter("invites_redeemed_total", "Invites redeemed, by host and purpose (register, subscribe, reset).", "host", "purpose")
	p.revoked = counter("invites_revoked_total", "Invites revoked, by host.", "host")
	p.expired = counter("invites_expired_total", "Invites that expired unused, as the sweep notes them, by host.", "host")
	p.updated = counter("invites_updated_total", "Invites changed (expiry, uses, note), by host.", "host")
	p.refused = counter("invites_redemptions_refused_total", "Redemptions refused, by purpose and reason (not-found, expired, revoked, used-up, forbidden, invalid, …).", "purpose", "reason")
	p.keyChanges = counter("invites_key_changes_total", "API keys created or deleted, by host and change.", "host", "change")
	p.authFailures = counter("invites_auth_failures_total", "API requests whose key was refused, by reason (malformed, invalid, expired).", "reason")
	p.pending = gauge("invites_pending", "Invites pending (usable) now, by host; counted in the store at scrape time.", "host")
	p.keys = gauge("invites_keys", "API keys, by host; counted in the store at scrape time.", "host")
	p.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "invites_store_duration_seconds", Help: "Latency of store calls, by operation.", Buckets: storeBuckets(),
	}, []string{"op"})
	p.reg.MustRegister(p.storeDuration)
	p.deliveries = counter("invites_webhook_deliveries_total", "Webhook delivery attempts, by endpoint and result (ok, failed).", "endpoint", "result")
	p.deliveryDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "invites_webhook_delivery_duration_seconds", Help: "Latency of webhook delivery attempts, by endpoint.",
		Buckets: prometheus.DefBuckets,
	}, []string{"endpoint"})
	p.reg.MustRegister(p.deliveryDuration)
	p.sinkDeliveries = counter("invites_deliveries_total", "Delivery attempts of outbox events, by sink (webhook, host, email, funnel) and result (ok, failed).", "sink", "result")
	p.funnel = counter("invites_funnel_total", "What became of invites, by funnel stage (created, page_opened, registration_started, account_created, first_login, still_active) and invite kind.", "stage", "kind")
	if opts.Backlog != nil {
		p.outboxPending = prometheus.NewGauge(prometheus.GaugeOpts{Name: "invites_webhook_outbox_pending", Help: "Events waiting in the outbox for delivery."})
		p.outboxGivenUp = prometheus.NewGauge(prometheus.GaugeOpts{Name: "invites_webhook_outbox_given_up", Help: "Events whose delivery was given up, still kept."})
		p.outboxAge = prometheus.NewGauge(prometheus.GaugeOpts{Name: "invites_webhook_outbox_oldest_seconds", Help: "Age of the oldest event waiting for delivery; 0 when none waits."})
		p.reg.MustRegister(p.outboxPending, p.outboxGivenUp, p.outboxAge)
	}
	return p
}

// Registry returns the registry of the plugin's metrics.
func (p *Plugin) Registry() *prometheus.Registry { return p.reg }

// host maps a domain to its label value.
func (p *Plugin) host(h string) string {
	if p.hosts[h] {
		return h
	}
	return "other"
}

// purpose maps a purpose to its label value.
func purpose(pu core.Purpose) string {
	switch pu {
	case "", core.PurposeRegister:
		return string(core.PurposeRegister)
	case core.PurposeSubscribe, core.PurposeReset:
		return string(pu)
	}
	return "other"
}

// knownReason reports whether r is a value core.Reason gives.
func knownReason(r string) bool {
	switch r {
	case "not-found", "expired", "revoked", "used-up", "forbidden", "invalid", "unknown-host",
		"rate-limited", "quota", "conflict", "error":
		return true
	}
	return false
}

// Observe implements core.Observer: it counts the event.
func (p *Plugin) Observe(_ context.Context, e core.Event) {
	h := p.host(e.Host)
	switch e.Type {
	case core.EventInviteCreated:
		kind := "account"
		if e.Invite != nil {
			kind = string(e.Invite.Kind)
		}
		p.created.WithLabelValues(h, kind).Inc()
		p.Funnel(core.StageCreated, core.Kind(kind))
	case core.EventInviteRedeemed:
		p.redeemed.WithLabelValues(h, purpose(e.Purpose)).Inc()
	case core.EventInviteRevoked:
		p.revoked.WithLabelValues(h).Inc()
	case core.EventInviteExpired:
		p.expired.WithLabelValues(h).Inc()
	case core.EventInviteUpdated:
		p.updated.WithLabelValues(h).Inc()
	case core.EventInviteRefused:
		reason := e.Reason
		if !knownReason(reason) {
			reason = "error"
		}
		p.refused.WithLabelValues(purpose(e.Purpose), reason).Inc()
	case core.EventKeyCreated:
		p.keyChanges.WithLabelValues(h, "created").Inc()
	case core.EventKeyDeleted:
		p.keyChanges.WithLabelValues(h, "deleted").Inc()
	}
}

// AuthFailed counts an API request whose key was refused: reason is "malformed",
// "invalid" or "expired".
func (p *Plugin) AuthFailed(reason string) {
	switch reason {
	case "malformed", "invalid", "expired":
	default:
		reason = "invalid"
	}
	p.authFailures.WithLabelValues(reason).Inc()
}

// StoreCall records the latency of one store call.
func (p *Plugin) StoreCall(op string, d time.Duration) {
	p.storeDuration.WithLabelValues(op).Observe(d.Seconds())
}

// Delivery records one delivery attempt of the outbox worker: by sink, and by
// endpoint for webhooks.
func (p *Plugin) Delivery(a outbox.Attempt) {
	result := "ok"
	if !a.OK() {
		result = "failed"
	}
	sink := a.Sink
	switch sink {
	case "", "webhook":
		sink = "webhook"
		p.deliveries.WithLabelValues(a.Endpoint, result).Inc()
		p.deliveryDuration.WithLabelValues(a.Endpoint).Observe(a.Duration.Seconds())
	case "host", "email", "funnel":
	default:
		sink = "other"
	}
	p.sinkDeliveries.WithLabelValues(sink, result).Inc()
}

// Funnel counts an invite reaching a stage of its funnel; kind is the invite's
// ("unknown" when not known).
func (p *Plugin) Funnel(st core.Stage, kind core.Kind) {
	switch kind {
	case core.KindAccount, core.KindContact, core.KindReset:
	default:
		kind = "unknown"
	}
	switch st {
	case core.StageCreated, core.StagePageOpened, core.StageRegistrationStarted, core.StageAccountCreated,
		core.StageFirstLogin, core.StageStillActive:
		p.funnel.WithLabelValues(string(st), string(kind)).Inc()
	}
}

// refresh recounts the gauges in the store, at most once per MinCountInterval.
func (p *Plugin) refresh(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if now.Sub(p.countedAt) < p.opts.MinCountInterval {
		return
	}
	p.countedAt = now
	ctx, cancel := context.WithTimeout(ctx, p.opts.CountTimeout)
	defer cancel()
	if c := p.opts.Counter; c != nil {
		if m, err := c.CountPending(ctx, now); err != nil {
			p.log.Warn("metrics: cannot count pending invites", "err", err)
		} else {
			p.setByHost(p.pending, m)
		}
		if m, err := c.CountKeys(ctx); err != nil {
			p.log.Warn("metrics: cannot count keys", "err", err)
		} else {
			p.setByHost(p.keys, m)
		}
	}
	if b := p.opts.Backlog; b != nil {
		if bl, err := b.OutboxBacklog(ctx); err != nil {
			p.log.Warn("metrics: cannot count the webhook outbox", "err", err)
		} else {
			p.outboxPending.Set(float64(bl.Pending))
			p.outboxGivenUp.Set(float64(bl.GivenUp))
			age := 0.0
			if !bl.Oldest.IsZero() {
				age = max(now.Sub(bl.Oldest).Seconds(), 0)
			}
			p.outboxAge.Set(age)
		}
	}
}

// setByHost sets a gauge per served host (0 for those without any), and sums the rest
// as "other".
func (p *Plugin) setByHost(g *prometheus.GaugeVec, m map[string]int) {
	other := 0
	for h, n := range m {
		if p.hosts[h] {
			continue
		}
		other += n
	}
	for h := range p.hosts {
		g.WithLabelValues(h).Set(float64(m[h]))
	}
	if other > 0 {
		g.WithLabelValues("other").Set(float64(other))
	} else {
		g.DeleteLabelValues("other")
	}
}

// ContentType is the media type the Handler answers: Prometheus's delimited protobuf,
// which the host decodes without loss.
const ContentType = string(expfmt.FmtProtoDelim)

// Handler serves the metrics for the host (at plugin.PathMetrics): the gauges are
// counted first, within the request's context.
func (p *Plugin) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.refresh(r.Context())
		families, err := p.reg.Gather()
		if err != nil {
			p.log.Warn("metrics: gathering", "err", err)
		}
		format := expfmt.Format(ContentType)
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Cache-Control", "no-store")
		enc := expfmt.NewEncoder(w, format)
		for _, f := range families {
			if err := enc.Encode(f); err != nil {
				return // the host went away
			}
		}
	})
}

var _ core.Observer = (*Plugin)(nil)
