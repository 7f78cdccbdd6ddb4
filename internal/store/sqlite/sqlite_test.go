package sqlite_test

import (
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
	"github.com/xmpp-invites/invites/internal/store/storetest"
)

var _ core.Store = (*sqlite.Store)(nil)

func TestContract(t *testing.T) {
	t.Parallel() // the three suites use stores of their own; under -race each takes about a minute
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{})
	})
}

// TestContractCrashDurability runs the suite in the other durability mode.
func TestContractCrashDurability(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{Durability: sqlite.DurabilityCrash})
	})
}

// TestContractUngrouped runs the suite with group commit off, so that the single-row
// path is checked on its own too.
func TestContractUngrouped(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{MaxBatch: 1})
	})
}

// open opens a store that the test closes at its end (closing twice is harmless).
func open(t testing.TB, path string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var base = time.Now().UTC().Truncate(time.Second)

func newInvite(t *testing.T) core.Invite {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	id := base64.RawURLEncoding.EncodeToString(b[:])
	return core.Invite{ID: id, TokenHash: core.HashToken(id + "secret"), Host: "example.com", Kind: core.KindAccount,
		MaxUses: 1, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
}

// redeem is a ChangeInvite function that uses an invite once, if it can be.
func redeem(jid string) func(*core.Invite) (core.InviteChange, error) {
	return func(inv *core.Invite) (core.InviteChange, error) {
		if err := inv.Check(core.PurposeRegister, "", inv.Host, base); err != nil {
			return core.InviteChange{}, err
		}
		inv.Uses++
		return core.InviteChange{Use: &core.Use{JID: jid, At: base}}, nil
	}
}

func TestOpenCreatesDirectoryAndReopens(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "sub", "dir", "invites.db")
	s := open(t, path, sqlite.Options{})
	k := core.Key{ID: "abcdefghijkl", Host: "example.com", SecretHash: make([]byte, 32), CreatedAt: base}
	if err := s.CreateKey(ctx, k, nil); err != nil {
		t.Fatal(err)
	}
	inv := newInvite(t)
	if err := s.CreateInvite(ctx, inv, core.InviteWrite{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.CreateInvite(ctx, newInvite(t), core.InviteWrite{}); err == nil {
		t.Fatal("CreateInvite after Close succeeded")
	}
	for range 2 { // reopening runs no migration twice
		s = open(t, path, sqlite.Options{})
		if _, err := s.Key(ctx, k.ID); err != nil {
			t.Fatalf("Key after reopen: %v", err)
		}
		if _, err := s.Invite(ctx, inv.ID); err != nil {
			t.Fatalf("Invite after reopen: %v", err)
		}
		s.Close()
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var version, rows int
	if err := db.QueryRowContext(ctx, `SELECT MAX(version), COUNT(*) FROM schema_version`).Scan(&version, &rows); err != nil {
		t.Fatal(err)
	}
	if version < 1 || rows != 1 {
		t.Errorf("schema_version: version %d in %d rows, want one row", version, rows)
	}
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestOpenRejectsNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "invites.db")
	open(t, path, sqlite.Options{}).Close()
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(t.Context(), `UPDATE schema_version SET version = 9999`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := sqlite.Open(t.Context(), path, sqlite.Options{}); err == nil {
		s.Close()
		t.Fatal("Open of a database from a newer program succeeded")
	}
}

func TestGroupCommit(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{})
	const n = 400
	invs := make([]core.Invite, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range invs {
		invs[i] = newInvite(t)
		wg.Go(func() {
			<-start
			errs[i] = s.CreateInvite(t.Context(), invs[i], core.InviteWrite{})
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	commits, rows := s.GroupStats()
	if rows != n {
		t.Errorf("%d rows committed, want %d", rows, n)
	}
	if commits >= rows {
		t.Errorf("%d commits for %d concurrent creates: nothing was grouped", commits, rows)
	}
	t.Logf("%d invites in %d commits", rows, commits)
	for _, inv := range invs {
		if _, err := s.Invite(t.Context(), inv.ID); err != nil {
			t.Fatalf("Invite: %v", err)
		}
	}
}

// TestGroupCommitBadRow checks that a row failing inside a shared commit fails alone.
func TestGroupCommitBadRow(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{})
	for round := range 5 {
		const n = 100
		invs := make([]core.Invite, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range invs {
			invs[i] = newInvite(t)
			if i%25 == 7 {
				invs[i].TokenHash = invs[i].TokenHash[:31] // refused by the schema
			}
			wg.Go(func() {
				<-start
				errs[i] = s.CreateInvite(t.Context(), invs[i], core.InviteWrite{})
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			bad := i%25 == 7
			switch {
			case bad && !errors.Is(err, core.ErrInvalid):
				t.Errorf("round %d, bad row %d: %v, want ErrInvalid", round, i, err)
			case !bad && err != nil:
				t.Errorf("round %d, good row %d failed beside a bad one: %v", round, i, err)
			}
		}
	}
}

// TestCloseDuringWrites checks that every create that reported success is stored, even
// when Close runs while creates are queued.
func TestCloseDuringWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "invites.db")
	s := open(t, path, sqlite.Options{})
	const n = 300
	invs := make([]core.Invite, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range invs {
		invs[i] = newInvite(t)
		wg.Go(func() { errs[i] = s.CreateInvite(t.Context(), invs[i], core.InviteWrite{}) })
		if i == n/2 {
			wg.Go(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
		}
	}
	wg.Wait()
	s = open(t, path, sqlite.Options{})
	ok := 0
	for i, inv := range invs {
		if errs[i] != nil {
			continue
		}
		ok++
		if _, err := s.Invite(t.Context(), inv.ID); err != nil {
			t.Errorf("invite %d reported created, then: %v", i, err)
		}
	}
	t.Logf("%d of %d creates succeeded around Close", ok, n)
}

// TestTwoStoresOneFile runs writes from two stores on one file at once, as the server
// and the key command line do: none may fail with "database is locked".
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "invites.db")
	stores := []*sqlite.Store{open(t, path, sqlite.Options{}), open(t, path, sqlite.Options{})}
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for si, s := range stores {
		for g := range 4 {
			wg.Go(func() {
				for i := range 40 {
					inv := newInvite(t)
					if err := s.CreateInvite(t.Context(), inv, core.InviteWrite{}); err != nil {
						errs <- fmt.Errorf("store %d: CreateInvite: %w", si, err)
						return
					}
					other := stores[1-si]
					if _, err := other.ChangeInvite(t.Context(), inv.ID, redeem("alice@example.com")); err != nil {
						errs <- fmt.Errorf("store %d: ChangeInvite: %w", 1-si, err)
						return
					}
					k := core.Key{ID: fmt.Sprintf("k%d%d%09d", si, g, i), Host: "example.com",
						SecretHash: make([]byte, 32), CreatedAt: base}
					if err := s.CreateKey(t.Context(), k, nil); err != nil {
						errs <- fmt.Errorf("store %d: CreateKey: %w", si, err)
						return
					}
					if err := other.AddKeyUses(t.Context(), []core.KeyUse{{ID: k.ID, Count: 1, LastUsed: base}}); err != nil {
						errs <- fmt.Errorf("store %d: AddKeyUses: %w", 1-si, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCheckpointKeepsLogBounded writes far more than the checkpoint threshold from
// writers that never pause, and checks that the write-ahead log keeps restarting
// instead of growing with every write (a background checkpoint alone never catches up).
func TestCheckpointKeepsLogBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "invites.db")
	s := open(t, path, sqlite.Options{CheckpointPages: 50})
	const writers, each = 16, 750
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				if err := s.CreateInvite(t.Context(), newInvite(t), core.InviteWrite{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	// Without checkpoints the log takes about a page per invite; the file keeps its
	// largest size, so this bounds the log over the whole run.
	unbounded := int64(writers * each * 4096)
	t.Logf("write-ahead log: %d KiB after %d invites", fi.Size()>>10, writers*each)
	if fi.Size() > unbounded/2 {
		t.Errorf("write-ahead log is %d bytes after %d invites, want at most %d", fi.Size(), writers*each, unbounded/2)
	}
}

// TestUnavailableAfterClose (issue 21, LOW 4): a store that is closed (the plugin
// stopping) answers every call with an error matching core.ErrUnavailable, which the
// edges answer "try again", not as an internal error.
func TestUnavailableAfterClose(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{})
	ctx := t.Context()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Invite(ctx, "AAAAAAAAAAAA"); !errors.Is(err, core.ErrUnavailable) {
		t.Errorf("Invite after Close = %v", err)
	}
	if _, err := s.Key(ctx, "AAAAAAAAAAAA"); !errors.Is(err, core.ErrUnavailable) {
		t.Errorf("Key after Close = %v", err)
	}
	if err := s.CreateKey(ctx, core.Key{ID: "AAAAAAAAAAAA", Host: "example.com", SecretHash: make([]byte, 32)}, nil); !errors.Is(err, core.ErrUnavailable) {
		t.Errorf("CreateKey after Close = %v", err)
	}
}

// TestStateMigration: the invites of a store made before the state column get theirs
// set once by migration 7, so that lists by status find them as before (issue 26).
func TestStateMigration(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "invites.db")
	s := open(t, path, sqlite.Options{})
	now := time.Now().UTC()
	mk := func(change func(*core.Invite)) core.Invite {
		inv := newInvite(t)
		change(&inv)
		if err := s.CreateInvite(ctx, inv, core.InviteWrite{}); err != nil {
			t.Fatal(err)
		}
		return inv
	}
	want := map[core.Status]string{
		core.StatusPending: mk(func(*core.Invite) {}).ID,
		core.StatusUsed:    mk(func(inv *core.Invite) { inv.Uses = 1 }).ID,
		core.StatusRevoked: mk(func(inv *core.Invite) { inv.RevokedAt = now }).ID,
		core.StatusExpired: mk(func(inv *core.Invite) { inv.ExpiresAt = now.Add(-time.Hour) }).ID,
	}
	s.Close()
	// Back to schema 6: no state column.
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// Migrations 8 (undoDelivery) and 9 undone too, so that they run again.
	for _, q := range append(undoDelivery(), `ALTER TABLE invites DROP COLUMN state`,
		`ALTER TABLE invites DROP COLUMN approval`, `ALTER TABLE invites DROP COLUMN by_user`,
		`DROP TABLE accounts`, `DROP TABLE holds`, `ALTER TABLE hosts DROP COLUMN account_states`,
		`UPDATE schema_version SET version = 6`) {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s = open(t, path, sqlite.Options{})
	for st, id := range want {
		got, err := s.ListInvites(ctx, core.InviteFilter{Host: "example.com", Status: st, Now: now, Limit: 10})
		if err != nil || len(got) != 1 || got[0].ID != id {
			t.Errorf("%s after the migration: %d invites (%v), want %s", st, len(got), err, id)
		}
	}
}

// undoDelivery returns the statements that take a store back from schema 8 (issue 25)
// to 7.
func undoDelivery() []string {
	var out []string
	for _, c := range []string{"email", "email_status", "email_error", "email_at", "email_event", "welcome", "reminded_at", "funnel_opened", "funnel_started", "funnel_accounts", "funnel_logins", "funnel_active"} {
		out = append(out, "ALTER TABLE invites DROP COLUMN "+c)
	}
	return append(out, "ALTER TABLE deliveries DROP COLUMN sink", "ALTER TABLE hosts DROP COLUMN mail")
}
