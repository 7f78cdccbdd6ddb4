package core

import (
	"errors"
	"fmt"
	"time"
)

// InviteSet names the invites a rule applies to: none, those ordinary users made
// (Invite.ByUser), or all.
type InviteSet string

// The sets of invites a rule applies to.
const (
	// InvitesNone: the rule applies to no invite.
	InvitesNone InviteSet = "none"
	// InvitesOfUsers: the rule applies to the invites ordinary accounts made (not an
	// administrator, an API key or the command line).
	InvitesOfUsers InviteSet = "user-invites"
	// InvitesAll: the rule applies to every invite.
	InvitesAll InviteSet = "all"
)

// Includes reports whether the rule of set s applies to inv.
func (s InviteSet) Includes(inv Invite) bool {
	switch s {
	case InvitesAll:
		return true
	case InvitesOfUsers:
		return inv.ByUser
	}
	return false
}

// check refuses a set that is not one of the three, naming key.
func (s InviteSet) check(key string) error {
	switch s {
	case InvitesNone, InvitesOfUsers, InvitesAll:
		return nil
	}
	return fmt.Errorf("%s: %q is not known: use \"none\", \"user-invites\" or \"all\"", key, string(s))
}

// Defaults and bounds of AccountsConfig.
const (
	// DefaultHoldTime is how long a registration's use of an invite waits for the
	// server to confirm its account before the sweep asks the server.
	DefaultHoldTime = 10 * time.Minute
	// MinHoldTime and MaxHoldTime bound hold_time.
	MinHoldTime = time.Second
	MaxHoldTime = 24 * time.Hour
	// DefaultApprovalTimeout is how long an account waits for an administrator's
	// approval before the sweep rejects it.
	DefaultApprovalTimeout = 7 * 24 * time.Hour
	// DefaultApproval is the approval rule of a host that sets none.
	DefaultApproval = InvitesNone
	// DefaultInviterStanding is the good-standing rule of a host that sets none.
	DefaultInviterStanding = InvitesOfUsers
)

// AccountsConfig is the [accounts] table of the plugin's config: the accounts the
// plugin keeps track of (who invited whom), the hold on registrations, the approval
// queue and the inviter's good standing.
// The zero value of each field means its documented default, filled by Normalize.
//
//	[accounts]
//	hold_time        = "10m"
//	approval         = "none"          # or "user-invites", "all"
//	approval_timeout = "7d"
//	inviter_standing = "user-invites"  # or "all", "none"
//
//	[[accounts.host]]
//	domain   = "example.org"
//	approval = "all"
type AccountsConfig struct {
	// HoldTime is how long a registration's use of an invite is held (counted against
	// max_uses, not yet confirmed) waiting for the server to report the account made;
	// past it the sweep asks the server whether the account exists and confirms the
	// use, or gives it back to the invite. A server killed between the redemption and
	// the account's creation thus leaves no use spent.
	// Default [DefaultHoldTime] (10 minutes); from 1 second to 1 day.
	HoldTime Duration `toml:"hold_time"`
	// Approval says whose invites make accounts that wait for an administrator's
	// approval before they can log in: "none", "user-invites" (those ordinary accounts
	// made) or "all". An invite may ask for it too (its approval flag). It needs a
	// server that can hold accounts pending (an AccountAdmin); on another, the plugin
	// warns at start and approves nothing.
	// Default [DefaultApproval] ("none").
	Approval InviteSet `toml:"approval"`
	// ApprovalTimeout is how long an account waits for approval; the sweep then
	// rejects it (the server deletes it and frees its name).
	// Default [DefaultApprovalTimeout] (7 days); at least 1 minute.
	ApprovalTimeout Duration `toml:"approval_timeout"`
	// InviterStanding says whose invites stop working while the account that made
	// them is disabled, deleted or pending approval: "user-invites" (those ordinary
	// accounts made), "all" (also an administrator's, and an API key's once the key
	// is deleted or expired) or "none".
	// Default [DefaultInviterStanding] ("user-invites").
	InviterStanding InviteSet `toml:"inviter_standing"`
	// Hosts override approval and inviter_standing for one domain each
	// ([[accounts.host]]).
	// Default none: every host has the table's.
	Hosts []AccountsHost `toml:"host"`
}

// AccountsHost is one [[accounts.host]] table: a domain's own approval and
// inviter_standing rules.
type AccountsHost struct {
	// Domain is the XMPP domain, such as "example.org". Required.
	Domain string `toml:"domain"`
	// Approval overrides [accounts] approval for this domain.
	// Default: the table's.
	Approval InviteSet `toml:"approval"`
	// InviterStanding overrides [accounts] inviter_standing for this domain.
	// Default: the table's.
	InviterStanding InviteSet `toml:"inviter_standing"`
}

// Normalize fills the defaults of c and checks it; each error names its key.
func (c *AccountsConfig) Normalize() error {
	if c.HoldTime == 0 {
		c.HoldTime = Duration(DefaultHoldTime)
	}
	if c.ApprovalTimeout == 0 {
		c.ApprovalTimeout = Duration(DefaultApprovalTimeout)
	}
	if c.Approval == "" {
		c.Approval = DefaultApproval
	}
	if c.InviterStanding == "" {
		c.InviterStanding = DefaultInviterStanding
	}
	var errs []error
	if c.HoldTime < Duration(MinHoldTime) || c.HoldTime > Duration(MaxHoldTime) {
		errs = append(errs, fmt.Errorf("hold_time must be between %s and %s", HumanDuration(MinHoldTime), HumanDuration(MaxHoldTime)))
	}
	if c.ApprovalTimeout < Duration(MinTTL) {
		errs = append(errs, fmt.Errorf("approval_timeout must be at least %s", HumanDuration(MinTTL)))
	}
	errs = append(errs, c.Approval.check("approval"), c.InviterStanding.check("inviter_standing"))
	seen := map[string]bool{}
	for i := range c.Hosts {
		h := &c.Hosts[i]
		d, err := listedDomain(seen, i, h.Domain)
		errs = append(errs, err)
		if d == "" {
			continue
		}
		h.Domain = d
		if h.Approval != "" {
			errs = append(errs, h.Approval.check("host "+d+": approval"))
		}
		if h.InviterStanding != "" {
			errs = append(errs, h.InviterStanding.check("host "+d+": inviter_standing"))
		}
	}
	return errors.Join(errs...)
}

// Apply returns hosts with each one's approval and inviter_standing rules set from
// c, and AccountStates set to states (whether the server can hold accounts pending
// and disable them); c must have been normalized.
func (c AccountsConfig) Apply(hosts []HostConfig, states bool) []HostConfig {
	out := make([]HostConfig, len(hosts))
	for i, h := range hosts {
		h.Approval, h.InviterStanding, h.AccountStates = c.Approval, c.InviterStanding, states
		d, _ := NormalizeDomain(h.Domain)
		for _, o := range c.Hosts {
			if o.Domain != d {
				continue
			}
			if o.Approval != "" {
				h.Approval = o.Approval
			}
			if o.InviterStanding != "" {
				h.InviterStanding = o.InviterStanding
			}
		}
		out[i] = h
	}
	return out
}
