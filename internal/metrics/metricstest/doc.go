// Package metricstest reads Prometheus metric families in tests: the host's scrape and
// the plugin's own handler are checked the same way.
package metricstest
