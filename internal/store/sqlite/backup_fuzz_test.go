package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// FuzzRestore hands Restore arbitrary files as backups: it must never panic, and a
// file it refuses must leave no store behind; one it takes must open as a store.
// The seeds: a real backup (made here), and in testdata/fuzz the damaged ones.
func FuzzRestore(f *testing.F) {
	st, err := sqlite.Open(f.Context(), filepath.Join(f.TempDir(), "invites.db"), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	backup := filepath.Join(f.TempDir(), "backup.db")
	if _, err := st.Backup(f.Context(), backup); err != nil {
		f.Fatal(err)
	}
	st.Close()
	good, err := os.ReadFile(backup)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		from := filepath.Join(dir, "in.db")
		if err := os.WriteFile(from, b, 0o600); err != nil {
			t.Fatal(err)
		}
		to := filepath.Join(dir, "data", "invites.db")
		if _, err := sqlite.Restore(t.Context(), from, to); err != nil {
			if _, serr := os.Stat(to); serr == nil {
				t.Fatalf("refused (%v), yet %s was made", err, to)
			}
			return
		}
		s, err := sqlite.Open(t.Context(), to, sqlite.Options{})
		if err != nil {
			t.Fatalf("restored, yet the store does not open: %v", err)
		}
		s.Close()
	})
}
