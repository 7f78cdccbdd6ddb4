// Package connlimit bounds the connections an HTTP server holds: in all, and per
// client address (an IPv4 address or an IPv6 /64, package clientaddr), so that one
// address (or a few) cannot take every connection while others wait.
//
// A [Listener] wraps the server's net.Listener; its ConnState method goes into
// http.Server.ConnState, so it knows which connections are idle between requests.
// A connection past a bound is answered at once with 503 Service Unavailable,
// Retry-After and a text saying which bound, then closed, without its request being
// read. When every connection is taken, an idle keep-alive connection is closed to
// make room first (the least recently used), as a client must expect of any
// keep-alive connection. Refusals are logged with the client's address, held back
// when they repeat (package logthrottle).
package connlimit
