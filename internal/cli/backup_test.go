package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
)

// TestBackupUnderLoad takes a backup with the command line while 16 callers create
// invites (and one creates keys) in the server's store, restores it with the command
// line into a fresh data directory, and checks that every invite and key answered
// before the backup began is there and works: keys authenticate, tokens are valid and
// redeem.
func TestBackupUnderLoad(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	ctx := t.Context()
	dir := t.TempDir()
	st := serverStore(t, dir)
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "localhost"}}})
	if err != nil {
		t.Fatal(err)
	}

	var (
		mu      sync.Mutex
		tokens  []string // answered invites, in the order their calls returned
		keys    []string // answered keys
		loadErr error
	)
	load, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	const workers = 16
	for w := range workers + 1 {
		wg.Go(func() {
			for i := 0; i < 20000 && load.Err() == nil; i++ {
				if w == workers { // the key maker
					_, key, err := svc.CreateKey(load, core.KeySpec{Host: "localhost", Name: "k"})
					mu.Lock()
					if err == nil {
						keys = append(keys, key)
					} else if load.Err() == nil {
						loadErr = err
					}
					mu.Unlock()
					time.Sleep(5 * time.Millisecond)
					continue
				}
				inv, err := svc.CreateInvite(load, core.InviteSpec{Host: "localhost", Actor: core.Actor{Kind: core.ActorCLI}})
				mu.Lock()
				if err == nil {
					tokens = append(tokens, inv.Token)
				} else if load.Err() == nil {
					loadErr = err
				}
				mu.Unlock()
			}
		})
	}
	defer func() { stop(); wg.Wait() }()
	counts := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(tokens), len(keys)
	}
	deadline := time.Now().Add(30 * time.Second)
	for n, k := counts(); n < 500 || k < 5; n, k = counts() {
		if time.Now().After(deadline) {
			t.Fatalf("load: %d invites and %d keys after 30 s (%v)", n, k, loadErr)
		}
		time.Sleep(10 * time.Millisecond)
	}

	backup := filepath.Join(t.TempDir(), "invites-backup.db")
	nInv, nKeys := counts() // answered before the backup began
	code, out, errOut := run(t, dir, "backup", "--to", backup)
	if code != 0 || !strings.HasPrefix(out, "backed up to "+backup+": ") {
		t.Fatalf("backup: code %d, out %q, err %q", code, out, errOut)
	}
	afterInv, _ := counts()
	stop()
	wg.Wait()
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	if afterInv == nInv {
		t.Fatal("no invite was created while the backup ran: not a backup under load")
	}
	t.Logf("%d invites and %d keys answered before the backup, %d invites answered by its end; %s", nInv, nKeys, afterInv, out)
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", fi, err)
	}

	// The running server's store cannot be restored over.
	if code, _, errOut := run(t, dir, "restore", "--from", backup); code != 1 || !strings.Contains(errOut, "in use") {
		t.Errorf("restore over the open store: code %d, %q", code, errOut)
	}

	fresh := filepath.Join(t.TempDir(), "restored")
	code, out, errOut = run(t, fresh, "restore", "--from", backup)
	if code != 0 || !strings.HasPrefix(out, "restored "+backup+" into "+filepath.Join(fresh, config.StoreFile)) {
		t.Fatalf("restore: code %d, out %q, err %q", code, out, errOut)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("restored data directory: %v %v", fi, err)
	}
	rst, err := store.Open(ctx, filepath.Join(fresh, config.StoreFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rst.Close()
	rsvc, err := core.NewService(core.Options{Store: rst, Hosts: []core.HostConfig{{Domain: "localhost"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys[:nKeys] {
		if _, err := rsvc.Authenticate(ctx, key); err != nil {
			t.Fatalf("key answered before the backup: %v", err)
		}
	}
	for i, token := range tokens[:nInv] {
		if _, err := rsvc.CheckInvite(ctx, "localhost", token); err != nil {
			t.Fatalf("invite %d answered before the backup: %v", i, err)
		}
		if i%100 == 0 {
			if _, err := rsvc.Redeem(ctx, core.Redemption{Host: "localhost", Token: token, Username: fmt.Sprintf("user%d", i)}); err != nil {
				t.Fatalf("redeeming invite %d: %v", i, err)
			}
		}
	}
	// The command line lists the restored store's keys.
	code, out, _ = run(t, fresh, "keys", "list", "localhost")
	if code != 0 || strings.Count(out, "\n") < nKeys {
		t.Errorf("keys list on the restored store: code %d, %d lines", code, strings.Count(out, "\n"))
	}
}

// TestBackupUsage checks the usage errors of backup and restore and their answer for a
// PostgreSQL store.
func TestBackupUsage(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	dir := t.TempDir()
	serverStore(t, dir)
	for i, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		0: {[]string{"backup"}, 2, "backup needs --to FILE"},
		1: {[]string{"restore"}, 2, "restore needs --from FILE"},
		2: {[]string{"backup", "--from", "x"}, 2, "backup takes no --from"},
		3: {[]string{"restore", "x", "--from", "y"}, 2, "restore takes no words"},
		4: {[]string{"backup", "--to", filepath.Join(dir, config.StoreFile)}, 1, "exists already"},
		5: {[]string{"-store", "postgres://invites@db.invalid/x", "restore", "--from", "x"}, 1, "pg_dump -Fc"},
		6: {[]string{"restore", "--from", filepath.Join(dir, "missing.db")}, 1, "does not exist"},
	} {
		code, _, errOut := run(t, dir, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.stderr) {
			t.Errorf("%d: code %d, stderr %q; want %d, %q", i, code, errOut, tc.code, tc.stderr)
		}
	}
	code, out, _ := runArgs(t, "help")
	if code != 0 || !strings.Contains(out, "backup --to FILE") || !strings.Contains(out, "restore --from FILE") {
		t.Errorf("help: %d %q", code, out)
	}
}
