package host_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
)

// envPlugin names the plugin binary TestMain builds, for the tests and the Example.
const envPlugin = "INVITES_PLUGIN"

// TestMain builds cmd/invites-plugin once into a temporary directory, unless
// INVITES_PLUGIN already names a binary.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv(envPlugin) == "" {
		dir, err := os.MkdirTemp("", "invites-host-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "invites-plugin")
		if err := build(bin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := os.Setenv(envPlugin, bin); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// build builds cmd/invites-plugin into out.
func build(out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building the plugin: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", out, "github.com/xmpp-invites/invites/cmd/invites-plugin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the plugin: %w\n%s", err, b)
	}
	return nil
}

// pluginBinary returns the plugin binary TestMain built.
func pluginBinary(tb testing.TB) string {
	tb.Helper()
	bin := os.Getenv(envPlugin)
	if bin == "" {
		tb.Fatal("no plugin binary")
	}
	return bin
}

// newKey creates an API key for localhost in the store of dataDir, as the key command
// line would, and returns its credential.
func newKey(tb testing.TB, dataDir string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(dataDir, config.StoreFile), nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "localhost"}}})
	if err != nil {
		tb.Fatal(err)
	}
	_, cred, err := svc.CreateKey(ctx, core.KeySpec{Host: "localhost", Name: "test"})
	if err != nil {
		tb.Fatal(err)
	}
	return cred
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return cond()
}
