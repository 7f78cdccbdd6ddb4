package service_test

import (
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

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
	schema, dsn := pgtest.Schema(t)
	// Whatever INVITES_TEST_POSTGRES names (or the throwaway server of scripts/test.sh):
	// the test's own database and schema, written as a URL and as keyword/value pairs,
	// each with a password that must not reach the log.
	pc, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	password := pc.Password
	if password == "" {
		password = "hunter2" // ignored by a server that trusts the test's address
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(pc.User, password),
		Host: net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))), Path: "/" + pc.Database,
		RawQuery: url.Values{"search_path": {schema}, "sslmode": {"disable"}}.Encode()}
	quote := func(v string) string {
		return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
	}
	keyword := strings.Join([]string{"host=" + quote(pc.Host), "port=" + strconv.Itoa(int(pc.Port)),
		"dbname=" + quote(pc.Database), "user=" + quote(pc.User), "password=" + quote(password),
		"search_path=" + quote(schema), "sslmode=disable"}, " ")
	named := "store=postgres://" + pc.User + "@" + net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))) + "/" + pc.Database
	dataDir := t.TempDir()
	for _, tc := range []struct {
		name, store, want string
	}{
		{"sqlite", "", "store=sqlite:" + filepath.Join(dataDir, config.StoreFile)},
		{"url", u.String(), named},
		{"keyword", keyword, named},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs testlog.Buffer
			s := service.New(slog.New(slog.NewTextHandler(&logs, nil)))
			cfg := ""
			if tc.store != "" {
				cfg = "store = \"" + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(tc.store) + "\"\n"
			}
			if _, err := s.Configure(ctxT(t), plugin.Config{DataDir: dataDir, ConfigTOML: cfg}, nil); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = s.Close(ctxT(t)) }()
			out := logs.String()
			if !strings.Contains(out, tc.want) {
				t.Errorf("the start-up log does not name the store (%s):\n%s", tc.want, out)
			}
			if strings.Contains(out, password) {
				t.Errorf("the start-up log holds the password:\n%s", out)
			}
		})
	}
}
