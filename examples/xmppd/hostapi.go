package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/host"
	"github.com/xmpp-invites/invites/plugin"
)

// invites is what xmppd uses of the loaded plugin: the HTTP API, the ad-hoc
// commands, redemption for registration, and shutdown.
type invites interface {
	adhoc.Executor
	register.Invites
	// Handler serves the invite API.
	Handler() http.Handler
	// Close stops the plugin.
	Close() error
}

var _ invites = (*host.Plugin)(nil)

// hostAPI is the server as the plugin sees it (plugin.HostAPI): who is an
// administrator, which accounts exist, which domains are served, and a log.
type hostAPI struct {
	domain   string
	admins   []string // canonical bare JIDs
	accounts *accounts.Store
	log      *slog.Logger
	reg      *register.Service // set once registration exists
}

var _ plugin.HostAPI = (*hostAPI)(nil)

// IsAdmin implements plugin.HostAPI: administrators are configured, per server.
func (h *hostAPI) IsAdmin(_ context.Context, domain, addr string) (bool, error) {
	if domain != h.domain {
		return false, nil
	}
	bare, err := accounts.Normalize(addr)
	if err != nil {
		return false, nil
	}
	return slices.Contains(h.admins, bare), nil
}

// AccountExists implements plugin.HostAPI.
func (h *hostAPI) AccountExists(ctx context.Context, addr string) (bool, error) {
	ok, err := h.accounts.Exists(ctx, addr)
	if err != nil {
		return false, fmt.Errorf("xmppd: %w", err)
	}
	return ok, nil
}

// Domains implements plugin.HostAPI.
func (h *hostAPI) Domains(context.Context) ([]string, error) { return []string{h.domain}, nil }

// Log implements plugin.HostAPI: the plugin's records join the server's log.
func (h *hostAPI) Log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) error {
	h.log.LogAttrs(ctx, level, msg, attrs...)
	return nil
}

// Register creates the account username@host with password using token, with
// exactly the guarantees of in-band registration (the name is reserved, the invite
// redeemed, then the account activated; administrators' names are refused), and
// returns its bare JID.
// It is what web registration will call: contract v2's HostAPI.Register, wired by
// changing the signature to take a plugin.Registration and mapping the stanza
// errors to plugin.ErrAccountExists, plugin.ErrInvalidUsername, ….
func (h *hostAPI) Register(ctx context.Context, host, token, username, password string) (string, error) {
	if host != h.domain {
		return "", fmt.Errorf("xmppd: %s is not served here", host)
	}
	if h.reg == nil {
		return "", errors.New("xmppd: registration is not running")
	}
	return h.reg.Register(ctx, token, username, password)
}
