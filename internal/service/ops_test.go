package service_test

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/service"
	"github.com/xmpp-invites/invites/internal/store/postgres/pgtest"
	"github.com/xmpp-invites/invites/internal/testlog"
	"github.com/xmpp-invites/invites/plugin"
)

// TestStartupNamesStore is the regression test of a newcomer's trap: the start-up log
// names the store in use, so that a mistyped address or a wrong directory shows, and
// never its password.
func TestStartupNamesStore(t *testing.T) {
	_, dsn := pgtest.Schema(t)
	withPassword := strings.Replace(dsn, "postgres@", "postgres:hunter2@", 1)
	if withPassword == dsn {
		t.Skipf("cannot put a password into %s", dsn)
	}
	schema := dsn[strings.Index(dsn, "search_path=")+len("search_path="):]
	dataDir := t.TempDir()
	for _, tc := range []struct {
		name, store, want string
	}{
		{"sqlite", "", "store=sqlite:" + filepath.Join(dataDir, config.StoreFile)},
		{"url", withPassword, "store=postgres://postgres@127.0.0.1:5432/test"},
		{"keyword", "host=127.0.0.1 port=5432 dbname=test user=postgres password='hunter2' search_path=" + schema,
			"store=postgres://postgres@127.0.0.1:5432/test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs testlog.Buffer
			s := service.New(slog.New(slog.NewTextHandler(&logs, nil)))
			cfg := ""
			if tc.store != "" {
				cfg = "store = \"" + strings.ReplaceAll(tc.store, `"`, `\"`) + "\"\n"
			}
			if _, err := s.Configure(ctxT(t), plugin.Config{DataDir: dataDir, ConfigTOML: cfg}, nil); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Close(ctxT(t)) }()
			out := logs.String()
			if !strings.Contains(out, tc.want) {
				t.Errorf("the start-up log does not name the store (%s):\n%s", tc.want, out)
			}
			if strings.Contains(out, "hunter2") {
				t.Errorf("the start-up log holds the password:\n%s", out)
			}
		})
	}
}
