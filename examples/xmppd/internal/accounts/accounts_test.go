package accounts_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/roster"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
)

func open(t *testing.T, opts accounts.Options) (*accounts.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", accounts.FileName)
	s, err := accounts.Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, path
}

func TestNormalize(t *testing.T) {
	tests := [...]struct {
		in, want string
		ok       bool
	}{
		0: {"Alice@Example.COM", "alice@example.com", true},
		1: {"alice@example.com/res", "", false},
		2: {"example.com", "", false},
		3: {"", "", false},
		4: {"a b@example.com", "", false},
	}
	for i, tc := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			got, err := accounts.Normalize(tc.in)
			if (err == nil) != tc.ok || got != tc.want {
				t.Fatalf("Normalize(%q) = %q, %v", tc.in, got, err)
			}
			if err != nil && !errors.Is(err, accounts.ErrInvalidJID) {
				t.Fatalf("error does not wrap ErrInvalidJID: %v", err)
			}
		})
	}
}

// TestCredentialsOnly checks that what is stored verifies the password and is a
// SCRAM credential for each mechanism, and survives reopening.
func TestCredentialsOnly(t *testing.T) {
	ctx := context.Background()
	s, path := open(t, accounts.Options{Iterations: scram.MinIterations})
	if err := s.Add(ctx, "Alice@localhost", "s3cret pass"); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "alice@localhost", "other"); !errors.Is(err, accounts.ErrExists) {
		t.Fatalf("second Add: %v", err)
	}
	_ = s.Close()
	s, err := accounts.Open(ctx, path, accounts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, m := range scram.Mechanisms() {
		c, err := s.Credential(ctx, "alice@localhost", m)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if c.Iterations != scram.MinIterations || len(c.Salt) != scram.SaltSize {
			t.Fatalf("%s: iterations %d, salt %d bytes", m, c.Iterations, len(c.Salt))
		}
		if !c.Verify("s3cret pass") || c.Verify("s3cret") {
			t.Fatalf("%s: Verify wrong", m)
		}
	}
	if _, err := s.Credential(ctx, "bob@localhost", scram.SHA256); !errors.Is(err, accounts.ErrNotFound) {
		t.Fatalf("unknown account: %v", err)
	}
	if ok, err := s.Exists(ctx, "ALICE@localhost"); !ok || err != nil {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
}

// TestReservation walks a registration: pending names are taken but cannot log in.
func TestReservation(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	s, _ := open(t, accounts.Options{Iterations: scram.MinIterations, Now: func() time.Time { return now }})
	if err := s.Reserve(ctx, "carol@localhost", "pw"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := s.Exists(ctx, "carol@localhost"); ok {
		t.Fatal("a pending account exists")
	}
	if _, err := s.Credential(ctx, "carol@localhost", scram.SHA256); !errors.Is(err, accounts.ErrNotFound) {
		t.Fatalf("a pending account has credentials: %v", err)
	}
	if err := s.Reserve(ctx, "carol@localhost", "pw"); !errors.Is(err, accounts.ErrExists) {
		t.Fatalf("second Reserve: %v", err)
	}
	if err := s.Release(ctx, "carol@localhost"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(ctx, "carol@localhost", "pw2"); err != nil {
		t.Fatalf("Reserve after Release: %v", err)
	}
	if err := s.Activate(ctx, "carol@localhost"); err != nil {
		t.Fatal(err)
	}
	if err := s.Activate(ctx, "carol@localhost"); !errors.Is(err, accounts.ErrNotFound) {
		t.Fatalf("second Activate: %v", err)
	}
	if err := s.Release(ctx, "carol@localhost"); err != nil {
		t.Fatal(err)
	}
	c, err := s.Credential(ctx, "carol@localhost", scram.SHA1)
	if err != nil || !c.Verify("pw2") {
		t.Fatalf("active account after Release: %v", err)
	}
	// An abandoned reservation frees the name after PendingTTL.
	if err := s.Reserve(ctx, "dave@localhost", "pw"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(accounts.PendingTTL + time.Second)
	if err := s.Reserve(ctx, "dave@localhost", "pw"); err != nil {
		t.Fatalf("stale reservation still holds the name: %v", err)
	}
}

// TestPut creates then resets.
func TestPut(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t, accounts.Options{Iterations: scram.MinIterations})
	created, err := s.Put(ctx, "admin@localhost", "one")
	if err != nil || !created {
		t.Fatalf("Put = %v, %v", created, err)
	}
	created, err = s.Put(ctx, "admin@localhost", "two")
	if err != nil || created {
		t.Fatalf("second Put = %v, %v", created, err)
	}
	c, _ := s.Credential(ctx, "admin@localhost", scram.SHA256)
	if !c.Verify("two") || c.Verify("one") {
		t.Fatal("password not replaced")
	}
	if err := s.Delete(ctx, "admin@localhost"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "admin@localhost"); !errors.Is(err, accounts.ErrNotFound) {
		t.Fatalf("second Delete: %v", err)
	}
}

// TestSetPassword: a derived password replaces every credential of an active account,
// and only of one: a pending registration or an unknown name is ErrNotFound.
func TestSetPassword(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t, accounts.Options{Iterations: scram.MinIterations})
	if err := s.Add(ctx, "alice@localhost", "old password"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(ctx, "pending@localhost", "x"); err != nil {
		t.Fatal(err)
	}
	p, err := s.DerivePassword("new password")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "Alice@localhost", p); err != nil {
		t.Fatal(err)
	}
	for _, m := range scram.Mechanisms() {
		c, err := s.Credential(ctx, "alice@localhost", m)
		if err != nil || !c.Verify("new password") || c.Verify("old password") {
			t.Errorf("%s: password not replaced (%v)", m, err)
		}
	}
	for _, addr := range []string{"pending@localhost", "nobody@localhost"} {
		if err := s.SetPassword(ctx, addr, p); !errors.Is(err, accounts.ErrNotFound) {
			t.Errorf("SetPassword(%s) = %v", addr, err)
		}
	}
	if err := s.SetPassword(ctx, "alice@localhost", accounts.Password{}); err == nil {
		t.Error("an underived password accepted")
	}
	if ok, _ := s.Exists(ctx, "pending@localhost"); ok {
		t.Error("the pending registration became an account")
	}
}

// TestConcurrentReserve: of many registrations of one name, exactly one wins.
func TestConcurrentReserve(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t, accounts.Options{Iterations: scram.MinIterations})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Go(func() {
			err := s.Reserve(ctx, "eve@localhost", "pw")
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			} else if !errors.Is(err, accounts.ErrExists) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d reservations won", wins)
	}
}

// TestFileModes: the database and its -wal and -shm files are readable by the owner
// only, whatever the umask, and a directory the store creates is 0700: the WAL holds
// SCRAM credentials.
func TestFileModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := context.Background()
	s, path := open(t, accounts.Options{Iterations: scram.MinIterations})
	if err := s.Add(ctx, "alice@localhost", "pw"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v %v, want 0700", fi.Mode().Perm(), err)
	}
}

// TestRosterStore: both sides of a subscription change in one transaction, survive
// reopening, and go with a deleted account.
func TestRosterStore(t *testing.T) {
	ctx := context.Background()
	s, path := open(t, accounts.Options{Iterations: scram.MinIterations})
	for _, a := range []string{"alice@localhost", "bob@localhost"} {
		if err := s.Add(ctx, a, "pw"); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := roster.New(s, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Mutual(ctx, "alice@localhost", "bob@localhost", "Friends"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Set(ctx, "alice@localhost", roster.Item{JID: "far@example.org", Name: "Far"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Subscribe(ctx, "alice@localhost", "nobody@localhost"); err != nil {
		t.Fatal(err)
	}
	// A failing update stores nothing.
	boom := errors.New("boom")
	if err := s.UpdatePair(ctx, "alice@localhost", "bob@localhost", func(p *roster.Pair) error {
		p.OC.Name = "changed"
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("UpdatePair: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = accounts.Open(ctx, path, accounts.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	svc, _ = roster.New(s, "localhost")
	items, err := svc.Get(ctx, "alice@localhost")
	if err != nil {
		t.Fatal(err)
	}
	want := []roster.Item{
		{JID: "bob@localhost", Groups: []string{"Friends"}, Subscription: roster.Both},
		{JID: "far@example.org", Name: "Far", Groups: []string{}, Subscription: roster.None},
		{JID: "nobody@localhost", Groups: []string{}, Subscription: roster.None},
	}
	if fmt.Sprint(items) != fmt.Sprint(want) {
		t.Fatalf("alice's roster\n got %+v\nwant %+v", items, want)
	}
	if items, _ := svc.Get(ctx, "bob@localhost"); len(items) != 1 || items[0].Subscription != roster.Both {
		t.Fatalf("bob's roster %+v", items)
	}
	if err := s.AddGroupMember(ctx, "Friends", "bob@localhost"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddGroupMember(ctx, "Friends", "bob@localhost"); err != nil {
		t.Fatal(err)
	}
	if m, err := s.GroupMembers(ctx, "Friends"); err != nil || len(m) != 1 || m[0] != "bob@localhost" {
		t.Fatalf("group members %v %v", m, err)
	}
	if err := s.Delete(ctx, "bob@localhost"); err != nil {
		t.Fatal(err)
	}
	if items, _ := svc.Get(ctx, "bob@localhost"); len(items) != 0 {
		t.Fatalf("a deleted account keeps its roster: %+v", items)
	}
	if m, _ := s.GroupMembers(ctx, "Friends"); len(m) != 0 {
		t.Fatalf("a deleted account stays in its group: %v", m)
	}
}
