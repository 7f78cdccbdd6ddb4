package core

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Bounds of invites.
const (
	// DefaultMaxUses is how many redemptions an invite allows unless its creator says
	// otherwise.
	DefaultMaxUses = 1
	// MaxMaxUses bounds max_uses.
	MaxMaxUses = 1_000_000
	// DefaultListLimit is how many invites a page of ListInvites holds unless asked.
	DefaultListLimit = 50
	// MaxListLimit bounds a page of ListInvites.
	MaxListLimit = 500
	// sweepBatch bounds how many invites one step of the sweep marks expired.
	sweepBatch = 500
)

// Quota bounds the invites one creator makes: at most Invites per Period, and at most
// Outstanding pending at once (counting the invites a change makes pending again).
// Zero fields mean no bound. Callers set it (Actor.Quota) for ordinary users;
// administrators have none.
type Quota struct {
	// Invites bounds the invites made within any Period.
	Invites int
	// Period is the window of Invites.
	Period time.Duration
	// Outstanding bounds the creator's pending invites.
	Outstanding int
}

// InviteSpec describes an invite to create.
type InviteSpec struct {
	// Host is the domain; ignored by CreateKeyInvite, which uses the key's.
	Host string
	// Kind is KindAccount (the zero value means it too), KindContact or KindReset.
	Kind Kind
	// Username, when set, is the only name an account invite can register; required
	// for a reset invite (the account it resets).
	Username string
	// Inviter is the inviting account's localpart; required for KindContact.
	Inviter string
	// AllowRegister lets a contact invite register an account too.
	AllowRegister bool
	// TTL is the invite's lifetime; zero means the host's default. At least MinTTL.
	TTL time.Duration
	// MaxUses is how many redemptions the invite allows: nil means DefaultMaxUses, 0
	// any number until it expires. A reset invite allows one.
	MaxUses *int
	// Note is the creator's free text, at most MaxNoteLen characters, without control,
	// line-separator or bidirectional formatting characters.
	Note string
	// Groups are the groups the host puts a new account in (see CheckGroups).
	Groups []string
	// Email, when set, sends the invite by email to this address (see CheckEmail;
	// refused unless the server sends email, Options.Mail): the invite is created
	// without a usable token, and the mail carries the only one (see PrepareMail).
	Email string
	// Welcome, when set, is the message its new accounts get from the server at their
	// first login, instead of the host's (see CheckWelcome).
	Welcome string
	// Approval makes the accounts the invite makes wait for an administrator's
	// approval; refused on a host that cannot hold accounts pending
	// (HostConfig.AccountStates), and for a reset invite.
	Approval bool
	// Actor is who creates it: recorded as the invite's CreatedBy and in the event.
	// Reset invites need an actor that manages its host (see Actor.Manage); its Quota,
	// when set, bounds the invites it makes, checked atomically with the insert.
	Actor Actor
	// Refused holds the refusals the caller found reading the request's text
	// (FieldErrors, such as a ttl that is not a duration; the fields they name are left
	// zero). When not nil nothing is created, and the error returned joins them with
	// every refusal the core finds in the rest of the spec, so that a submission learns
	// all that is wrong with it at once.
	Refused error
}

// CreateInvite makes an invite and returns it with its Token set, unless it is sent by
// email (InviteSpec.Email): then Token is empty, the token made with it is known
// nowhere, and its mail, queued in the outbox in the same transaction, gets a fresh
// one.
// It returns once the invite is durable.
func (s *Service) CreateInvite(ctx context.Context, spec InviteSpec) (Invite, error) {
	return s.createInvite(ctx, spec, spec.Actor.MaxTTL)
}

// CreateKeyInvite makes an account invite on behalf of an authenticated key: on the key's
// host, bounded by the key's maximum lifetime and rate, created by "api/token/ID".
// A key with a rate spends one of it for each account the invite can make (max_uses),
// and cannot make an invite for any number of accounts.
// spec.Actor may give the client's address (Remote); the rest of the actor is the key.
func (s *Service) CreateKeyInvite(ctx context.Context, k Key, spec InviteSpec) (Invite, error) {
	spec.Host = k.Host
	spec.Actor = KeyActor(k, spec.Actor.Remote)
	if spec.Kind == "" {
		spec.Kind = KindAccount
	}
	if spec.Kind != KindAccount {
		spec.Refused = errors.Join(spec.Refused, Refuse(ErrInvalid, FieldKind, "API keys make account invites only"))
	}
	return s.createInvite(ctx, spec, k.MaxTTL)
}

// rateRefusal refuses max_uses m (or a raise of it to m by k) that a key's rate can
// never give: any number of accounts, or more at once than its budget holds.
func rateRefusal(r Rate, m, k int) error {
	switch {
	case r.IsZero():
		return nil
	case m == 0:
		return Refuse(ErrInvalid, FieldMaxUses, "a key with a rate of %s cannot make an invite for any number of accounts: give max_uses", r.String())
	case k > r.N:
		return Refuse(ErrInvalid, FieldMaxUses, "a key with a rate of %s can add at most %d accounts at once", r.String(), r.N)
	}
	return nil
}

// createInvite makes an invite; keyMax, when positive, further bounds its lifetime.
// The actor's quota and rate are checked by the store with the insert: a refused
// request spends neither.
func (s *Service) createInvite(ctx context.Context, spec InviteSpec, keyMax time.Duration) (Invite, error) {
	h, err := s.Host(spec.Host)
	if err != nil {
		return Invite{}, err
	}
	rate := spec.Actor.Rate
	if spec.Actor.Kind == ActorKey && !rate.IsZero() {
		m := DefaultMaxUses
		if spec.MaxUses != nil {
			m = *spec.MaxUses
		}
		spec.Refused = errors.Join(spec.Refused, rateRefusal(rate, m, m))
	}
	if spec.Email != "" && !s.mail {
		spec.Refused = errors.Join(spec.Refused, Refuse(ErrInvalid, FieldEmail, "this server sends no email: its administrator must set up an SMTP relay ([smtp]); leave out the address"))
	}
	inv, ttl, err := checkSpec(h, spec, keyMax)
	if err != nil {
		return Invite{}, err
	}
	var quota *QuotaCheck
	q := spec.Actor.Quota
	if q != nil {
		if q.Invites < 0 || q.Outstanding < 0 || q.Period < 0 || q.Invites > 0 && q.Period == 0 {
			return Invite{}, invalidf("a quota needs a period and no negative bound")
		}
		if q.Invites > 0 || q.Outstanding > 0 {
			quota = &QuotaCheck{Max: q.Invites, Outstanding: q.Outstanding}
		}
	}
	var charge *RateCharge
	if spec.Actor.Kind == ActorKey && !rate.IsZero() {
		charge = &RateCharge{KeyID: spec.Actor.ID, Rate: rate, N: inv.MaxUses}
	}
	for attempt := 0; ; attempt++ {
		now := s.now().UTC().Truncate(time.Microsecond)
		inv.ID = s.ids.next(now)
		if inv.Token, err = newToken(inv.ID); err != nil {
			return Invite{}, err
		}
		inv.TokenHash = HashToken(inv.Token)
		inv.CreatedAt = now
		inv.ExpiresAt = now.Add(ttl)
		if quota != nil {
			quota.Now = now
			if q.Invites > 0 {
				quota.Since = now.Add(-q.Period)
			}
		}
		if charge != nil {
			charge.Now = now
		}
		ev := s.newEvent(EventInviteCreated, now, spec.Actor, inv.Host)
		ev.InviteID, ev.Invite = inv.ID, eventInvite(inv, now)
		events := s.outboxOf(ev)
		var mailEv Event
		if inv.Email != "" {
			mailEv, inv.Mail = s.mailEvent(inv, spec.Actor, now)
			events = append(events, mailEv)
		}
		err = s.store.CreateInvite(ctx, inv, InviteWrite{Events: events, Quota: quota, Rate: charge})
		if errors.Is(err, ErrConflict) && attempt < 2 {
			continue // another node took the ID in the same millisecond
		}
		if err != nil {
			return Invite{}, fmt.Errorf("creating invite: %w", err)
		}
		s.emit(ctx, ev)
		if inv.Email != "" {
			s.emit(ctx, mailEv)
			inv.Token = "" // the mail carries the only token
		}
		return inv, nil
	}
}

// checkSpec checks an invite spec on host h, with keyMax further bounding its
// lifetime when positive, and returns the invite to store (without ID, token and
// times) and its lifetime, or every refusal of the spec (and spec.Refused) joined.
func checkSpec(h HostConfig, spec InviteSpec, keyMax time.Duration) (Invite, time.Duration, error) {
	errs := []error{spec.Refused}
	refuse := func(field, format string, args ...any) {
		errs = append(errs, Refuse(ErrInvalid, field, format, args...))
	}
	limit := h.MaxTTL
	if keyMax > 0 && keyMax < limit {
		limit = keyMax
	}
	ttl := spec.TTL
	switch {
	case ttl < 0:
		refuse(FieldTTL, "the invite's lifetime must be positive")
	case ttl == 0:
		ttl = min(h.DefaultTTL, limit)
	case ttl < MinTTL:
		refuse(FieldTTL, "a lifetime of %s is too short: invites live at least %s", HumanDuration(ttl), HumanDuration(MinTTL))
	case ttl > limit:
		refuse(FieldTTL, "a lifetime of %s is longer than the maximum of %s", HumanDuration(ttl), HumanDuration(limit))
	}
	inv := Invite{Host: h.Domain, Kind: spec.Kind, CreatedBy: spec.Actor.CreatedBy(), AllowRegister: spec.AllowRegister,
		Approval: spec.Approval, ByUser: spec.Actor.Kind == ActorJID && !spec.Actor.Manage}
	if len(inv.CreatedBy) > 1100 {
		errs = append(errs, invalidf("the creator's name is too long"))
	}
	maxUses := DefaultMaxUses
	if spec.MaxUses != nil {
		maxUses = *spec.MaxUses
		if maxUses < 0 || maxUses > MaxMaxUses {
			errs = append(errs, errMaxUsesRange)
		}
	}
	if spec.Username != "" {
		name, err := NormalizeUsername(spec.Username)
		errs = append(errs, InField(FieldUsername, err))
		inv.Username = name
	}
	switch spec.Kind {
	case "", KindAccount:
		inv.Kind = KindAccount
		inv.AllowRegister = false
		if spec.Username != "" && spec.MaxUses != nil && maxUses != 1 {
			// A fixed name registers one account: further uses could never happen, and
			// the invite would stay pending for ever.
			refuse(FieldMaxUses, "an invite for the fixed username %s makes one account: leave max_uses at 1, or leave out the username", inv.Username)
		}
	case KindContact:
		name, err := NormalizeUsername(spec.Inviter)
		errs = append(errs, InField(FieldInviter, err))
		inv.Inviter = name
	case KindReset:
		if !spec.Actor.managing() {
			errs = append(errs, &FieldError{Err: ErrForbidden, Field: FieldKind, Reason: "only administrators make reset invites"})
		}
		if spec.Username == "" {
			refuse(FieldUsername, "a reset invite needs the username of the account it resets")
		}
		if maxUses != 1 {
			refuse(FieldMaxUses, "a reset invite is used once: max_uses must be 1")
		}
		inv.AllowRegister = false
	default:
		refuse(FieldKind, "unknown invite kind %q: use account, contact or reset", string(spec.Kind))
	}
	inv.MaxUses = maxUses
	if spec.Approval {
		switch {
		case inv.Kind == KindReset:
			refuse(FieldApproval, "a reset invite makes no account to approve")
		case !h.AccountStates:
			errs = append(errs, Refuse(ErrConflict, FieldApproval, "this server cannot hold accounts for approval"))
		}
	}
	errs = append(errs, checkText(FieldNote, "note", spec.Note, MaxNoteLen))
	inv.Note = spec.Note
	if len(spec.Groups) > 0 {
		groups, err := CheckGroups(spec.Groups)
		errs = append(errs, err)
		inv.Groups = groups
	}
	if spec.Email != "" {
		email, err := CheckEmail(spec.Email)
		errs = append(errs, err)
		inv.Email = email
	}
	if spec.Welcome != "" {
		welcome, err := CheckWelcome(spec.Welcome)
		errs = append(errs, err)
		inv.Welcome = welcome
	}
	if err := errors.Join(errs...); err != nil {
		return Invite{}, 0, err
	}
	return inv, ttl, nil
}

// InviteURI returns the invite's xmpp: URI; inv.Token must be set.
func (s *Service) InviteURI(inv Invite) string { return inv.URI(inv.Token) }

// InviteLandingPage returns the invite's landing page: the host's template filled in,
// the built-in page under Options.BaseURL, or "" when the host has none;
// inv.Token must be set.
func (s *Service) InviteLandingPage(inv Invite) string {
	h, err := s.Host(inv.Host)
	if err != nil || inv.Token == "" {
		return ""
	}
	if h.LandingPage == LandingBuiltin {
		return builtinPage(s.baseURL, inv.Token)
	}
	return LandingPage(h.LandingPage, inv, inv.Token)
}

// InviteLocation returns where a new invite sends its holder: its landing page, else its
// xmpp: URI.
func (s *Service) InviteLocation(inv Invite) string {
	if page := s.InviteLandingPage(inv); page != "" {
		return page
	}
	return s.InviteURI(inv)
}

// CheckInvite returns the invite a token names on host, if it can still be redeemed.
// It fails with ErrNotFound (also for a malformed token, a wrong one, or another host),
// ErrRevoked, ErrUsedUp, ErrExpired, or ErrInviterInactive when its creator is no
// longer in good standing (HostConfig.InviterStanding). It returns the invite without
// its redemptions, Approval set when the accounts it makes would wait for approval.
//
// Every well-formed token costs the same up to the comparison: the token is hashed,
// the store answers one row (the invite, or a decoy when its ID is unknown), and the
// hash is compared in constant time with the invite's or, for an unknown ID, with a
// dummy, so that timing does not tell whether an invite ID exists.
func (s *Service) CheckInvite(ctx context.Context, host, token string) (Invite, error) {
	h, err := s.Host(host)
	if err != nil || !ValidToken(token) {
		return Invite{}, ErrNotFound
	}
	hash := HashToken(token)
	inv, err := s.store.Invite(ctx, TokenID(token))
	switch {
	case errors.Is(err, ErrNotFound):
		inv.TokenHash = s.dummyHash
	case err != nil:
		return Invite{}, fmt.Errorf("checking invite: %w", err)
	}
	if !inv.tokenMatches(hash) || err != nil || inv.Host != h.Domain {
		return Invite{}, ErrNotFound
	}
	now := s.now()
	switch inv.Status(now) {
	case StatusRevoked:
		return Invite{}, ErrRevoked
	case StatusUsed:
		return Invite{}, ErrUsedUp
	case StatusExpired:
		return Invite{}, ErrExpired
	}
	if err := s.standing(ctx, h, inv, now); err != nil {
		return Invite{}, err
	}
	inv.Token = token
	inv.Approval = s.approvalFor(h, inv)
	return inv, nil
}

// Redemption is one use of an invite token.
type Redemption struct {
	// Host is the domain the redemption happens on.
	Host string
	// Token is the invite's token.
	Token string
	// Username is the localpart being registered, or of the existing account (subscribe,
	// reset).
	Username string
	// Purpose says what it is for; "" means PurposeRegister.
	Purpose Purpose
	// Remote is the client's network address when known, for the audit log.
	Remote string
}

// Redeem uses an invite, atomically: of concurrent redemptions of an invite allowing N
// uses, on any number of processes and nodes, at most N succeed.
// The rule is Invite.Check: it fails, using nothing, with ErrNotFound, ErrRevoked,
// ErrUsedUp, ErrExpired, ErrForbidden (the kind does not allow the purpose, or a fixed
// name differs), ErrInviterInactive (CheckInvite), or ErrInvalid for a malformed name
// or purpose.
// The use is recorded with the JID Username@Host; every refusal is reported to the
// observer as an EventInviteRefused.
// A registration's use is held until the server confirms the account (see Hold and
// Options.Accounts); the invite returned has Approval set when the account must be
// made pending an administrator's approval.
func (s *Service) Redeem(ctx context.Context, r Redemption) (Invite, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	inv, bare, err := s.redeem(ctx, r, now)
	if err != nil {
		ev := s.newEvent(EventInviteRefused, now, Actor{Kind: ActorJID, ID: bare, Remote: r.Remote}, r.Host)
		ev.InviteID, ev.JID, ev.Purpose, ev.Reason = TokenID(r.Token), bare, r.Purpose, Reason(err)
		if h, herr := s.Host(r.Host); herr == nil {
			ev.Host = h.Domain
		}
		s.emit(ctx, ev)
		return Invite{}, err
	}
	return inv, nil
}

// redeem does the work of Redeem and returns the bare JID it was for (or "" when the
// name or host was malformed).
// A registration's use is held (see Hold) when the Service can ask the server which
// accounts exist (Options.Accounts); without, it is confirmed at once, its account
// recorded in the same transaction.
func (s *Service) redeem(ctx context.Context, r Redemption, now time.Time) (Invite, string, error) {
	purpose := r.Purpose
	switch purpose {
	case "":
		purpose = PurposeRegister
	case PurposeRegister, PurposeSubscribe, PurposeReset:
	default:
		return Invite{}, "", invalidf("unknown purpose %q: use register, subscribe or reset", string(r.Purpose))
	}
	h, err := s.Host(r.Host)
	if err != nil {
		return Invite{}, "", ErrNotFound
	}
	name, err := NormalizeUsername(r.Username)
	if err != nil {
		return Invite{}, "", err
	}
	bare := name + "@" + h.Domain
	if !ValidToken(r.Token) {
		return Invite{}, bare, ErrNotFound
	}
	hash := HashToken(r.Token)
	if h.InviterStanding != InvitesNone {
		// The inviter's standing needs the invite's creator: read it first. A wrong
		// token learns nothing here (the change below refuses it).
		pre, err := s.store.Invite(ctx, TokenID(r.Token))
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return Invite{}, bare, fmt.Errorf("redeeming invite: %w", err)
		case pre.tokenMatches(hash) && pre.Host == h.Domain && pre.Check(purpose, name, h.Domain, now) == nil:
			if err := s.standing(ctx, h, pre, now); err != nil {
				return Invite{}, bare, err
			}
		}
	}
	var (
		events   []Event
		approval bool
	)
	inv, err := s.store.ChangeInvite(ctx, TokenID(r.Token), func(inv *Invite) (InviteChange, error) {
		if !inv.tokenMatches(hash) {
			return InviteChange{}, ErrNotFound
		}
		if err := inv.Check(purpose, name, h.Domain, now); err != nil {
			return InviteChange{}, err
		}
		inv.Uses++
		settle(inv, now)
		c := InviteChange{Use: &Use{JID: bare, At: now}}
		by := Actor{Kind: ActorJID, ID: bare, Remote: r.Remote}
		approval = purpose == PurposeRegister && s.approvalFor(h, *inv)
		switch {
		case purpose != PurposeRegister:
			ev := s.newEvent(EventInviteRedeemed, now, by, h.Domain)
			ev.InviteID, ev.JID, ev.Purpose, ev.Invite = inv.ID, bare, purpose, eventInvite(*inv, now)
			events = []Event{ev}
		case s.accounts != nil:
			c.Hold = &Hold{InviteID: inv.ID, JID: bare, Host: h.Domain, At: now, Approval: approval, Remote: r.Remote}
			events = nil
		default:
			a := Account{Host: h.Domain, JID: bare}
			hold := Hold{InviteID: inv.ID, JID: bare, Host: h.Domain, At: now, Approval: approval, Remote: r.Remote, Invite: *inv}
			events = s.confirm(&a, hold, now)
			c.Account = &a
		}
		c.Events = s.outboxOf(events...)
		return c, nil
	})
	if err != nil {
		return Invite{}, bare, fmt.Errorf("redeeming invite: %w", err)
	}
	for _, ev := range events {
		s.emit(ctx, ev)
	}
	inv.Token = r.Token
	inv.Approval = approval
	return inv, bare, nil
}

// approvalFor reports whether the accounts inv makes on host h wait for approval.
func (s *Service) approvalFor(h HostConfig, inv Invite) bool {
	return h.AccountStates && inv.CanRegister() && (inv.Approval || h.Approval.Includes(inv))
}

// standing refuses inv with ErrInviterInactive when host h's rule says its creator
// must be in good standing and it is not: an account disabled, deleted or pending
// (or gone: an account of that name made after the invite), a key deleted or expired.
// An account the plugin does not know is in good standing.
func (s *Service) standing(ctx context.Context, h HostConfig, inv Invite, now time.Time) error {
	if !h.InviterStanding.Includes(inv) {
		return nil
	}
	if j := creatorJID(inv.CreatedBy); j != "" {
		a, err := s.store.Account(ctx, j)
		switch {
		case errors.Is(err, ErrNotFound):
			return nil
		case err != nil:
			return fmt.Errorf("checking the inviter: %w", err)
		case !a.State.inGoodStanding(), !a.CreatedAt.IsZero() && a.CreatedAt.After(inv.CreatedAt):
			return ErrInviterInactive
		}
		return nil
	}
	if id := creatorKey(inv.CreatedBy); id != "" {
		k, err := s.store.Key(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			return ErrInviterInactive
		case err != nil:
			return fmt.Errorf("checking the inviter: %w", err)
		case k.Expired(now):
			return ErrInviterInactive
		}
	}
	return nil
}

// settle keeps EndedAt in step with the invite's status at now: zero while pending, else
// when it ended (kept if already set).
func settle(inv *Invite, now time.Time) {
	switch inv.Status(now) {
	case StatusPending:
		inv.EndedAt = time.Time{}
	case StatusExpired:
		if inv.EndedAt.IsZero() {
			inv.EndedAt = inv.ExpiresAt
		}
	default:
		if inv.EndedAt.IsZero() {
			inv.EndedAt = now
		}
	}
}

// Invite returns the invite with that ID on host, with its redemptions, if the actor may
// see it (see Actor.Manage): another creator's or another host's invite is ErrNotFound.
// Its token is not known any more: Token is empty.
func (s *Service) Invite(ctx context.Context, by Actor, host, id string) (Invite, error) {
	h, err := s.Host(host)
	if err != nil {
		return Invite{}, err
	}
	if !ValidID(id) {
		return Invite{}, ErrNotFound
	}
	inv, err := s.store.Invite(ctx, id)
	if err != nil {
		return Invite{}, fmt.Errorf("reading invite: %w", err)
	}
	if inv.Host != h.Domain || !by.sees(inv.CreatedBy) {
		return Invite{}, ErrNotFound
	}
	invs := []Invite{inv}
	if err := s.withDetails(ctx, invs); err != nil {
		return Invite{}, err
	}
	return s.withUses(ctx, invs[0])
}

// withUses fills in the redemptions of an invite.
func (s *Service) withUses(ctx context.Context, inv Invite) (Invite, error) {
	if inv.Uses == 0 {
		inv.Redemptions = nil
		return inv, nil
	}
	uses, err := s.store.Redemptions(ctx, inv.ID)
	if err != nil {
		return Invite{}, fmt.Errorf("reading redemptions: %w", err)
	}
	inv.Redemptions = uses
	return inv, nil
}

// InviteQuery selects a page of invites for ListInvites.
type InviteQuery struct {
	// Host is the domain; required.
	Host string
	// Status, when set, keeps the invites in that status (see ParseStatus).
	Status Status
	// CreatedBy, when set, keeps the invites of that creator ("api/token/KEYID",
	// "xmpp:JID", "cli"). An actor that does not manage its host sees only its own,
	// whatever this says.
	CreatedBy string
	// Limit bounds the page: 0 means DefaultListLimit; at most MaxListLimit.
	Limit int
	// Cursor continues from the NextCursor of the previous page; "" starts at the newest.
	Cursor string
	// ExpiringWithin, when positive, keeps the pending invites that expire within it
	// (Status must then be "" or StatusPending).
	ExpiringWithin time.Duration
}

// InvitePage is one page of ListInvites.
type InvitePage struct {
	// Invites are newest first, without their redemptions.
	Invites []Invite
	// NextCursor continues the list; "" on the last page.
	NextCursor string
}

// ListInvites returns a page of the host's invites that the actor may see, newest first.
func (s *Service) ListInvites(ctx context.Context, by Actor, q InviteQuery) (InvitePage, error) {
	h, err := s.Host(q.Host)
	if err != nil {
		return InvitePage{}, err
	}
	switch q.Status {
	case "", StatusPending, StatusUsed, StatusExpired, StatusRevoked:
	default:
		return InvitePage{}, invalidf("unknown status %q: use pending, used, expired or revoked", string(q.Status))
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultListLimit
	case limit < 0 || limit > MaxListLimit:
		return InvitePage{}, invalidf("limit must be between 1 and %d", MaxListLimit)
	}
	f := InviteFilter{Host: h.Domain, Status: q.Status, CreatedBy: q.CreatedBy, Now: s.now(), Limit: limit + 1}
	switch {
	case q.ExpiringWithin < 0:
		return InvitePage{}, Refuse(ErrInvalid, FieldExpiringWithin, "must be a positive duration, such as 2d")
	case q.ExpiringWithin > 0 && q.Status != "" && q.Status != StatusPending:
		return InvitePage{}, Refuse(ErrInvalid, FieldExpiringWithin, "only pending invites expire: leave out the status %s", q.Status)
	case q.ExpiringWithin > 0:
		f.Status, f.ExpiresBefore = StatusPending, f.Now.Add(q.ExpiringWithin)
	}
	if !by.managing() {
		if q.CreatedBy != "" && q.CreatedBy != by.CreatedBy() {
			return InvitePage{}, nil
		}
		f.CreatedBy = by.CreatedBy()
	}
	if q.Cursor != "" {
		pos, err := ParseCursor(q.Cursor)
		if err != nil {
			return InvitePage{}, err
		}
		f.Before = &pos
	}
	invs, err := s.store.ListInvites(ctx, f)
	if err != nil {
		return InvitePage{}, fmt.Errorf("listing invites: %w", err)
	}
	page := InvitePage{Invites: invs}
	if len(invs) > limit {
		page.Invites = invs[:limit]
		last := page.Invites[limit-1]
		page.NextCursor = Cursor(Position{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	if err := s.withDetails(ctx, page.Invites); err != nil {
		return InvitePage{}, err
	}
	return page, nil
}

// InvitePatch is a change of an invite: each field that is not nil is set.
// ParseInvitePatch reads one from a JSON merge patch (RFC 7396).
type InvitePatch struct {
	// ExpiresAt moves the expiry: not before the invite's creation, not beyond its
	// creation plus the longest lifetime the actor may give. A time in the past ends the
	// invite now.
	ExpiresAt *time.Time
	// MaxUses sets how many redemptions it allows: 0 for any number, else not below
	// the uses already made.
	MaxUses *int
	// Note replaces the note ("" removes it).
	Note *string
	// Refused holds the refusals the caller found reading the change (FieldErrors, as
	// ParseInvitePatch returns them). When not nil nothing changes, and the error
	// returned joins them with every refusal the core finds in the rest of the patch.
	Refused error
}

// UpdateInvite changes an invite the actor may see (see Invite) and returns it with its
// redemptions.
// A revoked invite cannot change (ErrConflict), nor can max_uses go below the uses made
// (ErrConflict); a used or expired invite that the change makes usable again is pending
// again.
func (s *Service) UpdateInvite(ctx context.Context, by Actor, host, id string, p InvitePatch) (Invite, error) {
	h, err := s.Host(host)
	if err != nil {
		return Invite{}, err
	}
	if !ValidID(id) {
		return Invite{}, ErrNotFound
	}
	errs := []error{p.Refused}
	if p.MaxUses != nil && (*p.MaxUses < 0 || *p.MaxUses > MaxMaxUses) {
		errs = append(errs, errMaxUsesRange)
	}
	if p.Note != nil {
		errs = append(errs, checkText(FieldNote, "note", *p.Note, MaxNoteLen))
	}
	// These refusals are reported with those that need the invite, read below.
	limit := h.MaxTTL
	if by.MaxTTL > 0 && by.MaxTTL < limit {
		limit = by.MaxTTL
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var (
		ev      Event
		changed []string
	)
	inv, err := s.store.ChangeInvite(ctx, id, func(inv *Invite) (InviteChange, error) {
		changed = changed[:0]
		if inv.Host != h.Domain || !by.sees(inv.CreatedBy) {
			return InviteChange{}, ErrNotFound
		}
		if !inv.RevokedAt.IsZero() {
			return InviteChange{}, Refuse(ErrConflict, "", "the invite was revoked: it cannot change any more")
		}
		errs := slices.Clone(errs) // the patch's own refusals, then those of this invite
		wasPending := inv.Status(now)
		if p.ExpiresAt != nil {
			e := p.ExpiresAt.UTC().Truncate(time.Microsecond)
			switch {
			case e.Before(inv.CreatedAt):
				errs = append(errs, Refuse(ErrInvalid, FieldExpiresAt, "%s is before the invite was made (%s)",
					e.Format(time.RFC3339), inv.CreatedAt.Format(time.RFC3339)))
			case e.Sub(inv.CreatedAt) > limit:
				errs = append(errs, Refuse(ErrInvalid, FieldExpiresAt, "%s would make the invite live longer than the maximum of %s",
					e.Format(time.RFC3339), HumanDuration(limit)))
			case !e.Equal(inv.ExpiresAt):
				inv.ExpiresAt = e
				changed = append(changed, FieldExpiresAt)
			}
		}
		var charge *RateCharge
		if m := p.MaxUses; m != nil && *m != inv.MaxUses && *m >= 0 && *m <= MaxMaxUses {
			// The accounts a raise adds, which a key's rate pays for.
			added := 0
			if inv.MaxUses != 0 && *m > inv.MaxUses {
				added = *m - inv.MaxUses
			}
			switch {
			case inv.Kind == KindReset:
				errs = append(errs, Refuse(ErrInvalid, FieldMaxUses, "a reset invite is used once: its max_uses cannot change"))
			case inv.Username != "" && *m != 1:
				errs = append(errs, Refuse(ErrInvalid, FieldMaxUses, "an invite for the fixed username %s makes one account: max_uses stays 1", inv.Username))
			case *m != 0 && *m < inv.Uses:
				errs = append(errs, Refuse(ErrConflict, FieldMaxUses, "%d is below the %d uses already made", *m, inv.Uses))
			case by.Kind == ActorKey && !by.Rate.IsZero() && (*m == 0 || added > 0):
				if err := rateRefusal(by.Rate, *m, added); err != nil {
					errs = append(errs, err)
					break
				}
				charge = &RateCharge{KeyID: by.ID, Rate: by.Rate, N: added, Now: now}
				fallthrough
			default:
				inv.MaxUses = *m
				changed = append(changed, FieldMaxUses)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return InviteChange{}, err
		}
		if p.Note != nil && *p.Note != inv.Note {
			inv.Note = *p.Note
			changed = append(changed, FieldNote)
		}
		if len(changed) == 0 {
			return InviteChange{}, nil
		}
		c := InviteChange{Rate: charge}
		if q := by.Quota; q != nil && q.Outstanding > 0 && wasPending != StatusPending && inv.Status(now) == StatusPending {
			// Made pending again, the invite counts against its creator's outstanding
			// invites as a new one would: reviving expired invites must not beat it.
			c.Quota = &QuotaCheck{Outstanding: q.Outstanding, Now: now}
		}
		settle(inv, now)
		ev = s.newEvent(EventInviteUpdated, now, by, h.Domain)
		ev.InviteID, ev.Changed, ev.Invite = inv.ID, append([]string(nil), changed...), eventInvite(*inv, now)
		c.Events = s.outboxOf(ev)
		return c, nil
	})
	if err != nil {
		return Invite{}, fmt.Errorf("changing invite: %w", err)
	}
	if len(changed) > 0 {
		s.emit(ctx, ev)
	}
	invs := []Invite{inv}
	if err := s.withDetails(ctx, invs); err != nil {
		return Invite{}, err
	}
	return s.withUses(ctx, invs[0])
}

// RevokeInvite withdraws an invite the actor may see (see Invite): it can no longer be
// redeemed, and its record stays for the retention period. Revoking it again changes
// nothing and is no error.
func (s *Service) RevokeInvite(ctx context.Context, by Actor, host, id string) (Invite, error) {
	h, err := s.Host(host)
	if err != nil {
		return Invite{}, err
	}
	if !ValidID(id) {
		return Invite{}, ErrNotFound
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	var (
		ev      Event
		revoked bool
	)
	inv, err := s.store.ChangeInvite(ctx, id, func(inv *Invite) (InviteChange, error) {
		revoked = false
		if inv.Host != h.Domain || !by.sees(inv.CreatedBy) {
			return InviteChange{}, ErrNotFound
		}
		if !inv.RevokedAt.IsZero() {
			return InviteChange{}, nil
		}
		inv.RevokedAt = now
		settle(inv, now)
		revoked = true
		ev = s.newEvent(EventInviteRevoked, now, by, h.Domain)
		ev.InviteID, ev.Invite = inv.ID, eventInvite(*inv, now)
		return InviteChange{Events: s.outboxOf(ev)}, nil
	})
	if err != nil {
		return Invite{}, fmt.Errorf("revoking invite: %w", err)
	}
	if revoked {
		s.emit(ctx, ev)
	}
	invs := []Invite{inv}
	if err := s.withDetails(ctx, invs); err != nil {
		return Invite{}, err
	}
	return s.withUses(ctx, invs[0])
}

// Sweep notes the invites that expired since the last sweep (an EventInviteExpired
// each), writes the reminders that are due (see Notice), purges the records of invites
// that ended more than the retention period ago (keeping those that made an account the
// plugin knows, for the tree), rejects the accounts whose approval timed out, and
// resolves the held registrations that are due (ResolveHolds). It says how many
// invites it noted expired and purged.
func (s *Service) Sweep(ctx context.Context) (expired, purged int64, err error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	expired, _, err = s.notice1(ctx, now)
	if err != nil {
		return expired, 0, err
	}
	purged, err = s.store.PurgeInvites(ctx, now.Add(-s.retention), now)
	if err != nil {
		return expired, purged, fmt.Errorf("purging invites: %w", err)
	}
	if n, err := s.expirePending(ctx); err != nil {
		return expired, purged, err
	} else if n > 0 {
		s.log.Info("rejected accounts whose approval timed out", "accounts", n)
	}
	if err := s.resolveHolds(ctx); err != nil {
		return expired, purged, err
	}
	return expired, purged, nil
}

// Notice notes the invites that expired since it last ran (an EventInviteExpired each)
// and writes an EventInviteExpiring for each pending invite due a reminder (see
// HostConfig.RemindBefore); Run calls it every NoticeInterval. It says how many it
// noted expired and reminded of.
func (s *Service) Notice(ctx context.Context) (expired, reminded int64, err error) {
	return s.notice1(ctx, s.now().UTC().Truncate(time.Microsecond))
}

// notice1 is Notice at now.
func (s *Service) notice1(ctx context.Context, now time.Time) (expired, reminded int64, err error) {
	reminded, err = s.remind(ctx, now)
	if err != nil {
		return 0, reminded, err
	}
	expired, err = s.markBatches(ctx, now, EventInviteExpired, func(event func(Invite) Event) ([]Invite, error) {
		return s.store.ExpireInvites(ctx, now, sweepBatch, event)
	})
	if err != nil {
		return expired, reminded, fmt.Errorf("noting expired invites: %w", err)
	}
	return expired, reminded, nil
}
