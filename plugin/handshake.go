package plugin

import goplugin "github.com/hashicorp/go-plugin"

// The magic cookie: a host sets this variable in the plugin's environment, which is how
// the binary knows it was started by a host and not from a shell.
// It is not a secret.
const (
	MagicCookieKey   = "INVITES_PLUGIN_MAGIC_COOKIE"
	MagicCookieValue = "5c7b1fb2-4bde-4b1f-9e6c-invites-plugin"
)

// Handshake returns what a host and a plugin must agree on before anything else: the
// protocol version and the magic cookie.
func Handshake() goplugin.HandshakeConfig {
	return goplugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}
