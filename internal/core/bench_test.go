package core_test

import (
	"strings"
	"testing"

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
