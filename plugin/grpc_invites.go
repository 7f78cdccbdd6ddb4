package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xmpp-invites/invites/adhoc"
	pb "github.com/xmpp-invites/invites/plugin/internal/pluginv1"
)

// NewInvitesClient returns the host's view of the plugin: [Invites] over conn.
// ctx bounds the long-lived streams the client keeps for HTTP exchanges; go-plugin's
// GRPCClient context, which ends with the plugin process, is the one to pass.
func NewInvitesClient(ctx context.Context, conn *grpc.ClientConn, broker *goplugin.GRPCBroker, opts ClientOptions) Invites {
	return &invitesClient{
		rpc:    pb.NewInvitesClient(conn),
		broker: broker,
		opts:   opts.withDefaults(),
		base:   ctx,
	}
}

// RegisterInvitesServer serves impl on s: the plugin's side of [Invites].
// The HostAPI that impl receives in Configure is dialed through broker; its calls are
// bounded by callTimeout (zero means DefaultCallTimeout).
func RegisterInvitesServer(s *grpc.Server, broker *goplugin.GRPCBroker, impl Invites, callTimeout time.Duration) {
	if callTimeout <= 0 {
		callTimeout = DefaultCallTimeout
	}
	pb.RegisterInvitesServer(s, &invitesServer{impl: impl, broker: broker, timeout: callTimeout})
}

// invitesClient is Invites over gRPC, in the host process.
type invitesClient struct {
	rpc    pb.InvitesClient
	broker *goplugin.GRPCBroker
	opts   ClientOptions

	// The HostAPI is served once per plugin start; a later Configure swaps what the
	// served HostAPI delegates to.
	apiOnce sync.Once
	apiID   uint32
	api     hostAPIRef

	// Idle HTTPExchanges streams, reused one exchange at a time (see lane).
	base    context.Context
	lanesMu sync.Mutex
	lanes   []*lane
}

// callError wraps the failure of a call: a plugin that is gone or did not answer in
// time matches ErrUnavailable, unless it was the caller who gave up.
func callError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("plugin: %s: %w", op, err)
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return fmt.Errorf("plugin: %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("plugin: %s: %w", op, err)
}

// Configure implements Invites: one call to the plugin.
func (c *invitesClient) Configure(ctx context.Context, cfg Config, api HostAPI) error {
	c.api.set(api)
	c.apiOnce.Do(func() {
		c.apiID = c.broker.NextId()
		srv := &hostAPIServer{api: &c.api}
		// AcceptAndServe returns when the broker closes, that is with the plugin.
		go c.broker.AcceptAndServe(c.apiID, func(opts []grpc.ServerOption) *grpc.Server {
			s := grpc.NewServer(opts...)
			pb.RegisterHostAPIServer(s, srv)
			return s
		})
	})
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	if _, err := c.rpc.Configure(cctx, configToProto(cfg, c.apiID)); err != nil {
		return callError(ctx, "configure", err)
	}
	return nil
}

// Commands implements Invites: one call to the plugin.
func (c *invitesClient) Commands(ctx context.Context, host, requester string) ([]adhoc.Command, error) {
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	resp, err := c.rpc.Commands(cctx, &pb.CommandsRequest{Host: host, Requester: requester})
	if err != nil {
		return nil, callError(ctx, "commands", err)
	}
	return commandsFromProto(resp.GetCommands()), nil
}

// Execute implements Invites: one call to the plugin.
func (c *invitesClient) Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error) {
	p, err := executeRequestToProto(host, req)
	if err != nil {
		return adhoc.Response{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	resp, err := c.rpc.Execute(cctx, p)
	if err != nil {
		return adhoc.Response{}, callError(ctx, "execute", err)
	}
	return executeResponseFromProto(resp)
}

// CheckInvite implements Invites: one call to the plugin.
func (c *invitesClient) CheckInvite(ctx context.Context, host, token string) (Invite, error) {
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	resp, err := c.rpc.CheckInvite(cctx, &pb.CheckInviteRequest{Host: host, Token: token})
	if err != nil {
		return Invite{}, callError(ctx, "checking invite", err)
	}
	return inviteResult(resp)
}

// RedeemInvite implements Invites: one call to the plugin.
func (c *invitesClient) RedeemInvite(ctx context.Context, host, token, username string) (Invite, error) {
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	resp, err := c.rpc.RedeemInvite(cctx, &pb.RedeemInviteRequest{Host: host, Token: token, Username: username})
	if err != nil {
		return Invite{}, callError(ctx, "redeeming invite", err)
	}
	return inviteResult(resp)
}

func inviteResult(resp *pb.InviteResponse) (Invite, error) {
	if err := inviteErrorFromProto(resp.GetError(), resp.GetErrorText()); err != nil {
		return Invite{}, err
	}
	return inviteFromProto(resp.GetInvite()), nil
}

// Health implements Invites: one call to the plugin.
func (c *invitesClient) Health(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	resp, err := c.rpc.Health(cctx, &pb.HealthRequest{})
	if err != nil {
		return callError(ctx, "health", err)
	}
	if p := resp.GetProblem(); p != "" {
		return fmt.Errorf("plugin: unhealthy: %s", p)
	}
	return nil
}

// invitesServer serves an Invites implementation, in the plugin process.
type invitesServer struct {
	pb.UnimplementedInvitesServer

	impl    Invites
	broker  *goplugin.GRPCBroker
	timeout time.Duration

	mu      sync.Mutex
	apiID   uint32
	apiConn *grpc.ClientConn
	api     HostAPI
}

// hostAPI returns the HostAPI served on broker ID id, dialing it the first time.
func (s *invitesServer) hostAPI(id uint32) (HostAPI, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == 0 {
		return nil, nil
	}
	if s.api != nil && s.apiID == id {
		return s.api, nil
	}
	// Dial waits (at most 5 s, go-plugin's bound) for the host's connection details.
	conn, err := s.broker.Dial(id)
	if err != nil {
		return nil, fmt.Errorf("plugin: dialing the host API: %w", err)
	}
	if s.apiConn != nil {
		_ = s.apiConn.Close()
	}
	s.apiID, s.apiConn = id, conn
	s.api = NewHostAPIClient(conn, s.timeout)
	return s.api, nil
}

// Configure serves the call with the implementation.
func (s *invitesServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	api, err := s.hostAPI(req.GetHostApi())
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	if api == nil {
		api = NoHostAPI{}
	}
	if err := s.impl.Configure(ctx, configFromProto(req), api); err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return &pb.ConfigureResponse{}, nil
}

// Commands serves the call with the implementation.
func (s *invitesServer) Commands(ctx context.Context, req *pb.CommandsRequest) (*pb.CommandsResponse, error) {
	cmds, err := s.impl.Commands(ctx, req.GetHost(), req.GetRequester())
	if err != nil {
		return nil, implError(err)
	}
	return &pb.CommandsResponse{Commands: commandsToProto(cmds)}, nil
}

// Execute serves the call with the implementation.
func (s *invitesServer) Execute(ctx context.Context, req *pb.ExecuteRequest) (*pb.ExecuteResponse, error) {
	host, r, err := executeRequestFromProto(req)
	var resp adhoc.Response
	if err == nil {
		resp, err = s.impl.Execute(ctx, host, r)
	}
	if err != nil {
		if ae, ok := errors.AsType[*adhoc.Error](err); ok {
			return &pb.ExecuteResponse{Error: &pb.CommandError{Condition: conditionToProto(ae.Condition), Text: ae.Text}}, nil
		}
		return nil, implError(err)
	}
	p, err := executeResponseToProto(resp)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return p, nil
}

// CheckInvite serves the call with the implementation.
func (s *invitesServer) CheckInvite(ctx context.Context, req *pb.CheckInviteRequest) (*pb.InviteResponse, error) {
	inv, err := s.impl.CheckInvite(ctx, req.GetHost(), req.GetToken())
	return inviteResponse(inv, err)
}

// RedeemInvite serves the call with the implementation.
func (s *invitesServer) RedeemInvite(ctx context.Context, req *pb.RedeemInviteRequest) (*pb.InviteResponse, error) {
	inv, err := s.impl.RedeemInvite(ctx, req.GetHost(), req.GetToken(), req.GetUsername())
	return inviteResponse(inv, err)
}

func inviteResponse(inv Invite, err error) (*pb.InviteResponse, error) {
	if err == nil {
		return &pb.InviteResponse{Invite: inviteToProto(inv)}, nil
	}
	code, ok := inviteErrorToProto(err)
	if !ok {
		return nil, implError(err)
	}
	return &pb.InviteResponse{Error: code, ErrorText: err.Error()}, nil
}

// Health serves the call with the implementation.
func (s *invitesServer) Health(ctx context.Context, _ *pb.HealthRequest) (*pb.HealthResponse, error) {
	if err := s.impl.Health(ctx); err != nil {
		return &pb.HealthResponse{Problem: err.Error()}, nil
	}
	return &pb.HealthResponse{}, nil
}

// implError turns an implementation's unexpected error into a gRPC status.
func implError(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, ErrUnavailable):
		return status.Error(codes.Unavailable, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// NoHostAPI is the HostAPI of a host that serves none: every call fails.
// The serving side uses it when a host passes no callbacks.
type NoHostAPI struct{}

var errNoHostAPI = errors.New("plugin: the host serves no host API")

// IsAdmin fails: there is no host API.
func (NoHostAPI) IsAdmin(context.Context, string, string) (bool, error) { return false, errNoHostAPI }

// AccountExists fails: there is no host API.
func (NoHostAPI) AccountExists(context.Context, string) (bool, error) { return false, errNoHostAPI }

// Domains fails: there is no host API.
func (NoHostAPI) Domains(context.Context) ([]string, error) { return nil, errNoHostAPI }

// Log fails: there is no host API.
func (NoHostAPI) Log(context.Context, slog.Level, string, ...slog.Attr) error {
	return errNoHostAPI
}
