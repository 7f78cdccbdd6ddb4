package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// BulkAction is a change made to many invites or accounts at once (Service.Bulk).
type BulkAction string

// The bulk actions.
const (
	// BulkRevokeInvites revokes the pending invites of the scope.
	BulkRevokeInvites BulkAction = "revoke-invites"
	// BulkDisableAccounts disables the active accounts of the scope.
	BulkDisableAccounts BulkAction = "disable-accounts"
	// BulkEnableAccounts enables the disabled accounts of the scope again.
	BulkEnableAccounts BulkAction = "enable-accounts"
)

// ParseBulkAction reads a bulk action as written in requests.
func ParseBulkAction(s string) (BulkAction, error) {
	switch a := BulkAction(strings.ToLower(strings.TrimSpace(s))); a {
	case BulkRevokeInvites, BulkDisableAccounts, BulkEnableAccounts:
		return a, nil
	}
	return "", Refuse(ErrInvalid, FieldAction, "unknown action %q: use revoke-invites, disable-accounts or enable-accounts", s)
}

// MaxBulk bounds how many invites or accounts one bulk action changes.
const MaxBulk = 100_000

// BulkSpec describes a bulk action.
type BulkSpec struct {
	// Tree names the scope's root (Host, Root, Kind; Depth, Limit and Cursor are not
	// used): an account, an invite or a key.
	Tree TreeRequest
	// Action is what to do.
	Action BulkAction
	// Subtree extends the scope to the whole tree below the root; without it the
	// scope is the root's nearest invites (those an account or key made) or accounts
	// (those an invite made, or that an account's invites made).
	Subtree bool
	// DryRun changes nothing and returns what the action would change.
	DryRun bool
	// Actor is who asks; it must manage the host.
	Actor Actor
}

// BulkResult is what a bulk action changed, or would change (DryRun).
type BulkResult struct {
	// Action and DryRun are those of the request.
	Action BulkAction
	DryRun bool
	// Invites are the invites revoked (or to revoke), in the tree's order, as they
	// are after the action.
	Invites []Invite
	// Accounts are the accounts disabled or enabled (or to be), in the tree's order,
	// as they are after the action.
	Accounts []Account
}

// Bulk revokes the pending invites, or disables or enables the accounts, of an
// account's, an invite's or a key's scope (see BulkSpec), each change audited and
// written as its event (EventInviteRevoked, EventAccountDisabled, EventAccountEnabled)
// with the actor who asked. A dry run changes nothing and lists exactly what the same
// request would change now. Disabling and enabling accounts needs a server that can
// (HostConfig.AccountStates): otherwise they are refused with "this server cannot
// disable accounts". A scope of more than MaxBulk targets is refused.
// Each change is committed on its own: should one fail, the result holds those made
// before it, and the error says why.
func (s *Service) Bulk(ctx context.Context, spec BulkSpec) (BulkResult, error) {
	res := BulkResult{Action: spec.Action, DryRun: spec.DryRun}
	h, err := s.Host(spec.Tree.Host)
	if err != nil {
		return res, err
	}
	by := spec.Actor
	if !by.managing() {
		return res, ErrNotFound
	}
	wantAccounts := spec.Action == BulkDisableAccounts || spec.Action == BulkEnableAccounts
	switch {
	case spec.Action != BulkRevokeInvites && !wantAccounts:
		return res, Refuse(ErrInvalid, FieldAction, "unknown action %q: use revoke-invites, disable-accounts or enable-accounts", string(spec.Action))
	case wantAccounts && !h.AccountStates:
		verb := "disable"
		if spec.Action == BulkEnableAccounts {
			verb = "enable"
		}
		return res, Refuse(ErrConflict, "", "this server cannot %s accounts", verb)
	}
	rt, err := s.resolveRoot(ctx, h, spec.Tree)
	if err != nil {
		return res, err
	}
	depth := MaxTreeDepth
	if !spec.Subtree {
		// The nearest level of the kind the action changes.
		depth = 1
		if (rt.item.Kind == NodeInvite) != wantAccounts {
			depth = 2
		}
	}
	now := s.now()
	invs, accs, err := s.bulkTargets(ctx, h, rt, depth, spec.Action, now)
	if err != nil {
		return res, err
	}
	if spec.DryRun {
		res.Invites, res.Accounts = invs, accs
		return res, nil
	}
	manage := by
	manage.Manage = true
	for _, inv := range invs {
		got, err := s.RevokeInvite(ctx, manage, h.Domain, inv.ID)
		if errors.Is(err, ErrNotFound) {
			continue // purged meanwhile
		}
		if err != nil {
			return res, fmt.Errorf("revoking invite %s: %w", inv.ID, err)
		}
		res.Invites = append(res.Invites, got)
	}
	for _, a := range accs {
		got, changed, err := s.setState(ctx, by, a.JID, spec.Action)
		if err != nil {
			return res, fmt.Errorf("changing account %s: %w", a.JID, err)
		}
		if changed {
			res.Accounts = append(res.Accounts, got)
		}
	}
	return res, nil
}

// bulkTargets walks the tree below rt to depth and returns the invites and accounts
// the action changes, in the tree's order.
func (s *Service) bulkTargets(ctx context.Context, h HostConfig, rt root, depth int, action BulkAction, now time.Time) ([]Invite, []Account, error) {
	var (
		invs  []Invite
		accs  []Account
		after string
	)
	for range MaxBulk*2/MaxTreeLimit + 1 {
		nodes, err := s.store.Tree(ctx, TreeQuery{Host: h.Domain, Creator: rt.creator, Since: rt.since, Invite: rt.invite,
			Depth: depth, After: after, Limit: MaxTreeLimit})
		if err != nil {
			return nil, nil, fmt.Errorf("reading the tree: %w", err)
		}
		for _, n := range nodes {
			switch {
			case n.Invite != nil && action == BulkRevokeInvites && n.Invite.Status(now) == StatusPending:
				invs = append(invs, *n.Invite)
			case n.Account != nil && action == BulkDisableAccounts && n.Account.State == AccountActive,
				n.Account != nil && action == BulkEnableAccounts && n.Account.State == AccountDisabled:
				accs = append(accs, *n.Account)
			}
		}
		if len(invs)+len(accs) > MaxBulk {
			return nil, nil, Refuse(ErrInvalid, FieldAction, "more than %d invites or accounts: narrow the scope", MaxBulk)
		}
		if len(nodes) < MaxTreeLimit {
			return invs, accs, nil
		}
		after = nodes[len(nodes)-1].Path
	}
	return nil, nil, Refuse(ErrInvalid, FieldAction, "the tree is too large: narrow the scope")
}

// setState disables or enables the account jid for a bulk action, if its state is
// still the one the action changes, and reports whether it changed.
func (s *Service) setState(ctx context.Context, by Actor, jid string, action BulkAction) (Account, bool, error) {
	from, to, t := AccountActive, AccountDisabled, EventAccountDisabled
	if action == BulkEnableAccounts {
		from, to, t = AccountDisabled, AccountActive, EventAccountEnabled
	}
	changed := false
	a, err := s.changeAccount(ctx, jid, func(a *Account, _ []Hold, now time.Time) ([]Event, bool, error) {
		changed = false
		if a.Seq == 0 || a.State != from {
			return nil, false, nil
		}
		a.State, a.ChangedAt, a.ChangedBy = to, now, by.CreatedBy()
		changed = true
		return []Event{s.accountEvent(t, now, by, *a)}, true, nil
	})
	return a, changed, err
}
