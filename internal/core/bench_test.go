package core_test

import (
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
)

// BenchmarkAuthenticate measures key verification over the SQLite store: a valid key,
// a wrong secret, and an unknown ID (which must cost about the same).
func BenchmarkAuthenticate(b *testing.B) {
	e := newEnvTB(b)
	_, cred, err := e.svc.CreateKey(b.Context(), core.KeySpec{Host: "example.com"})
	if err != nil {
		b.Fatal(err)
	}
	id, secret, _ := strings.Cut(cred, "/")
	for _, bc := range []struct {
		name, cred string
		ok         bool
	}{
		{"valid", cred, true},
		{"wrong-secret", id + "/" + flip(secret), false},
		{"unknown-id", flip(id) + "/" + secret, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.svc.Authenticate(b.Context(), bc.cred); (err == nil) != bc.ok {
						b.Errorf("Authenticate: %v", err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkCreateKeyInvite measures the whole path of an API request after its key is
// verified, from many concurrent callers: rate check, invite, group commit.
func BenchmarkCreateKeyInvite(b *testing.B) {
	e := newEnvTB(b)
	k, _, err := e.svc.CreateKey(b.Context(), core.KeySpec{Host: "example.com"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.svc.CreateKeyInvite(b.Context(), k, core.InviteSpec{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "invites/s")
}

// BenchmarkCheckInvite measures the in-band token check (XEP-0445 pre-auth) over the
// SQLite store: a valid token, an existing invite's ID with a wrong secret, and an
// unknown ID, which must cost the same up to the comparison (issue 21, LOW 3): the
// ratios of their ns/op are what docs/operator.md's claim (keys and tokens) rests on.
func BenchmarkCheckInvite(b *testing.B) {
	e := newEnvTB(b)
	var inv core.Invite
	for range 1000 {
		var err error
		if inv, err = e.svc.CreateInvite(b.Context(), core.InviteSpec{Host: "example.com", Note: "a note of some length, as people write them", Groups: []string{"team"}}); err != nil {
			b.Fatal(err)
		}
	}
	id, secret := inv.Token[:core.IDLen], inv.Token[core.IDLen:]
	for _, bc := range []struct {
		name, token string
		ok          bool
	}{
		{"valid", inv.Token, true},
		{"wrong-secret", id + flip(secret), false},
		{"unknown-id", flip(id) + secret, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := e.svc.CheckInvite(b.Context(), "example.com", bc.token); (err == nil) != bc.ok {
					b.Fatalf("CheckInvite: %v", err)
				}
			}
		})
	}
}

// BenchmarkAuthenticateUncached measures key verification without the key cache (as
// on a store that cannot vouch for deletions): an existing key's ID with a wrong
// secret and an unknown ID must cost the same (issue 21, LOW 3).
func BenchmarkAuthenticateUncached(b *testing.B) {
	e := newEnvTB(b)
	svc, err := core.NewService(core.Options{Store: e.store, Hosts: []core.HostConfig{{Domain: "example.com"}}, KeyCacheTTL: -1})
	if err != nil {
		b.Fatal(err)
	}
	var cred string
	for range 100 {
		if _, cred, err = svc.CreateKey(b.Context(), core.KeySpec{Host: "example.com", Name: "a key of some name", Rate: core.Rate{N: 10, Period: time.Hour}}); err != nil {
			b.Fatal(err)
		}
	}
	id, secret, _ := strings.Cut(cred, "/")
	for _, bc := range []struct {
		name, cred string
		ok         bool
	}{
		{"valid", cred, true},
		{"wrong-secret", id + "/" + flip(secret), false},
		{"unknown-id", flip(id) + "/" + secret, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.Authenticate(b.Context(), bc.cred); (err == nil) != bc.ok {
					b.Fatalf("Authenticate: %v", err)
				}
			}
		})
	}
}
