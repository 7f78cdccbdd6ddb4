package host

import (
	"context"
	"errors"
	"fmt"

	"github.com/xmpp-invites/invites/plugin"
)

// defaultAPI is the HostAPI of a Config without one: no accounts, and no registration.
type defaultAPI struct{}

// AccountExists implements plugin.HostAPI for a host that gave none.
func (defaultAPI) AccountExists(context.Context, string) (bool, error) { return false, nil }

// Register implements plugin.HostAPI for a host that gave none: it registers nothing.
func (defaultAPI) Register(context.Context, plugin.Registration) (string, error) {
	return "", fmt.Errorf("this server does not register accounts for the invites plugin: %w", errors.ErrUnsupported)
}

var _ plugin.HostAPI = defaultAPI{}
