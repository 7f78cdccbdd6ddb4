package postgres_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/postgres"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
	"github.com/xmpp-invites/invites/internal/store/storetest"
)

// twoNodes returns two services, each over its own store and connection pool, on one
// schema: two server nodes sharing a database. Both stores' key listeners are
// connected when it returns.
func twoNodes(t *testing.T) (a, b *core.Service) {
	a, b, _, _ = twoNodeStores(t)
	return a, b
}

func twoNodeStores(t *testing.T) (a, b *core.Service, sa, sb *postgres.Store) {
	t.Helper()
	_, dsn := pgtest.Schema(t)
	node := func() (*core.Service, *postgres.Store) {
		s := open(t, dsn, postgres.Options{})
		if err := s.WaitKeysWatched(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		svc, err := core.NewService(core.Options{Store: s, Hosts: []core.HostConfig{{Domain: "example.com"}}})
		if err != nil {
			t.Fatal(err)
		}
		return svc, s
	}
	a, sa = node()
	b, sb = node()
	return a, b, sa, sb
}

var cli = core.Actor{Kind: core.ActorCLI}

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
	// A's cache now holds the key: it is served without a store read...
	for range 3 {
		if _, err := a.Authenticate(ctx, cred); err != nil {
			t.Fatalf("A before the delete: %v", err)
		}
	}
	// ...yet a deletion on B is refused by A on the next request.
	if err := b.DeleteKey(ctx, cli, "example.com", k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, cred); !errors.Is(err, core.ErrForbidden) {
		t.Fatalf("key deleted on B, used on A at once: %v, want ErrForbidden", err)
	}
	if err := a.DeleteKey(ctx, cli, "example.com", k.ID); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("deleting again on A: %v, want ErrNotFound", err)
	}
}

// TestKeyCacheDeletedByOtherNode repeats the cross-node deletion many times, with A
// serving the key from its cache right up to the deletion.
func TestKeyCacheDeletedByOtherNode(t *testing.T) {
	a, b := twoNodes(t)
	ctx := testCtx(t)
	for i := range 30 {
		k, cred, err := b.CreateKey(ctx, core.KeySpec{Host: "example.com"})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := a.Authenticate(ctx, cred); err != nil {
				t.Fatalf("%d: Authenticate on A: %v", i, err)
			}
		}
		if err := b.DeleteKey(ctx, cli, "example.com", k.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, cred); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("%d: key deleted on B, used on A next: %v, want ErrForbidden", i, err)
		}
	}
}

// TestKeyCacheListenerLost checks that a node whose key listener loses its connection
// stops serving keys from memory: a key deleted meanwhile on another node, whose
// notification it cannot receive, is refused all the same.
func TestKeyCacheListenerLost(t *testing.T) {
	a, b, sa, _ := twoNodeStores(t)
	ctx := testCtx(t)
	k, cred, err := a.CreateKey(ctx, core.KeySpec{Host: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, cred); err != nil {
		t.Fatal(err)
	}
	v0, _ := sa.KeysVersion()
	// Cut A's listener off.
	var killed bool
	if err := sa.Pool().QueryRow(ctx, `SELECT pg_terminate_backend($1)`, int64(postgres.ListenerPID(sa))).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminating A's listener: %v, %v", killed, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if v, ok := sa.KeysVersion(); !ok || v != v0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A's store kept vouching for its key version after losing its listener")
		}
		time.Sleep(time.Millisecond)
	}
	if err := b.DeleteKey(ctx, cli, "example.com", k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, cred); !errors.Is(err, core.ErrForbidden) {
		t.Fatalf("key deleted on B while A's listener was down: %v, want ErrForbidden", err)
	}
	// The listener comes back by itself.
	if err := sa.WaitKeysWatched(ctx); err != nil {
		t.Fatal(err)
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
	if _, err := b.CheckInvite(ctx, "example.com", inv.Token); err != nil {
		t.Fatalf("invite created on A, checked on B: %v", err)
	}
	if _, err := b.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "mallory"}); !errors.Is(err, core.ErrForbidden) {
		t.Fatalf("redeeming a fixed-name invite for another name: %v, want ErrForbidden", err)
	}
	got, err := b.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: "Alice"})
	if err != nil || got.ID != inv.ID {
		t.Fatalf("invite created on A, redeemed on B: %+v, %v", got, err)
	}
	if _, err := a.CheckInvite(ctx, "example.com", inv.Token); !errors.Is(err, core.ErrUsedUp) {
		t.Fatalf("invite redeemed on B, checked on A: %v, want ErrUsedUp", err)
	}
}

// TestTwoNodesConcurrentRedemption races 100 redemptions of a max_uses=5 invite split
// across two nodes: exactly 5 succeed, and a single-use one: exactly 1.
func TestTwoNodesConcurrentRedemption(t *testing.T) {
	a, b := twoNodes(t)
	ctx := testCtx(t)
	for _, uses := range []int{5, 1} {
		inv, err := a.CreateInvite(ctx, core.InviteSpec{Host: "example.com", MaxUses: &uses})
		if err != nil {
			t.Fatal(err)
		}
		storetest.ConcurrentRedeem(t, []*core.Service{a, b}, inv, 100, uses)
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

// TestKeyDeletedByFreshNode deletes keys through a store opened just for that, as the
// key command line does, while another node serves them from its cache: the deletion
// waits for the other node's acknowledgement even though the fresh store's listener
// was not connected yet.
func TestKeyDeletedByFreshNode(t *testing.T) {
	a, _, sa, _ := twoNodeStores(t)
	ctx := testCtx(t)
	for i := range 10 {
		k, cred, err := a.CreateKey(ctx, core.KeySpec{Host: "example.com"})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := a.Authenticate(ctx, cred); err != nil {
				t.Fatal(err)
			}
		}
		// A fresh store on the same schema, deleting at once.
		cli := open(t, pgtest.BaseDSN(), postgres.Options{Schema: sa.Schema()})
		svc, err := core.NewService(core.Options{Store: cli, Hosts: []core.HostConfig{{Domain: "example.com"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.DeleteKey(ctx, core.Actor{Kind: core.ActorCLI}, "example.com", k.ID); err != nil {
			t.Fatal(err)
		}
		if err := cli.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, cred); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("%d: key deleted by a fresh store, next request on A: %v, want ErrForbidden", i, err)
		}
	}
}
