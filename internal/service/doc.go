// Package service is the plugin's serving side: the implementation of plugin.Invites
// that runs in the invites-plugin process.
//
// Configure, once per process, reads the plugin's config (internal/config), opens the
// store (internal/store: SQLite by default, PostgreSQL for several nodes), and builds
// the core (internal/core), the HTTP handlers (httpapi, mounted with the
// plugin's other paths on one mux) and the ad-hoc commands (internal/commands) over
// it. Its Manifest tells the host which paths to route to it.
// The core's errors become the contract's (plugin.Err*) in one function,
// contractError.
// The invite page and web registration (internal/page) are mounted too when a host's
// landing_page is "builtin" (page.go): the page reads invites from the core and
// registers accounts through plugin.HostAPI.Register.
// Operations live in ops.go: the metrics (internal/metrics) served to the host at
// plugin.PathMetrics, the audit log (internal/audit), both observers of the core's
// events, and for a config with [[webhook]] entries the outbox and its delivery worker
// (internal/webhook); the start-up log names the store without its password.
// It lives apart from package plugin so that an XMPP server importing plugin and host
// does not link the store and its drivers.
package service
