// Package connlimit bounds the connections an HTTP server holds: in all, and per
// client address (an IPv4 address or an IPv6 /64, package clientaddr), so that one
// address (or a few) cannot take every connection while others wait.
//
// A [Listener] wraps the server's net.Listener; its ConnState method goes into
// http.Server.ConnState, so it knows which connections are idle between requests.
// A connection past a bound is answered at once with 503 Service Unavailable,
// Retry-After and a text saying which bound, then closed, without its request being
// read. When every connection is taken, an idle connection (one that has sent no
// request yet, or a keep-alive one between requests) is closed to make room first, the
// least recently used, as a client must expect of any keep-alive connection: holding
// connections open without requests keeps no one out. Refusals are logged with the client's address, held back
// when they repeat (package logthrottle).
package connlimit
