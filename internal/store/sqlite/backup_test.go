package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// filled opens a store at dir/invites.db with a key and two invites, one redeemed, and
// returns the service over it, the key and the tokens.
func filled(t *testing.T, dir string) (*core.Service, *sqlite.Store, string, []string) {
	t.Helper()
	st := open(t, filepath.Join(dir, "invites.db"), sqlite.Options{})
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	_, key, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com", Name: "portal"})
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for range 2 {
		inv, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com", Actor: core.Actor{Kind: core.ActorCLI}})
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, inv.Token)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: tokens[1], Username: "juliet"}); err != nil {
		t.Fatal(err)
	}
	return svc, st, key, tokens
}

// TestBackupRestore backs up a store that stays open, restores the copy into a fresh
// directory and into a store that held other data, and checks that keys authenticate,
// the pending invite redeems and the used one stays used.
func TestBackupRestore(t *testing.T) {
	ctx := t.Context()
	src := t.TempDir()
	_, st, key, tokens := filled(t, src)
	backup := filepath.Join(t.TempDir(), "backup.db")
	sum, err := st.Backup(ctx, backup)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Keys != 1 || sum.Invites != 2 || sum.Schema < 5 || sum.Bytes == 0 {
		t.Errorf("backup summary %+v", sum)
	}
	fi, err := os.Stat(backup)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}
	// One self-contained file in rollback journal mode (header bytes 18 and 19 are 1,
	// not WAL's 2): nothing beside it, no temporary file left.
	if b, err := os.ReadFile(backup); err != nil || len(b) < 100 || b[18] != 1 || b[19] != 1 {
		t.Errorf("backup header: %v %v", b[:min(len(b), 20)], err)
	}
	entries, _ := os.ReadDir(filepath.Dir(backup))
	if len(entries) != 1 {
		t.Errorf("beside the backup: %v", entries)
	}
	if _, err := st.Backup(ctx, backup); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("second backup to the same file: %v", err)
	}

	other := t.TempDir()
	otherSvc, otherStore, otherKey, _ := filled(t, other)
	_ = otherSvc
	for name, dst := range map[string]string{
		"fresh":    filepath.Join(t.TempDir(), "data", "invites.db"),
		"replaces": filepath.Join(other, "invites.db"),
	} {
		t.Run(name, func(t *testing.T) {
			if name == "replaces" {
				// Open, the store is in use: refused, and left alone.
				if _, err := sqlite.Restore(ctx, backup, dst); err == nil || !strings.Contains(err.Error(), "in use") {
					t.Fatalf("restore into an open store: %v", err)
				}
				otherStore.Close()
			}
			got, err := sqlite.Restore(ctx, backup, dst)
			if err != nil {
				t.Fatal(err)
			}
			if got.Keys != 1 || got.Invites != 2 {
				t.Errorf("restore summary %+v", got)
			}
			for _, suffix := range []string{"", "-wal", "-shm"} {
				if fi, err := os.Stat(dst + suffix); err == nil && fi.Mode().Perm() != 0o600 {
					t.Errorf("%s: mode %v", dst+suffix, fi.Mode().Perm())
				}
			}
			rst := open(t, dst, sqlite.Options{})
			svc, err := core.NewService(core.Options{Store: rst, Hosts: []core.HostConfig{{Domain: "example.com"}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := svc.Authenticate(ctx, key); err != nil {
				t.Errorf("the backed up key: %v", err)
			}
			if name == "replaces" {
				if _, err := svc.Authenticate(ctx, otherKey); err == nil {
					t.Error("a key of the replaced store still authenticates")
				}
			}
			if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: tokens[0], Username: "romeo"}); err != nil {
				t.Errorf("the pending invite: %v", err)
			}
			if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: tokens[1], Username: "tybalt"}); err == nil {
				t.Error("the used invite redeemed again")
			}
		})
	}
}

// TestRestoreRefuses checks what restore refuses, leaving the target alone.
func TestRestoreRefuses(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	notOurs := filepath.Join(dir, "other.db")
	db := open(t, filepath.Join(dir, "live", "invites.db"), sqlite.Options{})
	// A live store, with its write-ahead log beside it.
	live := filepath.Join(dir, "live", "invites.db")
	for i, tc := range []struct {
		from, want string
		setup      func()
	}{
		0: {filepath.Join(dir, "missing"), "does not exist", nil},
		1: {dir, "not a regular file", nil},
		2: {garbage, "not a SQLite database", nil},
		3: {notOurs, "not a store of invites", func() {
			c, err := sql.Open("sqlite3", "file:"+notOurs)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.ExecContext(ctx, `CREATE TABLE t (x)`); err != nil {
				t.Fatal(err)
			}
		}},
		4: {live, "write-ahead log", func() {
			svc, err := core.NewService(core.Options{Store: db, Hosts: []core.HostConfig{{Domain: "example.com"}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := svc.CreateKey(ctx, core.KeySpec{Host: "example.com"}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		if tc.setup != nil {
			tc.setup()
		}
		target := filepath.Join(t.TempDir(), "invites.db")
		_, err := sqlite.Restore(ctx, tc.from, target)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d: %v, want %q", i, err, tc.want)
		}
		if _, err := os.Stat(target); err == nil {
			t.Errorf("%d: the refused restore made %s", i, target)
		}
	}
	if _, err := sqlite.Restore(context.Background(), "", "x"); err == nil {
		t.Error("restore without a file")
	}
}
