package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
	"github.com/xmpp-invites/invites/internal/page"
	"github.com/xmpp-invites/invites/plugin"
)

// Messenger sends messages from the server to accounts: a host with
// plugin.FeatureMessages (plugin.Messenger).
type Messenger interface {
	SendMessage(ctx context.Context, m plugin.Message) error
}

// AccountAdmin changes accounts' states: a host with plugin.FeatureAccountStates
// (plugin.AccountAdmin).
type AccountAdmin interface {
	SetAccountState(ctx context.Context, jid string, state plugin.AccountState) error
	DeleteAccount(ctx context.Context, jid string) error
}

// Invites reads invites with their details (the welcome message): the core's
// Service implements it.
type Invites interface {
	Invite(ctx context.Context, by core.Actor, host, id string) (core.Invite, error)
}

// Options configure a Sink.
type Options struct {
	// Messenger sends messages; nil when the host cannot (no plugin.FeatureMessages):
	// the sink then sends none and says so once.
	Messenger Messenger
	// Admin changes account states; nil when the host cannot (no
	// plugin.FeatureAccountStates): the sink then changes none and says so once.
	Admin AccountAdmin
	// Invites reads invites. Required.
	Invites Invites
	// Notices returns the notices of a host (its [[host]] keys over the top level's).
	// Required.
	Notices func(host string) core.Notices
	// Catalog words the messages; nil means the page's embedded messages.
	Catalog *page.Catalog
	// Language, when not nil, returns the language an account reads (BCP 47), such as
	// the xml:lang of its last login, or "" when unknown: messages to inviters and
	// creators are written in it, else in the catalog's default.
	Language func(ctx context.Context, jid string) (string, error)
	// SiteName names the service in messages, such as "Example Chat"; "" means the
	// host's domain.
	SiteName string
	// Logger receives the capabilities the host lacks, once; nil discards.
	Logger *slog.Logger
}

// Sink is the outbox sink of the XMPP host: it asks the host to change account states
// and sends messages from the server (see the package documentation).
type Sink struct {
	opts Options
	cat  *page.Catalog
	log  *slog.Logger
}

var (
	_ outbox.Sink    = (*Sink)(nil)
	_ outbox.Bounded = (*Sink)(nil)
)

// callTimeout bounds each call to the host.
const callTimeout = 10 * time.Second

// MaxDuration implements outbox.Bounded: one call to the host per event, none when
// the host can do nothing the sink asks.
func (s *Sink) MaxDuration() time.Duration {
	if s.opts.Messenger == nil && s.opts.Admin == nil {
		return 0
	}
	return callTimeout
}

// New returns the host's Sink.
func New(opts Options) (*Sink, error) {
	if opts.Invites == nil || opts.Notices == nil {
		return nil, errors.New("host notices: the invites and the hosts' notices are required")
	}
	s := &Sink{opts: opts, cat: opts.Catalog, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.cat == nil {
		var err error
		if s.cat, err = page.NewCatalog(nil, nil); err != nil {
			return nil, err
		}
	}
	if opts.Messenger == nil {
		s.log.Warn("this server cannot send messages to accounts: inviters are not told of their invites' use, and no welcome, reminder or approval request is sent")
	}
	if opts.Admin == nil {
		s.log.Info("this server cannot change account states: approvals, rejections and disabling are not carried out")
	}
	return s, nil
}

// Name implements outbox.Sink.
func (s *Sink) Name() string { return "host" }

// Wants implements outbox.Sink: the events the host's capabilities let it act on.
func (s *Sink) Wants(t core.EventType) bool {
	switch t {
	case core.EventAccountApproved, core.EventAccountRejected, core.EventAccountDisabled, core.EventAccountEnabled:
		return s.opts.Admin != nil
	case core.EventAccountPending, core.EventAccountCreated, core.EventInviteRedeemed, core.EventAccountFirstLogin,
		core.EventInviteExpiring, core.EventInviteExpired:
		return s.opts.Messenger != nil
	}
	return false
}

// Deliveries implements outbox.Sink.
func (s *Sink) Deliveries(e core.Event) []outbox.Delivery {
	if !s.Wants(e.Type) {
		return nil
	}
	one := func(do func(ctx context.Context) error) []outbox.Delivery {
		return []outbox.Delivery{{Key: "host " + string(e.Type), Endpoint: "host", Type: string(e.Type),
			Do: func(ctx context.Context, _ int) outbox.Result {
				ctx, cancel := context.WithTimeout(ctx, callTimeout)
				defer cancel()
				if err := do(ctx); err != nil {
					return outbox.Result{Err: describe(err)}
				}
				return outbox.Result{}
			}}}
	}
	state := func(st plugin.AccountState) []outbox.Delivery {
		if e.JID == "" {
			return nil
		}
		return one(func(ctx context.Context) error { return s.opts.Admin.SetAccountState(ctx, e.JID, st) })
	}
	switch e.Type {
	case core.EventAccountApproved:
		return state(plugin.AccountActive)
	case core.EventAccountRejected:
		if e.JID == "" {
			return nil
		}
		return one(func(ctx context.Context) error { return s.opts.Admin.DeleteAccount(ctx, e.JID) })
	case core.EventAccountDisabled, core.EventAccountEnabled:
		if e.Actor.Kind == core.ActorHost {
			return nil // the host did it, and told us
		}
		if e.Type == core.EventAccountDisabled {
			return state(plugin.AccountDisabled)
		}
		return state(plugin.AccountActive)
	case core.EventAccountPending:
		return one(func(ctx context.Context) error { return s.pending(ctx, e) })
	case core.EventAccountCreated:
		return s.toInviter(e, "msg.joined", one)
	case core.EventInviteRedeemed:
		if e.Purpose != core.PurposeSubscribe {
			return nil // a registration tells the inviter at account.created
		}
		return s.toInviter(e, "msg.subscribed", one)
	case core.EventAccountFirstLogin:
		if e.JID == "" {
			return nil
		}
		return one(func(ctx context.Context) error { return s.welcome(ctx, e) })
	case core.EventInviteExpiring, core.EventInviteExpired:
		to := creator(e.Invite)
		if to == "" || e.Type == core.EventInviteExpired && e.Invite.Uses > 0 {
			return nil // a key's or the command line's invite, or one that was used
		}
		return one(func(ctx context.Context) error { return s.reminder(ctx, e, to) })
	}
	return nil
}

// creator returns the account that made an invite, or "" for a key or the command line.
func creator(inv *core.EventInvite) string {
	if inv == nil || !strings.HasPrefix(inv.CreatedBy, "xmpp:") {
		return ""
	}
	return strings.TrimPrefix(inv.CreatedBy, "xmpp:")
}

// inviter returns the account an invite's use is told to under the host's
// notify_inviter, or "".
func (s *Sink) inviter(e core.Event) string {
	inv := e.Invite
	if inv == nil {
		return ""
	}
	switch s.opts.Notices(e.Host).NotifyInviter {
	case core.NotifyNone:
		return ""
	case core.NotifyAll:
		if inv.Kind == core.KindContact && inv.Inviter != "" {
			return inv.Inviter + "@" + e.Host
		}
		return creator(inv)
	}
	// user-invites: the contact invites accounts make.
	if inv.Kind == core.KindContact && inv.Inviter != "" && creator(inv) != "" {
		return inv.Inviter + "@" + e.Host
	}
	return ""
}

// toInviter tells the inviter that e.JID used the invite, with the message key.
func (s *Sink) toInviter(e core.Event, key string, one func(func(context.Context) error) []outbox.Delivery) []outbox.Delivery {
	to := s.inviter(e)
	if to == "" || e.JID == "" || to == e.JID {
		return nil
	}
	return one(func(ctx context.Context) error {
		t := s.cat.Translator(s.language(ctx, to))
		return s.opts.Messenger.SendMessage(ctx, plugin.Message{Host: e.Host, To: to, Lang: t.Lang(),
			Body: t.Get(key, e.JID, s.site(e.Host))})
	})
}

// pending asks the host's administrators to approve an account.
func (s *Sink) pending(ctx context.Context, e core.Event) error {
	t := s.cat.Translator("")
	body := t.Get("msg.pending", e.JID)
	if e.Account != nil && e.Account.Note != "" {
		body += "\n" + t.Get("msg.pending.note", e.Account.Note)
	}
	return s.opts.Messenger.SendMessage(ctx, plugin.Message{Host: e.Host, Lang: t.Lang(),
		Subject: t.Get("msg.pending.subject"), Body: body})
}

// welcome sends the new account its welcome: its invite's, else the host's, with the
// inviter and the groups it joined; nothing when neither has one.
func (s *Sink) welcome(ctx context.Context, e core.Event) error {
	text := ""
	var inv core.Invite
	if e.InviteID != "" {
		var err error
		inv, err = s.opts.Invites.Invite(ctx, core.Actor{Kind: core.ActorHost}, e.Host, e.InviteID)
		switch {
		case errors.Is(err, core.ErrNotFound):
			inv = core.Invite{} // purged: the host's welcome, without details
		case err != nil:
			return err
		}
		text = inv.Welcome
	}
	if text == "" {
		text = s.opts.Notices(e.Host).Welcome
	}
	if text == "" {
		return nil
	}
	lang := e.Lang
	if lang == "" && e.Account != nil {
		lang = e.Account.Lang
	}
	t := s.cat.Translator(lang)
	lines := []string{text}
	if inv.Kind == core.KindContact && inv.Inviter != "" {
		lines = append(lines, t.Get("msg.welcome.inviter", inv.Inviter+"@"+inv.Host))
	}
	if len(inv.Groups) > 0 {
		lines = append(lines, t.Get("msg.welcome.groups", strings.Join(inv.Groups, ", ")))
	}
	return s.opts.Messenger.SendMessage(ctx, plugin.Message{Host: e.Host, To: e.JID, Lang: t.Lang(),
		Subject: t.Get("msg.welcome.subject", s.site(e.Host)), Body: strings.Join(lines, "\n\n")})
}

// reminder tells an invite's creator that it expires soon, or expired unused.
func (s *Sink) reminder(ctx context.Context, e core.Event, to string) error {
	t := s.cat.Translator(s.language(ctx, to))
	name := e.InviteID
	if e.Invite.Note != "" {
		name = t.Get("msg.invite.note", e.Invite.Note)
	}
	body := t.Get("msg.expired", name)
	if e.Type == core.EventInviteExpiring {
		body = t.Get("msg.expiring", name, t.Date(e.Invite.ExpiresAt))
	}
	return s.opts.Messenger.SendMessage(ctx, plugin.Message{Host: e.Host, To: to, Lang: t.Lang(), Body: body})
}

// language returns the language of an account, or "" (the default) when unknown.
func (s *Sink) language(ctx context.Context, jid string) string {
	if s.opts.Language == nil {
		return ""
	}
	l, err := s.opts.Language(ctx, jid)
	if err != nil {
		return ""
	}
	return l
}

// site names the service.
func (s *Sink) site(host string) string {
	if s.opts.SiteName != "" {
		return s.opts.SiteName
	}
	return host
}

// describe words a host's failure for the delivery log.
func describe(err error) error {
	if errors.Is(err, plugin.ErrUnavailable) {
		return errors.New("the server did not answer")
	}
	return fmt.Errorf("the server refused: %w", err)
}
