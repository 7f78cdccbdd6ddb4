// Package certs provides the TLS certificate of the example server's STARTTLS
// (RFC 6120 §5): a configured certificate and key, or a self-signed certificate
// made in the data directory at first start and kept there for later starts.
//
// A self-signed certificate is for trying the server out: clients must be told to
// accept it (most XMPP clients ask, or pin it). For a public server configure a
// certificate from a CA, such as one from Let's Encrypt, with -tls-cert and -tls-key.
package certs
