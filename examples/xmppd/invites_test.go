package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/plugin"
)

func TestInviterJID(t *testing.T) {
	for i, tc := range []struct {
		inv  plugin.Invite
		want string
	}{
		{plugin.Invite{}, ""},
		{plugin.Invite{Kind: "contact", Inviter: "Alice", Host: "example.com"}, "alice@example.com"},
		{plugin.Invite{Kind: "contact", Inviter: "alice"}, "alice@localhost"},
		{plugin.Invite{Kind: "contact", Inviter: "Alice@Example.COM"}, "alice@example.com"}, // contract v2
		{plugin.Invite{Kind: "contact", Inviter: "a b"}, ""},
	} {
		if got := inviterJID(tc.inv, "localhost"); got != tc.want {
			t.Errorf("%d: %q, want %q", i, got, tc.want)
		}
	}
}

// fakeRedeemer answers RedeemInvite with a fixed invite or error, and records the
// redemption asked for.
type fakeRedeemer struct {
	inv plugin.Invite
	err error
	got plugin.Redemption
}

func (f *fakeRedeemer) RedeemInvite(_ context.Context, r plugin.Redemption) (plugin.Invite, error) {
	f.got = r
	return f.inv, f.err
}

func TestContactInvitesRedeem(t *testing.T) {
	f := &fakeRedeemer{inv: plugin.Invite{Kind: "contact", Inviter: "alice@localhost", Host: "localhost", Groups: []string{"team"}}}
	inviter, groups, err := contactInvites{invites: f}.RedeemContact(t.Context(), "localhost", "T", "Bob@localhost")
	if err != nil || inviter != "alice@localhost" || len(groups) != 1 || groups[0] != "team" {
		t.Fatalf("got %q %v %v", inviter, groups, err)
	}
	want := plugin.Redemption{Host: "localhost", Token: "T", Username: "bob", Purpose: plugin.PurposeSubscribe}
	if f.got != want {
		t.Fatalf("redemption %+v, want %+v", f.got, want)
	}
	f.err = plugin.ErrInviteNotFound
	if _, _, err := (contactInvites{invites: f}).RedeemContact(t.Context(), "localhost", "T", "bob@localhost"); !errors.Is(err, plugin.ErrInviteNotFound) {
		t.Fatalf("dead token: %v", err)
	}
	f.err, f.inv = nil, plugin.Invite{Kind: "account"}
	if _, _, err := (contactInvites{invites: f}).RedeemContact(t.Context(), "localhost", "T", "bob@localhost"); err == nil {
		t.Fatal("an invite naming no inviter was accepted")
	}
}

// TestCheckDataDir: a data directory other users can read is warned about.
func TestCheckDataDir(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o700, false}, {0o750, true}, {0o755, true}, {0o701, true}} {
		dir := filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		checkDataDir(dir, slog.New(slog.NewTextHandler(&buf, nil)))
		if got := strings.Contains(buf.String(), "open to other users"); got != tc.warn {
			t.Errorf("mode %#o: warned %v: %s", tc.mode, got, buf.String())
		}
	}
}

// TestHostAPIRegisterWithoutRegistration: the v2 Register path refuses other hosts and
// works only once registration runs.
func TestHostAPIRegisterWithoutRegistration(t *testing.T) {
	h := &hostAPI{domain: "localhost"}
	if _, err := h.Register(t.Context(), plugin.Registration{Host: "example.org", Token: "T", Username: "u", Password: "p"}); err == nil {
		t.Fatal("another host accepted")
	}
	if _, err := h.Register(t.Context(), plugin.Registration{Host: "localhost", Token: "T", Username: "u", Password: "password"}); !errors.Is(err, plugin.ErrUnavailable) {
		t.Fatalf("registration without a registration service: %v", err)
	}
}
