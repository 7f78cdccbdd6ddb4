// Command otherversion is a plugin of another protocol version, for the host's tests:
// it does go-plugin's handshake with the version set at build time
// (-ldflags "-X main.version=N") and serves nothing.
package main

import (
	"context"
	"os"
	"strconv"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// version is the protocol version it claims.
var version = "2"

// empty is a gRPC plugin with no service.
type empty struct {
	goplugin.NetRPCUnsupportedPlugin
}

func (empty) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error { return nil }

func (empty) GRPCClient(context.Context, *goplugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	v, err := strconv.Atoi(version)
	if err != nil {
		os.Exit(2)
	}
	const key = "INVITES_PLUGIN_MAGIC_COOKIE"
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: goplugin.HandshakeConfig{ProtocolVersion: uint(v), MagicCookieKey: key, MagicCookieValue: os.Getenv(key)},
		Plugins:         goplugin.PluginSet{"invites": empty{}},
		GRPCServer:      goplugin.DefaultGRPCServer,
	})
}
