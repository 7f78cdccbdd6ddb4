package service

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/xmpp-invites/invites/internal/audit"
	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/metrics"
	"github.com/xmpp-invites/invites/internal/outbox"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/plugin"
)

// This file is the plugin's operations (issue 16): the metrics the host merges into
// its /metrics, the audit log, and the delivery worker over the store's outbox
// (delivery.go).

// outboxRetention is how long outbox events and delivery log entries are kept: a
// delivery ends within outbox.DefaultMaxAge, the log is kept for the operator a week.
const outboxRetention = 7 * 24 * time.Hour

// outboxPurgeInterval is how often old outbox rows are purged.
const outboxPurgeInterval = time.Hour

// ops is what Configure builds for operations, once the store is open.
type ops struct {
	log     *slog.Logger
	metrics *metrics.Plugin
	audit   *audit.Log
	outbox  outbox.Store   // the store's outbox
	worker  *outbox.Worker // the delivery worker
	core    *coreRef       // the core, for the sinks; set by Configure
}

// newOps builds the metrics, the audit log and the delivery worker over st.
func newOps(c config.Config, hc plugin.Config, api plugin.HostAPI, hosts []core.HostConfig, st store.Store, log *slog.Logger) (*ops, error) {
	o := &ops{log: log, audit: audit.New(log.With("component", "audit")), outbox: st, core: &coreRef{}}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Domain
	}
	mopts := metrics.Options{Hosts: names, Logger: log.With("component", "metrics"), Counter: st}
	if delivers(c, hc, api) {
		mopts.Backlog = st
	}
	o.metrics = metrics.New(mopts)
	w, err := newWorker(c, hc, api, st, o.metrics, o.core, log)
	if err != nil {
		return nil, err
	}
	o.worker = w
	return o, nil
}

// Observe implements core.Observer: the audit log and the metrics see every event,
// and the delivery worker is woken for those the outbox holds (the types some sink
// wants): waking it for every invite made would cost a claim per group commit.
func (o *ops) Observe(ctx context.Context, e core.Event) {
	o.audit.Observe(ctx, e)
	o.metrics.Observe(ctx, e)
	if o.worker.Wants(e.Type) {
		o.worker.Notify()
	}
}

// run delivers events and purges old outbox rows until ctx ends.
func (o *ops) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { o.worker.Run(ctx) })
	wg.Go(func() { o.purge(ctx) })
	wg.Wait()
}

// purge deletes outbox events and delivery log entries older than outboxRetention,
// now and every outboxPurgeInterval.
func (o *ops) purge(ctx context.Context) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := o.outbox.PurgeOutbox(ctx, time.Now().Add(-outboxRetention))
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			o.log.Warn("cannot purge the webhook outbox", "err", err)
		case n > 0:
			o.log.Info("purged old webhook outbox events", "events", n)
		}
		t.Reset(outboxPurgeInterval)
	}
}

// countAuth returns the core for the HTTP API, counting the keys it refuses.
func (o *ops) countAuth(svc *core.Service) authCounting { return authCounting{svc, o.metrics} }

// metricsHandler serves the plugin's metrics at plugin.PathMetrics, for the host.
func (o *ops) metricsHandler() http.Handler { return o.metrics.Handler() }

// authCounting wraps the core so that the HTTP API's refused keys are counted.
// Embedding keeps every other method of the core, whatever the API uses of it.
type authCounting struct {
	*core.Service
	m *metrics.Plugin
}

// Authenticate counts a refused key by reason, and passes everything through.
func (a authCounting) Authenticate(ctx context.Context, credential string) (core.Key, error) {
	k, err := a.Service.Authenticate(ctx, credential)
	switch {
	case err == nil:
	case errors.Is(err, core.ErrInvalid):
		a.m.AuthFailed("malformed")
	case errors.Is(err, core.ErrExpired):
		a.m.AuthFailed("expired")
	case errors.Is(err, core.ErrForbidden), errors.Is(err, core.ErrNotFound):
		a.m.AuthFailed("invalid")
	}
	return k, err
}

// describeStore names the store an address opens, for the start-up log, without any
// password or parameter: "sqlite:/path/invites.db" or "postgres://user@host:5432/db".
func describeStore(addr string) string {
	kind, target, err := store.Parse(addr)
	switch {
	case err != nil:
		return "unknown"
	case kind == store.KindSQLite:
		return "sqlite:" + target
	}
	// pgx reads URLs and keyword/value strings alike, quoting included.
	pc, err := pgconn.ParseConfig(target)
	if err != nil {
		return "postgres (unreadable address)"
	}
	user := ""
	if pc.User != "" {
		user = pc.User + "@"
	}
	return "postgres://" + user + net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))) + "/" + pc.Database
}
