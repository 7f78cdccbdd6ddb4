package outbox

import (
	"context"

	"github.com/xmpp-invites/invites/internal/core"
)

// FunnelSink counts the funnel stages that accounts reach (account created, first
// login, still active after 7 days) on the invite that made them, from the account
// events: each count is an Effect, written with the event's delivery, so that an
// event counts once.
type FunnelSink struct {
	counted func(st core.Stage, kind core.Kind)
	kindOf  func(ctx context.Context, host, inviteID string) core.Kind
}

var _ Sink = (*FunnelSink)(nil)

// NewFunnelSink returns the funnel's sink; counted, when not nil, learns of each count
// once it is written (for the metrics), with the invite's kind: the event's, else what
// kindOf (when not nil) finds for its invite, else "".
func NewFunnelSink(counted func(st core.Stage, kind core.Kind), kindOf func(ctx context.Context, host, inviteID string) core.Kind) *FunnelSink {
	return &FunnelSink{counted: counted, kindOf: kindOf}
}

// stage returns the funnel stage an event reaches, or "".
func stage(t core.EventType) core.Stage {
	switch t {
	case core.EventAccountCreated:
		return core.StageAccountCreated
	case core.EventAccountFirstLogin:
		return core.StageFirstLogin
	case core.EventAccountActive:
		return core.StageStillActive
	}
	return ""
}

// Name implements Sink.
func (f *FunnelSink) Name() string { return "funnel" }

// Wants implements Sink.
func (f *FunnelSink) Wants(t core.EventType) bool { return stage(t) != "" }

// Deliveries implements Sink.
func (f *FunnelSink) Deliveries(e core.Event) []Delivery {
	st := stage(e.Type)
	if st == "" {
		return nil
	}
	var kind core.Kind
	if e.Invite != nil {
		kind = e.Invite.Kind
	}
	return []Delivery{{Key: "funnel " + string(e.Type), Endpoint: "funnel", Type: string(e.Type),
		Do: func(ctx context.Context, _ int) Result {
			r := Result{}
			if kind == "" && e.InviteID != "" && f.kindOf != nil {
				kind = f.kindOf(ctx, e.Host, e.InviteID)
			}
			if e.InviteID != "" {
				r.Effects = []Effect{{Funnel: &core.FunnelCount{InviteID: e.InviteID, Stage: st, N: 1}}}
			}
			if f.counted != nil {
				r.Committed = func() { f.counted(st, kind) }
			}
			return r
		}}}
}
