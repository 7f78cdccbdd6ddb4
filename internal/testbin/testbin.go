package testbin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The packages of the binaries tests run.
const (
	// XMPPD is the example server, binary xmppd.
	XMPPD = "github.com/xmpp-invites/invites/examples/xmppd"
	// Plugin is the plugin, binary invites-plugin.
	Plugin = "github.com/xmpp-invites/invites/cmd/invites-plugin"
)

// buildTimeout bounds one build: a cold cache compiles every dependency.
const buildTimeout = 5 * time.Minute

// Set is one build of some packages' binaries, shared by the tests of a test binary.
// Make one with New.
type Set struct {
	prefix string
	pkgs   []string

	once sync.Once
	dir  string
	err  error
}

// New returns the Set of pkgs, built into a temporary directory named with prefix.
func New(prefix string, pkgs ...string) *Set {
	return &Set{prefix: prefix, pkgs: pkgs}
}

// Dir builds the binaries on first use and returns their directory; a build that
// failed fails every test that asks. The first caller waits for the build, so its
// context bounds it.
func (s *Set) Dir(t testing.TB) string {
	t.Helper()
	s.once.Do(func() {
		dir, err := os.MkdirTemp("", s.prefix)
		if err != nil {
			s.err = err
			return
		}
		s.dir = dir
		ctx, cancel := context.WithTimeout(t.Context(), buildTimeout)
		defer cancel()
		args := append([]string{"build", "-o", dir + string(filepath.Separator)}, s.pkgs...)
		if out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput(); err != nil {
			s.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.dir
}

// Remove deletes the binaries' directory, once the package's last test is done
// (TestMain after m.Run).
func (s *Set) Remove() {
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}
