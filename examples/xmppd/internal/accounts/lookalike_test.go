package accounts_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
)

// TestLookalikes: a new name that looks like an account's (active or being
// registered) or a reserved name is refused, saying which; the operator may create a
// reserved name itself, registration may not.
func TestLookalikes(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	s, _ := open(t, accounts.Options{Iterations: scram.MinIterations, Now: func() time.Time { return now },
		Reserved: []string{"admin", "Support"}})
	if err := s.Add(ctx, "alice@localhost", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(ctx, "bob@localhost", "pw"); err != nil { // being registered
		t.Fatal(err)
	}
	type op func(ctx context.Context, addr, password string) error
	put := func(ctx context.Context, addr, password string) error {
		_, err := s.Put(ctx, addr, password)
		return err
	}
	for i, tc := range []struct {
		what     string
		do       op
		addr     string
		err      error  // nil: created
		like     string // the name it looks like
		reserved bool
	}{
		0:  {"registration", s.Reserve, "ALİCE@localhost", accounts.ErrLookalike, "alice", false},
		1:  {"registration", s.Reserve, "аlice@localhost", accounts.ErrLookalike, "alice", false}, // Cyrillic а
		2:  {"registration", s.Reserve, "b0b@localhost", accounts.ErrLookalike, "bob", false},
		3:  {"registration", s.Reserve, "admin@localhost", accounts.ErrReserved, "", false},
		4:  {"registration", s.Reserve, "аdmin@localhost", accounts.ErrLookalike, "admin", true},
		5:  {"registration", s.Reserve, "admın@localhost", accounts.ErrLookalike, "admin", true},
		6:  {"registration", s.Reserve, "ᴀdmin@localhost", accounts.ErrLookalike, "admin", true},
		7:  {"registration", s.Reserve, "ꜱupport@localhost", accounts.ErrLookalike, "support", true},
		8:  {"registration", s.Reserve, "alice@localhost", accounts.ErrExists, "", false},
		9:  {"adduser", s.Add, "аlice@localhost", accounts.ErrLookalike, "alice", false},
		10: {"adduser", s.Add, "ᴀdmin@localhost", accounts.ErrLookalike, "admin", true},
		11: {"adduser", s.Add, "admin@localhost", nil, "", false}, // the operator makes it
		12: {"registration", s.Reserve, "adm1n@localhost", nil, "", false},
		13: {"put", put, "аdmin@localhost", accounts.ErrLookalike, "admin", true},
		14: {"put", put, "admin@localhost", nil, "", false}, // an existing account: a new password
		15: {"registration", s.Reserve, "carol@other.example", nil, "", false},
		16: {"registration", s.Reserve, "саrol@other.example", accounts.ErrLookalike, "carol", false},
		17: {"registration", s.Reserve, "alice@other.example", nil, "", false}, // another domain
	} {
		err := tc.do(ctx, tc.addr, "pw")
		if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%d: %s of %s: %v, want %v", i, tc.what, tc.addr, err, tc.err)
			continue
		}
		var le *accounts.LookalikeError
		if errors.As(err, &le) != (tc.like != "") || (le != nil && (le.Name != tc.like || le.Reserved != tc.reserved)) {
			t.Errorf("%d: %s of %s: %#v, want it to look like %q (reserved %v)", i, tc.what, tc.addr, le, tc.like, tc.reserved)
		}
	}
	// A registration abandoned long ago does not hold its lookalikes.
	now = now.Add(accounts.PendingTTL + time.Second)
	if err := s.Reserve(ctx, "b0b@localhost", "pw"); err != nil {
		t.Fatalf("an abandoned registration still holds its lookalikes: %v", err)
	}
	if _, err := accounts.Open(ctx, t.TempDir()+"/x.db", accounts.Options{Reserved: []string{"a b"}}); err == nil {
		t.Fatal("a reserved name that is no username was taken")
	}
}

// TestConcurrentLookalikes: of registrations of names that look alike made at once,
// exactly one wins.
func TestConcurrentLookalikes(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t, accounts.Options{Iterations: scram.MinIterations})
	names := []string{"paypal", "pаypal", "pаypаl", "PAYPAL", "раураl", "paypa1", "ρaypal", "ᴘaypal"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []string
	for _, n := range names {
		wg.Go(func() {
			err := s.Reserve(ctx, n+"@localhost", "pw")
			switch {
			case err == nil:
				mu.Lock()
				won = append(won, n)
				mu.Unlock()
			case !errors.Is(err, accounts.ErrLookalike) && !errors.Is(err, accounts.ErrExists):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d lookalikes registered: %q", len(won), won)
	}
}
