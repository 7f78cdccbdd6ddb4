package service_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncruces/go-sqlite3/driver"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/service"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/plugin"
)

// damageStore makes the plugin's SQLite store in dataDir, fills it with about a
// megabyte of pages that opening it does not read, and scribbles over one of them, as
// a torn write or a bad disk block would.
func damageStore(t *testing.T, dataDir string) string {
	t.Helper()
	ctx := ctxT(t)
	path := filepath.Join(dataDir, config.StoreFile)
	st, err := store.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := driver.Open("file:" + path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.ExecContext(ctx, `CREATE TABLE filler(x BLOB);
		INSERT INTO filler WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)
		SELECT randomblob(200) FROM n;
		PRAGMA wal_checkpoint(TRUNCATE);`)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 512)
	for i := range junk {
		junk[i] = byte(i*7 + 3)
	}
	if _, err := f.WriteAt(junk, fi.Size()/2/4096*4096); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigureRefusesDamagedStore checks that the plugin still runs the integrity check
// at start (Configure) and refuses a damaged SQLite file with an error naming it, while
// the command line's open, which skips the check so that every call opens at once,
// still opens it.
func TestConfigureRefusesDamagedStore(t *testing.T) {
	dir := t.TempDir()
	path := damageStore(t, dir)
	s := service.New(nil)
	_, err := s.Configure(ctxT(t), plugin.Config{DataDir: dir, Domains: []string{"example.com"}}, nil)
	if err == nil {
		_ = s.Close(context.Background())
		t.Fatal("Configure on a damaged store succeeded")
	}
	if !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), path) {
		t.Fatalf("Configure on a damaged store: %v; want an error saying the file %s is damaged", err, path)
	}
	// The command line opens the store as internal/cli does: no integrity check.
	st, err := store.OpenWith(ctxT(t), path, store.Options{})
	if err != nil {
		t.Fatalf("the command line's open of a store damaged where it does not read: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// With the check asked for, store.OpenWith refuses it too.
	if st, err := store.OpenWith(ctxT(t), path, store.Options{IntegrityCheck: true}); err == nil {
		_ = st.Close()
		t.Fatal("store.OpenWith with IntegrityCheck opened a damaged store")
	}
}
