package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/xmpp-invites/invites/internal/core"
)

// Defaults used when an Options field is zero.
const (
	// DefaultSchema holds the tables when neither Options.Schema nor the DSN's
	// search_path names a schema.
	DefaultSchema = "public"
	// DefaultMaxBatch bounds how many invites one group commit writes.
	DefaultMaxBatch = 256
	// DefaultWriters is how many group commits may be in flight at once.
	DefaultWriters = 4
	// DefaultWriteTimeout bounds one group commit.
	DefaultWriteTimeout = 30 * time.Second
)

// Options configure a Store.
type Options struct {
	// Schema is the PostgreSQL schema that holds the tables, created when missing.
	// Default: the first entry of the DSN's search_path parameter, else DefaultSchema.
	Schema string
	// Logger receives migration notices; nil discards them.
	Logger *slog.Logger
	// MaxConns bounds the connection pool.
	// Default: the DSN's pool_max_conns, else pgxpool's default (4 or the CPU count,
	// whichever is greater).
	MaxConns int32
	// MaxBatch bounds how many concurrent CreateInvite calls share one INSERT and one
	// commit; 1 writes each invite in its own statement.
	// Default DefaultMaxBatch, at most 4096.
	MaxBatch int
	// Writers is how many invite batches may be written at once, each on its own
	// connection.
	// Default DefaultWriters, at most the pool size.
	Writers int
	// WriteTimeout bounds the write of one invite batch, which no single caller's
	// context governs.
	// Default DefaultWriteTimeout.
	WriteTimeout time.Duration
}

// Store is a core.Store on PostgreSQL.
// It is safe for concurrent use, by any number of processes sharing the database.
type Store struct {
	pool   *pgxpool.Pool
	schema string
	log    *slog.Logger
	q      queries
	listen *listener

	// Group commit of invites: CreateInvite queues on creates, writers drain it.
	createMu     sync.RWMutex // held for reading while queuing; for writing by Close
	closed       bool
	creates      chan *createRequest
	maxBatch     int
	writeTimeout time.Duration
	writers      sync.WaitGroup
	closeOnce    sync.Once
}

// Open connects to the database a DSN names, creates the schema when missing, applies
// pending migrations and returns the store.
// ctx bounds the connection and the migrations only, not the store's life.
func Open(ctx context.Context, dsn string, opts Options) (_ *Store, err error) {
	// A server that does not answer yet is "try again later" (core.ErrUnavailable), not a
	// mistake in the address: the host retries the start.
	defer classify(&err)
	// pgx recognises a URL by its lower-case scheme only.
	for _, p := range []string{"postgres://", "postgresql://"} {
		if len(dsn) >= len(p) && strings.EqualFold(dsn[:len(p)], p) {
			dsn = p + dsn[len(p):]
		}
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN with its password; pgconn redacts it.
		return nil, fmt.Errorf("reading the PostgreSQL address: %w", err)
	}
	schema := opts.Schema
	if schema == "" {
		schema = firstSearchPath(cfg.ConnConfig.RuntimeParams["search_path"])
	}
	if schema == "" {
		schema = DefaultSchema
	}
	if len(schema) > 63 || strings.ContainsRune(schema, 0) {
		return nil, fmt.Errorf("%q is not a valid PostgreSQL schema name", schema)
	}
	if opts.MaxConns < 0 || opts.MaxBatch < 0 || opts.MaxBatch > 4096 || opts.Writers < 0 || opts.WriteTimeout < 0 {
		return nil, errors.New("PostgreSQL store options out of range")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.Writers == 0 {
		opts.Writers = DefaultWriters
	}
	opts.Writers = min(opts.Writers, int(cfg.MaxConns))
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// The tables are always named with their schema; the session's search_path only
	// matters to operators and is set to the same schema.
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	s := &Store{
		pool:         pool,
		schema:       schema,
		log:          opts.Logger,
		q:            newQueries(pgx.Identifier{schema}.Sanitize()),
		creates:      make(chan *createRequest, opts.MaxBatch*opts.Writers),
		maxBatch:     opts.MaxBatch,
		writeTimeout: opts.WriteTimeout,
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	s.listen = newListener(cfg.ConnConfig, schema, opts.Logger)
	s.writers.Add(opts.Writers)
	for range opts.Writers {
		go s.writeInvites()
	}
	return s, nil
}

// firstSearchPath returns the first schema of a search_path value, unquoted; "" when
// there is none or it is "$user".
func firstSearchPath(path string) string {
	first, _, _ := strings.Cut(path, ",")
	first = strings.TrimSpace(first)
	if len(first) >= 2 && first[0] == '"' && first[len(first)-1] == '"' {
		return strings.ReplaceAll(first[1:len(first)-1], `""`, `"`)
	}
	if first == "$user" {
		return ""
	}
	// Unquoted identifiers fold to lower case in PostgreSQL.
	return strings.ToLower(first)
}

// Schema returns the name of the schema that holds the store's tables.
func (s *Store) Schema() string { return s.schema }

// Pool returns the store's connection pool, for tests and tools that need to inspect
// the tables; the store owns it and closes it in Close.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close finishes the queued invite writes, then closes the pool.
// It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.createMu.Lock()
		s.closed = true
		close(s.creates)
		s.createMu.Unlock()
		s.writers.Wait()
		s.listen.close()
		s.pool.Close()
	})
	return nil
}

// KeysVersion implements core.Store: the number of key deletions this node has
// seen, counted by a listener of PostgreSQL notifications on a connection of its own;
// while that connection is down it vouches for nothing, and every node reads keys from
// the database on each request.
func (s *Store) KeysVersion() (uint64, bool) { return s.listen.state() }

// WaitKeysWatched waits until the store's key listener is connected, or ctx ends: a
// node that has just started reads keys on every request until then.
func (s *Store) WaitKeysWatched(ctx context.Context) error {
	for {
		if _, ok := s.listen.state(); ok {
			return nil
		}
		t := time.NewTimer(5 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isRetryable reports whether err is a deadlock or serialization failure, after which
// the transaction may simply be run again.
func isRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// Unix nanoseconds ↔ time.Time, with NULL for the zero time.

func nanos(t time.Time) int64 { return t.UnixNano() }

func nullNanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNullNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return fromNanos(*n)
}

var _ core.Store = (*Store)(nil)
