package scram

// SetServerNonce fixes the server nonce of e, to replay the RFC examples.
func SetServerNonce(e *Exchange, nonce string) { e.fixedNonce = []byte(nonce) }
