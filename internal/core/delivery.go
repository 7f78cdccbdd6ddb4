package core

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// This file is what an invite reports back (issue 25): its email address and the
// delivery status of its mail, its welcome message, its funnel, and the reminders the
// sweep writes before it expires.

// The fields of the delivery side, as the HTTP API names them.
const (
	FieldEmail          = "email"           // the address an invite is mailed to
	FieldWelcome        = "welcome"         // the message a new account gets at its first login
	FieldExpiringWithin = "expiring_within" // a list of invites expiring soon
)

// Bounds of the delivery side's texts.
const (
	// MaxEmailLen bounds an email address, in bytes (RFC 5321's path limit).
	MaxEmailLen = 254
	// MaxWelcomeLen bounds a welcome message, in characters.
	MaxWelcomeLen = 1000
	// MinRemindBefore is the shortest remind_before: a reminder needs time to travel.
	MinRemindBefore = 10 * time.Second
	// DefaultRemindBefore is how long before its expiry a long-lived invite's creator
	// is reminded of it.
	DefaultRemindBefore = 24 * time.Hour
	// DefaultNoticeInterval is how often Run looks for invites to remind of and invites
	// that expired, unless a host's RemindBefore asks for more often.
	DefaultNoticeInterval = time.Minute
)

// The events of the delivery side.
const (
	// EventInviteExpiring: a pending invite expires within its host's RemindBefore
	// (written once per invite by the sweep, only for invites that live longer than
	// twice that); its creator is reminded (a message for accounts, the webhook for
	// keys).
	EventInviteExpiring EventType = "invite.expiring"
	// EventInviteEmail: an invite is to be sent by email, at its creation or when it is
	// sent again (Service.ResendInvite); the email sink sends it. Its ID is the
	// invite's Mail.Event while that mail is the one wanted.
	EventInviteEmail EventType = "invite.email"
)

// Stage is a step of an invite's funnel: what became of it.
type Stage string

// The stages of the funnel, in order.
const (
	// StageCreated: the invite was made.
	StageCreated Stage = "created"
	// StagePageOpened: its landing page was shown (counted per view, without cookies
	// or client identifiers).
	StagePageOpened Stage = "page_opened"
	// StageRegistrationStarted: the web registration form was shown, or the host
	// checked the token before an in-band registration (XEP-0445 pre-authentication).
	StageRegistrationStarted Stage = "registration_started"
	// StageAccountCreated: an account was made with it.
	StageAccountCreated Stage = "account_created"
	// StageFirstLogin: an account made with it logged in for the first time.
	StageFirstLogin Stage = "first_login"
	// StageStillActive: an account made with it was still active 7 days after it was
	// made.
	StageStillActive Stage = "still_active"
)

// Stages returns the stages in order.
func Stages() []Stage {
	return []Stage{StageCreated, StagePageOpened, StageRegistrationStarted, StageAccountCreated, StageFirstLogin, StageStillActive}
}

// Funnel counts what became of one invite, stage by stage after its creation.
// Counts hold no personal data: a page view is a counter increment, nothing more.
type Funnel struct {
	PageOpened          int `json:"page_opened"`          // StagePageOpened
	RegistrationStarted int `json:"registration_started"` // StageRegistrationStarted
	AccountCreated      int `json:"account_created"`      // StageAccountCreated
	FirstLogin          int `json:"first_login"`          // StageFirstLogin
	StillActive         int `json:"still_active"`         // StageStillActive
}

// Add adds n to the count of stage st (StageCreated has none).
func (f *Funnel) Add(st Stage, n int) {
	switch st {
	case StagePageOpened:
		f.PageOpened += n
	case StageRegistrationStarted:
		f.RegistrationStarted += n
	case StageAccountCreated:
		f.AccountCreated += n
	case StageFirstLogin:
		f.FirstLogin += n
	case StageStillActive:
		f.StillActive += n
	}
}

// FunnelCount adds N to the Stage of the invite InviteID (Store.AddFunnel).
type FunnelCount struct {
	InviteID string
	Stage    Stage
	N        int
}

// MailStatus is where an invite's email is.
type MailStatus string

// The statuses of an invite's email.
const (
	// MailQueued: the mail waits in the outbox (a relay that is down is retried).
	MailQueued MailStatus = "queued"
	// MailSent: the relay accepted it.
	MailSent MailStatus = "sent"
	// MailFailed: the relay refused it for good (a 5xx reply), or it could not be
	// delivered for a day.
	MailFailed MailStatus = "failed"
)

// Mail is the delivery of an invite's email.
type Mail struct {
	// Status is where it is; "" for an invite never mailed.
	Status MailStatus `json:"status"`
	// Error is the last failure: the relay's reply, or why none came; "" when none.
	Error string `json:"error,omitempty"`
	// At is when Status last changed.
	At time.Time `json:"at"`
	// Event is the outbox event (EventInviteEmail) of the mail wanted now: a mail of
	// another event (superseded by a resend) is not sent.
	Event string `json:"-"`
}

// Details are the parts of an invite that Store.Invite and Store.ListInvites leave out,
// read for people by Store.InviteDetails: its email address and delivery, its welcome
// message and its funnel.
type Details struct {
	Email   string
	Welcome string
	Mail    Mail
	Funnel  Funnel
}

// ErrMailSuperseded means an invite's mail is no longer wanted: the invite was sent
// again (a newer mail is wanted), was sent already, ended, or is gone.
var ErrMailSuperseded = errors.New("the invite's mail is no longer wanted")

// CheckEmail checks an email address as an invite takes it: a bare address
// (local@domain, no display name), at most MaxEmailLen bytes, and returns it with the
// domain in lower case. A refusal names FieldEmail.
func CheckEmail(s string) (string, error) {
	refuse := func() error {
		return Refuse(ErrInvalid, FieldEmail, "%q is not an email address: write it as name@example.org", s)
	}
	if s == "" || len(s) > MaxEmailLen || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || unsafeRune(r) }) {
		return "", refuse()
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", refuse()
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.HasPrefix(s[at+1:], ".") || strings.HasSuffix(s, ".") {
		return "", refuse()
	}
	return s[:at+1] + strings.ToLower(s[at+1:]), nil
}

// CheckWelcome checks a welcome message: at most MaxWelcomeLen characters, line breaks
// allowed, no other control or bidirectional formatting characters. It returns it with
// its line breaks as "\n" and surrounding space trimmed. A refusal names FieldWelcome.
func CheckWelcome(s string) (string, error) {
	s = strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n"))
	if n := utf8.RuneCountInString(s); n > MaxWelcomeLen {
		return "", Refuse(ErrInvalid, FieldWelcome, "the welcome message is %d characters long; at most %d are allowed", n, MaxWelcomeLen)
	}
	for _, line := range strings.Split(s, "\n") {
		if err := checkText(FieldWelcome, "welcome message", line, MaxWelcomeLen); err != nil {
			return "", err
		}
	}
	return s, nil
}

// withDetails fills in the delivery details of invites read from the store.
func (s *Service) withDetails(ctx context.Context, invs []Invite) error {
	if len(invs) == 0 {
		return nil
	}
	ids := make([]string, len(invs))
	for i, inv := range invs {
		ids[i] = inv.ID
	}
	d, err := s.store.InviteDetails(ctx, ids)
	if err != nil {
		return fmt.Errorf("reading invite details: %w", err)
	}
	s.funnelMu.Lock()
	defer s.funnelMu.Unlock()
	for i := range invs {
		x := d[invs[i].ID]
		invs[i].Email, invs[i].Welcome, invs[i].Mail, invs[i].Funnel = x.Email, x.Welcome, x.Mail, x.Funnel
		// Counts not written yet.
		for _, st := range Stages() {
			if n := s.funnel[FunnelCount{InviteID: invs[i].ID, Stage: st}]; n > 0 {
				invs[i].Funnel.Add(st, n)
			}
		}
	}
	return nil
}

// CountFunnel counts one step of an invite's funnel (StagePageOpened,
// StageRegistrationStarted): the count is kept in memory and written with the key
// bookkeeping (Flush), so that a page view costs no write.
func (s *Service) CountFunnel(inviteID string, st Stage) {
	if inviteID == "" {
		return
	}
	s.funnelMu.Lock()
	s.funnel[FunnelCount{InviteID: inviteID, Stage: st}]++
	s.funnelMu.Unlock()
}

// flushFunnel writes the funnel counts kept in memory; on failure they are kept for
// the next flush.
func (s *Service) flushFunnel(ctx context.Context) error {
	s.funnelMu.Lock()
	if len(s.funnel) == 0 {
		s.funnelMu.Unlock()
		return nil
	}
	batch := make([]FunnelCount, 0, len(s.funnel))
	for k, n := range s.funnel {
		k.N = n
		batch = append(batch, k)
	}
	clear(s.funnel)
	s.funnelMu.Unlock()
	if err := s.store.AddFunnel(ctx, batch); err != nil {
		s.funnelMu.Lock()
		for _, c := range batch {
			n := c.N
			c.N = 0
			s.funnel[c] += n
		}
		s.funnelMu.Unlock()
		return fmt.Errorf("writing funnel counts: %w", err)
	}
	return nil
}

// mailEvent returns the event that asks for an invite's mail, and the mail state that
// goes with it.
func (s *Service) mailEvent(inv Invite, by Actor, now time.Time) (Event, Mail) {
	ev := s.newEvent(EventInviteEmail, now, by, inv.Host)
	ev.InviteID, ev.Invite = inv.ID, eventInvite(inv, now)
	return ev, Mail{Status: MailQueued, At: now, Event: ev.ID}
}

// ResendInvite sends a pending invite the actor may see (see Invite) by email again,
// to email, or when email is "" to the address it has: it gets a fresh token at once,
// so that the link of every earlier mail (and any token shown before) is dead, and the
// new mail carries the only copy of the next one (see PrepareMail).
// It fails with ErrConflict when the invite is not pending, when it has no address and
// none is given, and when the server sends no email (Options.Mail).
func (s *Service) ResendInvite(ctx context.Context, by Actor, host, id, email string) (Invite, error) {
	h, err := s.Host(host)
	if err != nil {
		return Invite{}, err
	}
	if !ValidID(id) {
		return Invite{}, ErrNotFound
	}
	if email != "" {
		if email, err = CheckEmail(email); err != nil {
			return Invite{}, err
		}
	}
	if !s.mail {
		return Invite{}, Refuse(ErrConflict, FieldEmail, "this server sends no email: its administrator must set up an SMTP relay ([smtp])")
	}
	if email == "" {
		d, err := s.store.InviteDetails(ctx, []string{id})
		if err != nil {
			return Invite{}, fmt.Errorf("reading invite details: %w", err)
		}
		email = d[id].Email
	}
	dead, err := newToken(id)
	if err != nil {
		return Invite{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var ev Event
	inv, err := s.store.ChangeInvite(ctx, id, func(inv *Invite) (InviteChange, error) {
		if inv.Host != h.Domain || !by.sees(inv.CreatedBy) {
			return InviteChange{}, ErrNotFound
		}
		if st := inv.Status(now); st != StatusPending {
			return InviteChange{}, Refuse(ErrConflict, "", "the invite is %s: only a pending invite can be sent again", st)
		}
		if email == "" {
			return InviteChange{}, Refuse(ErrConflict, FieldEmail, "the invite has no email address: give the address to send it to")
		}
		var m Mail
		ev, m = s.mailEvent(*inv, by, now)
		// The events go to the outbox whatever the outbox's other settings: the mail is
		// sent from there.
		return InviteChange{TokenHash: HashToken(dead), Email: &email, Mail: &m, Events: []Event{ev}}, nil
	})
	if err != nil {
		return Invite{}, fmt.Errorf("sending invite again: %w", err)
	}
	s.emit(ctx, ev)
	out, err := s.withUses(ctx, inv)
	if err != nil {
		return Invite{}, err
	}
	invs := []Invite{out}
	if err := s.withDetails(ctx, invs); err != nil {
		return Invite{}, err
	}
	return invs[0], nil
}

// DeclineInvite revokes the pending invite a token names on host, for the person it
// was sent to who says it is not for them (the "not for me" link of its mail). It fails
// as CheckInvite does for a token that names no usable invite.
func (s *Service) DeclineInvite(ctx context.Context, host, token string) (Invite, error) {
	h, err := s.Host(host)
	if err != nil || !ValidToken(token) {
		return Invite{}, ErrNotFound
	}
	hash := HashToken(token)
	now := s.now().UTC().Truncate(time.Microsecond)
	var ev Event
	inv, err := s.store.ChangeInvite(ctx, TokenID(token), func(inv *Invite) (InviteChange, error) {
		if !inv.tokenMatches(hash) || inv.Host != h.Domain {
			return InviteChange{}, ErrNotFound
		}
		switch inv.Status(now) {
		case StatusRevoked:
			return InviteChange{}, ErrRevoked
		case StatusUsed:
			return InviteChange{}, ErrUsedUp
		case StatusExpired:
			return InviteChange{}, ErrExpired
		}
		inv.RevokedAt = now
		settle(inv, now)
		ev = s.newEvent(EventInviteRevoked, now, Actor{Kind: ActorHost, ID: "invitee"}, h.Domain)
		ev.InviteID, ev.Invite, ev.Reason = inv.ID, eventInvite(*inv, now), "declined"
		return InviteChange{Events: s.outboxOf(ev)}, nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) && !errors.Is(err, ErrRevoked) && !errors.Is(err, ErrUsedUp) {
			return Invite{}, ErrNotFound
		}
		return Invite{}, fmt.Errorf("declining invite: %w", err)
	}
	s.emit(ctx, ev)
	return inv, nil
}

// MailJob is an invite's email, ready to be sent: its token is fresh and, until the
// sender records the mail sent (giving the store TokenHash in the transaction that
// marks the delivery), known nowhere else.
type MailJob struct {
	// Invite is the invite, with its details (Email is the address).
	Invite Invite
	// Token is the invite's next token, which only the mail carries.
	Token string
	// TokenHash is its hash, for the store.
	TokenHash []byte
	// Link is where the mail sends its reader: the invite's landing page, else its
	// xmpp: URI, with Token.
	Link string
	// DeclineLink is the "not for me" link, which revokes the invite on the built-in
	// page; "" when the host has no built-in page.
	DeclineLink string
	// Inviter is who invites, as the mail names them: the inviting account's JID for a
	// contact invite, the creating account's for an invite made by an account, else "".
	Inviter string
}

// PrepareMail returns the mail of the invite inviteID that the outbox event eventID
// asks for, with a fresh token, or ErrMailSuperseded when that mail is no longer
// wanted (a newer one is, it went out already, the invite ended or is gone).
func (s *Service) PrepareMail(ctx context.Context, inviteID, eventID string) (MailJob, error) {
	inv, err := s.store.Invite(ctx, inviteID)
	switch {
	case errors.Is(err, ErrNotFound):
		return MailJob{}, ErrMailSuperseded
	case err != nil:
		return MailJob{}, fmt.Errorf("reading invite: %w", err)
	}
	invs := []Invite{inv}
	if err := s.withDetails(ctx, invs); err != nil {
		return MailJob{}, err
	}
	inv = invs[0]
	if inv.Mail.Event != eventID || inv.Mail.Status == MailSent || inv.Email == "" || inv.Status(s.now()) != StatusPending {
		return MailJob{}, ErrMailSuperseded
	}
	token, err := newToken(inv.ID)
	if err != nil {
		return MailJob{}, err
	}
	inv.Token = token
	job := MailJob{Invite: inv, Token: token, TokenHash: HashToken(token), Link: s.InviteLocation(inv)}
	if h, err := s.Host(inv.Host); err == nil && h.LandingPage == LandingBuiltin && s.baseURL != "" {
		job.DeclineLink = builtinPage(s.baseURL, token) + "&decline"
	}
	switch {
	case inv.Kind == KindContact && inv.Inviter != "":
		job.Inviter = inv.Inviter + "@" + inv.Host
	case strings.HasPrefix(inv.CreatedBy, "xmpp:"):
		job.Inviter = strings.TrimPrefix(inv.CreatedBy, "xmpp:")
	}
	return job, nil
}

// remind writes an EventInviteExpiring for each pending invite of each host that
// expires within the host's RemindBefore and lives longer than twice that, once per
// invite, and says how many it wrote.
func (s *Service) remind(ctx context.Context, now time.Time) (int64, error) {
	s.mu.RLock()
	hosts := make([]HostConfig, 0, len(s.hosts))
	for _, h := range s.hosts {
		hosts = append(hosts, h)
	}
	s.mu.RUnlock()
	var n int64
	for _, h := range hosts {
		if h.RemindBefore <= 0 {
			continue
		}
		q := ReminderQuery{Host: h.Domain, Now: now, Before: h.RemindBefore, Limit: sweepBatch}
		m, err := s.markBatches(ctx, now, EventInviteExpiring, func(event func(Invite) Event) ([]Invite, error) {
			return s.store.RemindInvites(ctx, q, event)
		})
		n += m
		if err != nil {
			return n, fmt.Errorf("noting invites to remind of: %w", err)
		}
	}
	return n, nil
}

// markBatches calls mark, a Store method that marks up to sweepBatch invites, until it
// marks fewer, and emits an event of type typ at now for each invite marked.
// Mark writes those events to the outbox too when a webhook wants them (its argument
// is nil otherwise).
// It says how many invites were marked, also when it fails.
func (s *Service) markBatches(ctx context.Context, now time.Time, typ EventType, mark func(event func(Invite) Event) ([]Invite, error)) (int64, error) {
	var n int64
	for {
		events := make(map[string]Event)
		mk := func(inv Invite) Event {
			ev := s.newEvent(typ, now, Actor{Kind: ActorHost}, inv.Host)
			ev.InviteID, ev.Invite = inv.ID, eventInvite(inv, now)
			events[inv.ID] = ev
			return ev
		}
		var write func(Invite) Event
		if s.wants(typ) {
			write = mk
		}
		invs, err := mark(write)
		if err != nil {
			return n, err
		}
		for _, inv := range invs {
			ev, ok := events[inv.ID]
			if !ok {
				ev = mk(inv)
			}
			s.emit(ctx, ev)
		}
		n += int64(len(invs))
		if len(invs) < sweepBatch {
			return n, nil
		}
	}
}

// ReminderQuery selects the invites Store.RemindInvites marks reminded: the pending
// invites of Host not reminded yet that expire after Now and at or before Now+Before,
// and whose lifetime (ExpiresAt - CreatedAt) is longer than 2×Before; at most Limit.
type ReminderQuery struct {
	Host   string
	Now    time.Time
	Before time.Duration
	Limit  int
}

// noticeInterval is how often Run looks for invites to remind of and that expired: the
// configured interval, or more often for a host whose RemindBefore is short, so that a
// reminder is never late by more than a quarter of it; at least a second.
func noticeInterval(configured time.Duration, hosts []HostConfig) time.Duration {
	d := configured
	if d <= 0 {
		d = DefaultNoticeInterval
	}
	for _, h := range hosts {
		if h.RemindBefore > 0 {
			d = min(d, h.RemindBefore/4)
		}
	}
	return max(d, time.Second)
}

// The values of Notices.NotifyInviter.
const (
	// NotifyUserInvites tells the inviting account of the contact invites accounts
	// make (the invites of ordinary users).
	NotifyUserInvites = "user-invites"
	// NotifyAll tells it of every invite an account made (administrators' too).
	NotifyAll = "all"
	// NotifyNone tells nobody.
	NotifyNone = "none"
)

// Notices are the keys of what invites report back to people, at the top level of the
// plugin's config and in each [[host]] table (where they override the top level's).
// The zero value of each field means its documented default, filled by Normalize.
type Notices struct {
	// NotifyInviter says whose invites tell their inviting account, by a message from
	// the server, when someone uses them ("bob@example.org joined with your
	// invitation"): "user-invites" (contact invites made by accounts), "all" (every
	// invite an account made) or "none". Keys' owners learn it by webhook.
	// Default: "user-invites" at the top level; in a [[host]] table, the top level's.
	NotifyInviter string `toml:"notify_inviter"`
	// Welcome is the message a new account gets from the server at its first login,
	// unless its invite has its own; the inviter (contact invites) and the groups it
	// joined are added to it. At most 1000 characters; line breaks allowed.
	// Default none: no welcome (in a [[host]] table: the top level's).
	Welcome string `toml:"welcome"`
	// RemindBefore is how long before a pending invite expires its creator is
	// reminded of it (a message for accounts, the webhook invite.expiring for keys),
	// for invites living longer than twice that. Default: 1 day at the top level; in a
	// [[host]] table, the top level's. At least 10 seconds.
	RemindBefore Duration `toml:"remind_before"`
}

// Normalize fills the defaults of the top level's notices and checks them.
func (n *Notices) Normalize() error {
	if n.NotifyInviter == "" {
		n.NotifyInviter = NotifyUserInvites
	}
	if n.RemindBefore == 0 {
		n.RemindBefore = Duration(DefaultRemindBefore)
	}
	return n.Check()
}

// Check checks notices as written, where a zero field is left to another level.
func (n Notices) Check() error {
	var errs []error
	switch n.NotifyInviter {
	case "", NotifyUserInvites, NotifyAll, NotifyNone:
	default:
		errs = append(errs, fmt.Errorf("notify_inviter %q is not known: use user-invites, all or none", n.NotifyInviter))
	}
	if n.Welcome != "" {
		if _, err := CheckWelcome(n.Welcome); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				err = errors.New(fe.Reason)
			}
			errs = append(errs, fmt.Errorf("welcome: %w", err))
		}
	}
	if n.RemindBefore != 0 && n.RemindBefore < Duration(MinRemindBefore) {
		errs = append(errs, fmt.Errorf("remind_before must be at least %s", HumanDuration(MinRemindBefore)))
	}
	return errors.Join(errs...)
}

// Over returns a host's notices with those of top for what it leaves out.
func (n Notices) Over(top Notices) Notices {
	if n.NotifyInviter == "" {
		n.NotifyInviter = top.NotifyInviter
	}
	if n.Welcome == "" {
		n.Welcome = top.Welcome
	}
	if n.RemindBefore == 0 {
		n.RemindBefore = top.RemindBefore
	}
	return n
}
