package core

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmpp-invites/invites/internal/username"
)

// Defaults and bounds used when a HostConfig or Options field is zero.
const (
	// DefaultInviteTTL is how long an invite lives unless the host or request says otherwise.
	DefaultInviteTTL = 7 * 24 * time.Hour
	// DefaultMaxInviteTTL bounds the lifetime a request may ask for.
	DefaultMaxInviteTTL = 90 * 24 * time.Hour
	// MinTTL is the shortest lifetime of an invite, and the shortest bound a key or host
	// may set on it: an invite must live long enough to reach its invitee.
	MinTTL = time.Minute
	// DefaultRetention is how long the records of used, expired and revoked invites are
	// kept before the sweep purges them.
	DefaultRetention = 30 * 24 * time.Hour
	// DefaultFlushInterval is how often key bookkeeping is written.
	DefaultFlushInterval = time.Second
	// DefaultSweepInterval is how often ended invites are noted and old records purged.
	DefaultSweepInterval = time.Hour
)

// HostConfig is what the core needs to know about one XMPP domain.
type HostConfig struct {
	// Domain is the XMPP domain, such as "example.com".
	Domain string
	// LandingPage is a URL template with {token}, {host} and {uri}, or LandingBuiltin
	// for the plugin's own page under Options.BaseURL; empty means the invite's location
	// is its xmpp: URI. See CheckLandingPage.
	LandingPage string
	// DefaultTTL is the lifetime of an invite whose request names none.
	// Zero means DefaultInviteTTL.
	DefaultTTL time.Duration
	// MaxTTL is the longest lifetime a request may ask for.
	// Zero means DefaultMaxInviteTTL (or DefaultTTL when that is longer).
	MaxTTL time.Duration
	// RemindBefore is how long before its expiry the creator of a pending invite that
	// lives longer than twice that is reminded of it (EventInviteExpiring); zero means
	// no reminders. At least MinRemindBefore.
	RemindBefore time.Duration
	// Approval says whose invites make accounts that wait for an administrator's
	// approval (an invite may ask for it too, Invite.Approval). Without AccountStates
	// nothing waits. Zero means DefaultApproval.
	Approval InviteSet
	// InviterStanding says whose invites stop working while their creator's account is
	// disabled, deleted or pending (ErrInviterInactive). Zero means
	// DefaultInviterStanding.
	InviterStanding InviteSet
	// AccountStates says whether the server can set its accounts' states
	// (plugin.FeatureAccountStates): hold them pending approval, disable and enable
	// them. Without it approvals are off, and disabling accounts is refused with
	// "this server cannot disable accounts".
	AccountStates bool
}

// Options configure a Service.
type Options struct {
	// Store keeps keys and invites. Required.
	Store Store
	// Hosts are the domains served. At least one is required.
	Hosts []HostConfig
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives bookkeeping and sweep failures; nil discards them.
	Logger *slog.Logger
	// FlushInterval is how often Run writes key bookkeeping; zero means DefaultFlushInterval.
	FlushInterval time.Duration
	// SweepInterval is how often Run sweeps; zero means DefaultSweepInterval.
	SweepInterval time.Duration
	// Retention is how long the records of ended invites are kept; zero means
	// DefaultRetention.
	Retention time.Duration
	// Observer receives every event (see Event); nil means none.
	Observer Observer
	// Outbox makes every change write its events to the store's outbox table in the
	// same transaction, for a delivery worker (webhooks) to send.
	Outbox bool
	// OutboxWants, when not nil and Outbox is false, makes the changes write the events
	// of the types it accepts to the outbox (those a delivery sink acts on).
	OutboxWants func(EventType) bool
	// Mail says that the server sends invites by email (an SMTP relay): invites may
	// then be created with an address (InviteSpec.Email) and sent again.
	Mail bool
	// NoticeInterval is how often Run notes invites that expired and writes reminders;
	// zero means DefaultNoticeInterval, or less for a host with a short RemindBefore.
	NoticeInterval time.Duration
	// BaseURL is the public HTTP base URL of the server, such as "https://example.com",
	// under which the built-in landing page is served (HostConfig.LandingPage =
	// LandingBuiltin). Without it such hosts' invites have no landing page.
	BaseURL string
	// KeyCacheTTL bounds how long a successful authentication is served from memory
	// while the store vouches for its key deletions (Store.KeysVersion); zero means
	// DefaultKeyCacheTTL, negative turns the cache off.
	KeyCacheTTL time.Duration
	// Accounts, when not nil, tells which accounts exist on the server: with it, a
	// registration's use of an invite is held until the server confirms the account
	// (HostEvents) or, past HoldTime, Accounts says it exists (see Hold). Without it
	// (the command line, tests without a server) a registration is confirmed at once.
	Accounts AccountChecker
	// HoldTime is how long a hold waits for the server's confirmation before the
	// sweep asks Accounts; zero means DefaultHoldTime.
	HoldTime time.Duration
	// ApprovalTimeout is how long an account waits for approval before the sweep
	// rejects it; zero means DefaultApprovalTimeout.
	ApprovalTimeout time.Duration
}

// AccountChecker tells which accounts exist on the server; plugin.HostAPI is one.
type AccountChecker interface {
	// AccountExists reports whether the bare JID is a registered account.
	AccountExists(ctx context.Context, jid string) (bool, error)
}

// Service applies the rules of keys and invites over a Store.
// It is safe for concurrent use.
type Service struct {
	store     Store
	now       func() time.Time
	log       *slog.Logger
	flush     time.Duration
	sweep     time.Duration
	retention time.Duration
	observer  Observer
	outbox    bool
	wantsOut  func(EventType) bool
	mail      bool
	notice    time.Duration
	baseURL   string
	keys      *keyCache
	ids       idSource // invite IDs
	eventIDs  idSource
	accounts  AccountChecker // nil: registrations are confirmed at once
	holdTime  time.Duration
	approval  time.Duration // ApprovalTimeout

	mu    sync.RWMutex
	hosts map[string]HostConfig

	usesMu sync.Mutex
	uses   map[string]KeyUse // pending bookkeeping, by key ID

	funnelMu sync.Mutex
	funnel   map[FunnelCount]int // funnel counts not written yet, by invite and stage (N zero)

	dummyHash []byte // compared against when a key or invite ID is unknown
}

// NewService checks the options, fills their defaults and returns a Service.
// Call Run to write bookkeeping and sweep, and Close when done.
func NewService(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("no store given")
	}
	s := &Service{
		store:     opts.Store,
		now:       opts.Now,
		log:       opts.Logger,
		flush:     opts.FlushInterval,
		sweep:     opts.SweepInterval,
		retention: opts.Retention,
		observer:  opts.Observer,
		outbox:    opts.Outbox,
		wantsOut:  opts.OutboxWants,
		mail:      opts.Mail,
		baseURL:   strings.TrimRight(opts.BaseURL, "/"),
		uses:      make(map[string]KeyUse),
		funnel:    make(map[FunnelCount]int),
		dummyHash: hashSecret("no such key"),
		ids:       idSource{randBytes: 3},
		eventIDs:  idSource{randBytes: 6},
		accounts:  opts.Accounts,
		holdTime:  opts.HoldTime,
		approval:  opts.ApprovalTimeout,
	}
	if s.holdTime <= 0 {
		s.holdTime = DefaultHoldTime
	}
	if s.approval <= 0 {
		s.approval = DefaultApprovalTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.flush <= 0 {
		s.flush = DefaultFlushInterval
	}
	if s.sweep <= 0 {
		s.sweep = DefaultSweepInterval
	}
	if s.retention <= 0 {
		s.retention = DefaultRetention
	}
	ttl := opts.KeyCacheTTL
	if ttl == 0 {
		ttl = DefaultKeyCacheTTL
	}
	s.keys = newKeyCache(opts.Store, ttl)
	if err := s.SetHosts(opts.Hosts); err != nil {
		return nil, err
	}
	s.notice = noticeInterval(opts.NoticeInterval, opts.Hosts)
	return s, nil
}

// SetHosts replaces the served domains, for example when the XMPP server reports its own.
func (s *Service) SetHosts(hosts []HostConfig) error {
	if len(hosts) == 0 {
		return errors.New("no hosts to serve")
	}
	m := make(map[string]HostConfig, len(hosts))
	for _, h := range hosts {
		d, err := NormalizeDomain(h.Domain)
		if err != nil {
			return err
		}
		h.Domain = d
		if h.DefaultTTL <= 0 {
			h.DefaultTTL = DefaultInviteTTL
		}
		if h.MaxTTL <= 0 {
			h.MaxTTL = max(DefaultMaxInviteTTL, h.DefaultTTL)
		}
		switch {
		case h.DefaultTTL < MinTTL || h.MaxTTL < MinTTL:
			return fmt.Errorf("host %s: invite lifetimes must be at least %s", d, HumanDuration(MinTTL))
		case h.DefaultTTL > h.MaxTTL:
			return fmt.Errorf("host %s: the default invite lifetime (%s) is longer than the maximum (%s)",
				d, HumanDuration(h.DefaultTTL), HumanDuration(h.MaxTTL))
		}
		if err := CheckLandingPage(h.LandingPage); err != nil {
			return fmt.Errorf("host %s: %w", d, err)
		}
		if h.RemindBefore != 0 && h.RemindBefore < MinRemindBefore {
			return fmt.Errorf("host %s: remind_before must be at least %s", d, HumanDuration(MinRemindBefore))
		}
		if h.Approval == "" {
			h.Approval = DefaultApproval
		}
		if h.InviterStanding == "" {
			h.InviterStanding = DefaultInviterStanding
		}
		if err := errors.Join(h.Approval.check("approval"), h.InviterStanding.check("inviter_standing")); err != nil {
			return fmt.Errorf("host %s: %w", d, err)
		}
		m[d] = h
	}
	s.mu.Lock()
	s.hosts = m
	s.mu.Unlock()
	return nil
}

// Host returns the configuration of a served domain, or ErrUnknownHost.
func (s *Service) Host(domain string) (HostConfig, error) {
	// Most callers pass a domain already in canonical form (a key's or an invite's
	// host): found as is, it need not be normalized, which costs a JID parse.
	s.mu.RLock()
	h, ok := s.hosts[domain]
	s.mu.RUnlock()
	if ok {
		return h, nil
	}
	d, err := NormalizeDomain(domain)
	if err != nil {
		return HostConfig{}, ErrUnknownHost
	}
	s.mu.RLock()
	h, ok = s.hosts[d]
	s.mu.RUnlock()
	if !ok {
		return HostConfig{}, ErrUnknownHost
	}
	return h, nil
}

// Hosts lists the served domains.
func (s *Service) Hosts() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.hosts))
	for d := range s.hosts {
		out = append(out, d)
	}
	return out
}

// NormalizeDomain checks an XMPP domainpart and returns its canonical form.
func NormalizeDomain(domain string) (string, error) {
	if domain == "" || strings.ContainsAny(domain, "@/ ") {
		return "", invalidf("%q is not a valid XMPP domain", domain)
	}
	j, err := jid.New("", domain, "")
	if err != nil {
		return "", invalidf("%q is not a valid XMPP domain", domain)
	}
	return j.Domainpart(), nil
}

// NormalizeUsername checks an account name (an XMPP localpart) and returns its canonical,
// case-folded form: PRECIS UsernameCaseMapped (RFC 8265), as the server registers
// names (package username).
func NormalizeUsername(name string) (string, error) {
	if name == "" {
		return "", invalidf("the username is empty")
	}
	n, err := username.Normalize(name)
	if err != nil {
		return "", invalidf("%q is not a valid username", name)
	}
	return n, nil
}

// emit hands an event to the observer.
func (s *Service) emit(ctx context.Context, e Event) {
	if s.observer != nil {
		s.observer.Observe(ctx, e)
	}
}

// newEvent returns an event of that type at now, with a fresh ID.
func (s *Service) newEvent(t EventType, now time.Time, by Actor, host string) Event {
	return Event{ID: s.eventIDs.next(now), Type: t, Time: now, Actor: by, Host: host}
}

// outboxOf returns the events to write to the outbox: them, or those of the types a
// sink wants (Options.OutboxWants), or none when the service keeps no outbox.
func (s *Service) outboxOf(events ...Event) []Event {
	if s.outbox {
		return events
	}
	var out []Event
	for _, e := range events {
		if s.wants(e.Type) {
			out = append(out, e)
		}
	}
	return out
}

// wants reports whether events of type t go to the outbox.
func (s *Service) wants(t EventType) bool {
	return s.outbox || s.wantsOut != nil && s.wantsOut(t)
}

// KeySpec describes a key to create.
type KeySpec struct {
	// Host is the domain the key creates invites for.
	Host string
	// Name helps remember what it is for; may be empty. At most MaxKeyNameLen
	// characters, without control, line-separator or bidirectional formatting characters.
	Name string
	// ExpiresIn, when positive, makes the key stop working that long after creation; at
	// least MinTTL.
	ExpiresIn time.Duration
	// MaxTTL, when positive, bounds the lifetime of invites the key creates; at least
	// MinTTL.
	MaxTTL time.Duration
	// Rate, when not zero, limits how many invites the key creates.
	Rate Rate
	// Manage lets the key see and change every invite of its host.
	Manage bool
	// Actor is who creates the key, for the event.
	Actor Actor
	// Refused holds the refusals the caller found reading the request's text (see
	// InviteSpec.Refused): nothing is created, and they are returned with the core's.
	Refused error
}

// CreateKey makes a new API key and returns it with the full credential "ID/SECRET",
// which is shown once and never again.
func (s *Service) CreateKey(ctx context.Context, spec KeySpec) (Key, string, error) {
	h, err := s.Host(spec.Host)
	if err != nil {
		return Key{}, "", err
	}
	errs := []error{spec.Refused}
	if err := checkText(FieldName, "key name", spec.Name, MaxKeyNameLen); err != nil {
		errs = append(errs, err)
	}
	for _, d := range []struct {
		field string
		d     time.Duration
	}{{FieldExpires, spec.ExpiresIn}, {FieldMaxTTL, spec.MaxTTL}} {
		if d.d != 0 && (d.d < MinTTL || d.d > MaxDuration) {
			errs = append(errs, Refuse(ErrInvalid, d.field, "must be between %s and %s", HumanDuration(MinTTL), HumanDuration(MaxDuration)))
		}
	}
	if spec.Rate.N < 0 || spec.Rate.Period < 0 {
		errs = append(errs, Refuse(ErrInvalid, FieldRate, "must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return Key{}, "", err
	}
	id, err := randomString(keyIDBytes)
	if err != nil {
		return Key{}, "", err
	}
	secret, err := randomString(keySecretBytes)
	if err != nil {
		return Key{}, "", err
	}
	now := s.now().UTC()
	k := Key{
		ID:         id,
		Host:       h.Domain,
		Name:       spec.Name,
		SecretHash: hashSecret(secret),
		CreatedAt:  now.Truncate(time.Second),
		MaxTTL:     spec.MaxTTL,
		Rate:       spec.Rate,
		Manage:     spec.Manage,
	}
	if spec.ExpiresIn > 0 {
		k.ExpiresAt = k.CreatedAt.Add(spec.ExpiresIn)
	}
	ev := s.newEvent(EventKeyCreated, now, spec.Actor, h.Domain)
	ev.KeyID = k.ID
	if err := s.store.CreateKey(ctx, k, s.outboxOf(ev)); err != nil {
		return Key{}, "", fmt.Errorf("creating key: %w", err)
	}
	s.emit(ctx, ev)
	return k, id + "/" + secret, nil
}

// Keys lists a host's keys, oldest first, with bookkeeping not yet written included.
func (s *Service) Keys(ctx context.Context, host string) ([]Key, error) {
	h, err := s.Host(host)
	if err != nil {
		return nil, err
	}
	keys, err := s.store.Keys(ctx, h.Domain)
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	s.usesMu.Lock()
	for i, k := range keys {
		if u, ok := s.uses[k.ID]; ok {
			keys[i].Uses += u.Count
			if u.LastUsed.After(k.LastUsed) {
				keys[i].LastUsed = u.LastUsed
			}
		}
	}
	s.usesMu.Unlock()
	return keys, nil
}

// DeleteKey revokes a host's key; it is refused from the next request on, in this
// process, in any other process on the same SQLite file, and (once the store's
// notification arrives, normally within milliseconds) on other PostgreSQL nodes.
// The invites it made stay.
func (s *Service) DeleteKey(ctx context.Context, by Actor, host, id string) error {
	h, err := s.Host(host)
	if err != nil {
		return err
	}
	if !ValidKeyID(id) {
		return ErrNotFound
	}
	ev := s.newEvent(EventKeyDeleted, s.now().UTC(), by, h.Domain)
	ev.KeyID = id
	s.keys.drop(id)
	if err := s.store.DeleteKey(ctx, h.Domain, id, s.outboxOf(ev)); err != nil {
		return fmt.Errorf("deleting key: %w", err)
	}
	s.keys.drop(id)
	s.usesMu.Lock()
	delete(s.uses, id)
	s.usesMu.Unlock()
	s.emit(ctx, ev)
	return nil
}

// Authenticate checks a credential "ID/SECRET" and returns its key.
// It fails with an error matching ErrInvalid for a malformed credential, ErrForbidden
// for an unknown ID or a wrong secret (the same work either way: one store lookup that
// answers a decoy row for an unknown ID, and one constant-time comparison, with a
// dummy hash for an unknown ID; an unknown ID's error also matches ErrUnknownKey), and
// ErrExpired for an expired key; a store failure is returned as is.
// A success is counted in the key's bookkeeping.
//
// Successful authentications are remembered (see Options.KeyCacheTTL) when the store
// can report key deletions, so that a key used again needs no store read; a key deleted
// by any process or node is refused from the next request on all the same.
func (s *Service) Authenticate(ctx context.Context, credential string) (Key, error) {
	id, secret, err := ParseKey(credential)
	if err != nil {
		return Key{}, err
	}
	got := hashSecret(secret)
	now := s.now()
	if k, ok := s.keys.get(id, got, now); ok {
		if k.Expired(now) {
			return Key{}, ErrExpired
		}
		s.recordUse(k.ID, now)
		return k, nil
	}
	version, vouched := s.keys.version()
	k, err := s.store.Key(ctx, id)
	want := k.SecretHash
	switch {
	case errors.Is(err, ErrNotFound):
		want = s.dummyHash
	case err != nil:
		return Key{}, fmt.Errorf("looking up key: %w", err)
	}
	if subtle.ConstantTimeCompare(got, want) != 1 || err != nil {
		if err != nil {
			return Key{}, ErrUnknownKey
		}
		return Key{}, ErrForbidden
	}
	if k.Expired(now) {
		return Key{}, ErrExpired
	}
	s.keys.put(k, version, vouched, now)
	s.recordUse(k.ID, now)
	return k, nil
}

func (s *Service) recordUse(id string, now time.Time) {
	s.usesMu.Lock()
	u := s.uses[id]
	u.ID = id
	u.Count++
	if now.After(u.LastUsed) {
		u.LastUsed = now
	}
	s.uses[id] = u
	s.usesMu.Unlock()
}

// Flush writes pending key bookkeeping and funnel counts (CountFunnel) to the store.
func (s *Service) Flush(ctx context.Context) error {
	return errors.Join(s.flushUses(ctx), s.flushFunnel(ctx))
}

// flushUses writes pending key bookkeeping to the store.
func (s *Service) flushUses(ctx context.Context) error {
	s.usesMu.Lock()
	if len(s.uses) == 0 {
		s.usesMu.Unlock()
		return nil
	}
	batch := make([]KeyUse, 0, len(s.uses))
	for _, u := range s.uses {
		batch = append(batch, u)
	}
	clear(s.uses)
	s.usesMu.Unlock()
	if err := s.store.AddKeyUses(ctx, batch); err != nil {
		// Put the counts back so that a later flush writes them.
		s.usesMu.Lock()
		for _, u := range batch {
			p := s.uses[u.ID]
			p.ID = u.ID
			p.Count += u.Count
			if u.LastUsed.After(p.LastUsed) {
				p.LastUsed = u.LastUsed
			}
			s.uses[u.ID] = p
		}
		s.usesMu.Unlock()
		return fmt.Errorf("writing key bookkeeping: %w", err)
	}
	return nil
}

// Run flushes bookkeeping and sweeps until ctx ends, then flushes once more with a
// short deadline of its own.
func (s *Service) Run(ctx context.Context) {
	flush := time.NewTicker(s.flush)
	defer flush.Stop()
	sweep := time.NewTicker(s.sweep)
	defer sweep.Stop()
	notice := time.NewTicker(s.notice)
	defer notice.Stop()
	// Holds are resolved soon after they are due, not at the hourly sweep.
	holds := time.NewTicker(min(max(s.holdTime/4, time.Second), time.Minute))
	defer holds.Stop()
	s.runSweep(ctx)
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := s.Flush(fctx); err != nil {
				s.log.Warn("final bookkeeping flush failed", "err", err)
			}
			cancel()
			return
		case <-flush.C:
			if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("bookkeeping flush failed", "err", err)
			}
		case <-sweep.C:
			s.runSweep(ctx)
		case <-notice.C:
			s.runNotice(ctx)
		case <-holds.C:
			if err := s.resolveHolds(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("resolving held registrations failed", "err", err)
			}
		}
	}
}

// resolveHolds runs ResolveHolds and logs what it settled, from Run's ticker and from
// Sweep alike: an operator (and the kill test) reads every release in the log.
func (s *Service) resolveHolds(ctx context.Context) error {
	confirmed, released, err := s.ResolveHolds(ctx)
	if confirmed > 0 || released > 0 {
		s.log.Info("resolved held registrations", "confirmed", confirmed, "released", released)
	}
	return err
}

// runNotice notes the invites that expired and writes reminders, between sweeps.
func (s *Service) runNotice(ctx context.Context) {
	expired, reminded, err := s.Notice(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("noting expiring invites failed", "err", err)
	case expired > 0 || reminded > 0:
		s.log.Info("noted invites", "expired", expired, "reminded", reminded)
	}
}

func (s *Service) runSweep(ctx context.Context) {
	expired, purged, err := s.Sweep(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn("sweep failed", "err", err)
	case expired > 0 || purged > 0:
		s.log.Info("swept invites", "expired", expired, "purged", purged)
	}
}
