package host

import (
	"context"
	"log/slog"
	"slices"

	"github.com/xmpp-invites/invites/plugin"
)

// defaultAPI is the HostAPI of a Config without one: no administrators, no accounts,
// the configured domains, and the plugin's Log calls written to the host's logger.
type defaultAPI struct {
	domains []string
	log     *slog.Logger
}

// IsAdmin implements plugin.HostAPI for a host that gave none.
func (defaultAPI) IsAdmin(context.Context, string, string) (bool, error) { return false, nil }

// AccountExists implements plugin.HostAPI for a host that gave none.
func (defaultAPI) AccountExists(context.Context, string) (bool, error) { return false, nil }

// Domains implements plugin.HostAPI for a host that gave none.
func (a defaultAPI) Domains(context.Context) ([]string, error) { return slices.Clone(a.domains), nil }

// Log implements plugin.HostAPI for a host that gave none.
func (a defaultAPI) Log(ctx context.Context, level slog.Level, msg string, attrs ...slog.Attr) error {
	a.log.LogAttrs(ctx, level, msg, append(attrs, slog.String("logger", "invites-plugin"))...)
	return nil
}

var _ plugin.HostAPI = defaultAPI{}
