package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/outbox"
	"github.com/xmpp-invites/invites/internal/store/postgres"
	"github.com/xmpp-invites/invites/internal/store/sqlite"
)

// Store is what a store is, the one interface both backends implement (checked at
// compile time below; nothing is discovered at run time): the core's keys, invites and
// host records (core.Store), the webhook outbox's delivery side (outbox.Store), and
// the reads of the metrics and of the command line.
type Store interface {
	core.Store
	outbox.Store
	// CountPending returns how many invites are pending at now, per host.
	CountPending(ctx context.Context, now time.Time) (map[string]int, error)
	// CountKeys returns how many API keys each host has.
	CountKeys(ctx context.Context) (map[string]int, error)
	// OutboxEvents returns up to limit events of the outbox that are not delivered
	// yet, oldest first.
	OutboxEvents(ctx context.Context, limit int) ([]core.Event, error)
}

var (
	_ Store = (*sqlite.Store)(nil)
	_ Store = (*postgres.Store)(nil)
)

// Options configure Open.
type Options struct {
	// Logger receives the store's warnings; nil discards them.
	Logger *slog.Logger
	// Durability is what a SQLite commit survives: sqlite.DurabilityCrash or
	// sqlite.DurabilityPowerLoss; "" means sqlite.DefaultDurability. PostgreSQL commits
	// are as durable as the server's synchronous_commit makes them.
	Durability sqlite.Durability
	// IntegrityCheck runs SQLite's quick integrity check at open, which reads every
	// page (about 2.5 s per million invites), so that a damaged file is refused with
	// an error naming it. A server starting (the plugin's Configure) sets it; the
	// command line leaves it off, so that each call opens at once. PostgreSQL ignores it.
	IntegrityCheck bool
}

// Kind names a store backend.
type Kind string

// The backends.
const (
	KindSQLite   Kind = "sqlite"
	KindPostgres Kind = "postgres"
)

// urlScheme matches a URL's scheme followed by "://".
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// schemePrefix matches what reads as a scheme before a colon, such as "sqlit:" in
// "sqlit:/x.db": a mistyped "sqlite:" must not become a directory named "sqlit:".
var schemePrefix = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)

// keywordValue matches the start of a PostgreSQL keyword/value connection string,
// such as "host=db.internal dbname=invites".
var keywordValue = regexp.MustCompile(`^\s*[A-Za-z_]+\s*=`)

// Parse says which backend an address names and returns what that backend opens:
//
//	postgres://… or postgresql://…            PostgreSQL (URL)
//	host=… dbname=… (keyword=value pairs)     PostgreSQL (keyword/value string)
//	sqlite:PATH, file:PATH, or a file path    SQLite
//
// Anything else is an error, never a SQLite file named after it: an address that looks
// like a URL of another scheme (a mistyped "postgress://…") or begins with another
// scheme (a mistyped "sqlit:/x.db") is refused, as is an empty one; a file whose name
// has a colon is written "./name:x.db".
func Parse(addr string) (Kind, string, error) {
	switch {
	case strings.TrimSpace(addr) == "":
		return "", "", errors.New("the store address is empty: give a file path or a postgres:// URL")
	case hasPrefixFold(addr, "postgres://"), hasPrefixFold(addr, "postgresql://"):
		return KindPostgres, addr, nil
	case urlScheme.MatchString(addr) && !hasPrefixFold(addr, "sqlite://") && !hasPrefixFold(addr, "file://"):
		scheme, _, _ := strings.Cut(addr, "://")
		return "", "", fmt.Errorf("the store address has the unknown scheme %q: use a file path, sqlite:PATH, or a postgres:// or postgresql:// URL", clip(scheme))
	case keywordValue.MatchString(addr):
		return KindPostgres, addr, nil
	}
	path := addr
	for _, p := range []string{"sqlite://", "sqlite:", "file://", "file:"} {
		if hasPrefixFold(path, p) {
			path = path[len(p):]
			break
		}
	}
	if path == addr && schemePrefix.MatchString(addr) {
		scheme, _, _ := strings.Cut(addr, ":")
		return "", "", fmt.Errorf("the store address has the unknown scheme %q: use a file path (./%s for a file whose name has a colon), sqlite:PATH, or a postgres:// or postgresql:// URL", clip(scheme), clip(addr))
	}
	switch {
	case path == "":
		return "", "", fmt.Errorf("the store address %q names no file", clip(addr))
	case strings.ContainsAny(path, "?#\x00"):
		return "", "", fmt.Errorf("the store address %q is not a plain file path: remove the query or fragment", clip(addr))
	}
	return KindSQLite, path, nil
}

// Open opens the store an address names (see Parse) with the default options and the
// logger (nil discards), applying its migrations; it runs no integrity check.
// A SQLite file is created, with its parent directory, when missing.
func Open(ctx context.Context, addr string, logger *slog.Logger) (Store, error) {
	return OpenWith(ctx, addr, Options{Logger: logger})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, addr string, opts Options) (Store, error) {
	kind, target, err := Parse(addr)
	if err != nil {
		return nil, err
	}
	switch kind {
	case KindPostgres:
		s, err := postgres.Open(ctx, target, postgres.Options{Logger: opts.Logger})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := sqlite.Open(ctx, target, sqlite.Options{Logger: opts.Logger, Durability: opts.Durability,
		SkipCheck: !opts.IntegrityCheck})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// clip shortens an echoed address, which may be long or hold a password after "//".
func clip(s string) string {
	if i := strings.Index(s, "@"); i >= 0 {
		s = "…" + s[i:]
	}
	if len(s) > 48 {
		s = s[:48] + "…"
	}
	return s
}
