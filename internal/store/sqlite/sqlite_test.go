package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
	"github.com/xmpp-invites/invites/internal/store/storetest"
)

var _ core.Store = (*sqlite.Store)(nil)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) core.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "invites.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestBasic(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "dir", "invites.db")
	s, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	k := core.Key{ID: "abcdefghijkl", Host: "example.com", SecretHash: make([]byte, 32), CreatedAt: now}
	if err := s.CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(ctx, k); !errors.Is(err, core.ErrConflict) {
		t.Fatalf("duplicate key: got %v, want ErrConflict", err)
	}
	got, err := s.Key(ctx, k.ID)
	if err != nil || got.Host != k.Host || !got.CreatedAt.Equal(now) || !got.ExpiresAt.IsZero() {
		t.Fatalf("Key = %+v, %v", got, err)
	}
	h := core.HashToken("tokentokentokentokentoke")
	inv := core.Invite{ID: core.InviteID(h), TokenHash: h, Host: "example.com", Kind: core.KindAccount,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateInvite(ctx, inv); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeInvite(ctx, h, "alice", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ConsumeInvite(ctx, h, "alice", now); !errors.Is(err, core.ErrNotFound) {
		t.Fatalf("second consume: got %v, want ErrNotFound", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Key(ctx, k.ID); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
}
