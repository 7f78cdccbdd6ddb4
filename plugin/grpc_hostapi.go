package plugin

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/xmpp-invites/invites/plugin/internal/pluginv1"
)

// NewHostAPIClient returns the plugin's view of the host: [HostAPI] over conn, each
// call bounded by callTimeout (zero means DefaultCallTimeout).
// A host that is gone fails calls with an error matching ErrUnavailable.
func NewHostAPIClient(conn *grpc.ClientConn, callTimeout time.Duration) HostAPI {
	if callTimeout <= 0 {
		callTimeout = DefaultCallTimeout
	}
	return &hostAPIClient{rpc: pb.NewHostAPIClient(conn), timeout: callTimeout}
}

// RegisterHostAPIServer serves api on s: the host's side of [HostAPI].
// A nil api fails every call.
func RegisterHostAPIServer(s *grpc.Server, api HostAPI) {
	ref := &hostAPIRef{}
	ref.set(api)
	pb.RegisterHostAPIServer(s, &hostAPIServer{api: ref})
}

// hostAPIClient is HostAPI over gRPC, in the plugin process.
type hostAPIClient struct {
	rpc     pb.HostAPIClient
	timeout time.Duration
}

// IsAdmin implements HostAPI: one call to the host.
func (c *hostAPIClient) IsAdmin(ctx context.Context, host, jid string) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.IsAdmin(cctx, &pb.IsAdminRequest{Host: host, Jid: jid})
	if err != nil {
		return false, callError(ctx, "host is-admin", err)
	}
	return resp.GetAdmin(), nil
}

// AccountExists implements HostAPI: one call to the host.
func (c *hostAPIClient) AccountExists(ctx context.Context, jid string) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.AccountExists(cctx, &pb.AccountExistsRequest{Jid: jid})
	if err != nil {
		return false, callError(ctx, "host account-exists", err)
	}
	return resp.GetExists(), nil
}

// Domains implements HostAPI: one call to the host.
func (c *hostAPIClient) Domains(ctx context.Context) ([]string, error) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.Domains(cctx, &pb.DomainsRequest{})
	if err != nil {
		return nil, callError(ctx, "host domains", err)
	}
	return resp.GetDomains(), nil
}

// Log implements HostAPI: one call to the host.
func (c *hostAPIClient) Log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) error {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err := c.rpc.Log(cctx, &pb.LogRequest{Level: int32(level), Message: msg, Attrs: attrsToProto(attrs)})
	if err != nil {
		return callError(ctx, "host log", err)
	}
	return nil
}

// hostAPIRef holds the HostAPI the host serves; Configure may replace it.
type hostAPIRef struct {
	mu  sync.RWMutex
	api HostAPI
}

func (r *hostAPIRef) set(api HostAPI) {
	r.mu.Lock()
	r.api = api
	r.mu.Unlock()
}

func (r *hostAPIRef) get() (HostAPI, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.api == nil {
		return nil, status.Error(codes.Unimplemented, errNoHostAPI.Error())
	}
	return r.api, nil
}

// hostAPIServer serves a HostAPI, in the host process.
type hostAPIServer struct {
	pb.UnimplementedHostAPIServer
	api *hostAPIRef
}

// hostError turns the host implementation's error into a gRPC status.
func hostError(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

// IsAdmin serves the call with the host's HostAPI.
func (s *hostAPIServer) IsAdmin(ctx context.Context, req *pb.IsAdminRequest) (*pb.IsAdminResponse, error) {
	api, err := s.api.get()
	if err != nil {
		return nil, err
	}
	ok, err := api.IsAdmin(ctx, req.GetHost(), req.GetJid())
	if err != nil {
		return nil, hostError(err)
	}
	return &pb.IsAdminResponse{Admin: ok}, nil
}

// AccountExists serves the call with the host's HostAPI.
func (s *hostAPIServer) AccountExists(ctx context.Context, req *pb.AccountExistsRequest) (*pb.AccountExistsResponse, error) {
	api, err := s.api.get()
	if err != nil {
		return nil, err
	}
	ok, err := api.AccountExists(ctx, req.GetJid())
	if err != nil {
		return nil, hostError(err)
	}
	return &pb.AccountExistsResponse{Exists: ok}, nil
}

// Domains serves the call with the host's HostAPI.
func (s *hostAPIServer) Domains(ctx context.Context, _ *pb.DomainsRequest) (*pb.DomainsResponse, error) {
	api, err := s.api.get()
	if err != nil {
		return nil, err
	}
	ds, err := api.Domains(ctx)
	if err != nil {
		return nil, hostError(err)
	}
	return &pb.DomainsResponse{Domains: ds}, nil
}

// Log serves the call with the host's HostAPI.
func (s *hostAPIServer) Log(ctx context.Context, req *pb.LogRequest) (*pb.LogResponse, error) {
	api, err := s.api.get()
	if err != nil {
		return nil, err
	}
	if err := api.Log(ctx, slog.Level(req.GetLevel()), req.GetMessage(), attrsFromProto(req.GetAttrs())...); err != nil {
		return nil, hostError(err)
	}
	return &pb.LogResponse{}, nil
}
