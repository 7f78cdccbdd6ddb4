package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// waveOneRev is the commit the baseline run builds by default: the merge base of
// wave 2, the last version before contract v2, core v2 (invite records and
// redemptions kept, events) and the durability modes.
const waveOneRev = "26ba6fb"

// nameBaseline is the row of xmppd and its plugin as built from -baseline, run with
// that commit's defaults (for waveOneRev: synchronous=NORMAL, no records kept after use,
// no events).
func nameBaseline(rev string) string {
	return "xmppd → plugin built from " + rev + " (its defaults)"
}

// buildBaseline extracts rev of this repository with git archive into dir (nothing
// in the repository changes: no worktree, no checkout) and builds its xmppd and
// invites-plugin there.
func buildBaseline(ctx context.Context, rev, dir string) (binaries, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return binaries{}, err
	}
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o700); err != nil {
		return binaries{}, fmt.Errorf("baseline: %w", err)
	}
	archive := exec.CommandContext(ctx, "git", "-C", root, "archive", "--format=tar", rev)
	untar := exec.CommandContext(ctx, "tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		return binaries{}, fmt.Errorf("baseline: %w", err)
	}
	untar.Stdin = pipe
	var aerr, terr strings.Builder
	archive.Stderr, untar.Stderr = &aerr, &terr
	if err := archive.Start(); err != nil {
		return binaries{}, fmt.Errorf("baseline: git archive %s: %w", rev, err)
	}
	runErr := untar.Run()
	waitErr := archive.Wait()
	if err := errors.Join(waitErr, runErr); err != nil {
		return binaries{}, fmt.Errorf("baseline: git archive %s | tar: %w: %s %s", rev, err,
			strings.TrimSpace(aerr.String()), strings.TrimSpace(terr.String()))
	}
	b := binaries{XMPPD: filepath.Join(dir, "xmppd"), Plugin: filepath.Join(dir, "invites-plugin")}
	for _, t := range []struct{ out, pkg string }{
		{b.XMPPD, "./examples/xmppd"},
		{b.Plugin, "./cmd/invites-plugin"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", t.out, t.pkg)
		cmd.Dir = src
		if out, err := cmd.CombinedOutput(); err != nil {
			return binaries{}, fmt.Errorf("baseline: go build %s at %s: %w\n%s", t.pkg, rev, err, out)
		}
	}
	return b, nil
}
