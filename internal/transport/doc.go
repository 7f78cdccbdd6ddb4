// Package transport carries the host–plugin contract (package plugin) across the
// process boundary, both ways, and is the only code that knows how.
//
//	host process                                         plugin process
//	host.Plugin ── invitesClient ═══ gRPC (go-plugin) ══▶ invitesServer ──▶ Impl
//	                Configure, Commands, Execute,
//	                CheckInvite, RedeemInvite, Health
//	hostAPIServer ◀══ gRPC (go-plugin broker) ═════════ hostAPIClient
//	                AccountExists, Register
//	DataPath ════════ frames on unix stream sockets ══▶ dataServer ──▶ Impl.ServeHTTP
//	                (socketpair, handed over: the first with exec.Cmd.ExtraFiles,
//	                 the others on it with SCM_RIGHTS; no TLS; one exchange each)
//	slog.Logger ◀── pluginLog (host) ◀──── stderr ◀──── NewLogHandler (JSON lines)
//	            ◀── DataOptions.Log ◀──── record frames ◀── a record logged with an
//	                (before the answer)                      exchange's context
//
// # Control plane
//
// go-plugin's gRPC with automatic mutual TLS carries every method of plugin.Invites but
// ServeHTTP, and plugin.HostAPI the other way through go-plugin's broker, served once
// per plugin process at Configure. invites.proto (package invites.plugin.v2, Go package
// pluginv2) is the wire form; ad-hoc tokens cross as their XEP strings (convert.go),
// the contract's errors by name (errors.go, the one table).
//
// # Data path
//
// HTTP exchanges do not ride gRPC: the host reads the request body (bounded), sends
// one length-prefixed frame on a data socket it is not using, and waits for one frame
// back (bounded), which it writes to its client only once whole (frame.go).
// A plugin that dies closes its sockets: the exchange in flight fails at once with
// plugin.ErrUnavailable, and nothing was written to the client.
// A plugin that hangs makes the exchange fail when its deadline passes.
// A record the plugin logs with an exchange's context (the audit record of an invite
// made through the API) rides in front of the answer, in the same write, rather than
// on stderr (record.go): one pipe write, one wake-up of the host's reader and a JSON
// decoding fewer per invite.
//
// Serve is what the invites-plugin binary runs when a host starts it.
// This package is internal: its API is for package host and cmd/invites-plugin.
package transport
