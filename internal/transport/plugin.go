package transport

import (
	"context"
	"errors"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/xmpp-invites/invites/plugin"
)

// Name is the name under which the host dispenses the plugin.
const Name = "invites"

// DefaultCallTimeout bounds each unary call across the boundary when the caller's
// context has no earlier deadline.
const DefaultCallTimeout = 10 * time.Second

// PluginSet returns the plugin map both sides give go-plugin: Name mapped to p.
func PluginSet(p *InvitesPlugin) goplugin.PluginSet { return goplugin.PluginSet{Name: p} }

// InvitesPlugin is the go-plugin plugin of the contract, gRPC only.
// In the plugin process it serves Impl; in the host process it builds the
// plugin.Invites that Dispense returns, whose ServeHTTP goes over Data.
type InvitesPlugin struct {
	goplugin.NetRPCUnsupportedPlugin

	// Impl is the implementation the plugin process serves; the host leaves it nil.
	Impl plugin.Invites
	// CallTimeout bounds each unary call the built clients make (Invites on the host,
	// HostAPI on the plugin) when the caller's context has no earlier deadline.
	// Zero means DefaultCallTimeout.
	CallTimeout time.Duration
	// Data carries the host's HTTP exchanges; nil fails them as unavailable.
	Data *DataPath
}

func (p *InvitesPlugin) callTimeout() time.Duration {
	if p.CallTimeout <= 0 {
		return DefaultCallTimeout
	}
	return p.CallTimeout
}

// GRPCServer registers the Invites service on the plugin's gRPC server.
// It implements goplugin.GRPCPlugin.
func (p *InvitesPlugin) GRPCServer(broker *goplugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("no implementation to serve")
	}
	registerInvitesServer(s, broker, p.Impl, p.callTimeout())
	return nil
}

// GRPCClient returns the host's plugin.Invites over c.
// It implements goplugin.GRPCPlugin; ctx ends with the plugin process.
func (p *InvitesPlugin) GRPCClient(_ context.Context, broker *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return newInvitesClient(c, broker, p.callTimeout(), p.Data), nil
}

// Interface guards.
var (
	_ goplugin.Plugin     = (*InvitesPlugin)(nil)
	_ goplugin.GRPCPlugin = (*InvitesPlugin)(nil)
)
