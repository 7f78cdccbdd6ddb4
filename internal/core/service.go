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
)

// Defaults used when a HostConfig or Options field is zero.
const (
	// DefaultInviteTTL is how long an invite lives unless the host or request says otherwise.
	DefaultInviteTTL = 7 * 24 * time.Hour
	// DefaultMaxInviteTTL bounds the lifetime a request may ask for.
	DefaultMaxInviteTTL = 90 * 24 * time.Hour
	// DefaultFlushInterval is how often key bookkeeping is written.
	DefaultFlushInterval = time.Second
	// DefaultSweepInterval is how often expired invites are purged.
	DefaultSweepInterval = time.Hour
)

// HostConfig is what the core needs to know about one XMPP domain.
type HostConfig struct {
	// Domain is the XMPP domain, such as "example.com".
	Domain string
	// LandingPage is a URL template with {token}, {host} and {uri}; empty means the
	// invite's location is its xmpp: URI.
	LandingPage string
	// DefaultTTL is the lifetime of an invite whose request names none.
	// Zero means DefaultInviteTTL.
	DefaultTTL time.Duration
	// MaxTTL is the longest lifetime a request may ask for.
	// Zero means DefaultMaxInviteTTL (or DefaultTTL when that is longer).
	MaxTTL time.Duration
}

// Options configure a Service.
type Options struct {
	// Store keeps keys and invites. Required.
	Store Store
	// Hosts are the domains served. At least one is required.
	Hosts []HostConfig
	// RateLimiter enforces key rates; nil means the store's own when it implements
	// RateLimiter (so that a store shared by several nodes shares the limits too), else
	// an in-memory limiter.
	RateLimiter RateLimiter
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Logger receives bookkeeping failures; nil discards them.
	Logger *slog.Logger
	// FlushInterval is how often Run writes key bookkeeping; zero means DefaultFlushInterval.
	FlushInterval time.Duration
	// SweepInterval is how often Run purges expired invites; zero means DefaultSweepInterval.
	SweepInterval time.Duration
}

// Service applies the rules of keys and invites over a Store.
// It is safe for concurrent use.
type Service struct {
	store   Store
	limiter RateLimiter
	now     func() time.Time
	log     *slog.Logger
	flush   time.Duration
	sweep   time.Duration

	mu    sync.RWMutex
	hosts map[string]HostConfig

	usesMu sync.Mutex
	uses   map[string]KeyUse // pending bookkeeping, by key ID

	dummyHash []byte // compared against when a key ID is unknown
}

// NewService checks the options, fills their defaults and returns a Service.
// Call Run to write bookkeeping and sweep, and Close when done.
func NewService(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, errors.New("core: no store")
	}
	s := &Service{
		store:     opts.Store,
		limiter:   opts.RateLimiter,
		now:       opts.Now,
		log:       opts.Logger,
		flush:     opts.FlushInterval,
		sweep:     opts.SweepInterval,
		uses:      make(map[string]KeyUse),
		dummyHash: hashSecret("no such key"),
	}
	if l, ok := opts.Store.(RateLimiter); ok && s.limiter == nil {
		s.limiter = l
	}
	if s.limiter == nil {
		s.limiter = NewMemoryRateLimiter()
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
	if err := s.SetHosts(opts.Hosts); err != nil {
		return nil, err
	}
	return s, nil
}

// SetHosts replaces the served domains, for example when the XMPP server reports its own.
func (s *Service) SetHosts(hosts []HostConfig) error {
	if len(hosts) == 0 {
		return errors.New("core: no hosts")
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
		if h.DefaultTTL > h.MaxTTL {
			return fmt.Errorf("core: host %s: default ttl %s exceeds max ttl %s", d, h.DefaultTTL, h.MaxTTL)
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
	d, err := NormalizeDomain(domain)
	if err != nil {
		return HostConfig{}, ErrUnknownHost
	}
	s.mu.RLock()
	h, ok := s.hosts[d]
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
		return "", invalidf("malformed domain %q", domain)
	}
	j, err := jid.New("", domain, "")
	if err != nil {
		return "", invalidf("malformed domain %q", domain)
	}
	return j.Domainpart(), nil
}

// NormalizeUsername checks an account name (an XMPP localpart) and returns its canonical,
// case-folded form.
func NormalizeUsername(username string) (string, error) {
	if username == "" {
		return "", invalidf("empty username")
	}
	j, err := jid.New(username, "localhost", "")
	if err != nil || j.Localpart() == "" {
		return "", invalidf("malformed username %q", username)
	}
	return j.Localpart(), nil
}

// KeySpec describes a key to create.
type KeySpec struct {
	// Host is the domain the key creates invites for.
	Host string
	// Name helps remember what it is for; may be empty. At most 200 characters.
	Name string
	// ExpiresIn, when positive, makes the key stop working that long after creation.
	ExpiresIn time.Duration
	// MaxTTL, when positive, bounds the lifetime of invites the key creates.
	MaxTTL time.Duration
	// Rate, when not zero, limits how many invites the key creates.
	Rate Rate
}

// MaxKeyNameLen bounds a key's name, in bytes.
const MaxKeyNameLen = 200

// CreateKey makes a new API key and returns it with the full credential "ID/SECRET",
// which is shown once and never again.
func (s *Service) CreateKey(ctx context.Context, spec KeySpec) (Key, string, error) {
	h, err := s.Host(spec.Host)
	if err != nil {
		return Key{}, "", err
	}
	if len(spec.Name) > MaxKeyNameLen || strings.ContainsFunc(spec.Name, isControl) {
		return Key{}, "", invalidf("key name must be at most %d printable characters", MaxKeyNameLen)
	}
	if spec.ExpiresIn < 0 || spec.ExpiresIn > MaxDuration || spec.MaxTTL < 0 || spec.MaxTTL > MaxDuration {
		return Key{}, "", invalidf("duration out of range")
	}
	if spec.Rate.N < 0 || spec.Rate.Period < 0 {
		return Key{}, "", invalidf("negative rate")
	}
	id, err := randomString(keyIDBytes)
	if err != nil {
		return Key{}, "", err
	}
	secret, err := randomString(keySecretBytes)
	if err != nil {
		return Key{}, "", err
	}
	now := s.now().UTC().Truncate(time.Second)
	k := Key{
		ID:         id,
		Host:       h.Domain,
		Name:       spec.Name,
		SecretHash: hashSecret(secret),
		CreatedAt:  now,
		MaxTTL:     spec.MaxTTL,
		Rate:       spec.Rate,
	}
	if spec.ExpiresIn > 0 {
		k.ExpiresAt = now.Add(spec.ExpiresIn)
	}
	if err := s.store.CreateKey(ctx, k); err != nil {
		return Key{}, "", fmt.Errorf("creating key: %w", err)
	}
	return k, id + "/" + secret, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

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

// DeleteKey revokes a host's key; it is rejected from the next request on.
func (s *Service) DeleteKey(ctx context.Context, host, id string) error {
	h, err := s.Host(host)
	if err != nil {
		return err
	}
	if !ValidKeyID(id) {
		return ErrNotFound
	}
	if err := s.store.DeleteKey(ctx, h.Domain, id); err != nil {
		return fmt.Errorf("deleting key: %w", err)
	}
	s.usesMu.Lock()
	delete(s.uses, id)
	s.usesMu.Unlock()
	return nil
}

// Authenticate checks a credential "ID/SECRET" and returns its key.
// It fails with an error wrapping ErrInvalid for a malformed credential, ErrForbidden for
// an unknown ID or a wrong secret (the same work either way, compared in constant time),
// and ErrExpired for an expired key; a store failure is returned as is.
// A success is counted in the key's bookkeeping.
func (s *Service) Authenticate(ctx context.Context, credential string) (Key, error) {
	id, secret, err := ParseKey(credential)
	if err != nil {
		return Key{}, err
	}
	k, err := s.store.Key(ctx, id)
	want := k.SecretHash
	switch {
	case errors.Is(err, ErrNotFound):
		want = s.dummyHash
	case err != nil:
		return Key{}, fmt.Errorf("looking up key: %w", err)
	}
	got := hashSecret(secret)
	if subtle.ConstantTimeCompare(got, want) != 1 || err != nil {
		return Key{}, ErrForbidden
	}
	now := s.now()
	if k.Expired(now) {
		return Key{}, ErrExpired
	}
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

// InviteSpec describes an invite to create.
type InviteSpec struct {
	// Host is the domain; ignored by CreateKeyInvite, which uses the key's.
	Host string
	// Kind is KindAccount (the zero value means it too) or KindContact.
	Kind Kind
	// Username, when set, is the only name the invite can register.
	Username string
	// Inviter is the inviting account's localpart; required for KindContact.
	Inviter string
	// AllowRegister lets a contact invite register an account too.
	AllowRegister bool
	// TTL is the invite's lifetime; zero means the host's default.
	TTL time.Duration
	// Source records who made it, such as "adhoc/admin@example.com".
	Source string
}

// CreateInvite makes an invite and returns it with its Token set.
// It returns once the invite is durable.
func (s *Service) CreateInvite(ctx context.Context, spec InviteSpec) (Invite, error) {
	return s.createInvite(ctx, spec, 0, nil)
}

// CreateKeyInvite makes an account invite on behalf of an authenticated key: on the key's
// host, bounded by the key's maximum lifetime and rate, with source "api/token/ID".
func (s *Service) CreateKeyInvite(ctx context.Context, k Key, spec InviteSpec) (Invite, error) {
	spec.Host = k.Host
	spec.Source = "api/token/" + k.ID
	if spec.Kind == "" {
		spec.Kind = KindAccount
	}
	// A request refused for its parameters must not spend the key's budget, so the
	// limiter is asked only once the invite is known to be valid.
	return s.createInvite(ctx, spec, k.MaxTTL, func() error {
		return s.limiter.Allow(ctx, k.ID, k.Rate, s.now())
	})
}

// createInvite makes an invite; keyMax, when positive, further bounds its lifetime;
// admit, when not nil, is asked last, just before the invite is stored.
func (s *Service) createInvite(ctx context.Context, spec InviteSpec, keyMax time.Duration, admit func() error) (Invite, error) {
	h, err := s.Host(spec.Host)
	if err != nil {
		return Invite{}, err
	}
	limit := h.MaxTTL
	if keyMax > 0 && keyMax < limit {
		limit = keyMax
	}
	ttl := spec.TTL
	switch {
	case ttl < 0:
		return Invite{}, invalidf("ttl must be positive")
	case ttl == 0:
		ttl = min(h.DefaultTTL, limit)
	case ttl > limit:
		return Invite{}, invalidf("ttl %s exceeds the maximum of %s", formatDuration(ttl), formatDuration(limit))
	}
	inv := Invite{Host: h.Domain, Kind: spec.Kind, Source: spec.Source, AllowRegister: spec.AllowRegister}
	switch spec.Kind {
	case "", KindAccount:
		inv.Kind = KindAccount
		inv.AllowRegister = false
	case KindContact:
		if inv.Inviter, err = NormalizeUsername(spec.Inviter); err != nil {
			return Invite{}, fmt.Errorf("inviter: %w", err)
		}
	default:
		return Invite{}, invalidf("unknown invite kind %q", spec.Kind)
	}
	if spec.Username != "" {
		if inv.Username, err = NormalizeUsername(spec.Username); err != nil {
			return Invite{}, err
		}
	}
	if len(inv.Source) > 1024 {
		return Invite{}, invalidf("source too long")
	}
	if admit != nil {
		if err := admit(); err != nil {
			return Invite{}, err
		}
	}
	token, err := NewToken()
	if err != nil {
		return Invite{}, err
	}
	now := s.now().UTC()
	inv.Token = token
	inv.TokenHash = HashToken(token)
	inv.ID = InviteID(inv.TokenHash)
	inv.CreatedAt = now
	inv.ExpiresAt = now.Add(ttl)
	if err := s.store.CreateInvite(ctx, inv); err != nil {
		return Invite{}, fmt.Errorf("creating invite: %w", err)
	}
	return inv, nil
}

// InviteURI returns the invite's xmpp: URI; inv.Token must be set.
func (s *Service) InviteURI(inv Invite) string { return inv.URI(inv.Token) }

// InviteLandingPage returns the invite's landing page, or "" when its host has none;
// inv.Token must be set.
func (s *Service) InviteLandingPage(inv Invite) string {
	h, err := s.Host(inv.Host)
	if err != nil {
		return ""
	}
	return LandingPage(h.LandingPage, inv, inv.Token)
}

// CheckInvite returns the invite a token names, if it can still be redeemed.
// It fails with ErrNotFound (also for a malformed token) or ErrExpired.
func (s *Service) CheckInvite(ctx context.Context, token string) (Invite, error) {
	if !ValidToken(token) {
		return Invite{}, ErrNotFound
	}
	inv, err := s.store.Invite(ctx, HashToken(token))
	if err != nil {
		return Invite{}, fmt.Errorf("checking invite: %w", err)
	}
	if inv.Expired(s.now()) {
		return Invite{}, ErrExpired
	}
	inv.Token = token
	return inv, nil
}

// Redeem consumes an invite to register username, atomically: of concurrent redemptions
// of one token exactly one succeeds.
// It fails, consuming nothing, with ErrNotFound, ErrExpired, ErrForbidden (a fixed name
// differs, or the invite cannot register accounts), or ErrInvalid for a malformed name.
func (s *Service) Redeem(ctx context.Context, token, username string) (Invite, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return Invite{}, err
	}
	if !ValidToken(token) {
		return Invite{}, ErrNotFound
	}
	inv, err := s.store.ConsumeInvite(ctx, HashToken(token), name, s.now())
	if err != nil {
		return Invite{}, fmt.Errorf("redeeming invite: %w", err)
	}
	inv.Token = token
	return inv, nil
}

// Sweep deletes expired invites and says how many.
func (s *Service) Sweep(ctx context.Context) (int64, error) {
	n, err := s.store.DeleteExpiredInvites(ctx, s.now())
	if err != nil {
		return 0, fmt.Errorf("sweeping invites: %w", err)
	}
	return n, nil
}

// Flush writes pending key bookkeeping to the store.
func (s *Service) Flush(ctx context.Context) error {
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

// Run flushes bookkeeping and sweeps expired invites until ctx ends, then flushes once
// more with a short deadline of its own.
func (s *Service) Run(ctx context.Context) {
	flush := time.NewTicker(s.flush)
	defer flush.Stop()
	sweep := time.NewTicker(s.sweep)
	defer sweep.Stop()
	if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("sweep failed", "err", err)
	}
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
			if n, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("sweep failed", "err", err)
			} else if n > 0 {
				s.log.Info("swept expired invites", "count", n)
			}
		}
	}
}
