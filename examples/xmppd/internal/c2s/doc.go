// Package c2s is the client-to-server side of the example XMPP server, on
// mellium.im/xmpp: a listener, a stream negotiator of its own, and the handlers of
// an authenticated session.
//
// # Negotiation (RFC 6120)
//
// Each connection is accepted with xmpp.ReceiveSession and a Negotiator written
// here rather than xmpp.NewNegotiator, because the pieces mellium ships do not fit
// a server that registers accounts and checks SCRAM credentials:
//
//   - STARTTLS (RFC 6120 §5) is required: the first stream offers nothing else.
//   - SASL (RFC 6120 §6) is our own: SCRAM-SHA-256, SCRAM-SHA-1 (package scram,
//     against stored StoredKey/ServerKey) and PLAIN, only over TLS, never a -PLUS
//     variant. xmpp.SASLServer hands mechanisms plain credentials only.
//   - In-band registration (XEP-0077, XEP-0445, package register) shares the
//     unauthenticated stream with SASL: the client may pre-authenticate a token,
//     fetch the form, register, and then authenticate on the same stream.
//     mellium's feature loop negotiates each namespace once per stream, so a
//     registration get followed by a set could not be served by it.
//   - Resource binding (RFC 6120 §7) uses xmpp.BindCustom with the account that
//     authenticated, never the stream's 'from'; a client that asks for no resource,
//     or one already bound, gets one chosen by the server.
//     (BindCustom reads the very next token as the bind IQ, so whitespace between
//     the stream header and the IQ fails binding; clients do not send any.)
//
// # Limits
//
// Every element read is bounded (MaxStanzaSize, smaller before authentication):
// a client that exceeds it gets a policy-violation stream error and loses its
// stream; a client sending malformed XML loses its stream too.
// Other clients are not affected: each stream has its own goroutine and reader.
// Negotiation must finish within NegotiationTimeout.
// A stream ends after MaxAuthFailures failed logins, and an IP address that failed
// MaxAuthFailuresPerAddr times within AuthFailureWindow is refused
// (temporary-auth-failure) until the window ends.
//
// # Authenticated sessions
//
// After binding the session is served by a mellium mux with disco#info and
// disco#items (XEP-0030), ping (XEP-0199), the legacy session IQ (RFC 3921), an
// empty roster (nothing is stored) and ad-hoc commands (XEP-0050) whose requester
// is the bound JID.
// Stanzas addressed elsewhere are refused: the server does not route between
// clients.
package c2s
