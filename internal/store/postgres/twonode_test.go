package postgres_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/postgres"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
)

// twoNodes returns two services, each over its own store and connection pool, on one
// schema: two server nodes sharing a database.
func twoNodes(t *testing.T) (a, b *core.Service) {
	t.Helper()
	_, dsn := pgtest.Schema(t)
	node := func() *core.Service {
		s := open(t, dsn, postgres.Options{})
		svc, err := core.NewService(core.Options{Store: s, Hosts: []core.HostConfig{{Domain: "example.com"}}})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	return node(), node()
}

func TestTwoNodesKeys(t *testing.T) {
	a, b := twoNodes(t)
	ctx := testCtx(t)
	k, cred, err := a.CreateKey(ctx, core.KeySpec{Host: "example.com", Name: "portal"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Authenticate(ctx, cred)
	if err != nil || got.ID != k.ID {
		t.Fatalf("key created on A, authenticated on B: %+v, %v", got, err)
	}
	list, err := a.Keys(ctx, "example.com")
	if err != nil || len(list) != 1 || list[0].ID != k.ID {
		t.Fatalf("Keys on A: %v, %v", list, err)
	}
	if _, err := a.Authenticate(ctx, cred); err != nil {
		t.Fatalf("A before the delete: %v", err)
	}
	if err := b.DeleteKey(ctx, "example.com", k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, cred); !errors.Is(err, core.ErrForbidden) {
		t.Fatalf("key deleted on B, used on A at once: %v, want ErrForbidden", err)
	}
	if err := a.DeleteKey(ctx, "example.com", k.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("deleting again on A: %v, want ErrNotFound", err)
	}
}

func TestTwoNodesBookkeeping(t *testing.T) {
	a, b := twoNodes(t)
	ctx := testCtx(t)
	k, cred, err := a.CreateKey(ctx, core.KeySpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*core.Service{a, b, b} {
		if _, err := n.Authenticate(ctx, cred); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []*core.Service{a, b} {
		if err := n.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	list, err := a.Keys(ctx, "example.com")
	if err != nil || len(list) != 1 || list[0].ID != k.ID || list[0].Uses != 3 || list[0].LastUsed.IsZero() {
		t.Fatalf("uses counted on both nodes: %+v, %v; want 3", list, err)
	}
}

func TestTwoNodesInvites(t *testing.T) {
	a, b := twoNodes(t)
	ctx := testCtx(t)
	inv, err := a.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.CheckInvite(ctx, inv.Token); err != nil {
		t.Fatalf("invite created on A, checked on B: %v", err)
	}
	if _, err := b.Redeem(ctx, inv.Token, "mallory"); !errors.Is(err, core.ErrForbidden) {
		t.Fatalf("redeeming a fixed-name invite for another name: %v, want ErrForbidden", err)
	}
	got, err := b.Redeem(ctx, inv.Token, "Alice")
	if err != nil || got.ID != inv.ID {
		t.Fatalf("invite created on A, redeemed on B: %+v, %v", got, err)
	}
	if _, err := a.CheckInvite(ctx, inv.Token); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("invite redeemed on B, checked on A: %v, want ErrNotFound", err)
	}
}

func TestTwoNodesConcurrentRedemption(t *testing.T) {
	a, b := twoNodes(t)
	ctx := testCtx(t)
	inv, err := a.CreateInvite(ctx, core.InviteSpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	var wins, lost atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		node := a
		if i%2 == 1 {
			node = b
		}
		wg.Go(func() {
			<-start
			_, err := node.Redeem(ctx, inv.Token, fmt.Sprint("user", i))
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, core.ErrNotFound):
				lost.Add(1)
			default:
				t.Errorf("Redeem: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || lost.Load() != n-1 {
		t.Fatalf("%d redemptions succeeded, %d found nothing; want 1 and %d", wins.Load(), lost.Load(), n-1)
	}
}

func TestTwoNodesRateLimit(t *testing.T) {
	a, b := twoNodes(t)
	ctx := testCtx(t)
	rate := core.Rate{N: 5, Period: time.Hour}
	_, cred, err := a.CreateKey(ctx, core.KeySpec{Host: "example.com", Rate: rate})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	var made, limited atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		node := a
		if i%2 == 1 {
			node = b
		}
		wg.Go(func() {
			k, err := node.Authenticate(ctx, cred)
			if err != nil {
				t.Errorf("Authenticate: %v", err)
				return
			}
			_, err = node.CreateKeyInvite(ctx, k, core.InviteSpec{})
			var rl *core.RateLimitError
			switch {
			case err == nil:
				made.Add(1)
			case errors.As(err, &rl) && rl.RetryAfter > 0:
				limited.Add(1)
			default:
				t.Errorf("CreateKeyInvite: %v", err)
			}
		})
	}
	wg.Wait()
	if made.Load() != int32(rate.N) || limited.Load() != n-int32(rate.N) {
		t.Fatalf("%d invites made, %d rate limited across two nodes; want %d and %d",
			made.Load(), limited.Load(), rate.N, n-rate.N)
	}
}
