package core_test

import (
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// TestAccountsConfig: the [accounts] table's defaults, its refusals naming their key,
// and the per-host rules applied to the hosts, which without account states approve
// nothing.
func TestAccountsConfig(t *testing.T) {
	var c core.AccountsConfig
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.HoldTime) != 10*time.Minute || time.Duration(c.ApprovalTimeout) != 7*24*time.Hour ||
		c.Approval != core.InvitesNone || c.InviterStanding != core.InvitesOfUsers {
		t.Errorf("defaults %+v", c)
	}
	for i, tc := range []struct {
		c    core.AccountsConfig
		want string
	}{
		{core.AccountsConfig{HoldTime: core.Duration(time.Millisecond)}, "hold_time must be between 1 second and 1 day"},
		{core.AccountsConfig{HoldTime: core.Duration(48 * time.Hour)}, "hold_time must be between"},
		{core.AccountsConfig{ApprovalTimeout: core.Duration(time.Second)}, "approval_timeout must be at least 1 minute"},
		{core.AccountsConfig{Approval: "users"}, `approval: "users" is not known: use "none", "user-invites" or "all"`},
		{core.AccountsConfig{InviterStanding: "some"}, `inviter_standing: "some" is not known`},
		{core.AccountsConfig{Hosts: []core.AccountsHost{{Domain: "a@b"}}}, "host 1:"},
		{core.AccountsConfig{Hosts: []core.AccountsHost{{Domain: "x.example"}, {Domain: "X.example"}}}, "host x.example listed twice"},
		{core.AccountsConfig{Hosts: []core.AccountsHost{{Domain: "x.example", Approval: "most"}}}, `host x.example: approval: "most" is not known`},
	} {
		if err := tc.c.Normalize(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d: %v, want %q", i, err, tc.want)
		}
	}
	c = core.AccountsConfig{Approval: core.InvitesOfUsers, Hosts: []core.AccountsHost{{Domain: "Strict.example", Approval: core.InvitesAll, InviterStanding: core.InvitesNone}}}
	if err := c.Normalize(); err != nil {
		t.Fatal(err)
	}
	hosts := c.Apply([]core.HostConfig{{Domain: "strict.example"}, {Domain: "other.example"}}, true)
	if h := hosts[0]; h.Approval != core.InvitesAll || h.InviterStanding != core.InvitesNone || !h.AccountStates {
		t.Errorf("strict.example: %+v", h)
	}
	if h := hosts[1]; h.Approval != core.InvitesOfUsers || h.InviterStanding != core.InvitesOfUsers {
		t.Errorf("other.example: %+v", h)
	}
	if _, err := core.NewService(core.Options{Store: nil}); err == nil {
		t.Error("a service without a store")
	}
}
