package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// backupUsage is the usage of backup and restore, printed after the webhooks'.
const backupUsage = `  invites-plugin [FLAGS] backup --to FILE
      Write a consistent copy of the SQLite store to FILE (a new file, mode 0600)
      while the server keeps running. A PostgreSQL store is backed up with pg_dump.
  invites-plugin [FLAGS] restore --from FILE
      Replace the SQLite store (-data DIR or -store FILE; made if missing) by the
      backup in FILE. The server must be stopped: a store in use is refused.
`

// pgBackup is what backup and restore say about a PostgreSQL store.
const pgBackup = "a PostgreSQL store is backed up and restored with PostgreSQL's own tools: pg_dump -Fc -n SCHEMA -f FILE DSN, then pg_restore --no-owner -d DSN FILE into a database without that schema (see docs/operator.md)"

// runBackup runs "backup --to FILE" and "restore --from FILE": verb is which, file
// the option's value.
func runBackup(ctx context.Context, p parsed, stdout io.Writer) error {
	verb := p.pos[0]
	flag := map[string]string{"backup": "to", "restore": "from"}[verb]
	if len(p.pos) != 1 {
		return usagef("%s takes no words, only --%s FILE", verb, flag)
	}
	for name := range p.opts {
		if name != flag {
			return usagef("%s takes no --%s", verb, name)
		}
	}
	file, ok := p.value(flag)
	if !ok || file == "" {
		return usagef("%s needs --%s FILE", verb, flag)
	}
	if verb == "backup" {
		return backup(ctx, p.g, file, stdout)
	}
	return restore(ctx, p.g, file, stdout)
}

// backup copies the store the server uses to file.
func backup(ctx context.Context, g globals, file string, stdout io.Writer) error {
	s, err := open(ctx, g)
	if err != nil {
		return err
	}
	defer s.Close()
	b, ok := s.store.(*sqlite.Store)
	if !ok {
		return errors.New(pgBackup)
	}
	sum, err := b.Backup(ctx, file)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up to %s: %s\n", abs(file), sum)
	return nil
}

// restore replaces the store the server uses by the backup in file.
func restore(ctx context.Context, g globals, file string, stdout io.Writer) error {
	cfg, err := config.Load(g.configFile)
	if err != nil {
		return err
	}
	if g.dataDir != "" {
		cfg.DataDir = g.dataDir
	}
	if g.storeDSN != "" {
		cfg.Store = g.storeDSN
	}
	kind, path, err := store.Parse(cfg.Address())
	if err != nil {
		return err
	}
	if kind != store.KindSQLite {
		return errors.New(pgBackup)
	}
	path = abs(path)
	sum, err := sqlite.Restore(ctx, file, path)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s: %s\n", abs(file), path, sum)
	fmt.Fprintf(stdout, "the server upgrades it if it is older when it starts; the data directory %s must belong to the server's user\n", filepath.Dir(path))
	return nil
}
