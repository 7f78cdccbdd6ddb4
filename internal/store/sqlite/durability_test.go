package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
	"github.com/xmpp-invites/invites/internal/store/storetest"
)

// envChild, when set, makes the test binary run as the durability test's child: it
// creates invites in the store at that path and prints each committed token.
const envChild = "INVITES_SQLITE_DURABILITY_CHILD"

func TestMain(m *testing.M) {
	if arg := os.Getenv(envDeleteKey); arg != "" {
		if err := deleteKeyChild(arg); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if path := os.Getenv(envChild); path != "" {
		if err := durabilityChild(path); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// durabilityChild runs storetest.KillWorkload on the store at the path, in the
// durability mode named after it past a '#', for at most 30 seconds.
func durabilityChild(arg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path, mode, _ := strings.Cut(arg, "#")
	st, err := sqlite.Open(ctx, path, sqlite.Options{Durability: sqlite.Durability(mode)})
	if err != nil {
		return err
	}
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}, Outbox: true})
	if err != nil {
		return err
	}
	return errors.Join(storetest.KillWorkload(ctx, svc, "example.com", os.Stdout), st.Close())
}

// TestDurabilityAfterKill runs a child process that creates and redeems invites and
// prints each token once its call has returned, SIGKILLs it mid-run, then reopens the
// store: every printed invite must be there, every printed redemption recorded, and
// the outbox must hold the event of each, in both durability modes.
func TestDurabilityAfterKill(t *testing.T) {
	for _, mode := range []sqlite.Durability{sqlite.DurabilityCrash, sqlite.DurabilityPowerLoss} {
		t.Run(string(mode), func(t *testing.T) { testDurabilityAfterKill(t, mode) })
	}
}

func testDurabilityAfterKill(t *testing.T, mode sqlite.Durability) {
	const killAfter = 3000
	path := filepath.Join(t.TempDir(), "invites.db")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+path+"#"+string(mode))
	rep := storetest.RunAndKill(t, cmd, killAfter)
	storetest.CheckAfterKill(ctx, t, open(t, path, sqlite.Options{}), rep)
}
