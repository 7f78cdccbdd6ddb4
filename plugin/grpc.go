package plugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/xmpp-invites/invites/adhoc"
	pb "github.com/xmpp-invites/invites/plugin/internal/pluginv3"
)

// The gRPC glue, in client/server pairs: invitesClient (host) calls invitesServer
// (plugin), which serves an Invites; hostAPIClient (plugin) calls hostAPIServer (host),
// which serves a HostAPI, through go-plugin's broker, set up once per process at
// Configure. HTTP exchanges do not ride gRPC: invitesClient hands them to the data
// path (data_host.go).

// pluginName is the name under which the host dispenses the plugin.
const pluginName = "invites"

// clientAddrMetadata is the gRPC metadata key that carries WithClientAddr's address.
const clientAddrMetadata = "invites-client-addr"

// invitesPlugin is the go-plugin plugin of the contract, gRPC only: in the plugin
// process it serves impl; in the host's it builds the invitesClient that Dispense
// returns, whose ServeHTTP goes over data.
type invitesPlugin struct {
	goplugin.NetRPCUnsupportedPlugin

	impl    Invites       // the plugin's; nil in the host
	timeout time.Duration // bounds each unary call the built clients make
	data    *dataPath     // the host's
}

// GRPCServer registers the Invites service on the plugin's gRPC server.
func (p *invitesPlugin) GRPCServer(broker *goplugin.GRPCBroker, s *grpc.Server) error {
	if p.impl == nil {
		return errors.New("no implementation to serve")
	}
	pb.RegisterInvitesServer(s, &invitesServer{impl: p.impl, broker: broker, timeout: p.timeout})
	return nil
}

// GRPCClient returns the host's Invites over c; ctx ends with the plugin process.
func (p *invitesPlugin) GRPCClient(_ context.Context, broker *goplugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &invitesClient{rpc: pb.NewInvitesClient(c), broker: broker, timeout: p.timeout, data: p.data}, nil
}

// callContext bounds a call by timeout and adds the client's address to its metadata.
func callContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if addr := ClientAddr(ctx); addr != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, clientAddrMetadata, addr)
	}
	return context.WithTimeout(ctx, timeout)
}

// servedContext is the context of a served call, with the client's address the caller
// gave.
func servedContext(ctx context.Context) context.Context {
	if v := metadata.ValueFromIncomingContext(ctx, clientAddrMetadata); len(v) > 0 {
		return WithClientAddr(ctx, v[0])
	}
	return ctx
}

// invitesClient is Invites in the host process: gRPC for the control plane, the data
// path for HTTP.
type invitesClient struct {
	rpc     pb.InvitesClient
	broker  *goplugin.GRPCBroker
	timeout time.Duration
	data    *dataPath

	configured sync.Once
}

var errConfigured = errors.New("the plugin is configured once per process")

// Configure serves api to the plugin through the broker (once per plugin process),
// then makes one call.
func (c *invitesClient) Configure(ctx context.Context, cfg Config, api HostAPI) (Manifest, error) {
	first := false
	c.configured.Do(func() { first = true })
	if !first {
		return Manifest{}, errConfigured
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
	cctx, cancel := callContext(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.Configure(cctx, configToProto(cfg, id))
	if err != nil {
		return Manifest{}, fromStatus(ctx, err)
	}
	return manifestFromProto(resp), nil
}

// ServeHTTP hands the exchange to the data path.
func (c *invitesClient) ServeHTTP(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if c.data == nil {
		return fmt.Errorf("%w: no data path", ErrUnavailable)
	}
	return c.data.exchange(ctx, w, r)
}

// Commands makes one call.
func (c *invitesClient) Commands(ctx context.Context, host, requester string, role adhoc.Role) ([]adhoc.Command, error) {
	cctx, cancel := callContext(ctx, c.timeout)
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

// Execute makes one call, and holds the answer to adhoc's rules.
func (c *invitesClient) Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error) {
	cctx, cancel := callContext(ctx, c.timeout)
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

// CheckInvite makes one call.
func (c *invitesClient) CheckInvite(ctx context.Context, host, token string) (Invite, error) {
	cctx, cancel := callContext(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.CheckInvite(cctx, &pb.CheckInviteRequest{Host: host, Token: token})
	if err != nil {
		return Invite{}, fromStatus(ctx, err)
	}
	return inviteFromProto(resp), nil
}

// RedeemInvite makes one call.
func (c *invitesClient) RedeemInvite(ctx context.Context, r Redemption) (Invite, error) {
	cctx, cancel := callContext(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.RedeemInvite(cctx, &pb.RedeemInviteRequest{Host: r.Host, Token: r.Token,
		Username: r.Username, Purpose: string(r.Purpose)})
	if err != nil {
		return Invite{}, fromStatus(ctx, err)
	}
	return inviteFromProto(resp), nil
}

// Health makes one call.
func (c *invitesClient) Health(ctx context.Context) error {
	cctx, cancel := callContext(ctx, c.timeout)
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

// CheckPassword makes one call; a refusal is a *PasswordError.
func (c *invitesClient) CheckPassword(ctx context.Context, pc PasswordCheck) error {
	cctx, cancel := callContext(ctx, c.timeout)
	defer cancel()
	_, err := c.rpc.CheckPassword(cctx, &pb.CheckPasswordRequest{Host: pc.Host, Username: pc.Username,
		Password: pc.Password, Lang: pc.Lang})
	return fromStatus(ctx, err)
}

// Notify makes one call with every event.
func (c *invitesClient) Notify(ctx context.Context, events []Event) error {
	cctx, cancel := callContext(ctx, c.timeout)
	defer cancel()
	_, err := c.rpc.Notify(cctx, eventsToProto(events))
	return fromStatus(ctx, err)
}

// invitesServer serves an Invites over gRPC, in the plugin process.
type invitesServer struct {
	pb.UnimplementedInvitesServer

	impl    Invites
	broker  *goplugin.GRPCBroker
	timeout time.Duration

	mu      sync.Mutex
	apiConn *grpc.ClientConn // the host API, dialed at Configure
}

// Configure dials the host API the host serves, then configures the implementation.
func (s *invitesServer) Configure(ctx context.Context, req *pb.ConfigureRequest) (*pb.ConfigureResponse, error) {
	var api HostAPI = noHostAPI{}
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
			return nil, toStatus(errors.Join(ErrUnavailable, err))
		}
		s.apiConn = conn
		s.mu.Unlock()
		api = hostAPIFor(configFromProto(req), pb.NewHostAPIClient(conn), s.timeout)
	}
	m, err := s.impl.Configure(servedContext(ctx), configFromProto(req), api)
	if err != nil {
		return nil, toStatus(err)
	}
	return manifestToProto(m), nil
}

// Commands serves the call with the implementation.
func (s *invitesServer) Commands(ctx context.Context, req *pb.CommandsRequest) (*pb.CommandsResponse, error) {
	cmds, err := s.impl.Commands(servedContext(ctx), req.GetHost(), req.GetRequester(), adhoc.Role(req.GetRole()))
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
	resp, err := s.impl.Execute(servedContext(ctx), host, r)
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
	inv, err := s.impl.CheckInvite(servedContext(ctx), req.GetHost(), req.GetToken())
	if err != nil {
		return nil, toStatus(err)
	}
	return inviteToProto(inv), nil
}

// RedeemInvite serves the call with the implementation.
func (s *invitesServer) RedeemInvite(ctx context.Context, req *pb.RedeemInviteRequest) (*pb.Invite, error) {
	inv, err := s.impl.RedeemInvite(servedContext(ctx), Redemption{Host: req.GetHost(), Token: req.GetToken(),
		Username: req.GetUsername(), Purpose: Purpose(req.GetPurpose())})
	if err != nil {
		return nil, toStatus(err)
	}
	return inviteToProto(inv), nil
}

// Health serves the call with the implementation.
func (s *invitesServer) Health(ctx context.Context, _ *pb.HealthRequest) (*pb.HealthResponse, error) {
	if err := s.impl.Health(servedContext(ctx)); err != nil {
		return &pb.HealthResponse{Problem: err.Error()}, nil
	}
	return &pb.HealthResponse{}, nil
}

// CheckPassword serves the call with the implementation.
func (s *invitesServer) CheckPassword(ctx context.Context, req *pb.CheckPasswordRequest) (*pb.CheckPasswordResponse, error) {
	err := s.impl.CheckPassword(servedContext(ctx), PasswordCheck{Host: req.GetHost(), Username: req.GetUsername(),
		Password: req.GetPassword(), Lang: req.GetLang()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.CheckPasswordResponse{}, nil
}

// Notify serves the call with the implementation.
func (s *invitesServer) Notify(ctx context.Context, req *pb.NotifyRequest) (*pb.NotifyResponse, error) {
	if err := s.impl.Notify(servedContext(ctx), eventsFromProto(req)); err != nil {
		return nil, toStatus(err)
	}
	return &pb.NotifyResponse{}, nil
}

// hostAPIFor returns the HostAPI the plugin is given: the host's callbacks over rpc,
// also an AccountAdmin and a Messenger when cfg says the host has those features, so
// that the plugin can tell by a type assertion what the host can do.
func hostAPIFor(cfg Config, rpc pb.HostAPIClient, timeout time.Duration) HostAPI {
	base := &hostAPIClient{rpc: rpc, timeout: timeout}
	admin := cfg.Has(FeatureAccountStates)
	msgs := cfg.Has(FeatureMessages)
	switch {
	case admin && msgs:
		return struct {
			*hostAPIClient
			accountAdminClient
			messengerClient
		}{base, accountAdminClient{base}, messengerClient{base}}
	case admin:
		return struct {
			*hostAPIClient
			accountAdminClient
		}{base, accountAdminClient{base}}
	case msgs:
		return struct {
			*hostAPIClient
			messengerClient
		}{base, messengerClient{base}}
	}
	return base
}

// hostAPIClient is HostAPI over gRPC, in the plugin process.
type hostAPIClient struct {
	rpc     pb.HostAPIClient
	timeout time.Duration
}

// AccountExists makes one call to the host.
func (c *hostAPIClient) AccountExists(ctx context.Context, jid string) (bool, error) {
	cctx, cancel := callContext(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.AccountExists(cctx, &pb.AccountExistsRequest{Jid: jid})
	if err != nil {
		return false, fromStatus(ctx, err)
	}
	return resp.GetExists(), nil
}

// Register makes one call to the host.
func (c *hostAPIClient) Register(ctx context.Context, r Registration) (string, error) {
	cctx, cancel := callContext(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.Register(cctx, &pb.RegisterRequest{Host: r.Host, Token: r.Token, Username: r.Username, Password: r.Password})
	if err != nil {
		return "", fromStatus(ctx, err)
	}
	return resp.GetJid(), nil
}

// accountAdminClient is AccountAdmin over gRPC, in the plugin process.
type accountAdminClient struct{ c *hostAPIClient }

// SetAccountState makes one call to the host.
func (a accountAdminClient) SetAccountState(ctx context.Context, jid string, state AccountState) error {
	cctx, cancel := callContext(ctx, a.c.timeout)
	defer cancel()
	_, err := a.c.rpc.SetAccountState(cctx, &pb.SetAccountStateRequest{Jid: jid, State: string(state)})
	return fromStatus(ctx, err)
}

// DeleteAccount makes one call to the host.
func (a accountAdminClient) DeleteAccount(ctx context.Context, jid string) error {
	cctx, cancel := callContext(ctx, a.c.timeout)
	defer cancel()
	_, err := a.c.rpc.DeleteAccount(cctx, &pb.DeleteAccountRequest{Jid: jid})
	return fromStatus(ctx, err)
}

// AccountState makes one call to the host.
func (a accountAdminClient) AccountState(ctx context.Context, jid string) (AccountState, error) {
	cctx, cancel := callContext(ctx, a.c.timeout)
	defer cancel()
	resp, err := a.c.rpc.AccountState(cctx, &pb.AccountStateRequest{Jid: jid})
	if err != nil {
		return "", fromStatus(ctx, err)
	}
	return AccountState(resp.GetState()), nil
}

// messengerClient is Messenger over gRPC, in the plugin process.
type messengerClient struct{ c *hostAPIClient }

// SendMessage makes one call to the host.
func (m messengerClient) SendMessage(ctx context.Context, msg Message) error {
	cctx, cancel := callContext(ctx, m.c.timeout)
	defer cancel()
	_, err := m.c.rpc.SendMessage(cctx, &pb.SendMessageRequest{Host: msg.Host, To: msg.To, Subject: msg.Subject,
		Body: msg.Body, Lang: msg.Lang})
	return fromStatus(ctx, err)
}

// hostAPIServer serves a HostAPI, in the host process, and the optional interfaces
// (AccountAdmin, Messenger) that api implements; the others answer UNIMPLEMENTED.
type hostAPIServer struct {
	pb.UnimplementedHostAPIServer
	api HostAPI
}

// AccountExists serves the call with the host's HostAPI.
func (s *hostAPIServer) AccountExists(ctx context.Context, req *pb.AccountExistsRequest) (*pb.AccountExistsResponse, error) {
	ok, err := s.api.AccountExists(servedContext(ctx), req.GetJid())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.AccountExistsResponse{Exists: ok}, nil
}

// Register serves the call with the host's HostAPI.
func (s *hostAPIServer) Register(ctx context.Context, req *pb.RegisterRequest) (*pb.RegisterResponse, error) {
	jid, err := s.api.Register(servedContext(ctx), Registration{Host: req.GetHost(), Token: req.GetToken(),
		Username: req.GetUsername(), Password: req.GetPassword()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.RegisterResponse{Jid: jid}, nil
}

// errNoAccountStates and errNoMessages answer a call the host does not serve.
var (
	errNoAccountStates = status.Error(codes.Unimplemented, "this server cannot change the state of its accounts")
	errNoMessages      = status.Error(codes.Unimplemented, "this server cannot send messages to its accounts")
)

// SetAccountState serves the call with the host's AccountAdmin.
func (s *hostAPIServer) SetAccountState(ctx context.Context, req *pb.SetAccountStateRequest) (*pb.SetAccountStateResponse, error) {
	a, ok := s.api.(AccountAdmin)
	if !ok {
		return nil, errNoAccountStates
	}
	if err := a.SetAccountState(servedContext(ctx), req.GetJid(), AccountState(req.GetState())); err != nil {
		return nil, toStatus(err)
	}
	return &pb.SetAccountStateResponse{}, nil
}

// DeleteAccount serves the call with the host's AccountAdmin.
func (s *hostAPIServer) DeleteAccount(ctx context.Context, req *pb.DeleteAccountRequest) (*pb.DeleteAccountResponse, error) {
	a, ok := s.api.(AccountAdmin)
	if !ok {
		return nil, errNoAccountStates
	}
	if err := a.DeleteAccount(servedContext(ctx), req.GetJid()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.DeleteAccountResponse{}, nil
}

// AccountState serves the call with the host's AccountAdmin.
func (s *hostAPIServer) AccountState(ctx context.Context, req *pb.AccountStateRequest) (*pb.AccountStateResponse, error) {
	a, ok := s.api.(AccountAdmin)
	if !ok {
		return nil, errNoAccountStates
	}
	st, err := a.AccountState(servedContext(ctx), req.GetJid())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.AccountStateResponse{State: string(st)}, nil
}

// SendMessage serves the call with the host's Messenger.
func (s *hostAPIServer) SendMessage(ctx context.Context, req *pb.SendMessageRequest) (*pb.SendMessageResponse, error) {
	m, ok := s.api.(Messenger)
	if !ok {
		return nil, errNoMessages
	}
	if err := m.SendMessage(servedContext(ctx), Message{Host: req.GetHost(), To: req.GetTo(), Subject: req.GetSubject(),
		Body: req.GetBody(), Lang: req.GetLang()}); err != nil {
		return nil, toStatus(err)
	}
	return &pb.SendMessageResponse{}, nil
}

// noHostAPI is the HostAPI of a host that serves none.
type noHostAPI struct{}

var errNoHostAPI = errors.New("the host offers no callbacks")

// AccountExists fails: there is no host API.
func (noHostAPI) AccountExists(context.Context, string) (bool, error) { return false, errNoHostAPI }

// Register fails: there is no host API.
func (noHostAPI) Register(context.Context, Registration) (string, error) {
	return "", fmt.Errorf("registering: %w", errors.ErrUnsupported)
}

// Interface guards.
var (
	_ goplugin.GRPCPlugin = (*invitesPlugin)(nil)
	_ Invites             = (*invitesClient)(nil)
	_ pb.InvitesServer    = (*invitesServer)(nil)
	_ HostAPI             = (*hostAPIClient)(nil)
	_ AccountAdmin        = accountAdminClient{}
	_ Messenger           = messengerClient{}
	_ HostAPI             = noHostAPI{}
	_ pb.HostAPIServer    = (*hostAPIServer)(nil)
)
