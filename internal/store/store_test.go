package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
)

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
