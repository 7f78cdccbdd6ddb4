// Package problem writes HTTP error responses the one way invites answers them:
// problem details (RFC 9457, application/problem+json) for clients that accept JSON,
// short text otherwise, never cached.
// The HTTP API, the host in front of the plugin, and the pages all answer errors
// through Write, so a client sees the same shape whichever of them answered.
package problem
