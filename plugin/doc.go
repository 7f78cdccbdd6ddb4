// Package plugin is the boundary between an XMPP server and the invites plugin: the
// contract both sides code against, the hashicorp/go-plugin handshake, the gRPC glue
// that carries the contract across the process boundary, and Serve, which the
// invites-plugin binary runs when a host starts it.
//
// # The boundary
//
// The host (an XMPP server, through package host) starts the plugin binary with
// go-plugin, over gRPC only and with automatic mutual TLS.
// It sees the plugin as [Invites]; the plugin sees the host as [HostAPI].
// Every method of both interfaces takes a context, returns an error, and carries the
// protocol version that introduced it.
// The wire form is invites.proto (package invites.plugin.v1) in plugin/internal/pluginv1:
//
//	host process                                         plugin process
//	────────────                                         ──────────────
//	host.Plugin ── Invites (gRPC client) ═══ Invites ══▶ invitesServer ──▶ Service
//	  HTTP /invites_api       Configure, ServeHTTP,                          core, store,
//	  ad-hoc commands         Commands, Execute,                             httpapi,
//	  redemption              CheckInvite, RedeemInvite,                     commands
//	                          Health
//	hostAPIServer ◀══ HostAPI (GRPCBroker) ══════════════ HostAPI (gRPC client)
//	  host.Config.API         IsAdmin, AccountExists,
//	                          Domains, Log
//	slog.Logger ◀── hclog adapter ◀── plugin stderr ◀──── JSON slog handler
//	                                  (@message, @level, @timestamp)
//
// The host serves HostAPI once per plugin start: it takes an ID from the broker, serves
// on it, and passes the ID in Configure; the plugin dials that ID and keeps the
// connection.
//
// # What crosses
//
//   - Configuration: the domains the host serves, its public HTTP base URL, the
//     plugin's data directory and its TOML config (a file or inline text).
//   - HTTP: the request head (method, path and query, headers, client address) travels
//     with the first body chunk in one message, further chunks follow on the same
//     stream; the response head travels with the first body chunk, and the stream's end
//     ends the response.
//     A small exchange is one message each way.
//   - Ad-hoc commands (XEP-0050) and data forms (XEP-0004), as the typed values of
//     package adhoc: neither side parses the other's XML.
//     A protocol failure crosses as an *adhoc.Error with its condition.
//   - Redemption (XEP-0445, XEP-0401): check a token, consume it; failures cross as an
//     enum and come back as the Err* sentinels of this package.
//   - Health, and the host's callbacks.
//
// # Compatibility
//
// [ProtocolVersion] changes only when a change breaks an older host or plugin.
// Field and enum numbers in invites.proto are frozen; retired ones are reserved.
package plugin
