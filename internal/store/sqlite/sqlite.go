package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"

	"github.com/xmpp-invites/invites/internal/core"
)

// Defaults used when an Options field is zero.
const (
	// DefaultBusyTimeout is how long a write waits for another process holding the lock.
	DefaultBusyTimeout = 10 * time.Second
	// DefaultMaxBatch bounds how many invites one group commit holds.
	DefaultMaxBatch = 256
	// DefaultCheckpointPages is the size of the write-ahead log, in pages (40 MiB), at
	// which the background checkpoint starts. A long log lets a checkpoint write back
	// each page once for many commits: new invites land on random pages of the token
	// index, and on a large store a short log would write back a page per invite.
	DefaultCheckpointPages = 10000
)

// Options configure a Store.
// The zero value is the documented default for every field.
type Options struct {
	// FullSync selects synchronous=FULL: every commit is fsynced, so it also survives
	// power loss. Default false: synchronous=NORMAL, which survives the process being
	// killed and is faster (about twice, with group commit, on a small machine).
	FullSync bool
	// BusyTimeout is how long a statement waits for a lock held by another process.
	// Zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// MaxReaders bounds the pooled read connections. Zero means max(4, GOMAXPROCS).
	MaxReaders int
	// MaxBatch bounds how many invites one group commit holds. Zero means
	// DefaultMaxBatch; 1 disables grouping.
	MaxBatch int
	// CheckpointPages is the write-ahead log size, in pages, from which a background
	// goroutine copies it back into the database file, so that commits never wait for
	// a checkpoint. Zero means DefaultCheckpointPages.
	CheckpointPages int
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
}

// Store is a core.Store in one SQLite file.
// It is safe for concurrent use, and several processes may open the same file.
type Store struct {
	w   *sql.DB // one connection, immediate transactions: all writes
	r   *sql.DB // pooled, read-only connections
	log *slog.Logger
	gc  *committer
	cp  *checkpointer

	// Statements on the hot paths, prepared once: preparing costs more than running.
	getKey, getInvite *sql.Stmt // on the readers
	consume, peek     *sql.Stmt // on the writer
}

var _ core.Store = (*Store)(nil)

// Open opens (creating if needed, with its parent directory) the SQLite database at path
// and applies pending migrations.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
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
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("sqlite: creating directory: %w", err)
		}
	}
	sync := "NORMAL"
	if opts.FullSync {
		sync = "FULL"
	}
	pragmas := []string{
		fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()),
		"journal_mode(WAL)",
		"synchronous(" + sync + ")",
		"foreign_keys(1)",
	}
	s := &Store{log: opts.Logger}
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
					opts.Logger.Warn("sqlite: checkpoint failed", "err", err)
				}
			case pages >= opts.CheckpointPages:
				s.cp.kick()
			}
			return nil
		})
		return nil
	}
	// The writer's page cache (32 MiB) holds the token index of a million invites,
	// which takes random inserts; a larger one costs more at every commit, when SQLite
	// sweeps it.
	if s.w, err = openDB(path, append(pragmas, "cache_size(-32768)"), "immediate", hook); err != nil {
		return nil, err
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err = migrate(ctx, s.w); err != nil {
		return nil, err
	}
	if s.r, err = openDB(path, append(pragmas, "cache_size(-16384)", "query_only(1)"), "deferred", nil); err != nil {
		return nil, err
	}
	cpDB, err := openDB(path, pragmas, "immediate", nil)
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
		err = fmt.Errorf("sqlite: opening %s: %w", path, err)
		return nil, err
	}
	var ins *sql.Stmt
	for _, p := range []struct {
		db    *sql.DB
		query string
		stmt  **sql.Stmt
	}{
		{s.w, insertInvite, &ins},
		{s.w, consumeInvite, &s.consume},
		{s.w, selectInvite, &s.peek},
		{s.r, selectInvite, &s.getInvite},
		{s.r, selectKey, &s.getKey},
	} {
		if *p.stmt, err = p.db.PrepareContext(ctx, p.query); err != nil {
			err = fmt.Errorf("sqlite: preparing: %w", err)
			return nil, err
		}
	}
	s.gc = newCommitter(s.w, ins, opts.MaxBatch, opts.Logger)
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
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	var inits []func(*sqlite3.Conn) error
	if init != nil {
		inits = append(inits, init)
	}
	db, err := driver.Open(u.String(), inits...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: opening %s: %w", path, err)
	}
	return db, nil
}

// Close finishes queued writes and closes the database.
// Closing twice is harmless.
func (s *Store) Close() error {
	s.gc.close()
	return s.closeDBs()
}

// closeDBs stops the checkpointer and closes every pool, the writer last so that
// SQLite checkpoints and removes the write-ahead log.
func (s *Store) closeDBs() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.getKey, s.getInvite, s.consume, s.peek} {
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
	return errors.Join(errs...)
}

// CreateKey implements core.Store.
func (s *Store) CreateKey(ctx context.Context, k core.Key) error {
	if k.ID == "" || k.Host == "" || len(k.SecretHash) == 0 {
		return fmt.Errorf("sqlite: creating key: %w: id, host and secret hash are required", core.ErrInvalid)
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO keys
		(id, host, name, secret_hash, created_at, expires_at, max_ttl, rate_n, rate_period, last_used, uses)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Host, k.Name, k.SecretHash, micros(k.CreatedAt), nullMicros(k.ExpiresAt),
		int64(k.MaxTTL), k.Rate.N, int64(k.Rate.Period), nullMicros(k.LastUsed), k.Uses)
	if err != nil {
		return fmt.Errorf("sqlite: creating key: %w", mapErr(err))
	}
	return nil
}

const keyColumns = `id, host, name, secret_hash, created_at, expires_at, max_ttl, rate_n, rate_period, last_used, uses`

const selectKey = `SELECT ` + keyColumns + ` FROM keys WHERE id = ?`

// Key implements core.Store.
func (s *Store) Key(ctx context.Context, id string) (core.Key, error) {
	row := s.getKey.QueryRowContext(ctx, id)
	k, err := scanKey(row)
	if err != nil {
		return core.Key{}, fmt.Errorf("sqlite: reading key: %w", mapErr(err))
	}
	return k, nil
}

// Keys implements core.Store.
func (s *Store) Keys(ctx context.Context, host string) ([]core.Key, error) {
	rows, err := s.r.QueryContext(ctx,
		`SELECT `+keyColumns+` FROM keys WHERE host = ? ORDER BY created_at, rowid`, host)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing keys: %w", err)
	}
	defer rows.Close()
	var out []core.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: listing keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: listing keys: %w", err)
	}
	return out, nil
}

// DeleteKey implements core.Store.
func (s *Store) DeleteKey(ctx context.Context, host, id string) error {
	res, err := s.w.ExecContext(ctx, `DELETE FROM keys WHERE id = ? AND host = ?`, id, host)
	if err != nil {
		return fmt.Errorf("sqlite: deleting key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: deleting key: %w", err)
	}
	if n == 0 {
		return core.ErrNotFound
	}
	return nil
}

// AddKeyUses implements core.Store, in one transaction.
func (s *Store) AddKeyUses(ctx context.Context, uses []core.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: recording key uses: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `UPDATE keys SET uses = uses + ?1,
		last_used = CASE WHEN ?2 IS NULL THEN last_used
			WHEN last_used IS NULL OR last_used < ?2 THEN ?2 ELSE last_used END
		WHERE id = ?3`)
	if err != nil {
		return fmt.Errorf("sqlite: recording key uses: %w", err)
	}
	defer stmt.Close()
	for _, u := range uses {
		if _, err := stmt.ExecContext(ctx, u.Count, nullMicros(u.LastUsed), u.ID); err != nil {
			return fmt.Errorf("sqlite: recording key uses: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: recording key uses: %w", err)
	}
	return nil
}

const inviteColumns = `token_hash, id, host, kind, username, inviter, allow_register, source, created_at, expires_at`

// CreateInvite implements core.Store.
// Concurrent calls share one commit (see the package documentation); each returns
// only after the commit that holds its invite.
// If ctx ends while the invite is queued it is not written; if it ends later, the
// invite may have been written although an error is returned.
func (s *Store) CreateInvite(ctx context.Context, inv core.Invite) error {
	if len(inv.TokenHash) == 0 || inv.Host == "" {
		return fmt.Errorf("sqlite: creating invite: %w: token hash and host are required", core.ErrInvalid)
	}
	if err := s.gc.submit(ctx, inv); err != nil {
		return fmt.Errorf("sqlite: creating invite: %w", err)
	}
	return nil
}

// insertInvite is the statement the committer runs for each invite.
// It inserts nothing when the token hash is taken: the caller then reports a conflict.
const insertInvite = `INSERT INTO invites (token_key, ` + inviteColumns + `)
	SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11
	WHERE NOT EXISTS (SELECT 1 FROM invites WHERE token_key = ?1 AND token_hash = ?2)`

// inviteArgs are insertInvite's arguments for inv.
func inviteArgs(inv core.Invite) []any {
	return []any{tokenKey(inv.TokenHash), inv.TokenHash, inv.ID, inv.Host, string(inv.Kind),
		inv.Username, inv.Inviter, inv.AllowRegister, inv.Source, micros(inv.CreatedAt), micros(inv.ExpiresAt)}
}

// tokenKey is the indexed part of a token hash: its first 8 bytes as an integer.
func tokenKey(tokenHash []byte) int64 {
	var b [8]byte
	copy(b[:], tokenHash)
	return int64(binary.BigEndian.Uint64(b[:]))
}

// errTaken is the error of an insert that found its token hash taken.
var errTaken = fmt.Errorf("%w: token hash exists", core.ErrConflict)

// selectInvite reads the invite with a token key and hash.
const selectInvite = `SELECT ` + inviteColumns + ` FROM invites WHERE token_key = ? AND token_hash = ?`

// consumeInvite deletes and returns an invite if it can register that username now.
const consumeInvite = `DELETE FROM invites
	WHERE token_key = ?4 AND token_hash = ?1 AND expires_at > ?2
	AND (username = '' OR username = ?3)
	AND (kind = 'account' OR (kind = 'contact' AND allow_register <> 0))
	RETURNING ` + inviteColumns

// Invite implements core.Store.
func (s *Store) Invite(ctx context.Context, tokenHash []byte) (core.Invite, error) {
	row := s.getInvite.QueryRowContext(ctx, tokenKey(tokenHash), tokenHash)
	inv, err := scanInvite(row)
	if err != nil {
		return core.Invite{}, fmt.Errorf("sqlite: reading invite: %w", mapErr(err))
	}
	return inv, nil
}

// ConsumeInvite implements core.Store with one conditional DELETE … RETURNING, so that
// of concurrent calls exactly one removes the row; when it removes nothing, a read in
// the same transaction says why.
func (s *Store) ConsumeInvite(ctx context.Context, tokenHash []byte, username string, now time.Time) (core.Invite, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return core.Invite{}, fmt.Errorf("sqlite: consuming invite: %w", err)
	}
	defer tx.Rollback()
	row := tx.StmtContext(ctx, s.consume).QueryRowContext(ctx, tokenHash, micros(now), username, tokenKey(tokenHash))
	inv, err := scanInvite(row)
	if err == nil {
		if err := tx.Commit(); err != nil {
			return core.Invite{}, fmt.Errorf("sqlite: consuming invite: %w", err)
		}
		return inv, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return core.Invite{}, fmt.Errorf("sqlite: consuming invite: %w", err)
	}
	row = tx.StmtContext(ctx, s.peek).QueryRowContext(ctx, tokenKey(tokenHash), tokenHash)
	inv, err = scanInvite(row)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return core.Invite{}, core.ErrNotFound
	case err != nil:
		return core.Invite{}, fmt.Errorf("sqlite: consuming invite: %w", err)
	case inv.Expired(now):
		return core.Invite{}, core.ErrExpired
	default:
		return core.Invite{}, core.ErrForbidden
	}
}

// DeleteExpiredInvites implements core.Store.
func (s *Store) DeleteExpiredInvites(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.w.ExecContext(ctx, `DELETE FROM invites WHERE expires_at <= ?`, micros(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: deleting expired invites: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: deleting expired invites: %w", err)
	}
	return n, nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanKey(sc scanner) (core.Key, error) {
	var (
		k                  core.Key
		created            int64
		expires, lastUsed  sql.NullInt64
		maxTTL, ratePeriod int64
	)
	if err := sc.Scan(&k.ID, &k.Host, &k.Name, &k.SecretHash, &created, &expires,
		&maxTTL, &k.Rate.N, &ratePeriod, &lastUsed, &k.Uses); err != nil {
		return core.Key{}, err
	}
	k.CreatedAt = fromMicros(created)
	k.ExpiresAt = fromNullMicros(expires)
	k.LastUsed = fromNullMicros(lastUsed)
	k.MaxTTL = time.Duration(maxTTL)
	k.Rate.Period = time.Duration(ratePeriod)
	return k, nil
}

func scanInvite(sc scanner) (core.Invite, error) {
	var (
		inv              core.Invite
		kind             string
		created, expires int64
	)
	if err := sc.Scan(&inv.TokenHash, &inv.ID, &inv.Host, &kind, &inv.Username, &inv.Inviter,
		&inv.AllowRegister, &inv.Source, &created, &expires); err != nil {
		return core.Invite{}, err
	}
	inv.Kind = core.Kind(kind)
	inv.CreatedAt = fromMicros(created)
	inv.ExpiresAt = fromMicros(expires)
	return inv, nil
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
	case errors.Is(err, sql.ErrNoRows):
		return core.ErrNotFound
	case isConflict(err):
		return fmt.Errorf("%w: %w", core.ErrConflict, err)
	case errors.Is(err, sqlite3.CONSTRAINT_CHECK), errors.Is(err, sqlite3.CONSTRAINT_NOTNULL):
		return fmt.Errorf("%w: %w", core.ErrInvalid, err)
	}
	return err
}

// isConflict reports whether err is a primary key or uniqueness violation.
func isConflict(err error) bool {
	return errors.Is(err, sqlite3.CONSTRAINT_PRIMARYKEY) || errors.Is(err, sqlite3.CONSTRAINT_UNIQUE)
}
