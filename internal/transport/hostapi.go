package transport

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"

	pb "github.com/xmpp-invites/invites/internal/transport/pluginv2"
	"github.com/xmpp-invites/invites/plugin"
)

// hostAPIClient is plugin.HostAPI over gRPC, in the plugin process.
type hostAPIClient struct {
	rpc     pb.HostAPIClient
	timeout time.Duration
}

func newHostAPIClient(conn *grpc.ClientConn, timeout time.Duration) *hostAPIClient {
	return &hostAPIClient{rpc: pb.NewHostAPIClient(conn), timeout: timeout}
}

// AccountExists implements plugin.HostAPI: one call to the host.
func (c *hostAPIClient) AccountExists(ctx context.Context, jid string) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.AccountExists(cctx, &pb.AccountExistsRequest{Jid: jid})
	if err != nil {
		return false, fromStatus(ctx, err)
	}
	return resp.GetExists(), nil
}

// Register implements plugin.HostAPI: one call to the host.
func (c *hostAPIClient) Register(ctx context.Context, r plugin.Registration) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rpc.Register(cctx, &pb.RegisterRequest{Host: r.Host, Token: r.Token, Username: r.Username, Password: r.Password})
	if err != nil {
		return "", fromStatus(ctx, err)
	}
	return resp.GetJid(), nil
}

// hostAPIServer serves a plugin.HostAPI, in the host process.
type hostAPIServer struct {
	pb.UnimplementedHostAPIServer
	api plugin.HostAPI
}

// AccountExists serves the call with the host's HostAPI.
func (s *hostAPIServer) AccountExists(ctx context.Context, req *pb.AccountExistsRequest) (*pb.AccountExistsResponse, error) {
	ok, err := s.api.AccountExists(ctx, req.GetJid())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.AccountExistsResponse{Exists: ok}, nil
}

// Register serves the call with the host's HostAPI.
func (s *hostAPIServer) Register(ctx context.Context, req *pb.RegisterRequest) (*pb.RegisterResponse, error) {
	jid, err := s.api.Register(ctx, plugin.Registration{Host: req.GetHost(), Token: req.GetToken(),
		Username: req.GetUsername(), Password: req.GetPassword()})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.RegisterResponse{Jid: jid}, nil
}

// noHostAPI is the HostAPI of a host that serves none.
type noHostAPI struct{}

var errNoHostAPI = errors.New("the host offers no callbacks")

// AccountExists fails: there is no host API.
func (noHostAPI) AccountExists(context.Context, string) (bool, error) { return false, errNoHostAPI }

// Register fails: there is no host API.
func (noHostAPI) Register(context.Context, plugin.Registration) (string, error) {
	return "", fmt.Errorf("registering: %w", errors.ErrUnsupported)
}

var (
	_ plugin.HostAPI   = (*hostAPIClient)(nil)
	_ plugin.HostAPI   = noHostAPI{}
	_ pb.HostAPIServer = (*hostAPIServer)(nil)
)
