// Package plugin is the contract between an XMPP server (the host) and the invites
// plugin, and nothing else: the host sees the plugin as [Invites], the plugin sees the
// host as [HostAPI]; the values they exchange, the errors, the HTTP paths, the
// hashicorp/go-plugin handshake. Package host loads the plugin.
// Every method takes a context, returns an error, and its doc comment ends with the
// protocol version that introduced it.
//
//	host process                                      plugin process
//	────────────                                      ──────────────
//	HTTP server ──── frames over unix sockets ──────▶ Invites.ServeHTTP
//	  (routes of the Manifest, 413 / 503 in front)       (HTTP API, pages)
//	XMPP server ──── go-plugin gRPC, mutual TLS ────▶ Invites: Configure, Commands,
//	  (ad-hoc commands with the requester's role,        Execute, CheckInvite,
//	   registration)                                     RedeemInvite, Health
//	HostAPI ◀─────── go-plugin gRPC (broker) ──────── AccountExists, Register
//
// Ad-hoc commands (XEP-0050) and data forms (XEP-0004) cross as the values of package
// adhoc, their tokens as the XEP spells them; neither side parses the other's XML.
// The host tells the plugin the requester's role (adhoc.Role) with each command, so
// the plugin never asks the host who is an administrator.
// The errors of this package cross by name, so errors.Is works on both sides.
//
// [ProtocolVersion] changes only when a change breaks an older host or plugin; the
// handshake then keeps them apart.
package plugin
