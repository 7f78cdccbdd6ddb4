package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/postgres"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// Open opens the store named by dsn, applying its migrations.
// "postgres://…" and "postgresql://…" name a PostgreSQL database; "sqlite:PATH",
// "file:PATH" and any other non-empty string name a SQLite file, created with its parent
// directory when missing.
// A nil logger discards the store's log.
func Open(ctx context.Context, dsn string, logger *slog.Logger) (core.Store, error) {
	switch {
	case dsn == "":
		return nil, errors.New("store: empty data source name")
	case hasPrefixFold(dsn, "postgres://"), hasPrefixFold(dsn, "postgresql://"):
		s, err := postgres.Open(ctx, dsn, postgres.Options{Logger: logger})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	path := dsn
	for _, p := range []string{"sqlite://", "sqlite:", "file:"} {
		if hasPrefixFold(path, p) {
			path = path[len(p):]
			break
		}
	}
	if path == "" {
		return nil, fmt.Errorf("store: no file path in %q", dsn)
	}
	s, err := sqlite.Open(ctx, path, sqlite.Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
