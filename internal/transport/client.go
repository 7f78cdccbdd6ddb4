package transport

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/xmpp-invites/invites/adhoc"
	pb "github.com/xmpp-invites/invites/internal/transport/pluginv2"
	"github.com/xmpp-invites/invites/plugin"
)

// invitesClient is plugin.Invites in the host process: gRPC for the control plane,
// the DataPath for HTTP.
type invitesClient struct {
	rpc     pb.InvitesClient
	broker  *goplugin.GRPCBroker
	timeout time.Duration
	data    *DataPath

	configured sync.Once
}

func newInvitesClient(conn *grpc.ClientConn, broker *goplugin.GRPCBroker, timeout time.Duration, data *DataPath) *invitesClient {
	return &invitesClient{rpc: pb.NewInvitesClient(conn), broker: broker, timeout: timeout, data: data}
}

var errConfigured = errors.New("the plugin is configured once per process")

// Configure implements plugin.Invites: it serves api to the plugin through the broker
// (once per plugin process), then makes one call.
func (c *invitesClient) Configure(ctx context.Context, cfg plugin.Config, api plugin.HostAPI) (plugin.Manifest, error) {
	first := false
	c.configured.Do(func() { first = true })
	if !first {
		return plugin.Manifest{}, errConfigured
	}
	var id uint32
	if api != nil {
		id = c.broker.NextId()
		srv := &hostAPIServer{api: api}
		// AcceptAndServe returns when the broker closes, that is with the plugin.
		go c.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
			s := grpc.NewServer(opts...)
			pb.RegisterHostAPIServer(s, srv)
			return s
		})
	}
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.Configure(cctx, configToProto(cfg, id))
	if err != nil {
		return plugin.Manifest{}, fromStatus(ctx, err)
	}
	return plugin.Manifest{Routes: resp.GetRoutes()}, nil
}

// ServeHTTP implements plugin.Invites over the data path.
func (c *invitesClient) ServeHTTP(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if c.data == nil {
		return fmt.Errorf("%w: no data path", plugin.ErrUnavailable)
	}
	return c.data.Exchange(ctx, w, r)
}

// Commands implements plugin.Invites: one call.
func (c *invitesClient) Commands(ctx context.Context, host, requester string, role adhoc.Role) ([]adhoc.Command, error) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.Commands(cctx, &pb.CommandsRequest{Host: host, Requester: requester, Role: string(role)})
	if err != nil {
		return nil, fromStatus(ctx, err)
	}
	var out []adhoc.Command
	for _, cmd := range resp.GetCommands() {
		out = append(out, adhoc.Command{Node: cmd.GetNode(), Name: cmd.GetName()})
	}
	return out, nil
}

// Execute implements plugin.Invites: one call.
func (c *invitesClient) Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.Execute(cctx, executeRequestToProto(host, req))
	if err != nil {
		return adhoc.Response{}, fromStatus(ctx, err)
	}
	r, err := executeResponseFromProto(resp)
	if err != nil {
		return adhoc.Response{}, err
	}
	// The plugin's answer is held to the rules a requester's decoder applies, before
	// the host's Handler writes it to a client.
	// Not wrapped: it is no fault of the requester's, whom an *adhoc.Error would blame.
	if err := r.Validate(adhoc.Limits{}); err != nil {
		return adhoc.Response{}, fmt.Errorf("the plugin's answer is malformed: %s", err.Error())
	}
	return r, nil
}

// CheckInvite implements plugin.Invites: one call.
func (c *invitesClient) CheckInvite(ctx context.Context, host, token string) (plugin.Invite, error) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.CheckInvite(cctx, &pb.CheckInviteRequest{Host: host, Token: token})
	if err != nil {
		return plugin.Invite{}, fromStatus(ctx, err)
	}
	return inviteFromProto(resp), nil
}

// RedeemInvite implements plugin.Invites: one call.
func (c *invitesClient) RedeemInvite(ctx context.Context, r plugin.Redemption) (plugin.Invite, error) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.RedeemInvite(cctx, &pb.RedeemInviteRequest{Host: r.Host, Token: r.Token,
		Username: r.Username, Purpose: string(r.Purpose)})
	if err != nil {
		return plugin.Invite{}, fromStatus(ctx, err)
	}
	return inviteFromProto(resp), nil
}

// Health implements plugin.Invites: one call.
func (c *invitesClient) Health(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.Health(cctx, &pb.HealthRequest{})
	if err != nil {
		return fromStatus(ctx, err)
	}
	if p := resp.GetProblem(); p != "" {
		return errors.New(p)
	}
	return nil
}

var _ plugin.Invites = (*invitesClient)(nil)
