package plugin

import (
	"os"

	goplugin "github.com/hashicorp/go-plugin"
)

// The magic cookie: a host sets this variable in the plugin's environment, which is how
// the binary knows it was started by a host and not from a shell.
// It is not a secret.
const (
	magicCookieKey   = "INVITES_PLUGIN_MAGIC_COOKIE"
	magicCookieValue = "5c7b1fb2-4bde-4b1f-9e6c-invites-plugin"
)

// handshake is what a host and a plugin must agree on before anything else: the
// protocol version and the magic cookie.
func handshake() goplugin.HandshakeConfig {
	return goplugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   magicCookieKey,
		MagicCookieValue: magicCookieValue,
	}
}

// Launched reports whether the process was started by a host (Start), that is whether
// the magic cookie is in its environment: then it should Serve.
func Launched() bool { return os.Getenv(magicCookieKey) == magicCookieValue }
