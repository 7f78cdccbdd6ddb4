package transport

import (
	"context"
	"errors"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/xmpp-invites/invites/adhoc"
	pb "github.com/xmpp-invites/invites/internal/transport/pluginv2"
	"github.com/xmpp-invites/invites/plugin"
)

// invitesServer serves a plugin.Invites implementation over gRPC, in the plugin
// process.
type invitesServer struct {
	pb.UnimplementedInvitesServer

	impl    plugin.Invites
	broker  *goplugin.GRPCBroker
	timeout time.Duration

	mu      sync.Mutex
	apiConn *grpc.ClientConn // the host API, dialed at Configure
}

func registerInvitesServer(s *grpc.Server, broker *goplugin.GRPCBroker, impl plugin.Invites, timeout time.Duration) {
	pb.RegisterInvitesServer(s, &invitesServer{impl: impl, broker: broker, timeout: timeout})
}

// Configure dials the host API the host serves, then configures the implementation.
func (s *invitesServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	var api plugin.HostAPI = noHostAPI{}
	if id := req.GetHostApi(); id != 0 {
		s.mu.Lock()
		if s.apiConn != nil {
			s.mu.Unlock()
			return nil, toStatus(errConfigured)
		}
		// Dial waits (at most 5 s, go-plugin's bound) for the host's connection details.
		conn, err := s.broker.Dial(id)
		if err != nil {
			s.mu.Unlock()
			return nil, toStatus(errors.Join(plugin.ErrUnavailable, err))
		}
		s.apiConn = conn
		s.mu.Unlock()
		api = newHostAPIClient(conn, s.timeout)
	}
	m, err := s.impl.Configure(ctx, configFromProto(req), api)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.ConfigureResponse{Routes: m.Routes}, nil
}

// Commands serves the call with the implementation.
func (s *invitesServer) Commands(ctx context.Context, req *pb.CommandsRequest) (*pb.CommandsResponse, error) {
	cmds, err := s.impl.Commands(ctx, req.GetHost(), req.GetRequester(), adhoc.Role(req.GetRole()))
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.CommandsResponse{Commands: make([]*pb.Command, len(cmds))}
	for i, c := range cmds {
		resp.Commands[i] = &pb.Command{Node: c.Node, Name: c.Name}
	}
	return resp, nil
}

// Execute serves the call with the implementation; an *adhoc.Error is an answer.
func (s *invitesServer) Execute(ctx context.Context, req *pb.ExecuteRequest) (*pb.ExecuteResponse, error) {
	host, r := executeRequestFromProto(req)
	resp, err := s.impl.Execute(ctx, host, r)
	if err != nil {
		if ae, ok := errors.AsType[*adhoc.Error](err); ok {
			return &pb.ExecuteResponse{Condition: string(ae.Condition), Text: ae.Text}, nil
		}
		return nil, toStatus(err)
	}
	return executeResponseToProto(resp), nil
}

// CheckInvite serves the call with the implementation.
func (s *invitesServer) CheckInvite(ctx context.Context, req *pb.CheckInviteRequest) (*pb.Invite, error) {
	inv, err := s.impl.CheckInvite(ctx, req.GetHost(), req.GetToken())
	if err != nil {
		return nil, toStatus(err)
	}
	return inviteToProto(inv), nil
}

// RedeemInvite serves the call with the implementation.
func (s *invitesServer) RedeemInvite(ctx context.Context, req *pb.RedeemInviteRequest) (*pb.Invite, error) {
	inv, err := s.impl.RedeemInvite(ctx, plugin.Redemption{Host: req.GetHost(), Token: req.GetToken(),
		Username: req.GetUsername(), Purpose: plugin.Purpose(req.GetPurpose())})
	if err != nil {
		return nil, toStatus(err)
	}
	return inviteToProto(inv), nil
}

// Health serves the call with the implementation.
func (s *invitesServer) Health(ctx context.Context, _ *pb.HealthRequest) (*pb.HealthResponse, error) {
	if err := s.impl.Health(ctx); err != nil {
		return &pb.HealthResponse{Problem: err.Error()}, nil
	}
	return &pb.HealthResponse{}, nil
}

var _ pb.InvitesServer = (*invitesServer)(nil)
