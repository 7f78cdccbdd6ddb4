// Package metrics is the plugin's side of the Prometheus metrics: counters of the
// core's events, authentication failures, gauges of pending invites, keys and the
// webhook outbox counted from the store, and store and webhook latencies, in a
// registry of their own (never the client library's default one). The plugin serves
// them at plugin.PathMetrics in the Prometheus protobuf format, for the host to merge
// into its own /metrics (package host); nobody outside reaches that path.
//
// Every name starts with invites_; label values come from closed sets (hosts served,
// reasons of package core's Reason, purposes, endpoint names, store operations), so
// that no request can grow the number of series.
package metrics
