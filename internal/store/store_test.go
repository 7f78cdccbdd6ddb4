package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
)

func TestParse(t *testing.T) {
	tests := []struct {
		addr    string
		kind    store.Kind
		target  string
		wantErr string
	}{
		0:  {addr: "sqlite:/data/a.db", kind: store.KindSQLite, target: "/data/a.db"},
		1:  {addr: "file:/data/b.db", kind: store.KindSQLite, target: "/data/b.db"},
		2:  {addr: "sqlite:///data/c.db", kind: store.KindSQLite, target: "/data/c.db"},
		3:  {addr: "data/invites.db", kind: store.KindSQLite, target: "data/invites.db"},
		4:  {addr: "/var/lib/invites/invites.db", kind: store.KindSQLite, target: "/var/lib/invites/invites.db"},
		5:  {addr: "postgres://u@db/x?sslmode=disable", kind: store.KindPostgres, target: "postgres://u@db/x?sslmode=disable"},
		6:  {addr: "POSTGRESQL://u@db/x", kind: store.KindPostgres, target: "POSTGRESQL://u@db/x"},
		7:  {addr: "host=db.internal dbname=invites", kind: store.KindPostgres, target: "host=db.internal dbname=invites"},
		8:  {addr: " user = invites host=/run/postgresql", kind: store.KindPostgres, target: " user = invites host=/run/postgresql"},
		9:  {addr: "postgress://u@db/x", wantErr: `unknown scheme "postgress"`},
		10: {addr: "mysql://root:hunter2@db/x", wantErr: `unknown scheme "mysql"`},
		11: {addr: "", wantErr: "empty"},
		12: {addr: "   ", wantErr: "empty"},
		13: {addr: "sqlite:", wantErr: "names no file"},
		14: {addr: "invites.db?mode=ro", wantErr: "not a plain file path"},
		15: {addr: "pg://db", wantErr: `unknown scheme "pg"`},
		16: {addr: "sqlit:/x.db", wantErr: `unknown scheme "sqlit": use a file path (./sqlit:/x.db for a file whose name has a colon), sqlite:PATH`},
		17: {addr: "SQLITE:/x.db", kind: store.KindSQLite, target: "/x.db"},
		18: {addr: "postgres:db", wantErr: `unknown scheme "postgres"`},
		19: {addr: "./sqlit:/x.db", kind: store.KindSQLite, target: "./sqlit:/x.db"},
		20: {addr: "C:x.db", wantErr: `unknown scheme "C"`},
	}
	for i, tc := range tests {
		kind, target, err := store.Parse(tc.addr)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%d: Parse(%q) = %v, want error %q", i, tc.addr, err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("%d: the error repeats a password: %v", i, err)
			}
			continue
		}
		if err != nil || kind != tc.kind || target != tc.target {
			t.Errorf("%d: Parse(%q) = %q, %q, %v; want %q, %q", i, tc.addr, kind, target, err, tc.kind, tc.target)
		}
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	tests := []struct {
		dsn     string
		wantErr bool
	}{
		0: {dsn: "sqlite:" + filepath.Join(dir, "a.db")},
		1: {dsn: "file:" + filepath.Join(dir, "b.db")},
		2: {dsn: filepath.Join(dir, "c", "c.db")},
		3: {dsn: "", wantErr: true},
		4: {dsn: "sqlite:", wantErr: true},
	}
	for i, tc := range tests {
		s, err := store.Open(ctx, tc.dsn, nil)
		if tc.wantErr {
			if err == nil {
				s.Close()
				t.Errorf("%d: Open(%q) succeeded, want error", i, tc.dsn)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d: Open(%q): %v", i, tc.dsn, err)
			continue
		}
		if _, err := s.Key(ctx, "abcdefghijkl"); !errors.Is(err, core.ErrNotFound) {
			t.Errorf("%d: Key on empty store: %v, want ErrNotFound", i, err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("%d: Close: %v", i, err)
		}
	}
}

// TestOpenMistypedMakesNoFile is the newcomer's trap: a mistyped address must be an
// error, never a SQLite file named after it.
func TestOpenMistypedMakesNoFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, addr := range []string{"postgress://invites@db/invites", "postgresq://x", "mysql://db/x"} {
		if s, err := store.Open(t.Context(), addr, nil); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", addr)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Fatalf("files made by mistyped addresses: %v, %v", entries, err)
	}
}
