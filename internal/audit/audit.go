package audit

import (
	"context"
	"log/slog"

	"github.com/xmpp-invites/invites/internal/core"
)

// Message is the message of every audit record.
const Message = "audit"

// Log is a core.Observer that writes each event as an audit record.
type Log struct {
	log *slog.Logger
}

// New returns an audit log writing to logger (nil discards).
func New(logger *slog.Logger) *Log {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Log{log: logger}
}

// Observe implements core.Observer: one record per event. Expired invites, which the
// sweep notes in bulk, are recorded at debug level; everything else at info.
func (l *Log) Observe(ctx context.Context, e core.Event) {
	level := slog.LevelInfo
	if e.Type == core.EventInviteExpired {
		level = slog.LevelDebug
	}
	if !l.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.Bool("audit", true),
		slog.String("event", string(e.Type)),
		slog.String("event_id", e.ID),
		slog.String("actor", actor(e.Actor)),
	)
	add := func(key, value string) {
		if value != "" {
			attrs = append(attrs, slog.String(key, value))
		}
	}
	add("remote", e.Actor.Remote)
	add("host", e.Host)
	add("key_id", e.KeyID)
	add("invite_id", e.InviteID)
	add("jid", e.JID)
	add("purpose", string(e.Purpose))
	add("reason", e.Reason)
	if len(e.Changed) > 0 {
		attrs = append(attrs, slog.Any("changed", e.Changed))
	}
	if inv := e.Invite; inv != nil {
		add("kind", string(inv.Kind))
		add("created_by", inv.CreatedBy)
		if e.Type == core.EventInviteCreated || e.Type == core.EventInviteUpdated {
			attrs = append(attrs, slog.Int("max_uses", inv.MaxUses),
				slog.Time("expires_at", inv.ExpiresAt))
		}
	}
	l.log.LogAttrs(ctx, level, Message, attrs...)
}

// actor writes who acted: "key:ID", "jid:JID", "cli" or "host".
func actor(a core.Actor) string {
	switch a.Kind {
	case core.ActorKey, core.ActorJID:
		if a.ID != "" {
			return string(a.Kind) + ":" + a.ID
		}
		return string(a.Kind)
	case core.ActorCLI:
		return "cli"
	}
	if a.ID != "" {
		return "host:" + a.ID
	}
	return "host"
}

var _ core.Observer = (*Log)(nil)
