package storetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/xmpp-invites/invites/internal/core"
)

// The kill -9 test of a store: a child process (the test binary, started again with an
// environment variable its TestMain reads) runs KillWorkload on the store, the parent
// reads what it reports with RunAndKill, SIGKILLs it mid-run, opens the store again and
// calls CheckAfterKill: every write the child reported as returned must be there.

// killWorkers is how many goroutines of the child write at once.
const killWorkers = 16

// killMaxInvites bounds the child's work, so that a child whose parent failed does not
// run for long.
const killMaxInvites = 500_000

// KillWorkload is the child's work: killWorkers goroutines create invites for host
// through svc and redeem every fourth, writing "T TOKEN" to w once CreateInvite has
// returned and "R TOKEN" once Redeem has, one flushed write per line, until ctx ends,
// killMaxInvites are made, or a call fails.
func KillWorkload(ctx context.Context, svc *core.Service, host string, w io.Writer) error {
	var (
		mu    sync.Mutex
		out   = bufio.NewWriter(w)
		count int
		wg    sync.WaitGroup
		errs  = make(chan error, killWorkers)
	)
	report := func(kind, tok string) error {
		mu.Lock()
		defer mu.Unlock()
		// The parent sees a token only after its call has returned.
		fmt.Fprintf(out, "%s %s\n", kind, tok)
		return out.Flush()
	}
	fail := func(err error) {
		if ctx.Err() == nil {
			errs <- err
		}
	}
	for range killWorkers {
		wg.Go(func() {
			for ctx.Err() == nil {
				inv, err := svc.CreateInvite(ctx, core.InviteSpec{Host: host})
				if err != nil {
					fail(err)
					return
				}
				if report("T", inv.Token) != nil {
					return
				}
				mu.Lock()
				count++
				n, stop := count, count >= killMaxInvites
				mu.Unlock()
				if n%4 == 0 {
					if _, err := svc.Redeem(ctx, core.Redemption{Host: host, Token: inv.Token, Username: fmt.Sprint("u", n)}); err != nil {
						fail(err)
						return
					}
					if report("R", inv.Token) != nil {
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
	return <-errs
}

// Reported is what a killed child reported as returned.
type Reported struct {
	Created, Redeemed []string // tokens
}

// RunAndKill starts cmd, a child running KillWorkload, reads its report, SIGKILLs it
// once it has reported killAfter invites, and returns everything it reported (a few
// more lines may arrive after the kill). It fails t if the child ended otherwise.
func RunAndKill(t *testing.T, cmd *exec.Cmd, killAfter int) Reported {
	t.Helper()
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
	var rep Reported
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
			_ = cmd.Process.Kill()
			t.Fatalf("child printed %q", line)
		}
		if kind == "R" {
			rep.Redeemed = append(rep.Redeemed, tok)
			continue
		}
		rep.Created = append(rep.Created, tok)
		if len(rep.Created) == killAfter && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			killed = true
		}
	}
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("the child stopped after %d tokens, before it was killed: %v\n%s", len(rep.Created), werr, stderr.String())
	}
	if exit, ok := errors.AsType[*exec.ExitError](werr); !ok || exit.ExitCode() != -1 {
		t.Fatalf("the child ended with %v, want death by signal\n%s", werr, stderr.String())
	}
	t.Logf("child killed after reporting %d invites (%d read after the kill), %d redemptions",
		len(rep.Created), len(rep.Created)-killAfter, len(rep.Redeemed))
	return rep
}

// KilledStore is what CheckAfterKill reads of the store.
type KilledStore interface {
	Invite(ctx context.Context, id string) (core.Invite, error)
	Redemptions(ctx context.Context, id string) ([]core.Use, error)
	OutboxEvents(ctx context.Context, limit int) ([]core.Event, error)
}

// CheckAfterKill fails t unless st, opened again after the kill, holds every invite and
// redemption rep names, each with its event in the outbox.
func CheckAfterKill(ctx context.Context, t *testing.T, st KilledStore, rep Reported) {
	t.Helper()
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
	for _, tok := range rep.Created {
		id := core.TokenID(tok)
		if _, err := st.Invite(ctx, id); err != nil {
			lost("invite reported as created, then lost: %v", err)
		}
		if !outbox["invite.created "+id] {
			lost("invite %s created without its event", id)
		}
	}
	for _, tok := range rep.Redeemed {
		id := core.TokenID(tok)
		inv, err := st.Invite(ctx, id)
		uses, uerr := st.Redemptions(ctx, id)
		if err != nil || uerr != nil || inv.Uses != 1 || len(uses) != 1 {
			lost("redemption reported, then lost: %+v, %v, %v, %v", inv, uses, err, uerr)
		}
		if !outbox["invite.redeemed "+id] {
			lost("redemption of %s made without its event", id)
		}
	}
	t.Logf("%d invites, %d redemptions, %d outbox events", len(rep.Created), len(rep.Redeemed), len(events))
	if missing > 0 {
		t.Fatalf("%d writes reported as returned are missing after the kill", missing)
	}
}
