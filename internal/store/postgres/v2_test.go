package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/postgres"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
	"github.com/xmpp-invites/invites/internal/store/storetest"
)

// TestMigrateFromV1 opens a schema as version 1 left it with version 2: its invites are
// carried over and their 24-character tokens still redeem, once.
func TestMigrateFromV1(t *testing.T) {
	schema, dsn := pgtest.Schema(t)
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	q := pgx.Identifier{schema}.Sanitize()
	for _, stmt := range []string{
		`CREATE TABLE ` + q + `.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
		postgres.MigrationSQL(1, schema),
		`INSERT INTO ` + q + `.schema_version (version) VALUES (1)`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	tokens := []string{"Ab-_cdEFghIJklMNopQRstUV", "Zz-_cdEFghIJklMNopQRstUV"}
	for i, tok := range tokens {
		h := core.HashToken(tok)
		if _, err := conn.Exec(ctx, `INSERT INTO `+q+`.invites (token_hash, id, host, kind, username, source, created_at, expires_at)
			VALUES ($1, $2, 'example.com', 'account', $3, $4, $5, $6)`, h, core.InviteID(h), []string{"", "juliet"}[i],
			[]string{"api/token/legacykey000", "adhoc/admin@example.com"}[i], now.UnixNano(), now.Add(time.Hour).UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO `+q+`.keys (id, host, name, secret_hash, created_at) VALUES ('legacykey000', 'example.com', 'old', $1, $2)`,
		core.HashToken("x"), now.UnixNano()); err != nil {
		t.Fatal(err)
	}
	s := open(t, dsn, postgres.Options{})
	svc, err := core.NewService(core.Options{Store: s, Hosts: []core.HostConfig{{Domain: "example.com"}}})
	if err != nil {
		t.Fatal(err)
	}
	if k, err := s.Key(ctx, "legacykey000"); err != nil || k.Name != "old" || k.Manage {
		t.Fatalf("legacy key: %+v, %v", k, err)
	}
	if inv, err := svc.CheckInvite(ctx, "example.com", tokens[0]); err != nil || inv.MaxUses != 1 {
		t.Fatalf("legacy invite: %+v, %v", inv, err)
	}
	fixed, err := svc.Invite(ctx, cli, "example.com", core.TokenID(tokens[1]))
	if err != nil || fixed.CreatedBy != "xmpp:admin@example.com" || fixed.Username != "juliet" {
		t.Fatalf("legacy invite of an admin: %+v, %v", fixed, err)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: tokens[0], Username: "alice"}); err != nil {
		t.Fatalf("redeeming a legacy token: %v", err)
	}
	if _, err := svc.Redeem(ctx, core.Redemption{Host: "example.com", Token: tokens[0], Username: "bob"}); !errors.Is(err, core.ErrUsedUp) {
		t.Fatalf("redeeming a legacy token twice: %v", err)
	}
	if _, err := svc.CreateInvite(ctx, core.InviteSpec{Host: "example.com"}); err != nil {
		t.Fatal(err)
	}
}

// envChild, when set to a DSN, makes the test binary run as TestOutboxAfterKill's
// child.
const envChild = "INVITES_POSTGRES_OUTBOX_CHILD"

func TestMain(m *testing.M) {
	if dsn := os.Getenv(envChild); dsn != "" {
		if err := outboxChild(dsn); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// outboxChild runs storetest.KillWorkload on the schema at dsn for at most 30
// seconds.
func outboxChild(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		return err
	}
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: "example.com"}}, Outbox: true})
	if err != nil {
		return err
	}
	return errors.Join(storetest.KillWorkload(ctx, svc, "example.com", os.Stdout), st.Close())
}

// TestOutboxAfterKill SIGKILLs a process that creates and redeems invites through a
// service keeping an outbox: every invite and redemption it reported is there, with its
// event.
func TestOutboxAfterKill(t *testing.T) {
	const killAfter = 1500
	_, dsn := pgtest.Schema(t)
	ctx := testCtx(t)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+dsn)
	rep := storetest.RunAndKill(t, cmd, killAfter)
	storetest.CheckAfterKill(ctx, t, open(t, dsn, postgres.Options{}), rep)
}
