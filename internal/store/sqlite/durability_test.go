package sqlite_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
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

// durabilityChild creates invites from 16 goroutines through a core.Service keeping an
// outbox, printing "T TOKEN" once CreateInvite has returned, and redeems every fourth,
// printing "R TOKEN" once Redeem has returned, until killed; it gives up by itself
// after 30 seconds or 500,000 invites so that it never outlives a failed parent for
// long. The durability mode is the one named after the path, past a '#'.
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
	var (
		mu    sync.Mutex
		out   = bufio.NewWriter(os.Stdout)
		count int
		wg    sync.WaitGroup
		errs  = make(chan error, 16)
	)
	for range 16 {
		wg.Go(func() {
			for ctx.Err() == nil {
				inv, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com"})
				if err != nil {
					if ctx.Err() == nil {
						errs <- err
					}
					return
				}
				report := func(kind string) error {
					mu.Lock()
					defer mu.Unlock()
					// One write per line, flushed at once: the parent sees a token
					// only after its call has returned.
					fmt.Fprintf(out, "%s %s\n", kind, inv.Token)
					return out.Flush()
				}
				if err := report("T"); err != nil {
					return
				}
				mu.Lock()
				count++
				n, stop := count, count >= 500_000
				mu.Unlock()
				if n%4 == 0 {
					if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: inv.Token, Username: fmt.Sprint("u", n)}); err != nil {
						if ctx.Err() == nil {
							errs <- err
						}
						return
					}
					if err := report("R"); err != nil {
						return
					}
				}
				if stop {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(<-errs, st.Close())
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
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stdout)
	var tokens, redeemed []string
	killed := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			// A line cut short by the kill was never fully reported: ignore it.
			if !errors.Is(err, io.EOF) {
				t.Errorf("reading the child's output: %v", err)
			}
			break
		}
		kind, tok, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
		if !ok || !core.ValidToken(tok) || kind != "T" && kind != "R" {
			t.Fatalf("child printed %q", line)
		}
		if kind == "R" {
			redeemed = append(redeemed, tok)
			continue
		}
		tokens = append(tokens, tok)
		if len(tokens) == killAfter && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("the child stopped after %d tokens, before it was killed: %v\n%s", len(tokens), werr, stderr.String())
	}
	var exit *exec.ExitError
	if !errors.As(werr, &exit) || exit.ExitCode() != -1 {
		t.Fatalf("the child ended with %v, want death by signal\n%s", werr, stderr.String())
	}
	t.Logf("child killed after printing %d tokens (%d read after the kill)", len(tokens), len(tokens)-killAfter)

	st := open(t, path, sqlite.Options{})
	events, err := st.OutboxEvents(ctx, 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	outbox := make(map[string]bool)
	for _, e := range events {
		outbox[string(e.Type)+" "+e.InviteID] = true
	}
	missing := 0
	lost := func(format string, args ...any) {
		missing++
		if missing <= 5 {
			t.Errorf(format, args...)
		}
	}
	for _, tok := range tokens {
		if _, err := st.Invite(ctx, core.TokenID(tok)); err != nil {
			lost("invite printed as committed, then lost: %v", err)
		}
		if !outbox["invite.created "+core.TokenID(tok)] {
			lost("invite %s committed without its event", core.TokenID(tok))
		}
	}
	for _, tok := range redeemed {
		inv, err := st.Invite(ctx, core.TokenID(tok))
		uses, uerr := st.Redemptions(ctx, core.TokenID(tok))
		if err != nil || uerr != nil || inv.Uses != 1 || len(uses) != 1 {
			lost("redemption printed as committed, then lost: %+v, %v, %v, %v", inv, uses, err, uerr)
		}
		if !outbox["invite.redeemed "+core.TokenID(tok)] {
			lost("redemption of %s committed without its event", core.TokenID(tok))
		}
	}
	t.Logf("%d invites, %d redemptions, %d outbox events", len(tokens), len(redeemed), len(events))
	if missing > 0 {
		t.Fatalf("%d writes printed as committed are missing after the kill", missing)
	}
}
