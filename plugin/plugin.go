package plugin

import (
	"context"
	"errors"
	"os"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/xmpp-invites/invites/plugin/internal/pluginv1"
)

// Name is the name under which the host dispenses the plugin.
const Name = "invites"

// The magic cookie: a host sets this variable in the plugin's environment, which is how
// the binary knows it was started by a host and not from a shell.
// It is not a secret.
const (
	MagicCookieKey   = "INVITES_PLUGIN_MAGIC_COOKIE"
	MagicCookieValue = "5c7b1fb2-4bde-4b1f-9e6c-invites-plugin"
)

// Defaults of the glue.
const (
	// DefaultCallTimeout bounds each unary call across the boundary when the caller's
	// context has no earlier deadline.
	DefaultCallTimeout = 10 * time.Second
	// DefaultHTTPTimeout bounds one HTTP exchange across the boundary.
	DefaultHTTPTimeout = 60 * time.Second
	// DefaultMaxBodyBytes bounds a request body the host forwards: the most any plugin
	// config may accept (16 MiB).
	DefaultMaxBodyBytes = 16 << 20
	// ChunkSize is the most body bytes one HTTP message carries.
	// A body that fits travels with its head, in one message.
	ChunkSize = 64 << 10
	// WindowSize and ConnWindowSize are the HTTP/2 flow-control windows of a stream and
	// of the connection, both ways.
	// Fixed windows turn off gRPC's bandwidth-delay probing, whose pings would cost
	// both processes a wake-up per exchange; these hold 16 and 64 chunks.
	WindowSize     = 16 * ChunkSize
	ConnWindowSize = 64 * ChunkSize
)

// DialOptions returns the gRPC options a host gives go-plugin
// (goplugin.ClientConfig.GRPCDialOptions) to match the plugin's server.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(WindowSize),
		grpc.WithInitialConnWindowSize(ConnWindowSize),
	}
}

// Handshake returns what host and plugin must agree on before anything else: the
// protocol version and the magic cookie.
func Handshake() goplugin.HandshakeConfig {
	return goplugin.HandshakeConfig{
		ProtocolVersion:  ProtocolVersion,
		MagicCookieKey:   MagicCookieKey,
		MagicCookieValue: MagicCookieValue,
	}
}

// Launched reports whether the process was started by a go-plugin host, that is
// whether the magic cookie is in its environment.
func Launched() bool { return os.Getenv(MagicCookieKey) == MagicCookieValue }

// PluginSet returns the plugin map both sides give go-plugin: Name mapped to p.
func PluginSet(p *InvitesPlugin) goplugin.PluginSet { return goplugin.PluginSet{Name: p} }

// InvitesPlugin is the go-plugin plugin of the contract, gRPC only.
// In the plugin process it serves Impl; in the host process it builds the [Invites]
// client that Dispense returns.
type InvitesPlugin struct {
	goplugin.NetRPCUnsupportedPlugin

	// Impl is the implementation the plugin process serves; the host leaves it nil.
	Impl Invites
	// CallTimeout bounds each unary call the built clients make (Invites on the host,
	// HostAPI on the plugin) when the caller's context has no earlier deadline.
	// Zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// HTTPTimeout bounds one HTTP exchange the host's client makes.
	// Zero means DefaultHTTPTimeout.
	HTTPTimeout time.Duration
	// MaxBodyBytes bounds the request body the host's client forwards; a longer body
	// fails the exchange with ErrBodyTooLarge.
	// Zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// GRPCServer registers the Invites service on the plugin's gRPC server.
// It implements goplugin.GRPCPlugin.
func (p *InvitesPlugin) GRPCServer(broker *goplugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("plugin: no implementation to serve")
	}
	RegisterInvitesServer(s, broker, p.Impl, p.CallTimeout)
	return nil
}

// GRPCClient returns the host's [Invites] client over c.
// It implements goplugin.GRPCPlugin; ctx ends with the plugin process.
func (p *InvitesPlugin) GRPCClient(ctx context.Context, broker *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return NewInvitesClient(ctx, c, broker, ClientOptions{
		CallTimeout:  p.CallTimeout,
		HTTPTimeout:  p.HTTPTimeout,
		MaxBodyBytes: p.MaxBodyBytes,
	}), nil
}

// ClientOptions tune the host's Invites client.
type ClientOptions struct {
	// CallTimeout bounds each unary call; zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// HTTPTimeout bounds one HTTP exchange; zero means DefaultHTTPTimeout.
	HTTPTimeout time.Duration
	// MaxBodyBytes bounds a forwarded request body; zero means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

func (o ClientOptions) withDefaults() ClientOptions {
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = DefaultHTTPTimeout
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return o
}

// Interface guards.
var (
	_ goplugin.Plugin     = (*InvitesPlugin)(nil)
	_ goplugin.GRPCPlugin = (*InvitesPlugin)(nil)
	_ Invites             = (*invitesClient)(nil)
	_ HostAPI             = (*hostAPIClient)(nil)

	_ pluginv1.InvitesServer = (*invitesServer)(nil)
	_ pluginv1.HostAPIServer = (*hostAPIServer)(nil)
)
