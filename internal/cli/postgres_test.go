package cli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/service"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
	"github.com/xmpp-invites/invites/plugin"
)

// TestPostgresFreshSetUp (issue 16): the operator guide's (docs/operator.md, several nodes)
//
//	invites-plugin -store 'postgres://…' keys create example.com
//
// run on a fresh set-up (a server started once on the database; the command line in a
// directory that knows nothing of it, on another node) makes the key: the host is
// known from the store itself, not only from the server's data directory.
func TestPostgresFreshSetUp(t *testing.T) {
	t.Setenv(config.EnvStore, "")
	_, dsn := pgtest.Schema(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	// Before any server ran, the command line says which hosts it knows.
	t.Chdir(t.TempDir())
	code, _, errOut := runArgs(t, "-store", dsn, "keys", "create", "example.com")
	if code != 1 || !strings.HasPrefix(errOut, "Error: please supply a valid host\n") || !strings.Contains(errOut, "known: localhost") {
		t.Fatalf("before the server: code %d, err %q", code, errOut)
	}

	// The server's plugin, on its own data directory, serving example.com.
	s := service.New(nil)
	if _, err := s.Configure(ctx, plugin.Config{Domains: []string{"example.com"}, DataDir: t.TempDir(),
		ConfigTOML: fmt.Sprintf("store = %q\n", dsn)}, nil); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close(ctx) }()

	t.Chdir(t.TempDir())
	code, out, errOut := runArgs(t, "-store", dsn, "keys", "create", "example.com")
	if code != 0 || !keyPattern.MatchString(out) {
		t.Fatalf("keys create example.com: code %d, out %q, err %q", code, out, errOut)
	}
	// INVITES_STORE, the other way the guide gives, works the same.
	t.Setenv(config.EnvStore, dsn)
	id, _, _ := strings.Cut(out, "/")
	if code, list, errOut := runArgs(t, "keys", "list", "example.com"); code != 0 || !strings.HasPrefix(list, id+"\t") || errOut != "" {
		t.Fatalf("keys list with INVITES_STORE: code %d, out %q, err %q", code, list, errOut)
	}
}
