package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// envDeleteKey, when set to PATH#HOST#ID, makes the test binary delete that key through
// a core.Service on the store at PATH, as the key command line does, and exit.
const envDeleteKey = "INVITES_SQLITE_DELETE_KEY_CHILD"

func deleteKeyChild(arg string) error {
	parts := strings.Split(arg, "#")
	if len(parts) != 3 {
		return fmt.Errorf("bad argument %q", arg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := sqlite.Open(ctx, parts[0], sqlite.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: parts[1]}}})
	if err != nil {
		return err
	}
	return svc.DeleteKey(ctx, core.Actor{Kind: core.ActorCLI}, parts[1], parts[2])
}

// countingStore counts key reads, passing the store's key watcher through.
type countingStore struct {
	*sqlite.Store
	reads int
}

func (s *countingStore) Key(ctx context.Context, id string) (core.Key, error) {
	s.reads++
	return s.Store.Key(ctx, id)
}

// TestKeyDeletedByAnotherProcess checks the promise of the key cache: a key served from
// memory is refused on the next request once another process (the key command line)
// has deleted it.
func TestKeyDeletedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "invites.db")
	st := &countingStore{Store: open(t, path, sqlite.Options{})}
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for round := range 3 {
		k, cred, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com"})
		if err != nil {
			t.Fatal(err)
		}
		before := st.reads
		for range 10 {
			if _, err := svc.Authenticate(ctx, cred); err != nil {
				t.Fatal(err)
			}
		}
		if n := st.reads - before; n != 1 {
			t.Fatalf("round %d: %d store reads for 10 authentications: the cache is not used", round, n)
		}
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envDeleteKey+"="+path+"#example.com#"+k.ID)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the deleting process: %v\n%s", err, out)
		}
		if _, err := svc.Authenticate(ctx, cred); !errors.Is(err, core.ErrForbidden) {
			t.Fatalf("round %d: key deleted by another process, next request: %v, want ErrForbidden", round, err)
		}
	}
}

// legacyInvite is an invite as version 1 stored it.
type legacyInvite struct {
	token, username, source string
	expires                 time.Duration
}

// createV1 makes a database as version 1 of the schema left it, with a key and
// invites.
func createV1(t *testing.T, path string, invites []legacyInvite, now time.Time) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		sqlite.MigrationSQL(1),
		`INSERT INTO schema_version (version) VALUES (1)`,
		`PRAGMA journal_mode = WAL`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO keys (id, host, name, secret_hash, created_at, max_ttl, rate_n, rate_period, uses)
		VALUES ('legacykey000', 'example.com', 'old', ?, ?, 0, 3, ?, 7)`, core.HashToken("secret"), now.UnixMicro(), int64(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for _, inv := range invites {
		h := core.HashToken(inv.token)
		var b [8]byte
		copy(b[:], h)
		if _, err := db.ExecContext(ctx, `INSERT INTO invites (token_key, token_hash, id, host, kind, username, inviter,
			allow_register, source, created_at, expires_at) VALUES (?, ?, ?, 'example.com', 'account', ?, '', 0, ?, ?, ?)`,
			int64(binary.BigEndian.Uint64(b[:])), h, core.InviteID(h), inv.username, inv.source,
			now.UnixMicro(), now.Add(inv.expires).UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMigrateFromV1 opens a version 1 database with version 2: its invites are
// carried over and their 24-character tokens still redeem, once.
func TestMigrateFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "invites.db")
	now := time.Now().UTC().Truncate(time.Second)
	invites := []legacyInvite{
		{token: "Ab-_cdEFghIJklMNopQRstUV", source: "api/token/legacykey000", expires: time.Hour},
		{token: "Zz-_cdEFghIJklMNopQRstUV", username: "juliet", source: "adhoc/admin@example.com", expires: time.Hour},
		{token: "Yy-_cdEFghIJklMNopQRstUV", source: "api/token/legacykey000", expires: -time.Hour},
	}
	createV1(t, path, invites, now)
	st := open(t, path, sqlite.Options{})
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	cli := core.Actor{Kind: core.ActorCLI}
	k, err := st.Key(ctx, "legacykey000")
	if err != nil || k.Name != "old" || k.Uses != 7 || k.Manage || k.Rate.N != 3 {
		t.Fatalf("legacy key = %+v, %v", k, err)
	}
	inv, err := svc.CheckInvite(ctx, "example.com", invites[0].token)
	if err != nil || inv.ID != core.InviteID(core.HashToken(invites[0].token)) || inv.MaxUses != 1 || inv.Uses != 0 {
		t.Fatalf("legacy invite checked: %+v, %v", inv, err)
	}
	fixed, err := svc.Invite(ctx, cli, "example.com", core.TokenID(invites[1].token))
	if err != nil || fixed.CreatedBy != "xmpp:admin@example.com" || fixed.Username != "juliet" {
		t.Fatalf("legacy invite made by an admin: %+v, %v", fixed, err)
	}
	if _, err := svc.CheckInvite(ctx, "example.com", invites[2].token); !errors.Is(err, core.ErrExpired) {
		t.Fatalf("expired legacy invite: %v", err)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: invites[0].token, Username: "alice"}); err != nil {
		t.Fatalf("redeeming a legacy token: %v", err)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: invites[0].token, Username: "bob"}); !errors.Is(err, core.ErrUsedUp) {
		t.Fatalf("redeeming a legacy token twice: %v", err)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: invites[1].token, Username: "mallory"}); !errors.Is(err, core.ErrForbidden) {
		t.Fatalf("a legacy fixed-name invite for another name: %v", err)
	}
	page, err := svc.ListInvites(ctx, core.Actor{Kind: core.ActorKey, ID: "legacykey000"}, core.InviteQuery{Host: "example.com"})
	if err != nil || len(page.Invites) != 2 {
		t.Fatalf("the legacy key's invites: %+v, %v", page, err)
	}
	// New invites sit beside the old ones.
	if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com"}); err != nil {
		t.Fatal(err)
	}
}

// TestFileModes checks that the store's files are readable by their owner only, also
// when they existed with a wider mode, and stay so across a reopen.
func TestFileModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "invites.db")
	check := func(when string) {
		t.Helper()
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: directory mode %v, %v; want 0700", when, fi.Mode().Perm(), err)
		}
		for _, suffix := range []string{"", "-wal", "-shm", "-keys"} {
			fi, err := os.Stat(path + suffix)
			if err != nil {
				t.Errorf("%s: %s: %v", when, suffix, err)
				continue
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: invites.db%s has mode %v, want 0600", when, suffix, fi.Mode().Perm())
			}
		}
	}
	s := open(t, path, sqlite.Options{})
	if err := s.CreateKey(t.Context(), core.Key{ID: "abcdefghijkl", Host: "example.com", SecretHash: make([]byte, 32), CreatedAt: base}, nil); err != nil {
		t.Fatal(err)
	}
	check("open")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed")
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path + "-wal"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	open(t, path, sqlite.Options{})
	check("reopened after a chmod 644")
}

// TestCorruptionNoticed damages a page of a store and checks that Open refuses it with
// a clear error.
func TestCorruptionNoticed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "invites.db")
	s := open(t, path, sqlite.Options{})
	if err := s.SeedInvites(t.Context(), 5000, "example.com", base); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	// Scribble over the start of a page in the middle of the file, as a torn write or
	// a bad disk block would.
	junk := make([]byte, 512)
	for i := range junk {
		junk[i] = byte(i*7 + 3)
	}
	if _, err := f.WriteAt(junk, fi.Size()/2/4096*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	s2, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err == nil {
		s2.Close()
		t.Fatal("Open of a damaged store succeeded")
	}
	if !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), path) || strings.HasPrefix(err.Error(), "sqlite:") {
		t.Fatalf("Open of a damaged store: %v; want a clear error naming the file", err)
	}
	// Not a database at all.
	other := filepath.Join(t.TempDir(), "notes.db")
	if err := os.WriteFile(other, []byte(strings.Repeat("not a database\n", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	if s3, err := sqlite.Open(t.Context(), other, sqlite.Options{}); err == nil || !strings.Contains(err.Error(), "not a SQLite database") {
		if s3 != nil {
			s3.Close()
		}
		t.Fatalf("Open of a text file: %v", err)
	}
}

// TestRateSurvivesRestart checks that a key's rate is kept in the file: a restarted
// plugin does not hand out a fresh burst.
func TestRateSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "invites.db")
	rate := core.Rate{N: 3, Period: time.Hour}
	now := time.Now()
	for restart := range 3 {
		s, err := sqlite.Open(t.Context(), path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		svc, err := core.NewService(core.Options{Store: s, Hosts: []core.HostConfig{{Domain: "example.com"}}, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		var k core.Key
		if restart == 0 {
			if k, _, err = svc.CreateKey(t.Context(), core.KeySpec{Host: "example.com", Rate: rate}); err != nil {
				t.Fatal(err)
			}
			for i := range rate.N {
				if _, err := svc.CreateKeyInvite(t.Context(), k, core.InviteSpec{}); err != nil {
					t.Fatalf("invite %d of the burst: %v", i, err)
				}
			}
		} else {
			keys, err := svc.Keys(t.Context(), "example.com")
			if err != nil || len(keys) != 1 {
				t.Fatal(keys, err)
			}
			k = keys[0]
		}
		var rl *core.RateLimitError
		if _, err := svc.CreateKeyInvite(t.Context(), k, core.InviteSpec{}); !errors.As(err, &rl) {
			t.Fatalf("restart %d: an invite past the burst: %v, want a RateLimitError", restart, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
	}
}

// TestDurabilityPragma checks the synchronous mode each durability selects.
func TestDurabilityPragma(t *testing.T) {
	for _, tc := range []struct {
		d    sqlite.Durability
		want int
	}{{"", 2}, {sqlite.DurabilityPowerLoss, 2}, {sqlite.DurabilityCrash, 1}} {
		s := open(t, filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{Durability: tc.d})
		got, err := s.Synchronous(t.Context())
		if err != nil || got != tc.want {
			t.Errorf("durability %q: synchronous = %d, %v; want %d", tc.d, got, err, tc.want)
		}
	}
	if _, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "x.db"), sqlite.Options{Durability: "fast"}); err == nil ||
		!strings.Contains(err.Error(), `"crash" or "power-loss"`) {
		t.Errorf("unknown durability: %v", err)
	}
}
