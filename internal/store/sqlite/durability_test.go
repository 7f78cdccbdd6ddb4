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
	if path := os.Getenv(envChild); path != "" {
		if err := durabilityChild(path); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// durabilityChild creates invites from 16 goroutines through core.Service, printing
// "T TOKEN" once CreateInvite has returned, until killed; it gives up by itself after
// 30 seconds or 500,000 invites so that it never outlives a failed parent for long.
func durabilityChild(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		return err
	}
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}})
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
				mu.Lock()
				// One write per line, flushed at once: the parent sees a token only
				// after its create has returned.
				fmt.Fprintf(out, "T %s\n", inv.Token)
				err = out.Flush()
				count++
				stop := count >= 500_000
				mu.Unlock()
				if err != nil || stop {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return errors.Join(<-errs, st.Close())
}

// TestDurabilityAfterKill runs a child process that creates invites and prints each
// token once it is committed, SIGKILLs it mid-run, then reopens the store: every
// printed token must be there.
func TestDurabilityAfterKill(t *testing.T) {
	const killAfter = 3000
	path := filepath.Join(t.TempDir(), "invites.db")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+path)
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
	var tokens []string
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
		tok, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "T ")
		if !ok || !core.ValidToken(tok) {
			t.Fatalf("child printed %q", line)
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
	missing := 0
	for _, tok := range tokens {
		if _, err := st.Invite(ctx, core.HashToken(tok)); err != nil {
			missing++
			if missing <= 5 {
				t.Errorf("token printed as committed, then lost: %v", err)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d printed tokens missing after the kill", missing, len(tokens))
	}
}
