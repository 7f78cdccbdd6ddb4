package main

import (
	"bytes"
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

func TestContactInvitesV1(t *testing.T) {
	_, _, err := contactInvites{}.RedeemContact(t.Context(), "localhost", "T", "bob@localhost")
	if !errors.Is(err, errSubscribeUnsupported) {
		t.Fatalf("contract v1: %v", err)
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
	if _, err := h.Register(t.Context(), "example.org", "T", "u", "p"); err == nil {
		t.Fatal("another host accepted")
	}
	if _, err := h.Register(t.Context(), "localhost", "T", "u", "p"); err == nil {
		t.Fatal("registration without a registration service")
	}
}
