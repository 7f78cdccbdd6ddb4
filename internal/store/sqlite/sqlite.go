package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"

	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store/lookup"
)

// Durability says which failures a committed write survives.
type Durability string

// The durability modes.
const (
	// DurabilityCrash (synchronous=NORMAL) survives the process being killed, not a
	// power loss or kernel crash, which may lose the last commits (never corrupt).
	DurabilityCrash Durability = "crash"
	// DurabilityPowerLoss (synchronous=FULL) survives power loss too: every commit is
	// fsynced. Group commit shares each fsync among the writes made at once.
	DurabilityPowerLoss Durability = "power-loss"
)

// Defaults used when an Options field is zero.
const (
	// DefaultDurability is DurabilityPowerLoss: a key deletion or an invite revocation
	// that was reported done must not come back after a power cut, and with group
	// commit the fsync per commit costs little throughput (see the package
	// documentation for the figures).
	DefaultDurability = DurabilityPowerLoss
	// DefaultBusyTimeout is how long a write waits for another process holding the lock.
	DefaultBusyTimeout = 10 * time.Second
	// DefaultMaxBatch bounds how many writes one group commit holds.
	DefaultMaxBatch = 256
	// DefaultCheckpointPages is the size of the write-ahead log, in pages (40 MiB), at
	// which the background checkpoint starts, so that commits never wait for one.
	DefaultCheckpointPages = 10000
	// DefaultWriterCacheKiB is the page cache of the writing connection: it holds the
	// right-hand edges of the tables and indexes that inserts append to, and the pages
	// of recent invites that redemptions change.
	DefaultWriterCacheKiB = 4096
	// DefaultReaderCacheKiB is the page cache of each reading connection.
	DefaultReaderCacheKiB = 2048
)

// Options configure a Store.
// The zero value is the documented default for every field.
type Options struct {
	// Durability selects what a commit survives. Default DefaultDurability.
	Durability Durability
	// BusyTimeout is how long a statement waits for a lock held by another process.
	// Zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// MaxReaders bounds the pooled read connections. Zero means max(4, GOMAXPROCS).
	MaxReaders int
	// MaxBatch bounds how many writes one group commit holds. Zero means
	// DefaultMaxBatch; 1 disables grouping.
	MaxBatch int
	// CheckpointPages is the write-ahead log size, in pages, from which a background
	// goroutine copies it back into the database file. Zero means
	// DefaultCheckpointPages.
	CheckpointPages int
	// WriterCacheKiB and ReaderCacheKiB size the page caches, in KiB. Zero means
	// DefaultWriterCacheKiB and DefaultReaderCacheKiB.
	WriterCacheKiB, ReaderCacheKiB int
	// SkipCheck skips the quick integrity check at open, which reads every page
	// (about 2.5 s per million invites): for the command line, which opens the store
	// on every call, and for benchmarks that open large stores repeatedly. A server
	// keeps it at start. A file that is not a database at all is refused either way.
	SkipCheck bool
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// journalSizeLimit bounds the write-ahead log file between checkpoints: 64 MiB.
const journalSizeLimit = 64 << 20

// Store is a core.Store in one SQLite file.
// It is safe for concurrent use, and several processes may open the same file.
type Store struct {
	path string
	w    *sql.DB // one connection, immediate transactions: all writes
	r    *sql.DB // pooled, read-only connections
	log  *slog.Logger
	gc   *committer
	cp   *checkpointer
	keys *keyWatch // nil when the sentinel could not be set up

	closed atomic.Bool // set by Close: later calls fail as unavailable

	// Statements on the hot paths, prepared once: preparing costs more than running.
	getKey, getInvite           *sql.Stmt // on the readers
	ins, out, peek, upd, addUse *sql.Stmt // on the writer
}

var _ core.Store = (*Store)(nil)

// Open opens (creating if needed, with its parent directory) the SQLite database at path,
// checks it, and applies pending migrations.
// The file, its write-ahead log and shared-memory index, and the key sentinel beside
// them are created readable by their owner only (0600), a new directory 0700.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("no file name given for the SQLite store")
	}
	switch opts.Durability {
	case "":
		opts.Durability = DefaultDurability
	case DurabilityCrash, DurabilityPowerLoss:
	default:
		return nil, fmt.Errorf("unknown durability %q: use %q or %q", opts.Durability, DurabilityCrash, DurabilityPowerLoss)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.MaxReaders <= 0 {
		opts.MaxReaders = max(4, runtime.GOMAXPROCS(0))
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.CheckpointPages <= 0 {
		opts.CheckpointPages = DefaultCheckpointPages
	}
	if opts.WriterCacheKiB <= 0 {
		opts.WriterCacheKiB = DefaultWriterCacheKiB
	}
	if opts.ReaderCacheKiB <= 0 {
		opts.ReaderCacheKiB = DefaultReaderCacheKiB
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := prepareFiles(path, opts.Logger); err != nil {
		return nil, err
	}
	sync := "NORMAL"
	if opts.Durability == DurabilityPowerLoss {
		sync = "FULL"
	}
	pragmas := []string{
		fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()),
		"journal_mode(WAL)",
		"synchronous(" + sync + ")",
		"foreign_keys(1)",
		// The log is kept between opens (persistWAL); at a clean close, and whenever
		// it restarts, it is cut back to this size, so it does not keep its peak size
		// on disk nor, after a close, stale frames.
		fmt.Sprintf("journal_size_limit(%d)", journalSizeLimit),
	}
	s := &Store{path: path, log: opts.Logger}
	var err error
	defer func() {
		if err != nil {
			s.closeDBs()
		}
	}()
	// SQLite would checkpoint inside the commit that makes the write-ahead log reach
	// its threshold; the writer's WAL hook replaces that and only wakes the background
	// checkpointer. Should the log still grow to four times the threshold, the writer
	// checkpoints itself, right after its commit, as SQLite would.
	hook := func(c *sqlite3.Conn) error {
		c.WALHook(func(c *sqlite3.Conn, schema string, pages int) error {
			switch {
			case pages >= 4*opts.CheckpointPages:
				if _, _, err := c.WALCheckpoint(schema, sqlite3.CHECKPOINT_PASSIVE); err != nil && !errors.Is(err, sqlite3.BUSY) {
					opts.Logger.Warn("sqlite checkpoint failed", "err", err)
				}
			case pages >= opts.CheckpointPages:
				s.cp.kick()
			}
			return nil
		})
		return persistWAL(c)
	}
	if s.w, err = openDB(path, append(pragmas, fmt.Sprintf("cache_size(-%d)", opts.WriterCacheKiB)), "immediate", hook); err != nil {
		return nil, err
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if !opts.SkipCheck {
		if err = quickCheck(ctx, s.w, path); err != nil {
			return nil, err
		}
	}
	if err = migrate(ctx, s.w); err != nil {
		err = openError(path, err)
		return nil, err
	}
	// SQLite deletes the write-ahead log prepared for a new, empty database and makes
	// its own: narrow it now, should modeof not have (it holds no secret yet).
	if err = prepareFiles(path, slog.New(slog.DiscardHandler)); err != nil {
		return nil, err
	}
	if s.r, err = openDB(path, append(pragmas, fmt.Sprintf("cache_size(-%d)", opts.ReaderCacheKiB), "query_only(1)"), "deferred", persistWAL); err != nil {
		return nil, err
	}
	cpDB, err := openDB(path, append(pragmas, "cache_size(-256)"), "immediate", persistWAL)
	if err != nil {
		return nil, err
	}
	cpDB.SetMaxOpenConns(1)
	s.cp = newCheckpointer(cpDB, s.w, opts.Logger)
	s.r.SetMaxOpenConns(opts.MaxReaders)
	s.r.SetMaxIdleConns(opts.MaxReaders)
	s.r.SetConnMaxLifetime(0)
	s.r.SetConnMaxIdleTime(0)
	if err = s.r.PingContext(ctx); err != nil {
		err = openError(path, err)
		return nil, err
	}
	for _, p := range []struct {
		db    *sql.DB
		query string
		stmt  **sql.Stmt
	}{
		{s.w, insertInvite, &s.ins},
		{s.w, insertOutbox, &s.out},
		{s.w, selectInvite, &s.peek},
		{s.w, updateInvite, &s.upd},
		{s.w, insertUse, &s.addUse},
		{s.r, lookupInvite, &s.getInvite},
		{s.r, selectKey, &s.getKey},
	} {
		if *p.stmt, err = p.db.PrepareContext(ctx, p.query); err != nil {
			err = fmt.Errorf("preparing the statements of %s: %w", path, err)
			return nil, err
		}
	}
	if s.keys, err = openKeyWatch(path + "-keys"); err != nil {
		// Without the sentinel, keys are read on every request: slower, still right.
		opts.Logger.Warn("key cache off: cannot set up the key sentinel", "err", err)
		s.keys, err = nil, nil
	}
	s.gc = newCommitter(s.w, s.ins, s.out, opts.MaxBatch, opts.Logger)
	return s, nil
}

// openDB opens a pool on path whose connections all get the pragmas, the transaction
// mode and, when not nil, the init function.
func openDB(path string, pragmas []string, txlock string, init func(*sqlite3.Conn) error) (*sql.DB, error) {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", txlock)
	// The write-ahead log takes the database file's mode (0600) when SQLite creates it,
	// as SQLite's own unix VFS does.
	q.Set("modeof", path)
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	var inits []func(*sqlite3.Conn) error
	if init != nil {
		inits = append(inits, init)
	}
	db, err := driver.Open(u.String(), inits...)
	if err != nil {
		return nil, openError(path, err)
	}
	return db, nil
}

// persistWAL keeps the write-ahead log and the shared-memory index when the last
// connection closes, so that they keep the owner-only mode they were created with
// instead of being created anew with the process's default mode.
func persistWAL(c *sqlite3.Conn) error {
	_, err := c.FileControl("main", sqlite3.FCNTL_PERSIST_WAL, true)
	return err
}

// quickCheck runs SQLite's quick integrity check, which reads every page: a damaged
// file is refused at open with a clear error instead of failing requests later.
func quickCheck(ctx context.Context, db *sql.DB, path string) error {
	rows, err := db.QueryContext(ctx, `PRAGMA quick_check(5)`)
	if err != nil {
		return openError(path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return openError(path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return openError(path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("the store file %s is damaged (%s): restore it from a backup, or move it away to start with an empty store",
			path, strings.Join(problems, "; "))
	}
	return nil
}

// openError says what went wrong opening the store at path, naming damage plainly.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, sqlite3.CORRUPT), errors.Is(err, sqlite3.NOTADB):
		return fmt.Errorf("the store file %s is damaged or not a SQLite database (%w): restore it from a backup, or move it away to start with an empty store", path, err)
	case errors.Is(err, sqlite3.CANTOPEN), errors.Is(err, sqlite3.PERM), errors.Is(err, sqlite3.READONLY):
		return fmt.Errorf("cannot open the store file %s for writing: %w", path, err)
	}
	return fmt.Errorf("opening the store file %s: %w", path, err)
}

// Close finishes queued writes and closes the database.
// Closing twice is harmless.
func (s *Store) Close() error {
	s.closed.Store(true)
	if s.gc != nil {
		s.gc.close()
	}
	return s.closeDBs()
}

// closeDBs stops the checkpointer and closes every pool, the writer last so that
// SQLite checkpoints the write-ahead log.
func (s *Store) closeDBs() error {
	var errs []error
	// Closed statements and pools stay in place: a call after Close fails with an
	// error instead of a nil dereference. Closing them again is harmless.
	for _, st := range []*sql.Stmt{s.getKey, s.getInvite, s.ins, s.out, s.peek, s.upd, s.addUse} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.cp != nil {
		errs = append(errs, s.cp.close())
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	if s.keys != nil {
		errs = append(errs, s.keys.close())
	}
	return errors.Join(errs...)
}

// KeysVersion implements core.Store with a counter in a small file beside the
// database, mapped into the memory of every process that opens it: DeleteKey increments
// it before and after its commit, and reading it costs no system call.
func (s *Store) KeysVersion() (uint64, bool) {
	if s.keys == nil {
		return 0, false
	}
	return s.keys.version(), true
}

// bumpKeys tells every process that a key may have changed.
func (s *Store) bumpKeys() {
	if s.keys != nil {
		s.keys.bump()
	}
}

// CreateKey implements core.Store.
func (s *Store) CreateKey(ctx context.Context, k core.Key, events []core.Event) (rerr error) {
	defer s.classify(&rerr)
	if k.ID == "" || k.Host == "" || len(k.SecretHash) == 0 {
		return fmt.Errorf("creating key: %w: id, host and secret hash are required", core.ErrInvalid)
	}
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO keys
			(id, host, name, secret_hash, created_at, expires_at, max_ttl, rate_n, rate_period, last_used, uses, manage)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Host, k.Name, k.SecretHash, micros(k.CreatedAt), nullMicros(k.ExpiresAt),
			int64(k.MaxTTL), k.Rate.N, int64(k.Rate.Period), nullMicros(k.LastUsed), k.Uses, k.Manage)
		if err != nil {
			return mapErr(err)
		}
		return s.writeOutboxTx(ctx, tx, events)
	})
	if err != nil {
		return fmt.Errorf("creating key: %w", err)
	}
	return nil
}

const keyColumns = `id, host, name, secret_hash, created_at, expires_at, max_ttl, rate_n, rate_period, last_used, uses, manage`

// selectKey reads a key by its ID, or a decoy row of the same shape when there is none
// (see lookup.Query), so that authenticating an unknown key ID costs what a wrong
// secret for an existing one does (issue 21).
var selectKey = lookup.Query("?1", "keys", keyColumns, "''", "''", "zeroblob(32)", "0", "", "0", "0", "0", "", "0", "0")

// Key implements core.Store.
func (s *Store) Key(ctx context.Context, id string) (_ core.Key, rerr error) {
	defer s.classify(&rerr)
	var found bool
	k, err := scanKey(withFound(s.getKey.QueryRowContext(ctx, id), &found))
	switch {
	case err != nil:
		return core.Key{}, fmt.Errorf("reading key: %w", mapErr(err))
	case !found:
		return core.Key{}, core.ErrNotFound
	}
	return k, nil
}

// Keys implements core.Store.
func (s *Store) Keys(ctx context.Context, host string) (_ []core.Key, rerr error) {
	defer s.classify(&rerr)
	rows, err := s.r.QueryContext(ctx,
		`SELECT `+keyColumns+` FROM keys WHERE host = ? ORDER BY created_at, rowid`, host)
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	defer rows.Close()
	var out []core.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("listing keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	return out, nil
}

// DeleteKey implements core.Store; the key's rate state goes with it.
// The key sentinel is bumped before the delete and again after its commit, so that no
// process keeps serving the key from memory once this returns.
func (s *Store) DeleteKey(ctx context.Context, host, id string, events []core.Event) (rerr error) {
	defer s.classify(&rerr)
	s.bumpKeys()
	defer s.bumpKeys()
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM keys WHERE id = ? AND host = ?`, id, host)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return core.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM rate_limits WHERE key_id = ?`, id); err != nil {
			return err
		}
		return s.writeOutboxTx(ctx, tx, events)
	})
	if err != nil {
		return fmt.Errorf("deleting key: %w", err)
	}
	return nil
}

// AddKeyUses implements core.Store, in one transaction.
func (s *Store) AddKeyUses(ctx context.Context, uses []core.KeyUse) (rerr error) {
	defer s.classify(&rerr)
	if len(uses) == 0 {
		return nil
	}
	err := s.gc.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE keys SET uses = uses + ?1,
			last_used = CASE WHEN ?2 IS NULL THEN last_used
				WHEN last_used IS NULL OR last_used < ?2 THEN ?2 ELSE last_used END
			WHERE id = ?3`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, u := range uses {
			if _, err := stmt.ExecContext(ctx, u.Count, nullMicros(u.LastUsed), u.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording key uses: %w", err)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// foundScanner scans a row of a lookup that always answers one row, the one looked for
// or a decoy of the same shape, whose last column says which.
type foundScanner struct {
	sc    scanner
	found *bool
}

// withFound returns a scanner of sc's row that sets *found from its last column.
func withFound(sc scanner, found *bool) scanner { return foundScanner{sc, found} }

// Scan implements scanner.
func (f foundScanner) Scan(dest ...any) error { return f.sc.Scan(append(dest, f.found)...) }

func scanKey(sc scanner) (core.Key, error) {
	var (
		k                  core.Key
		created            int64
		expires, lastUsed  sql.NullInt64
		maxTTL, ratePeriod int64
	)
	if err := sc.Scan(&k.ID, &k.Host, &k.Name, &k.SecretHash, &created, &expires,
		&maxTTL, &k.Rate.N, &ratePeriod, &lastUsed, &k.Uses, &k.Manage); err != nil {
		return core.Key{}, err
	}
	k.CreatedAt = fromMicros(created)
	k.ExpiresAt = fromNullMicros(expires)
	k.LastUsed = fromNullMicros(lastUsed)
	k.MaxTTL = time.Duration(maxTTL)
	k.Rate.Period = time.Duration(ratePeriod)
	return k, nil
}

// Times are stored as microseconds since the Unix epoch (the precision PostgreSQL
// keeps too); the zero time is stored as NULL where a column allows "never".

func micros(t time.Time) int64 { return t.UnixMicro() }

func nullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromNullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

// mapErr turns "no row" into core.ErrNotFound, a uniqueness violation into
// core.ErrConflict, and a value the schema refuses into core.ErrInvalid.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return core.ErrNotFound
	case isConflict(err):
		return fmt.Errorf("%w: %w", core.ErrConflict, err)
	case errors.Is(err, sqlite3.CONSTRAINT_CHECK), errors.Is(err, sqlite3.CONSTRAINT_NOTNULL):
		return fmt.Errorf("%w: %w", core.ErrInvalid, err)
	}
	return err
}

// classify wraps *err with core.ErrUnavailable when the store cannot serve right now:
// it is closed (the plugin is stopping), or another process held the write lock past
// the busy timeout. Every method of core.Store defers it on its error, so that such a
// call is answered "try again" rather than as an internal error.
func (s *Store) classify(err *error) {
	if *err == nil || errors.Is(*err, core.ErrUnavailable) {
		return
	}
	if s.closed.Load() || errors.Is(*err, sqlite3.BUSY) || errors.Is(*err, sql.ErrConnDone) {
		*err = fmt.Errorf("%w: %w", core.ErrUnavailable, *err)
	}
}

// isConflict reports whether err is a primary key or uniqueness violation.
func isConflict(err error) bool {
	return errors.Is(err, sqlite3.CONSTRAINT_PRIMARYKEY) || errors.Is(err, sqlite3.CONSTRAINT_UNIQUE)
}
