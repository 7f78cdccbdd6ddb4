// Package plugin is the contract between an XMPP server (the host) and the invites
// plugin, protocol version 3: the host runs the binary with [Start] and sees it as
// [Invites]; the plugin runs [Serve] and sees the host as [HostAPI].
// Every method takes a context and returns an error, which crosses by name (errors.Is
// works on both sides); its doc comment ends with the version that introduced it.
//
//	host                                                 plugin process
//	HTTP server ─ frames on host-made unix sockets ────▶ Invites.ServeHTTP
//	XMPP server ─ go-plugin gRPC, mutual TLS ──────────▶ the other Invites methods
//	HostAPI     ◀ go-plugin gRPC (its broker) ───────── AccountExists, Register, and
//	                                                     AccountAdmin, Messenger when
//	                                                     Config.Features names them
//	slog.Logger ◀ JSON lines on stderr ──────────────── the plugin's log records
//
// Frames, not HTTP/1.1, carry the exchanges. In bench's transport group (2 cores, no
// log records, host + plugin CPU per invite at c=16 and c=64 against frames, two
// machines), an http.Transport and an http.Server cost +31–37% and +44–46%; the
// same client without its goroutines (Request.Write, http.ReadResponse) +21% and
// +26%; with http.ReadRequest and Response.Write on the plugin's end +11% and +14%;
// header lines written by hand −1–7% and +10–22%. HTTP was to be taken within 5%.
package plugin
