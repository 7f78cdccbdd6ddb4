package metrics

import (
	"context"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// The store's calls of accounts, holds and the tree (issue 24), timed as the others.

// Account implements core.Store.
func (t *timedStore) Account(ctx context.Context, jid string) (core.Account, error) {
	defer t.since("account", time.Now())
	return t.s.Account(ctx, jid)
}

// ListAccounts implements core.Store.
func (t *timedStore) ListAccounts(ctx context.Context, f core.AccountFilter) ([]core.Account, error) {
	defer t.since("list_accounts", time.Now())
	return t.s.ListAccounts(ctx, f)
}

// ChangeAccount implements core.Store.
func (t *timedStore) ChangeAccount(ctx context.Context, jid string, change func(*core.Account, []core.Hold) (core.AccountChange, error)) (core.Account, error) {
	defer t.since("change_account", time.Now())
	return t.s.ChangeAccount(ctx, jid, change)
}

// Holds implements core.Store.
func (t *timedStore) Holds(ctx context.Context, before time.Time, limit int) ([]core.Hold, error) {
	defer t.since("holds", time.Now())
	return t.s.Holds(ctx, before, limit)
}

// Tree implements core.Store.
func (t *timedStore) Tree(ctx context.Context, q core.TreeQuery) ([]core.TreeNode, error) {
	defer t.since("tree", time.Now())
	return t.s.Tree(ctx, q)
}
