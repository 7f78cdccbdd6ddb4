package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/plugin"
)

func TestPageErrors(t *testing.T) {
	for i, tc := range []struct {
		err, want error
	}{
		{core.ErrNotFound, page.ErrInviteDead},
		{core.ErrRevoked, page.ErrInviteDead},
		{core.ErrUsedUp, page.ErrInviteDead},
		{fmt.Errorf("checking invite: %w", core.ErrExpired), page.ErrInviteDead},
		{core.ErrUnknownHost, page.ErrInviteDead},
		{errors.New("database is locked"), page.ErrUnavailable},
		{context.DeadlineExceeded, context.DeadlineExceeded},
	} {
		if got := pageInviteError(tc.err); !errors.Is(got, tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("%d: invite %v → %v, want %v", i, tc.err, got, tc.want)
		}
	}
	for i, tc := range []struct {
		err, want error
	}{
		{plugin.ErrAccountExists, page.ErrNameTaken},
		{plugin.ErrInvalidUsername, page.ErrInvalidName},
		{plugin.ErrInvalidPassword, page.ErrInvalidPassword},
		{plugin.ErrInviteNotFound, page.ErrInviteDead},
		{plugin.ErrInviteExpired, page.ErrInviteDead},
		{fmt.Errorf("redeeming: %w", plugin.ErrUsernameNotAllowed), page.ErrNameNotAllowed},
		{plugin.ErrUnavailable, page.ErrUnavailable},
	} {
		if got := pageRegisterError(tc.err); !errors.Is(got, tc.want) || !errors.Is(got, tc.err) {
			t.Errorf("%d: register %v → %v, want %v", i, tc.err, got, tc.want)
		}
	}
	other := errors.New("disk on fire")
	if got := pageRegisterError(other); got != other {
		t.Errorf("other error → %v", got)
	}
}

// TestPageHosts: the page serves the hosts whose landing page is "builtin", from the
// top level or their own [[host]] block.
func TestPageHosts(t *testing.T) {
	c, err := config.Parse("landing_page = \"builtin\"\n[[host]]\ndomain = \"a.example\"\n[[host]]\ndomain = \"b.example\"\nlanding_page = \"https://b.example/i?{token}\"")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	if got := pageHosts(c.HostConfigs("c.example")); strings.Join(got, ",") != "a.example,c.example" {
		t.Errorf("page hosts = %v", got)
	}
	if got := pageHosts([]core.HostConfig{{Domain: "x.example"}}); got != nil {
		t.Errorf("no builtin page: %v", got)
	}
}
