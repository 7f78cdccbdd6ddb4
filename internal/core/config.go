package core

import (
	"errors"
	"fmt"
	"time"
)

// Policy is the invite policy of the plugin's config: its top-level keys retention,
// default_ttl, max_ttl, landing_page and allow_user_invites, the [user_quota] table
// and the [[host]] tables.
// The zero value of each field means its documented default, filled by Normalize.
type Policy struct {
	// Retention is how long the records of used, expired and revoked invites are kept
	// before they are purged. Default [DefaultRetention]; at least [MinTTL].
	Retention Duration `toml:"retention"`
	// DefaultTTL is the invite lifetime when a request names none.
	// Default [DefaultInviteTTL]; at least [MinTTL], at most MaxTTL.
	DefaultTTL Duration `toml:"default_ttl"`
	// MaxTTL is the longest invite lifetime a request may ask for.
	// Default [DefaultMaxInviteTTL], or DefaultTTL when that is longer; at least [MinTTL].
	MaxTTL Duration `toml:"max_ttl"`
	// LandingPage is where an invite's link leads, for every host without its own: an
	// http or https URL template with {token}, {host} and {uri} (no other
	// placeholder; each is percent-encoded for where it stands), or "builtin" for the
	// plugin's own page at HTTP_BASE_URL/invite?TOKEN.
	// Default none: an invite's location is its xmpp: URI.
	LandingPage string `toml:"landing_page"`
	// AllowUserInvites lets the contact invites that ordinary users make
	// (urn:xmpp:invite#invite) register an account too (";ibr=y"), within UserQuota.
	// Default false: a user's contact invite lets people who have an account add them,
	// and cannot make accounts, so one account does not turn invite-only registration
	// into open registration. Administrators' contact invites always may register.
	AllowUserInvites bool `toml:"allow_user_invites"`
	// UserQuota bounds the invites each ordinary user makes through ad-hoc commands;
	// administrators have none.
	UserQuota UserQuota `toml:"user_quota"`
	// Notices are what invites report back to people: notify_inviter, welcome,
	// remind_before.
	Notices
	// Hosts are the XMPP domains served, each with optional overrides of the keys
	// above.
	// Default: the domains the XMPP server reports, or "localhost" on the command line.
	Hosts []HostPolicy `toml:"host"`
}

// HostPolicy is one [[host]] table: a served XMPP domain and its overrides of the
// top-level policy.
type HostPolicy struct {
	// Domain is the XMPP domain, such as "example.com". Required.
	Domain string `toml:"domain"`
	// LandingPage overrides the top-level landing_page for this domain.
	// Default: the top-level landing_page.
	LandingPage string `toml:"landing_page"`
	// DefaultTTL overrides the top-level default_ttl for this domain.
	// Default: the top-level default_ttl.
	DefaultTTL Duration `toml:"default_ttl"`
	// MaxTTL overrides the top-level max_ttl for this domain.
	// Default: the top-level max_ttl.
	MaxTTL Duration `toml:"max_ttl"`
	// Notices override the top-level notify_inviter, welcome and remind_before.
	Notices
}

// UserQuota is the [user_quota] table: it bounds the invites one ordinary user makes,
// at most Invites per Period and at most Outstanding pending at once (an expired
// invite that a change makes pending again counts as a new one).
type UserQuota struct {
	// Invites bounds the invites one user makes within any Period.
	// Default [DefaultQuotaInvites]; -1 means no bound.
	Invites int `toml:"invites"`
	// Period is the window of Invites. Default [DefaultQuotaPeriod]; at least [MinTTL].
	Period Duration `toml:"period"`
	// Outstanding bounds a user's invites pending at once.
	// Default [DefaultQuotaOutstanding]; -1 means no bound.
	Outstanding int `toml:"outstanding"`
}

// Defaults of UserQuota.
const (
	// DefaultQuotaInvites is how many invites an ordinary user makes per
	// DefaultQuotaPeriod.
	DefaultQuotaInvites = 10
	// DefaultQuotaPeriod is the window of DefaultQuotaInvites.
	DefaultQuotaPeriod = 7 * 24 * time.Hour
	// DefaultQuotaOutstanding is how many of an ordinary user's invites may be pending
	// at once.
	DefaultQuotaOutstanding = 5
)

// Normalize fills the defaults of p and checks it; each error names its key (a
// [[host]] table's by its domain) and what the key accepts.
func (p *Policy) Normalize() error {
	if p.Retention == 0 {
		p.Retention = Duration(DefaultRetention)
	}
	if p.DefaultTTL == 0 {
		p.DefaultTTL = Duration(DefaultInviteTTL)
	}
	if p.MaxTTL == 0 {
		p.MaxTTL = Duration(max(DefaultMaxInviteTTL, time.Duration(p.DefaultTTL)))
	}
	errs := []error{p.UserQuota.Normalize(), p.Notices.Normalize()}
	if p.Retention < Duration(MinTTL) {
		errs = append(errs, fmt.Errorf("retention must be at least %s", HumanDuration(MinTTL)))
	}
	errs = append(errs, checkTTLs("", p.DefaultTTL, p.MaxTTL)...)
	if err := CheckLandingPage(p.LandingPage); err != nil {
		errs = append(errs, fmt.Errorf("landing_page: %w", err))
	}
	seen := map[string]bool{}
	for i, h := range p.Hosts {
		d, err := listedDomain(seen, i, h.Domain)
		errs = append(errs, err)
		if d == "" {
			continue
		}
		if err := CheckLandingPage(h.LandingPage); err != nil {
			errs = append(errs, fmt.Errorf("host %s: landing_page: %w", d, err))
		}
		if err := h.Notices.Check(); err != nil {
			errs = append(errs, fmt.Errorf("host %s: %w", d, err))
		}
		hc := p.hostConfig(h)
		errs = append(errs, checkTTLs("host "+d+": ", Duration(hc.DefaultTTL), Duration(hc.MaxTTL))...)
	}
	return errors.Join(errs...)
}

// checkTTLs checks a pair of invite lifetimes; where prefixes each error.
func checkTTLs(where string, def, maxTTL Duration) []error {
	var errs []error
	if def < Duration(MinTTL) || maxTTL < Duration(MinTTL) {
		errs = append(errs, fmt.Errorf("%sdefault_ttl and max_ttl must be at least %s", where, HumanDuration(MinTTL)))
	}
	if def > maxTTL {
		errs = append(errs, fmt.Errorf("%sdefault_ttl (%s) is longer than max_ttl (%s)", where, def, maxTTL))
	}
	return errs
}

// Normalize fills the defaults of q and checks it.
func (q *UserQuota) Normalize() error {
	if q.Invites == 0 {
		q.Invites = DefaultQuotaInvites
	}
	if q.Period == 0 {
		q.Period = Duration(DefaultQuotaPeriod)
	}
	if q.Outstanding == 0 {
		q.Outstanding = DefaultQuotaOutstanding
	}
	var errs []error
	if q.Invites < -1 || q.Outstanding < -1 {
		errs = append(errs, errors.New("user_quota.invites and user_quota.outstanding must be a number of invites, or -1 for no bound"))
	}
	if q.Period < Duration(MinTTL) {
		errs = append(errs, fmt.Errorf("user_quota.period must be at least %s", HumanDuration(MinTTL)))
	}
	return errors.Join(errs...)
}

// Quota returns the quota as a Service applies it (Actor.Quota), where zero means no
// bound; q must have been normalized.
func (q UserQuota) Quota() Quota {
	return Quota{Invites: max(q.Invites, 0), Period: time.Duration(q.Period), Outstanding: max(q.Outstanding, 0)}
}

// listedDomain normalizes the domain of the i-th (from 0) [[host]] table and notes it
// in seen.
// It returns "" and why when the domain is invalid, and the domain with an error when
// seen already holds it.
func listedDomain(seen map[string]bool, i int, domain string) (string, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return "", fmt.Errorf("host %d: %w", i+1, err)
	}
	if seen[d] {
		err = fmt.Errorf("host %s listed twice", d)
	}
	seen[d] = true
	return d, err
}

// HostConfigs returns the settings of the served domains: each [[host]] table with
// the top-level keys for what it leaves out, then each domain of extra that no table
// names, with the top-level keys. With neither it serves "localhost". p must have
// been normalized.
func (p Policy) HostConfigs(extra ...string) []HostConfig {
	var out []HostConfig
	have := map[string]bool{}
	for _, h := range p.Hosts {
		d, _ := NormalizeDomain(h.Domain)
		have[d] = true
		out = append(out, p.hostConfig(h))
	}
	for _, e := range extra {
		d, err := NormalizeDomain(e)
		if err != nil || have[d] {
			continue
		}
		have[d] = true
		out = append(out, p.hostConfig(HostPolicy{Domain: d}))
	}
	if len(out) == 0 {
		out = append(out, p.hostConfig(HostPolicy{Domain: "localhost"}))
	}
	return out
}

// hostConfig is h with the top-level keys for what it leaves out.
func (p Policy) hostConfig(h HostPolicy) HostConfig {
	hc := HostConfig{Domain: h.Domain, LandingPage: h.LandingPage,
		DefaultTTL: time.Duration(h.DefaultTTL), MaxTTL: time.Duration(h.MaxTTL)}
	if hc.LandingPage == "" {
		hc.LandingPage = p.LandingPage
	}
	if hc.DefaultTTL == 0 {
		hc.DefaultTTL = time.Duration(p.DefaultTTL)
	}
	if hc.MaxTTL == 0 {
		hc.MaxTTL = time.Duration(p.MaxTTL)
	}
	return hc
}

// Duration is a time.Duration in a config file, written as ParseDuration reads it
// ("48h", "7d", or a number of seconds such as "3600" or 3600).
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler, in the shortest form that reads back.
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(FormatDuration(time.Duration(d))), nil
}

// String writes the duration for people, such as "30 days".
func (d Duration) String() string { return HumanDuration(time.Duration(d)) }
