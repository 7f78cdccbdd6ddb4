package postgres_test

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/postgres"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
)

// TestPgDumpUnderLoad is the backup of a PostgreSQL store as the operator guide gives
// it: pg_dump -Fc of the store's schema while 16 callers create invites (and one
// creates keys), then pg_restore --no-owner into a database without that schema. The
// restore lands in another fresh schema of the test database (the dumped schema is
// renamed away while pg_restore recreates it, then the restored one is renamed), and
// every invite and key answered before the dump began must be there and work.
func TestPgDumpUnderLoad(t *testing.T) {
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: install Debian's postgresql-client (scripts/install-test-deps.sh does)", tool)
		}
	}
	ctx := testCtx(t)
	schema, dsn := pgtest.Schema(t)
	restored := schema + "_restored"
	moved := schema + "_moved"
	t.Cleanup(func() { pgtest.Drop(t, restored); pgtest.Drop(t, moved) })

	st, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		tokens  []string
		keys    []string
		loadErr error
	)
	load, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	const workers = 16
	for w := range workers + 1 {
		wg.Go(func() {
			for i := 0; i < 20000 && load.Err() == nil; i++ {
				var tok, key string
				var err error
				if w == workers {
					_, key, err = svc.CreateKey(load, core.KeySpec{Host: "example.com", Name: "k"})
					time.Sleep(5 * time.Millisecond)
				} else {
					var inv core.Invite
					inv, err = svc.CreateInvite(load, core.InviteSpec{Host: "example.com", Actor: core.Actor{Kind: core.ActorCLI}})
					tok = inv.Token
				}
				mu.Lock()
				switch {
				case err != nil && load.Err() == nil:
					loadErr = err
				case err == nil && key != "":
					keys = append(keys, key)
				case err == nil:
					tokens = append(tokens, tok)
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
	for n, k := counts(); n < 300 || k < 3; n, k = counts() {
		if time.Now().After(deadline) {
			t.Fatalf("load: %d invites and %d keys after 30 s (%v)", n, k, loadErr)
		}
		time.Sleep(10 * time.Millisecond)
	}

	dump := filepath.Join(t.TempDir(), "invites.dump")
	nInv, nKeys := counts()
	base := pgtest.BaseDSN()
	if out, err := exec.CommandContext(ctx, "pg_dump", "-Fc", "-n", schema, "-f", dump, "-d", base).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	afterInv, _ := counts()
	stop()
	wg.Wait()
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	if afterInv == nInv {
		t.Fatal("no invite was created while pg_dump ran: not a backup under load")
	}
	fi, err := os.Stat(dump)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d invites and %d keys answered before pg_dump, %d by its end; dump %d bytes", nInv, nKeys, afterInv, fi.Size())
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rename := func(from, to string) {
		t.Helper()
		if _, err := conn.Exec(ctx, "ALTER SCHEMA "+pgx.Identifier{from}.Sanitize()+" RENAME TO "+pgx.Identifier{to}.Sanitize()); err != nil {
			t.Fatalf("renaming schema %s: %v", from, err)
		}
	}
	rename(schema, moved)
	out, err := exec.CommandContext(ctx, "pg_restore", "--no-owner", "--exit-on-error", "-d", base, dump).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	rename(schema, restored)
	rename(moved, schema)

	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", restored)
	u.RawQuery = q.Encode()
	rst := open(t, u.String(), postgres.Options{})
	rsvc, err := core.NewService(core.Options{Store: rst, Hosts: []core.HostConfig{{Domain: "example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys[:nKeys] {
		if _, err := rsvc.Authenticate(ctx, key); err != nil {
			t.Fatalf("key answered before the dump: %v", err)
		}
	}
	for i, token := range tokens[:nInv] {
		if _, err := rsvc.CheckInvite(ctx, "example.com", token); err != nil {
			t.Fatalf("invite %d answered before the dump: %v", i, err)
		}
		if i%100 == 0 {
			if _, err := rsvc.Redeem(ctx, core.Redemption{Host: "example.com", Token: token, Username: "juliet"}); err != nil {
				t.Fatalf("redeeming invite %d: %v", i, err)
			}
		}
	}
}
