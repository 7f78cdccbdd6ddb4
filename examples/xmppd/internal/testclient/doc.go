// Package testclient is a raw XMPP client (RFC 6120) for the example server's
// tests: it speaks the stream by hand, so tests can do what mellium.im/xmpp's
// client cannot (in-band registration, XEP-0077 and XEP-0445) or should not
// (malformed and oversized stanzas, a forged stream 'from').
//
// It trusts any certificate: it is for tests against a self-signed server only.
package testclient
