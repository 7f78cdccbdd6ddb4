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
	if err := s.Activate(ctx, "carol@localhost", accounts.StateActive); err != nil {
		t.Fatal(err)
	}
	if err := s.Activate(ctx, "carol@localhost", accounts.StateActive); !errors.Is(err, accounts.ErrNotFound) {
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
	if _, err := s.Delete(ctx, "admin@localhost"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "admin@localhost"); !errors.Is(err, accounts.ErrNotFound) {
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
	listedBy, err := s.Delete(ctx, "bob@localhost")
	if err != nil || fmt.Sprint(listedBy) != "[alice@localhost]" {
		t.Fatalf("Delete = %v, %v; want alice's roster listed bob", listedBy, err)
	}
	if items, _ := svc.Get(ctx, "bob@localhost"); len(items) != 0 {
		t.Fatalf("a deleted account keeps its roster: %+v", items)
	}
	if m, _ := s.GroupMembers(ctx, "Friends"); len(m) != 0 {
		t.Fatalf("a deleted account stays in its group: %v", m)
	}
	if items, _ := svc.Get(ctx, "alice@localhost"); len(items) != 2 || items[0].JID != "far@example.org" {
		t.Fatalf("a deleted account stays in another's roster: %+v", items)
	}
	// The name is free again.
	if err := s.Reserve(ctx, "bob@localhost", "pw"); err != nil {
		t.Fatalf("the name of a deleted account: %v", err)
	}
}

// TestStates: an account is active, disabled or pending; a disabled or pending one
// keeps its name, its roster and its credentials (a login checks the password before
// telling why it cannot log in), and does not exist for routing; a registration in
// progress has no state.
func TestStates(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t, accounts.Options{Iterations: scram.MinIterations})
	if err := s.Add(ctx, "alice@localhost", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := s.Reserve(ctx, "carol@localhost", "pw"); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		addr string
		to   accounts.State
		was  accounts.State
		err  error
	}{
		{"alice@localhost", accounts.StateDisabled, accounts.StateActive, nil},
		{"alice@localhost", accounts.StatePending, accounts.StateDisabled, nil},
		{"alice@localhost", accounts.StateActive, accounts.StatePending, nil},
		{"alice@localhost", accounts.StateActive, accounts.StateActive, nil},
		{"alice@localhost", accounts.StateNone, "", accounts.ErrBadState},
		{"alice@localhost", "frozen", "", accounts.ErrBadState},
		{"carol@localhost", accounts.StateDisabled, "", accounts.ErrNotFound},
		{"nobody@localhost", accounts.StateDisabled, "", accounts.ErrNotFound},
		{"not a jid", accounts.StateDisabled, "", accounts.ErrInvalidJID},
	} {
		was, err := s.SetState(ctx, tc.addr, tc.to)
		if was != tc.was || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("%d: SetState(%s, %s) = %q, %v; want %q, %v", i, tc.addr, tc.to, was, err, tc.was, tc.err)
		}
	}
	for _, st := range []accounts.State{accounts.StateDisabled, accounts.StatePending, accounts.StateActive} {
		if _, err := s.SetState(ctx, "alice@localhost", st); err != nil {
			t.Fatal(err)
		}
		if got, err := s.State(ctx, "alice@localhost"); got != st || err != nil {
			t.Errorf("State = %q, %v; want %q", got, err, st)
		}
		c, err := s.Credential(ctx, "alice@localhost", scram.SHA256)
		if err != nil || !c.Verify("pw") {
			t.Errorf("%s: credential %v", st, err)
		}
		ok, _ := s.Exists(ctx, "alice@localhost")
		if ok != (st == accounts.StateActive) {
			t.Errorf("%s: Exists = %v", st, ok)
		}
		if err := s.Reserve(ctx, "alice@localhost", "pw"); !errors.Is(err, accounts.ErrExists) {
			t.Errorf("%s: the name is free: %v", st, err)
		}
	}
	for _, addr := range []string{"carol@localhost", "nobody@localhost", "@"} {
		if got, err := s.State(ctx, addr); got != accounts.StateNone || err != nil {
			t.Errorf("State(%s) = %q, %v", addr, got, err)
		}
	}
	// A registration awaiting approval is activated pending, never disabled.
	if err := s.Activate(ctx, "carol@localhost", accounts.StateDisabled); !errors.Is(err, accounts.ErrBadState) {
		t.Errorf("Activate disabled: %v", err)
	}
	if err := s.Activate(ctx, "carol@localhost", accounts.StatePending); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.State(ctx, "carol@localhost"); got != accounts.StatePending {
		t.Errorf("carol is %q, want pending", got)
	}
}

// TestOffline: messages kept for an account come back once, in order; past the bound
// they are refused; they go with the account.
func TestOffline(t *testing.T) {
	ctx := context.Background()
	s, path := open(t, accounts.Options{Iterations: scram.MinIterations, MaxOffline: 3})
	if err := s.Add(ctx, "alice@localhost", "pw"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.StoreOffline(ctx, "alice@localhost", []byte(fmt.Sprintf("<message id='%d'/>", i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.StoreOffline(ctx, "alice@localhost", []byte("<message id='3'/>")); !errors.Is(err, accounts.ErrOfflineFull) {
		t.Errorf("past the bound: %v", err)
	}
	if err := s.StoreOffline(ctx, "nobody@localhost", []byte("<message/>")); !errors.Is(err, accounts.ErrNotFound) {
		t.Errorf("for no account: %v", err)
	}
	// Kept across a restart.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := accounts.Open(ctx, path, accounts.Options{MaxOffline: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.TakeOffline(ctx, "alice@localhost")
	if err != nil || fmt.Sprintf("%s", got) != "[<message id='0'/> <message id='1'/> <message id='2'/>]" {
		t.Fatalf("TakeOffline = %s, %v", got, err)
	}
	if got, err := s.TakeOffline(ctx, "alice@localhost"); len(got) != 0 || err != nil {
		t.Fatalf("taken twice: %s, %v", got, err)
	}
	if err := s.StoreOffline(ctx, "alice@localhost", []byte("<message/>")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, "alice@localhost"); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "alice@localhost", "pw"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.TakeOffline(ctx, "alice@localhost"); len(got) != 0 {
		t.Fatalf("a new account got the old one's messages: %s", got)
	}
}
