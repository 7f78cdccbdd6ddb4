// Package host is what a Go XMPP server imports to run the invites plugin: Load starts
// the invites-plugin binary with hashicorp/go-plugin, configures it, and returns a
// Plugin to wire into the server (see Example):
//
//   - HTTP: Mount (or Handler) routes the plugin's paths (the invite API at
//     /invites_api) on the server's own http.ServeMux, beside its other routes.
//   - XMPP: the Plugin is an adhoc.Executor for the ad-hoc commands (XEP-0050) of
//     adhoc.Handler, which tells it each requester's role; CheckInvite and
//     RedeemInvite serve pre-authenticated registration (XEP-0445, XEP-0401).
//   - Config.API is the server as the plugin sees it (plugin.HostAPI).
//
// # The boundary
//
// Calls travel on go-plugin's gRPC with automatic mutual TLS. HTTP exchanges travel
// as frames on unix stream sockets the host makes and hands to the plugin, one
// exchange at a time each: the host reads the request body (bounded, 413 beyond),
// and writes a response only once the whole of it has arrived.
// The host stays in front: its server's port, timeouts and client address apply.
//
// # Supervision
//
// The process's exit is watched continuously and its health checked every
// Config.HealthInterval, at once when a call finds it unreachable. A plugin that
// crashes, or fails or times out Config.HealthFailures health checks in a row (a hung
// one: SIGSTOP, a deadlock), is killed and a new one started: at once, then after a
// backoff from Config.MinBackoff doubling to Config.MaxBackoff, for as long as it
// takes, a failed Configure (a database that is down) included; each failure is
// logged once, at error level. While it is down, HTTP answers 503 at once with a
// Retry-After saying when the next start is tried, commands fail with
// service-unavailable and the other calls with plugin.ErrUnavailable. Close lets calls
// in flight finish (up to Config.ShutdownTimeout) and shuts the plugin down cleanly.
// go-plugin's unix sockets live in a directory of each Load's own inside
// Config.SocketDir: what killed plugins leave there is removed at the next start, what
// hosts that are gone left at the next Load, and Close removes the directory.
//
// # Logging
//
// Each JSON line the plugin writes to its stderr reaches Config.Logger at its level and
// time, with its attributes in the order the plugin wrote them and logger=invites-plugin;
// a line that is not JSON arrives at the level its "[WARN]"-style prefix names, else
// debug, and a panic's trace at error. go-plugin's own lines come through an
// hclog-to-slog adapter, its errors as warnings (supervision logs the error).
// The plugin is told the least level Config.Logger keeps, so it does not write lines
// that would be dropped; INVITES_PLUGIN_LOG_LEVEL in the host's environment overrides
// it. The plugin's audit records (message "audit", attribute audit=true) arrive the
// same way.
//
// # Operations
//
// MountOperations routes three more paths on the host's HTTP server:
//
//	/metrics   Prometheus metrics of the host and the plugin in one scrape
//	           (MetricsHandler), to Config.MetricsAllow only (default loopback), 403 else
//	/healthz   200 while the host serves HTTP (HealthzHandler)
//	/readyz    200 while the plugin runs and its store answers, else 503 (ReadyzHandler)
//
// The host keeps its own metrics in a registry of its own (plugin up, restarts, data
// path and call latency, HTTP requests by route and status, rate-limited requests,
// registrations refused) and fetches the plugin's over the data path at
// plugin.PathMetrics, a path it never routes from outside; Config.MetricsGatherer adds
// the host application's.
package host
