package core

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ActiveAfter is how long after it was made an account that logs in is "still
// active" (EventAccountActive).
const ActiveAfter = 7 * 24 * time.Hour

// holdBatch bounds how many holds one step of ResolveHolds reads.
const holdBatch = 200

// confirm makes a the account of the confirmed hold h at now (a re-registered name
// starts afresh, keeping its Seq) and returns the events of the confirmation:
// EventInviteRedeemed (with the redemption's actor and address), EventAccountCreated
// and, when it waits for approval, EventAccountPending.
func (s *Service) confirm(a *Account, h Hold, now time.Time) []Event {
	*a = Account{Seq: a.Seq, Host: h.Host, JID: h.JID, State: AccountActive, CreatedAt: h.At,
		InviteID: h.InviteID, Inviter: h.Invite.CreatedBy, InviteCreatedAt: h.Invite.CreatedAt}
	if h.Approval {
		a.State = AccountPending
		a.ApprovalDeadline = now.Add(s.approval)
	}
	by := Actor{Kind: ActorJID, ID: h.JID, Remote: h.Remote}
	redeemed := s.newEvent(EventInviteRedeemed, now, by, h.Host)
	redeemed.InviteID, redeemed.JID, redeemed.Purpose = h.InviteID, h.JID, PurposeRegister
	if h.Invite.ID != "" {
		redeemed.Invite = eventInvite(h.Invite, now)
	}
	created := s.accountEvent(EventAccountCreated, now, by, *a)
	created.InviteID, created.Invite = redeemed.InviteID, redeemed.Invite
	events := []Event{redeemed, created}
	if a.State == AccountPending {
		events = append(events, s.accountEvent(EventAccountPending, now, by, *a))
	}
	return events
}

// accountEvent returns an event of type t about a, by actor by, at now.
func (s *Service) accountEvent(t EventType, now time.Time, by Actor, a Account) Event {
	ev := s.newEvent(t, now, by, a.Host)
	ev.JID, ev.Account, ev.InviteID, ev.Lang = a.JID, eventAccount(a), a.InviteID, a.Lang
	return ev
}

// hostActor is the actor of what the server reported, and of what the plugin decides
// on its own (the sweep) on host.
func hostActor(host string) Actor { return Actor{Kind: ActorHost, ID: host} }

// newest returns the latest of holds (by At), and whether there is one.
func newest(holds []Hold) (Hold, bool) {
	if len(holds) == 0 {
		return Hold{}, false
	}
	n := holds[0]
	for _, h := range holds[1:] {
		if h.At.After(n.At) {
			n = h
		}
	}
	return n, true
}

// changeAccount runs change on the account jid through the store, and hands the
// events it wrote to the observer.
func (s *Service) changeAccount(ctx context.Context, jid string, change func(a *Account, holds []Hold, now time.Time) ([]Event, bool, error)) (Account, error) {
	now := s.now().UTC().Truncate(time.Microsecond)
	var events []Event
	a, err := s.store.ChangeAccount(ctx, jid, func(a *Account, holds []Hold) (AccountChange, error) {
		evs, write, err := change(a, holds, now)
		if err != nil {
			return AccountChange{}, err
		}
		events = evs
		c := AccountChange{Write: write, Events: s.outboxOf(evs...)}
		for _, ev := range evs {
			if ev.Type == EventAccountCreated && ev.InviteID != "" {
				// The confirmed hold: its use stays.
				for _, h := range holds {
					if h.InviteID == ev.InviteID && ev.Account != nil && ev.Account.CreatedAt != nil && h.At.Equal(*ev.Account.CreatedAt) {
						c.Confirm = append(c.Confirm, h)
					}
				}
			}
		}
		return c, nil
	})
	if err != nil {
		return Account{}, err
	}
	for _, ev := range events {
		s.emit(ctx, ev)
	}
	return a, nil
}

// confirmNewest confirms the newest hold of an account whose existence the server
// vouched for; with no hold it changes nothing and returns no events.
func (s *Service) confirmNewest(a *Account, holds []Hold, now time.Time) []Event {
	h, ok := newest(holds)
	if !ok {
		return nil
	}
	if a.Seq != 0 && a.State != AccountDeleted && !a.CreatedAt.IsZero() && !a.CreatedAt.Before(h.At) {
		return nil // confirmed already, by a registration as recent: the hold is stale
	}
	return s.confirm(a, h, now)
}

// Registered is what the web page calls once the server made the account jid with an
// invite (HostAPI.Register returned it): the account exists, so its hold is confirmed
// at once (the server's own confirmation, coming later, changes nothing), and note, the
// text its holder wrote for the administrators, is kept when it waits for approval.
// It returns the account; an unknown host is ErrUnknownHost, a bad note ErrInvalid.
func (s *Service) Registered(ctx context.Context, host, jid, note string) (Account, error) {
	h, err := s.Host(host)
	if err != nil {
		return Account{}, err
	}
	if err := CheckNote(note); err != nil {
		return Account{}, err
	}
	bare, domain, err := bareJID(jid)
	if err != nil {
		return Account{}, err
	}
	if domain != h.Domain {
		return Account{}, ErrNotFound
	}
	a, err := s.changeAccount(ctx, bare, func(a *Account, holds []Hold, now time.Time) ([]Event, bool, error) {
		events := s.confirmNewest(a, holds, now)
		write := len(events) > 0
		if note != "" && a.State == AccountPending && a.Note == "" {
			a.Note = note
			write = true
			for i := range events {
				if events[i].Account != nil {
					events[i].Account.Note = note
				}
			}
		}
		return events, write, nil
	})
	if err != nil {
		return Account{}, fmt.Errorf("recording the account: %w", err)
	}
	return a, nil
}

// CheckNote checks the note a person writes for the administrators on the web page:
// as an invite's note, at most MaxNoteLen characters, without control, line-separator
// or bidirectional formatting characters.
func CheckNote(note string) error {
	return checkText(FieldNote, "note", note, MaxNoteLen)
}

// HostEventType is what the server reports happened (plugin.EventType).
type HostEventType string

// The events a server reports.
const (
	// HostLogin: the client JID (full) logged in; Lang is its stream's language.
	HostLogin HostEventType = "login"
	// HostStreamEnded: a client's stream ended (nothing for the core).
	HostStreamEnded HostEventType = "stream-ended"
	// HostAccountCreated: the account JID was made with an invite: its hold is
	// confirmed.
	HostAccountCreated HostEventType = "account-created"
	// HostAccountDeleted: the account JID was deleted, by any means.
	HostAccountDeleted HostEventType = "account-deleted"
	// HostAccountDisabled: the account JID was disabled, by any means.
	HostAccountDisabled HostEventType = "account-disabled"
	// HostAccountEnabled: the account JID was enabled again, by any means.
	HostAccountEnabled HostEventType = "account-enabled"
)

// HostEvent is something that happened on the server (plugin.Event).
type HostEvent struct {
	// ID is unique per event; an event reported twice is acted on as once.
	ID string
	// Type is what happened.
	Type HostEventType
	// Host is the domain.
	Host string
	// JID is the account (bare) or the client (full).
	JID string
	// Lang is the client's language (HostLogin), "" when unknown.
	Lang string
	// At is when it happened; zero means now.
	At time.Time
}

// HostEvents records what the server reports, in order: logins (the first login of an
// account made here, and one "still active" ActiveAfter after it was made, are events
// of their own), confirmed registrations (the hold of the account is confirmed, and
// its invite's EventInviteRedeemed and EventAccountCreated written), and accounts
// deleted, disabled or enabled by any means, which are recorded with the host as actor
// and are not acted on again.
// Reporting an event again changes nothing more. An event of a host not served, or
// naming no account, is skipped; the error joins the store failures, after which the
// server may report the events again.
func (s *Service) HostEvents(ctx context.Context, events []HostEvent) error {
	var errs []error
	for _, e := range events {
		if e.Type == HostStreamEnded {
			continue
		}
		h, err := s.Host(e.Host)
		if err != nil {
			s.log.Debug("host event of a host not served", "host", e.Host, "type", string(e.Type))
			continue
		}
		bare, domain, err := bareJID(e.JID)
		if err != nil || domain != h.Domain {
			s.log.Debug("host event naming no account of its host", "host", h.Domain, "type", string(e.Type))
			continue
		}
		if err := s.hostEvent(ctx, h, bare, e); err != nil {
			errs = append(errs, fmt.Errorf("event %s (%s of %s): %w", e.ID, e.Type, bare, err))
		}
	}
	return errors.Join(errs...)
}

// hostEvent records one event of the server about the account bare on host h.
func (s *Service) hostEvent(ctx context.Context, h HostConfig, bare string, e HostEvent) error {
	by := hostActor(h.Domain)
	_, err := s.changeAccount(ctx, bare, func(a *Account, holds []Hold, now time.Time) ([]Event, bool, error) {
		at := e.At.UTC().Truncate(time.Microsecond)
		if e.At.IsZero() || at.After(now) {
			at = now
		}
		// The server vouches that the account exists: a pending hold is confirmed.
		var events []Event
		if e.Type == HostLogin || e.Type == HostAccountCreated {
			events = s.confirmNewest(a, holds, now)
		}
		write := len(events) > 0
		setState := func(st AccountState, t EventType) {
			a.State, a.ChangedAt, a.ChangedBy = st, now, by.CreatedBy()
			if st != AccountPending {
				a.ApprovalDeadline = time.Time{}
			}
			events = append(events, s.accountEvent(t, now, by, *a))
			write = true
		}
		switch e.Type {
		case HostLogin:
			if a.Seq == 0 && !write {
				// An account made before the plugin knew accounts: recorded, its
				// inviter unknown, its first login not the first.
				a.State, a.FirstLogin = AccountActive, at
				write = true
			}
			if a.State == AccountDeleted || a.State == "" {
				a.State = AccountActive
			}
			if a.FirstLogin.IsZero() {
				a.FirstLogin = at
				write = true
				if !a.CreatedAt.IsZero() {
					events = append(events, s.accountEvent(EventAccountFirstLogin, now, by, withLogin(*a, at, e.Lang)))
				}
			}
			if at.After(a.LastLogin) {
				a.LastLogin = at
				write = true
			}
			if e.Lang != "" && e.Lang != a.Lang {
				a.Lang = e.Lang
				write = true
			}
			if !a.ActiveNoted && !a.CreatedAt.IsZero() && at.Sub(a.CreatedAt) >= ActiveAfter {
				a.ActiveNoted = true
				write = true
				events = append(events, s.accountEvent(EventAccountActive, now, by, *a))
			}
		case HostAccountCreated:
			if !write && (a.Seq == 0 || a.State == AccountDeleted) {
				// Made by other means than an invite (or its hold released already):
				// its inviter is unknown.
				*a = Account{Seq: a.Seq, Host: h.Domain, JID: bare, State: AccountActive, CreatedAt: at}
				events = append(events, s.accountEvent(EventAccountCreated, now, by, *a))
				write = true
			}
		case HostAccountDeleted:
			if a.State != AccountDeleted {
				setState(AccountDeleted, EventAccountDeleted)
			}
		case HostAccountDisabled:
			if a.State != AccountDisabled && a.State != AccountDeleted {
				setState(AccountDisabled, EventAccountDisabled)
			}
		case HostAccountEnabled:
			if a.State == AccountDisabled || a.State == AccountPending || a.State == "" {
				setState(AccountActive, EventAccountEnabled)
			}
		default:
			return nil, false, invalidf("unknown event type %q", string(e.Type))
		}
		if a.Host == "" {
			a.Host = h.Domain
		}
		return events, write, nil
	})
	return err
}

// withLogin is a with the login's time and language, for the first login's event.
func withLogin(a Account, at time.Time, lang string) Account {
	a.FirstLogin = at
	if lang != "" {
		a.Lang = lang
	}
	return a
}

// ResolveHolds settles the holds older than the hold time (Options.HoldTime) whose
// account the server has not confirmed: it asks the server (Options.Accounts) whether
// the account exists, and confirms the hold when it does, or releases it, giving the
// use back to its invite, when it does not. A hold made stale by a later registration
// of the same name is released without asking. Without Options.Accounts every hold is
// confirmed. It says how many it confirmed and released; a hold whose question fails
// is left for the next time.
func (s *Service) ResolveHolds(ctx context.Context) (confirmed, released int, err error) {
	var errs []error
	seen := map[string]bool{}
	for range 1000 { // bounded: holdBatch × 1000 holds per call
		due := s.now().UTC().Add(-s.holdTime)
		if s.accounts == nil {
			due = s.now().UTC()
		}
		holds, err := s.store.Holds(ctx, due, holdBatch)
		if err != nil {
			return confirmed, released, fmt.Errorf("reading held registrations: %w", err)
		}
		progress := false
		for _, h := range holds {
			key := h.InviteID + " " + h.JID
			if seen[key] {
				continue // its question failed this time
			}
			seen[key] = true
			progress = true
			ok, err := s.resolveHold(ctx, h)
			switch {
			case err != nil:
				errs = append(errs, err)
			case ok:
				confirmed++
			default:
				released++
			}
		}
		if !progress || len(holds) < holdBatch {
			break
		}
	}
	return confirmed, released, errors.Join(errs...)
}

// resolveHold confirms h (true) or releases it (false).
func (s *Service) resolveHold(ctx context.Context, h Hold) (bool, error) {
	// Stale: a newer hold of the same name, or an account of that name confirmed
	// since; read without writing.
	stale := false
	_, err := s.store.ChangeAccount(ctx, h.JID, func(a *Account, holds []Hold) (AccountChange, error) {
		n, _ := newest(holds)
		stale = !n.At.Equal(h.At) || n.InviteID != h.InviteID ||
			a.Seq != 0 && a.State != AccountDeleted && !a.CreatedAt.IsZero() && a.CreatedAt.After(h.At)
		return AccountChange{}, nil
	})
	if err != nil {
		return false, fmt.Errorf("held registration of %s: %w", h.JID, err)
	}
	exists := !stale
	if !stale && s.accounts != nil {
		if exists, err = s.accounts.AccountExists(ctx, h.JID); err != nil {
			return false, fmt.Errorf("asking the server whether %s exists: %w", h.JID, err)
		}
	}
	if !exists {
		return false, s.release(ctx, h)
	}
	_, err = s.changeAccount(ctx, h.JID, func(a *Account, holds []Hold, now time.Time) ([]Event, bool, error) {
		for _, x := range holds {
			if x.InviteID == h.InviteID && x.At.Equal(h.At) {
				return s.confirm(a, x, now), true, nil
			}
		}
		return nil, false, nil // resolved meanwhile
	})
	if err != nil {
		return false, fmt.Errorf("confirming the held registration of %s: %w", h.JID, err)
	}
	return true, nil
}

// release gives the use of hold h back to its invite.
func (s *Service) release(ctx context.Context, h Hold) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	_, err := s.store.ChangeInvite(ctx, h.InviteID, func(inv *Invite) (InviteChange, error) {
		if inv.Uses > 0 {
			inv.Uses--
		}
		settle(inv, now)
		return InviteChange{Release: &h}, nil
	})
	switch {
	case errors.Is(err, ErrConflict), errors.Is(err, ErrNotFound):
		return nil // resolved meanwhile, or the invite purged: nothing to give back
	case err != nil:
		return fmt.Errorf("releasing the held registration of %s: %w", h.JID, err)
	}
	s.log.Info("registration never confirmed: its use of the invite is given back", "invite_id", h.InviteID, "host", h.Host)
	return nil
}

// expirePending rejects the accounts whose approval deadline passed, and says how many.
func (s *Service) expirePending(ctx context.Context) (int, error) {
	n := 0
	now := s.now().UTC()
	for _, host := range s.Hosts() {
		for range 1000 {
			accs, err := s.store.ListAccounts(ctx, AccountFilter{Host: host, State: AccountPending, DeadlineBefore: now, Limit: holdBatch})
			if err != nil {
				return n, fmt.Errorf("reading accounts awaiting approval: %w", err)
			}
			for _, a := range accs {
				if _, err := s.decide(ctx, hostActor(host), host, a.JID, false); err != nil && !errors.Is(err, ErrConflict) {
					return n, err
				}
				n++
			}
			if len(accs) < holdBatch {
				break
			}
		}
	}
	return n, nil
}

// Approve lets a pending account of host in: it becomes active, and the server is
// asked to make it so (EventAccountApproved). An account that is not pending is
// ErrConflict; an actor that does not manage the host gets ErrNotFound.
func (s *Service) Approve(ctx context.Context, by Actor, host, jid string) (Account, error) {
	return s.decide(ctx, by, host, jid, true)
}

// Reject refuses a pending account of host: it is deleted, and the server is asked
// to delete it and free its name (EventAccountRejected). An account that is not
// pending is ErrConflict; an actor that does not manage the host gets ErrNotFound.
func (s *Service) Reject(ctx context.Context, by Actor, host, jid string) (Account, error) {
	return s.decide(ctx, by, host, jid, false)
}

// decide approves or rejects a pending account.
func (s *Service) decide(ctx context.Context, by Actor, host, jid string, approve bool) (Account, error) {
	h, bare, err := s.accountOf(by, host, jid)
	if err != nil {
		return Account{}, err
	}
	a, err := s.changeAccount(ctx, bare, func(a *Account, _ []Hold, now time.Time) ([]Event, bool, error) {
		if a.Seq == 0 || a.Host != h.Domain {
			return nil, false, ErrNotFound
		}
		if a.State != AccountPending {
			return nil, false, Refuse(ErrConflict, FieldJID, "%s is not waiting for approval (it is %s)", bare, a.State)
		}
		st, t := AccountActive, EventAccountApproved
		if !approve {
			st, t = AccountDeleted, EventAccountRejected
		}
		a.State, a.ApprovalDeadline, a.ChangedAt, a.ChangedBy = st, time.Time{}, now, by.CreatedBy()
		return []Event{s.accountEvent(t, now, by, *a)}, true, nil
	})
	if err != nil {
		return Account{}, fmt.Errorf("deciding on %s: %w", bare, err)
	}
	return a, nil
}

// accountOf checks that by manages host and that jid is an account of it, and returns
// the host and the account's bare JID ("name" alone is name@host).
func (s *Service) accountOf(by Actor, host, jid string) (HostConfig, string, error) {
	h, err := s.Host(host)
	if err != nil {
		return HostConfig{}, "", err
	}
	if !by.managing() {
		return HostConfig{}, "", ErrNotFound
	}
	bare, domain, err := s.accountJID(h, jid)
	if err != nil {
		return HostConfig{}, "", err
	}
	if domain != h.Domain {
		return HostConfig{}, "", ErrNotFound
	}
	return h, bare, nil
}

// accountJID reads an account's address on host h: a bare JID, or a username alone.
func (s *Service) accountJID(h HostConfig, jid string) (string, string, error) {
	for i := 0; i < len(jid); i++ {
		if jid[i] == '@' {
			bare, domain, err := bareJID(jid)
			return bare, domain, InField(FieldJID, err)
		}
	}
	name, err := NormalizeUsername(jid)
	if err != nil {
		return "", "", InField(FieldJID, err)
	}
	return name + "@" + h.Domain, h.Domain, nil
}

// Account returns the account jid of host (a bare JID, or a username) as the plugin
// knows it, for an actor that manages the host; ErrNotFound otherwise.
func (s *Service) Account(ctx context.Context, by Actor, host, jid string) (Account, error) {
	h, bare, err := s.accountOf(by, host, jid)
	if err != nil {
		return Account{}, err
	}
	a, err := s.store.Account(ctx, bare)
	if err != nil {
		return Account{}, fmt.Errorf("reading account: %w", err)
	}
	if a.Host != h.Domain {
		return Account{}, ErrNotFound
	}
	return a, nil
}

// AccountQuery selects a page of accounts for ListAccounts.
type AccountQuery struct {
	// Host is the domain; required.
	Host string
	// State, when set, keeps the accounts in that state (see ParseAccountState).
	State AccountState
	// Limit bounds the page: 0 means DefaultListLimit; at most MaxListLimit.
	Limit int
	// Cursor continues from the NextCursor of the previous page; "" starts at the
	// oldest.
	Cursor string
}

// AccountPage is one page of ListAccounts.
type AccountPage struct {
	// Accounts are oldest first.
	Accounts []Account
	// NextCursor continues the list; "" on the last page.
	NextCursor string
}

// ListAccounts returns a page of the accounts of a host the plugin knows, oldest
// first, for an actor that manages the host (others get ErrNotFound): with State
// AccountPending, the approval queue.
func (s *Service) ListAccounts(ctx context.Context, by Actor, q AccountQuery) (AccountPage, error) {
	h, err := s.Host(q.Host)
	if err != nil {
		return AccountPage{}, err
	}
	if !by.managing() {
		return AccountPage{}, ErrNotFound
	}
	switch q.State {
	case "", AccountActive, AccountDisabled, AccountPending, AccountDeleted:
	default:
		return AccountPage{}, Refuse(ErrInvalid, FieldState, "unknown state %q: use active, disabled, pending or deleted", string(q.State))
	}
	limit := q.Limit
	switch {
	case limit == 0:
		limit = DefaultListLimit
	case limit < 0 || limit > MaxListLimit:
		return AccountPage{}, Refuse(ErrInvalid, FieldLimit, "must be between 1 and %d", MaxListLimit)
	}
	f := AccountFilter{Host: h.Domain, State: q.State, Limit: limit + 1}
	if q.Cursor != "" {
		if f.After, err = parseSeqCursor(q.Cursor); err != nil {
			return AccountPage{}, err
		}
	}
	accs, err := s.store.ListAccounts(ctx, f)
	if err != nil {
		return AccountPage{}, fmt.Errorf("listing accounts: %w", err)
	}
	page := AccountPage{Accounts: accs}
	if len(accs) > limit {
		page.Accounts = accs[:limit]
		page.NextCursor = seqCursor(page.Accounts[limit-1].Seq)
	}
	return page, nil
}
