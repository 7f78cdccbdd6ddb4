package service

import (
	"context"
	"errors"
	"fmt"
	"testing"

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
