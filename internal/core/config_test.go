package core_test

import (
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// TestPolicyNormalize: the zero Policy takes the documented defaults; each bad key is
// refused naming it, every refusal reported.
func TestPolicyNormalize(t *testing.T) {
	day := 24 * time.Hour
	for i, tc := range [...]struct {
		in      core.Policy
		want    core.Policy
		wantErr []string
	}{
		0: {want: core.Policy{Retention: core.Duration(core.DefaultRetention), DefaultTTL: core.Duration(core.DefaultInviteTTL),
			MaxTTL: core.Duration(core.DefaultMaxInviteTTL), UserQuota: core.UserQuota{Invites: core.DefaultQuotaInvites,
				Period: core.Duration(core.DefaultQuotaPeriod), Outstanding: core.DefaultQuotaOutstanding}}},
		// A default_ttl past the default max_ttl raises max_ttl with it.
		1: {in: core.Policy{DefaultTTL: core.Duration(100 * day), UserQuota: core.UserQuota{Invites: -1, Outstanding: -1}},
			want: core.Policy{Retention: core.Duration(core.DefaultRetention), DefaultTTL: core.Duration(100 * day),
				MaxTTL: core.Duration(100 * day), UserQuota: core.UserQuota{Invites: -1,
					Period: core.Duration(core.DefaultQuotaPeriod), Outstanding: -1}}},
		2: {in: core.Policy{Retention: core.Duration(time.Second), DefaultTTL: core.Duration(2 * day), MaxTTL: core.Duration(day),
			LandingPage: "https://x/{nope}", UserQuota: core.UserQuota{Invites: -2, Period: core.Duration(time.Second)}},
			wantErr: []string{"retention must be at least 1 minute", "default_ttl (2 days) is longer than max_ttl (1 day)",
				"landing_page: ", "user_quota.invites and user_quota.outstanding", "user_quota.period must be at least 1 minute"}},
		3: {in: core.Policy{Hosts: []core.HostPolicy{{Domain: "a@b"}, {Domain: "X.example"}, {Domain: "x.example", MaxTTL: core.Duration(time.Hour)},
			{Domain: "y.example", LandingPage: "ftp://y/{token}"}}},
			wantErr: []string{"host 1: ", "host x.example listed twice", "host x.example: default_ttl (1 week) is longer than max_ttl (1 hour)",
				"host y.example: landing_page: "}},
	} {
		p := tc.in
		err := p.Normalize()
		if tc.wantErr == nil {
			if err != nil {
				t.Errorf("%d: %v", i, err)
			} else if !equalPolicy(p, tc.want) {
				t.Errorf("%d: got %+v, want %+v", i, p, tc.want)
			}
			continue
		}
		for _, w := range tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%d: err = %v, want %q", i, err, w)
			}
		}
	}
}

func equalPolicy(a, b core.Policy) bool {
	return a.Retention == b.Retention && a.DefaultTTL == b.DefaultTTL && a.MaxTTL == b.MaxTTL &&
		a.LandingPage == b.LandingPage && a.AllowUserInvites == b.AllowUserInvites && a.UserQuota == b.UserQuota &&
		len(a.Hosts) == len(b.Hosts)
}

// TestHostConfigs: each [[host]] table takes the top-level keys it leaves out, the
// server's other domains the top-level keys, and with neither "localhost" is served.
func TestHostConfigs(t *testing.T) {
	p := core.Policy{LandingPage: "builtin", DefaultTTL: core.Duration(48 * time.Hour),
		Hosts: []core.HostPolicy{{Domain: "a.example", MaxTTL: core.Duration(72 * time.Hour)}}}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	got := p.HostConfigs("B.example", "a.example", "not a domain")
	want := []core.HostConfig{
		{Domain: "a.example", LandingPage: "builtin", DefaultTTL: 48 * time.Hour, MaxTTL: 72 * time.Hour},
		{Domain: "b.example", LandingPage: "builtin", DefaultTTL: 48 * time.Hour, MaxTTL: core.DefaultMaxInviteTTL},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("hosts = %+v, want %+v", got, want)
	}
	p.Hosts = nil
	if got := p.HostConfigs(); len(got) != 1 || got[0].Domain != "localhost" || got[0].LandingPage != "builtin" {
		t.Errorf("no hosts: %+v", got)
	}
}

// TestUserQuota: -1 is no bound, which the core writes as zero.
func TestUserQuota(t *testing.T) {
	q := core.UserQuota{Invites: -1, Outstanding: 3}
	if err := q.Normalize(); err != nil {
		t.Fatal(err)
	}
	if got := q.Quota(); got != (core.Quota{Invites: 0, Period: core.DefaultQuotaPeriod, Outstanding: 3}) {
		t.Errorf("quota = %+v", got)
	}
}

// TestDurationText: a Duration reads what ParseDuration reads and writes its shortest
// form back.
func TestDurationText(t *testing.T) {
	for i, tc := range [...]struct{ in, out string }{
		0: {"3600", "1h"}, 1: {"7d", "1w"}, 2: {"90m", "1h30m"}, 3: {"10m", "10m"},
	} {
		var d core.Duration
		if err := d.UnmarshalText([]byte(tc.in)); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if b, _ := d.MarshalText(); string(b) != tc.out {
			t.Errorf("%d: %s reads back as %s, want %s", i, tc.in, b, tc.out)
		}
	}
	var d core.Duration
	if err := d.UnmarshalText([]byte("soon")); err == nil || !strings.Contains(err.Error(), "is not a duration") {
		t.Errorf("soon: %v", err)
	}
}
