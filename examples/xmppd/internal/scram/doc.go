// Package scram stores passwords as salted SCRAM credentials and runs the server
// side of SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677).
//
// # Why not mellium.im/sasl's SCRAM server
//
// mellium.im/sasl v0.3.2's server mechanism asks its credential fetcher for the
// SaltedPassword.
// A stored SaltedPassword is password-equivalent for SCRAM: anyone who reads it can
// compute the ClientKey and log in.
// RFC 5802 §3 has servers keep only StoredKey and ServerKey, which is what
// [Credential] holds; the exchange in [Exchange] verifies a client proof with them.
// The client side of mellium.im/sasl is used in the tests, so both are checked
// against each other.
//
// # Credentials
//
// A [Credential] is one mechanism's salt, iteration count, StoredKey and ServerKey.
// Passwords are prepared with the PRECIS OpaqueString profile (RFC 8265) before
// hashing, so "password" means the same for SCRAM and for SASL PLAIN, which
// [Credential.Verify] checks by deriving the keys again from the stored salt.
package scram
