package metrics

import (
	"context"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// TimeStore returns st with the latency of every call recorded in
// invites_store_duration_seconds.
func (p *Plugin) TimeStore(st core.Store) core.Store {
	return &timedStore{s: st, p: p}
}

// timedStore records the latency of each call of s.
type timedStore struct {
	s core.Store
	p *Plugin
}

var _ core.Store = (*timedStore)(nil)

func (t *timedStore) since(op string, start time.Time) { t.p.StoreCall(op, time.Since(start)) }

// CreateKey implements core.Store.
func (t *timedStore) CreateKey(ctx context.Context, k core.Key, events []core.Event) error {
	defer t.since("create_key", time.Now())
	return t.s.CreateKey(ctx, k, events)
}

// Key implements core.Store.
func (t *timedStore) Key(ctx context.Context, id string) (core.Key, error) {
	defer t.since("key", time.Now())
	return t.s.Key(ctx, id)
}

// Keys implements core.Store.
func (t *timedStore) Keys(ctx context.Context, host string) ([]core.Key, error) {
	defer t.since("keys", time.Now())
	return t.s.Keys(ctx, host)
}

// DeleteKey implements core.Store.
func (t *timedStore) DeleteKey(ctx context.Context, host, id string, events []core.Event) error {
	defer t.since("delete_key", time.Now())
	return t.s.DeleteKey(ctx, host, id, events)
}

// AddKeyUses implements core.Store.
func (t *timedStore) AddKeyUses(ctx context.Context, uses []core.KeyUse) error {
	defer t.since("add_key_uses", time.Now())
	return t.s.AddKeyUses(ctx, uses)
}

// CreateInvite implements core.Store.
func (t *timedStore) CreateInvite(ctx context.Context, inv core.Invite, w core.InviteWrite) error {
	defer t.since("create_invite", time.Now())
	return t.s.CreateInvite(ctx, inv, w)
}

// Invite implements core.Store.
func (t *timedStore) Invite(ctx context.Context, id string) (core.Invite, error) {
	defer t.since("invite", time.Now())
	return t.s.Invite(ctx, id)
}

// Redemptions implements core.Store.
func (t *timedStore) Redemptions(ctx context.Context, id string) ([]core.Use, error) {
	defer t.since("redemptions", time.Now())
	return t.s.Redemptions(ctx, id)
}

// ListInvites implements core.Store.
func (t *timedStore) ListInvites(ctx context.Context, f core.InviteFilter) ([]core.Invite, error) {
	defer t.since("list_invites", time.Now())
	return t.s.ListInvites(ctx, f)
}

// ChangeInvite implements core.Store.
func (t *timedStore) ChangeInvite(ctx context.Context, id string, change func(inv *core.Invite) (core.InviteChange, error)) (core.Invite, error) {
	defer t.since("change_invite", time.Now())
	return t.s.ChangeInvite(ctx, id, change)
}

// ExpireInvites implements core.Store.
func (t *timedStore) ExpireInvites(ctx context.Context, now time.Time, limit int, event func(core.Invite) core.Event) ([]core.Invite, error) {
	defer t.since("expire_invites", time.Now())
	return t.s.ExpireInvites(ctx, now, limit, event)
}

// PurgeInvites implements core.Store.
func (t *timedStore) PurgeInvites(ctx context.Context, endedBefore, now time.Time) (int64, error) {
	defer t.since("purge_invites", time.Now())
	return t.s.PurgeInvites(ctx, endedBefore, now)
}

// Close implements core.Store.
func (t *timedStore) Close() error { return t.s.Close() }

// KeysVersion implements core.Store (in memory: not timed).
func (t *timedStore) KeysVersion() (uint64, bool) { return t.s.KeysVersion() }

// RecordHosts implements core.Store.
func (t *timedStore) RecordHosts(ctx context.Context, hosts []core.RecordedHost) error {
	defer t.since("record_hosts", time.Now())
	return t.s.RecordHosts(ctx, hosts)
}

// RecordedHosts implements core.Store.
func (t *timedStore) RecordedHosts(ctx context.Context) ([]core.RecordedHost, error) {
	defer t.since("recorded_hosts", time.Now())
	return t.s.RecordedHosts(ctx)
}

// RemindInvites implements core.Store.
func (t *timedStore) RemindInvites(ctx context.Context, q core.ReminderQuery, event func(core.Invite) core.Event) ([]core.Invite, error) {
	defer t.since("remind_invites", time.Now())
	return t.s.RemindInvites(ctx, q, event)
}

// InviteDetails implements core.Store.
func (t *timedStore) InviteDetails(ctx context.Context, ids []string) (map[string]core.Details, error) {
	defer t.since("invite_details", time.Now())
	return t.s.InviteDetails(ctx, ids)
}

// AddFunnel implements core.Store.
func (t *timedStore) AddFunnel(ctx context.Context, counts []core.FunnelCount) error {
	defer t.since("add_funnel", time.Now())
	return t.s.AddFunnel(ctx, counts)
}
