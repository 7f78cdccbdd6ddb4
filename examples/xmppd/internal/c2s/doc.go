// Package c2s is the client-to-server side of the example XMPP server, on
// mellium.im/xmpp: a listener, a stream negotiator of its own, and the sessions of
// authenticated clients, which it routes stanzas between (RFC 6120, RFC 6121).
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
//   - Resource binding (RFC 6120 §7) is our own too, to the account that
//     authenticated, never the stream's 'from'; a client that asks for no resource,
//     or one already bound, gets one chosen by the server.
//   - An account that is disabled or waits for an administrator's approval
//     (Credentials.State) cannot log in: once its password is right, SASL fails with
//     account-disabled (RFC 6120 §6.5.1) and a text saying why, which clients show.
//     Server.EndSessions ends an account's sessions at once (it was disabled or
//     deleted); a login in progress checks the state again once its session is
//     counted, so that none slips between the two.
//
// Whitespace between top-level elements is allowed everywhere (RFC 6120 §11.7):
// before and after each stream header (including the one restarted after SASL,
// where go-sendxmpp sends a newline before its bind IQ) and between stanzas.
//
// # Limits
//
// Every element read is bounded (MaxStanzaSize, smaller before authentication):
// a client that exceeds it gets a policy-violation stream error and loses its
// stream; a client sending malformed XML loses its stream too.
// Other clients are not affected: each stream has its own goroutine and reader.
//
// Negotiation has a deadline that moves with its stage, counted from the connection:
// HelloTimeout (10 s) until TLS is up, AuthTimeout (1 min) until authentication, and
// NegotiationTimeout (5 min) once the stream holds a valid invitation (a pre-auth
// token, or the registration form's invitation field; with open registration, once
// it asked for the form): room for a person filling in the form, and no room for a
// connection that does nothing or only asks for the form. Binding gets HelloTimeout
// after authentication.
//
// An address (an IPv4 address or an IPv6 /64) may hold MaxPendingPerAddr (10)
// connections that have not authenticated; more are closed at once. When all
// MaxConnections (1,000) slots are taken, a new connection takes the slot of an
// unauthenticated one, the oldest of the address that holds the most (more than the
// newcomer's), unless it holds a valid invitation: addresses that connect and wait
// cannot keep others out, an administrator included, and evict each other.
// Once authenticated, an account may hold MaxSessionsPerAccount (10) sessions and an
// address MaxSessionsPerAddr (50), whichever their accounts, except the accounts
// Config.Unlimited names (xmppd: its administrators); a login past either ends its
// stream with policy-violation and a text saying which, in place of SASL success.
// Authenticated sessions are never evicted.
// A stream ends after MaxAuthFailures failed logins, and an address has a budget of
// MaxAuthFailuresPerAddr failed logins, refilled by one every
// AuthFailureWindow/MaxAuthFailuresPerAddr (the same limiter, package gcra, as the
// HTTP API's): once spent, its logins are refused (temporary-auth-failure) until one
// failure is forgiven. Each attempt is counted before its password is checked and
// given back if it succeeds, so guesses sent at once cannot all pass before any has
// failed. The budgets are bounded in memory by forgetting first the addresses
// closest to a full budget, never by leaving a new address uncounted. Warnings about
// one address (refused logins, refused connections) are logged at most once a minute,
// with the count held back.
//
// # Authenticated sessions
//
// After binding, each session has a reader (this package's loop over mellium's
// token reader) and a writer goroutine fed by a bounded queue: other sessions
// deliver to it without waiting, and a client that stops reading until its queue is
// full loses its connection. Everything written goes through one encoder that
// declares a namespace only where it changes, so no element repeats the namespace
// it inherits (Gajim's nbxmpp cannot read disco items that do).
//
// Stanzas for the server or the client's own account are served by a mellium mux:
// disco#info and disco#items (XEP-0030), ping (XEP-0199), the legacy session IQ
// (RFC 3921), the roster (RFC 6121 §2: get, set, remove, pushes to every session that
// asked for the roster) and ad-hoc commands (XEP-0050) whose requester is the bound
// JID; every refused command step is logged at info with its reason.
//
// Between local accounts (there is no server-to-server link):
//
//   - presence (RFC 6121 §4): available and unavailable presence goes to the
//     account's subscribers and its own sessions; a session's first available
//     presence gets the presence of the contacts it is subscribed to and of the
//     account's other sessions, and the subscription requests waiting for it; a
//     session that ends sends unavailable presence for itself; directed presence
//     goes where it is addressed;
//   - subscriptions (RFC 6121 §3, package roster): subscribe, subscribed,
//     unsubscribe, unsubscribed, with pre-approval; a request with a contact
//     invite's token (XEP-0379, ContactInvites) subscribes both ways at once;
//   - messages (RFC 6121 §8.5): to a bare JID, every available session with a
//     non-negative priority; to a full JID, that session, else as to the bare JID;
//     with no session to take it, a chat or normal message is answered with
//     service-unavailable (accounts' messages are not stored offline);
//   - IQs to another session are routed; the server answers those for another
//     account's bare JID itself.
//
// Stanzas for other domains are answered with service-unavailable.
// Server.Welcome applies a redeemed invite to a new account (XEP-0401 §5.5).
// Server.SendMessage sends a chat message from the server's domain: to the account's
// available sessions, else kept (Config.Offline, XEP-0160) and delivered, with the
// time it was sent (XEP-0203), at its next available presence.
// Config.OnLogin and Config.OnStreamEnd hear of each bound session (its full JID and
// its stream's xml:lang) and of its end: xmppd tells the invites plugin.
package c2s
