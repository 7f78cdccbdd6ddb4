package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN is the environment variable naming the test database.
const EnvDSN = "INVITES_TEST_POSTGRES"

// DefaultDSN is the test database when EnvDSN is unset: the loopback server of CI.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// BaseDSN returns the test database's DSN, without a schema.
func BaseDSN() string {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// Schema creates a fresh, empty schema with a random name on the test database,
// drops it with everything in it when the test ends, and returns its name and a DSN
// whose search_path names it, ready for postgres.Open or INVITES_STORE.
// It fails the test when the database is unreachable.
// Register it before anything that uses the schema, so that its cleanup runs last.
func Schema(tb testing.TB) (schema, dsn string) {
	tb.Helper()
	base := BaseDSN()
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("pgtest: %s must be a postgres:// URL", EnvDSN)
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema = "invites_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(tb.Context(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: PostgreSQL test database unreachable (set %s, default %s): %v", EnvDSN, DefaultDSN, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: creating schema %s: %v", schema, err)
	}
	tb.Cleanup(func() { Drop(tb, schema) })

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return schema, u.String()
}

// Drop drops a schema and everything in it, reporting a failure as a test error.
func Drop(tb testing.TB, schema string) {
	tb.Helper()
	// The test's context has ended by cleanup time.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(tb.Context()), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, BaseDSN())
	if err != nil {
		tb.Errorf("pgtest: dropping schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		tb.Errorf("pgtest: dropping schema %s: %v", schema, err)
	}
}
