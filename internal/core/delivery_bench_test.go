package core_test

import (
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// BenchmarkDeliveryCosts measures what the delivery side adds to the hot paths, over
// the SQLite store (crash durability), from many callers at once:
//
//   - redeem/plain: a redemption with no outbox (a server with no sink but the funnel
//     before this feature);
//
//   - redeem/funnel: a redemption that also writes its event to the outbox, as every
//     server now does for the funnel's "account created" (and the inviter's message);
//
//   - show/plain and show/details: the store's reads of one invite, without and with
//     its details (email, welcome, funnel), as the HTTP API's GET …/invites/ID makes.
//
//     go test -run '^$' -bench DeliveryCosts ./internal/core
func BenchmarkDeliveryCosts(b *testing.B) {
	for _, bc := range []struct {
		name  string
		wants func(core.EventType) bool
	}{
		{"redeem/plain", nil},
		{"redeem/funnel", func(t core.EventType) bool { return t == core.EventInviteRedeemed }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "invites.db"), sqlite.Options{Durability: sqlite.DurabilityCrash})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}, OutboxWants: bc.wants})
			if err != nil {
				b.Fatal(err)
			}
			tokens := make(chan string, b.N)
			for range b.N {
				inv, err := svc.CreateInvite(b.Context(), core.InviteSpec{Host: "example.com"})
				if err != nil {
					b.Fatal(err)
				}
				tokens <- inv.Token
			}
			close(tokens)
			var n atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					name := "user" + strconv.FormatInt(n.Add(1), 10)
					if _, err := svc.Redeem(b.Context(), core.Redemption{Host: "example.com", Token: <-tokens, Username: name}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "redemptions/s")
		})
	}
	e := newEnvTB(b)
	inv, err := e.svc.CreateInvite(b.Context(), core.InviteSpec{Host: "example.com", Actor: cli, Welcome: "Hi"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("show/plain", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.store.Invite(b.Context(), inv.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("show/details", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.store.Invite(b.Context(), inv.ID); err != nil {
				b.Fatal(err)
			}
			if _, err := e.store.InviteDetails(b.Context(), []string{inv.ID}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
