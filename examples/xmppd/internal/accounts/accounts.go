package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"
	"mellium.im/xmpp/jid"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/scram"
	"github.com/xmpp-invites/invites/internal/username"
)

// Errors of the store.
var (
	// ErrExists means the name is taken, by an account or a pending registration.
	ErrExists = errors.New("accounts: account exists")
	// ErrNotFound means there is no such (active) account.
	ErrNotFound = errors.New("accounts: no such account")
	// ErrBadState means a State that cannot be set (see Store.SetState).
	ErrBadState = errors.New("accounts: an account is active, disabled or pending")
	// ErrOfflineFull means an account's offline messages fill their bound
	// (Options.MaxOffline).
	ErrOfflineFull = errors.New("accounts: the account's offline messages are full")
	// ErrInvalidJID means the address is not a valid bare JID with a localpart.
	ErrInvalidJID = errors.New("accounts: invalid account address")
	// ErrReserved means the name is one of Options.Reserved, which only the operator
	// creates (Add, Put), never a registration (Reserve).
	ErrReserved = errors.New("accounts: the name is reserved")
	// ErrLookalike means the name looks like another (see *LookalikeError).
	ErrLookalike = errors.New("accounts: the name looks like another")
)

// LookalikeError says which name a refused name looks like: an account's (active,
// or a registration in progress) or a reserved one. It matches ErrLookalike.
type LookalikeError struct {
	// Name is the localpart the refused name looks like.
	Name string
	// Reserved says Name is one of Options.Reserved rather than an account.
	Reserved bool
}

// Error implements error.
func (e *LookalikeError) Error() string {
	if e.Reserved {
		return "accounts: the name looks like the reserved name " + e.Name
	}
	return "accounts: the name looks like the existing name " + e.Name
}

// Unwrap makes errors.Is(err, ErrLookalike) hold.
func (e *LookalikeError) Unwrap() error { return ErrLookalike }

// Defaults of Options.
const (
	// DefaultBusyTimeout is how long a write waits for another process's lock.
	DefaultBusyTimeout = 10 * time.Second
	// PendingTTL is how long a pending registration may stay before it is
	// considered abandoned (a crash between Reserve and Activate).
	PendingTTL = 10 * time.Minute
	// DefaultMaxOffline is Options.MaxOffline when zero.
	DefaultMaxOffline = 100
)

// FileName is the name of the store's file in the data directory.
const FileName = "accounts.db"

// Options configure a Store; the zero value means the documented defaults.
type Options struct {
	// Iterations is the PBKDF2 count of new credentials.
	// Zero means scram.DefaultIterations.
	Iterations int
	// BusyTimeout bounds the wait for a lock held by another process (such as
	// "xmppd adduser" while the server runs). Zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxOffline bounds the messages kept for one account while it is offline
	// (StoreOffline). Zero means DefaultMaxOffline.
	MaxOffline int
	// Reserved are the localparts only the operator creates (xmppd: the configured
	// administrators' and reserved_names): Reserve refuses them and every name that
	// looks like one (the same skeleton, package username); Add and Put refuse only
	// the names that look like one without being it. Default none.
	Reserved []string
}

// Store is the account store.
// It is safe for concurrent use, and by several processes.
type Store struct {
	db       *sql.DB
	opts     Options
	reserved username.Set
}

// State is the state of an account as the server's administrators see it.
type State string

// The states of an account.
const (
	// StateNone: no such account (or only a registration in progress).
	StateNone State = "none"
	// StateActive: it can log in.
	StateActive State = "active"
	// StateDisabled: disabled by an administrator; it cannot log in.
	StateDisabled State = "disabled"
	// StatePending: waiting for an administrator's approval; it cannot log in.
	StatePending State = "pending"
)

// Account states in the state column. stateReserved is a registration in progress
// (Reserve), which holds the name but is no account yet.
const (
	stateActive   = 0
	stateReserved = 1
	stateDisabled = 2
	statePending  = 3
)

// inAccounts is the SQL condition of the rows that are accounts (in any State but
// StateNone), for the column state.
const inAccounts = `state IN (0, 2, 3)`

// stateColumn maps a State onto its column value.
func stateColumn(st State) (int, bool) {
	switch st {
	case StateActive:
		return stateActive, true
	case StateDisabled:
		return stateDisabled, true
	case StatePending:
		return statePending, true
	}
	return 0, false
}

// stateOf maps a column value onto its State.
func stateOf(col int) State {
	switch col {
	case stateActive:
		return StateActive
	case stateDisabled:
		return StateDisabled
	case statePending:
		return StatePending
	}
	return StateNone
}

// Normalize returns the canonical form of a bare JID with a localpart.
func Normalize(addr string) (string, error) {
	j, err := jid.Parse(addr)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidJID, err)
	}
	if j.Localpart() == "" || j.Resourcepart() != "" {
		return "", fmt.Errorf("%w: %q is not user@domain", ErrInvalidJID, addr)
	}
	return j.Bare().String(), nil
}

// Open opens (creating it and its directory if needed) the store at path.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if opts.Iterations == 0 {
		opts.Iterations = scram.DefaultIterations
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = DefaultBusyTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxOffline <= 0 {
		opts.MaxOffline = DefaultMaxOffline
	}
	reserved, err := username.NewSet(opts.Reserved...)
	if err != nil {
		return nil, fmt.Errorf("accounts: reserved name %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("accounts: creating directory: %w", err)
	}
	// The WAL holds credentials too: the files are private from the start. The
	// database file is made 0600 before SQLite opens it, its journal and WAL take its
	// mode (modeof), and the shared-memory file, which SQLite creates on its own, is
	// made beforehand.
	for _, p := range []string{path, path + "-shm"} {
		if err := createPrivate(p); err != nil {
			return nil, err
		}
	}
	q := url.Values{}
	q.Set("modeof", path)
	for _, p := range []string{
		fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()),
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"foreign_keys(1)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	db, err := driver.Open(u.String())
	if err != nil {
		return nil, fmt.Errorf("accounts: opening %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	// Idle connections stay open: the last one to close removes the shared-memory
	// file, which SQLite would then create again with the process's umask.
	db.SetMaxIdleConns(4)
	s := &Store{db: db, opts: opts, reserved: reserved}
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, err
	}
	return s, nil
}

// createPrivate creates the file p with mode 0600 if it does not exist, and makes an
// existing one 0600.
func createPrivate(p string) error {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("accounts: creating %s: %w", p, err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("accounts: restricting the mode of %s: %w", p, err)
	}
	return nil
}

// Close closes the store.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("accounts: closing: %w", err)
	}
	return nil
}

// migrate brings the schema to the current version.
func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("accounts: migrating: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("accounts: reading schema version: %w", err)
	}
	migrations := []struct {
		sql string
		// then runs after sql, in the same transaction.
		then func(ctx context.Context, tx *sql.Tx) error
	}{
		1: {sql: `
CREATE TABLE accounts (
	jid        TEXT PRIMARY KEY,
	state      INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE credentials (
	jid        TEXT NOT NULL REFERENCES accounts(jid) ON DELETE CASCADE,
	mechanism  TEXT NOT NULL,
	salt       BLOB NOT NULL,
	iterations INTEGER NOT NULL,
	stored_key BLOB NOT NULL,
	server_key BLOB NOT NULL,
	PRIMARY KEY (jid, mechanism)
) STRICT;`},
		2: {sql: `
CREATE TABLE roster (
	owner      TEXT NOT NULL REFERENCES accounts(jid) ON DELETE CASCADE,
	contact    TEXT NOT NULL,
	name       TEXT NOT NULL DEFAULT '',
	groups     TEXT NOT NULL DEFAULT '[]',
	sub_to     INTEGER NOT NULL DEFAULT 0,
	sub_from   INTEGER NOT NULL DEFAULT 0,
	ask        INTEGER NOT NULL DEFAULT 0,
	pending_in INTEGER NOT NULL DEFAULT 0,
	approved   INTEGER NOT NULL DEFAULT 0,
	listed     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (owner, contact)
) STRICT;
CREATE TABLE group_members (
	grp TEXT NOT NULL,
	jid TEXT NOT NULL REFERENCES accounts(jid) ON DELETE CASCADE,
	PRIMARY KEY (grp, jid)
) STRICT;`},
		// The skeleton of each name (package username), indexed: a new name is refused
		// when it looks like an existing one. Not unique: a store may hold lookalikes
		// made before this version.
		3: {sql: `
ALTER TABLE accounts ADD COLUMN skeleton TEXT NOT NULL DEFAULT '';
CREATE INDEX accounts_skeleton ON accounts (skeleton);`, then: fillSkeletons},
		// Account states beyond active and a registration in progress need no change
		// of the column (2 disabled, 3 pending approval); messages the server keeps
		// for an account that is offline (XEP-0160), in the order they came.
		4: {sql: `
CREATE TABLE offline (
	id         INTEGER PRIMARY KEY,
	owner      TEXT NOT NULL REFERENCES accounts(jid) ON DELETE CASCADE,
	stanza     BLOB NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX offline_owner ON offline (owner, id);`},
	}
	if version >= len(migrations) {
		return tx.Commit()
	}
	for v := version + 1; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v].sql); err != nil {
			return fmt.Errorf("accounts: migration %d: %w", v, err)
		}
		if then := migrations[v].then; then != nil {
			if err := then(ctx, tx); err != nil {
				return fmt.Errorf("accounts: migration %d: %w", v, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations)-1)); err != nil {
		return fmt.Errorf("accounts: setting schema version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("accounts: migrating: %w", err)
	}
	return nil
}

// fillSkeletons computes the skeleton of every account, for a store made before
// skeletons were kept. A change of username.Skeleton needs a migration that runs it
// again.
func fillSkeletons(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT jid FROM accounts`)
	if err != nil {
		return fmt.Errorf("reading accounts: %w", err)
	}
	var all []string
	for rows.Next() {
		var j string
		if err := rows.Scan(&j); err != nil {
			_ = rows.Close()
			return fmt.Errorf("reading accounts: %w", err)
		}
		all = append(all, j)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("reading accounts: %w", err)
	}
	for _, j := range all {
		if _, err := tx.ExecContext(ctx, `UPDATE accounts SET skeleton = ? WHERE jid = ?`, skeletonOf(j), j); err != nil {
			return fmt.Errorf("storing the skeleton of %s: %w", j, err)
		}
	}
	return nil
}

// skeletonOf returns what the skeleton column holds for a canonical bare JID: the
// skeleton of its localpart, at its domain.
func skeletonOf(bare string) string {
	local, domain, _ := strings.Cut(bare, "@")
	return username.Skeleton(local) + "@" + domain
}

// lookalikeQuery finds an account with the skeleton of a new name (1), other than the
// name (2), unless a registration (3) abandoned before (4); the index on skeleton
// answers it.
const lookalikeQuery = `SELECT jid FROM accounts WHERE skeleton = ? AND jid <> ?
	AND NOT (state = ? AND created_at < ?) LIMIT 1`

// checkName refuses a new name that looks like a reserved one or an account's, in
// the transaction that creates it (so that of two lookalikes registered at once one
// is refused); operator is the operator's own creation (Add, Put), which may make a
// reserved name itself. A registration in progress counts, unless abandoned (older
// than PendingTTL).
func (s *Store) checkName(ctx context.Context, tx *sql.Tx, bare string, operator bool) error {
	local, _, _ := strings.Cut(bare, "@")
	if r, ok := s.reserved.LooksLike(local); ok {
		switch {
		case r != local:
			return &LookalikeError{Name: r, Reserved: true}
		case !operator:
			return fmt.Errorf("%w: %s", ErrReserved, local)
		}
	}
	var other string
	err := tx.QueryRowContext(ctx, lookalikeQuery,
		skeletonOf(bare), bare, stateReserved, s.opts.Now().Add(-PendingTTL).Unix()).Scan(&other)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return fmt.Errorf("accounts: looking for names like %s: %w", bare, err)
	}
	name, _, _ := strings.Cut(other, "@")
	return &LookalikeError{Name: name}
}

// credentials derives the credentials of every mechanism for password.
// This is the slow part (PBKDF2); it runs outside any transaction.
func (s *Store) credentials(password string) ([]scram.Credential, error) {
	var out []scram.Credential
	for _, m := range scram.Mechanisms() {
		c, err := scram.NewCredential(m, password, s.opts.Iterations)
		if err != nil {
			return nil, fmt.Errorf("accounts: %w", err)
		}
		out = append(out, c)
	}
	return out, nil
}

// Add creates an active account, as the operator does (xmppd adduser): it returns
// ErrExists if the name is taken, and a *LookalikeError if it looks like an account's
// or a reserved name without being it.
func (s *Store) Add(ctx context.Context, addr, password string) error {
	return s.insert(ctx, addr, password, stateActive)
}

// Reserve claims the name for a registration in progress: a pending account that
// cannot log in until Activate. It returns ErrExists if the name is taken,
// ErrReserved if it is one of Options.Reserved, and a *LookalikeError if it looks
// like an account's or a reserved name.
func (s *Store) Reserve(ctx context.Context, addr, password string) error {
	return s.insert(ctx, addr, password, stateReserved)
}

// insert creates an account in state.
func (s *Store) insert(ctx context.Context, addr, password string, state int) error {
	bare, err := Normalize(addr)
	if err != nil {
		return err
	}
	creds, err := s.credentials(password)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("accounts: creating %s: %w", bare, err)
	}
	defer func() { _ = tx.Rollback() }()
	now := s.opts.Now()
	// An abandoned reservation does not hold the name forever.
	if _, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE jid = ? AND state = ? AND created_at < ?`,
		bare, stateReserved, now.Add(-PendingTTL).Unix()); err != nil {
		return fmt.Errorf("accounts: creating %s: %w", bare, err)
	}
	if err := s.checkName(ctx, tx, bare, state == stateActive); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (jid, state, created_at, skeleton) VALUES (?, ?, ?, ?)`,
		bare, state, now.Unix(), skeletonOf(bare)); err != nil {
		if isConstraint(err) {
			return fmt.Errorf("%w: %s", ErrExists, bare)
		}
		return fmt.Errorf("accounts: creating %s: %w", bare, err)
	}
	if err := putCredentials(ctx, tx, bare, creds); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("accounts: creating %s: %w", bare, err)
	}
	return nil
}

// putCredentials replaces the credentials of bare.
func putCredentials(ctx context.Context, tx *sql.Tx, bare string, creds []scram.Credential) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM credentials WHERE jid = ?`, bare); err != nil {
		return fmt.Errorf("accounts: storing credentials: %w", err)
	}
	for _, c := range creds {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO credentials (jid, mechanism, salt, iterations, stored_key, server_key) VALUES (?, ?, ?, ?, ?, ?)`,
			bare, c.Mechanism, c.Salt, c.Iterations, c.StoredKey, c.ServerKey); err != nil {
			return fmt.Errorf("accounts: storing credentials: %w", err)
		}
	}
	return nil
}

// Put sets the password of an active account, creating the account if needed (as
// Add does, refusing a lookalike). It reports whether it created it.
func (s *Store) Put(ctx context.Context, addr, password string) (created bool, err error) {
	bare, err := Normalize(addr)
	if err != nil {
		return false, err
	}
	creds, err := s.credentials(password)
	if err != nil {
		return false, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("accounts: setting password of %s: %w", bare, err)
	}
	defer func() { _ = tx.Rollback() }()
	var existed int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE jid = ?`, bare).Scan(&existed); err != nil {
		return false, fmt.Errorf("accounts: setting password of %s: %w", bare, err)
	}
	if existed == 0 {
		if err := s.checkName(ctx, tx, bare, true); err != nil {
			return false, err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO accounts (jid, state, created_at, skeleton) VALUES (?, ?, ?, ?)
		ON CONFLICT (jid) DO UPDATE SET state = excluded.state`, bare, stateActive, s.opts.Now().Unix(), skeletonOf(bare)); err != nil {
		return false, fmt.Errorf("accounts: setting password of %s: %w", bare, err)
	}
	if err := putCredentials(ctx, tx, bare, creds); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("accounts: setting password of %s: %w", bare, err)
	}
	return existed == 0, nil
}

// Password is what the store keeps of a password: its salted SCRAM credential for
// every mechanism. DerivePassword makes one, so that the slow part of a password
// change (PBKDF2) is done before anything is committed to it.
type Password struct {
	creds []scram.Credential
}

// DerivePassword derives what the store keeps of password, outside any transaction.
func (s *Store) DerivePassword(password string) (Password, error) {
	creds, err := s.credentials(password)
	if err != nil {
		return Password{}, err
	}
	return Password{creds: creds}, nil
}

// SetPassword replaces the credentials of the active account addr with p, in one
// transaction; ErrNotFound when there is no such active account.
func (s *Store) SetPassword(ctx context.Context, addr string, p Password) error {
	bare, err := Normalize(addr)
	if err != nil {
		return err
	}
	if len(p.creds) == 0 {
		return errors.New("accounts: no password derived")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("accounts: setting password of %s: %w", bare, err)
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE jid = ? AND state = ?`, bare, stateActive).Scan(&n); err != nil {
		return fmt.Errorf("accounts: setting password of %s: %w", bare, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, bare)
	}
	if err := putCredentials(ctx, tx, bare, p.creds); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("accounts: setting password of %s: %w", bare, err)
	}
	return nil
}

// Activate turns a registration in progress (Reserve) into an account in state st:
// StateActive, or StatePending for an account that waits for an administrator's
// approval.
func (s *Store) Activate(ctx context.Context, addr string, st State) error {
	bare, err := Normalize(addr)
	if err != nil {
		return err
	}
	col, ok := stateColumn(st)
	if !ok || st == StateDisabled {
		return fmt.Errorf("%w: a new account is active or pending, not %q", ErrBadState, st)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE accounts SET state = ? WHERE jid = ? AND state = ?`,
		col, bare, stateReserved)
	if err != nil {
		return fmt.Errorf("accounts: activating %s: %w", bare, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%w: no pending registration of %s", ErrNotFound, bare)
	}
	return nil
}

// Release drops a pending registration; an active account is left alone.
func (s *Store) Release(ctx context.Context, addr string) error {
	bare, err := Normalize(addr)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM accounts WHERE jid = ? AND state = ?`, bare, stateReserved); err != nil {
		return fmt.Errorf("accounts: releasing %s: %w", bare, err)
	}
	return nil
}

// Exists reports whether addr is an active account.
// An invalid address is simply not an account.
func (s *Store) Exists(ctx context.Context, addr string) (bool, error) {
	bare, err := Normalize(addr)
	if err != nil {
		return false, nil
	}
	var n int
	err = s.db.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE jid = ? AND state = ?`, bare, stateActive).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("accounts: looking up %s: %w", bare, err)
	}
	return n > 0, nil
}

// Credential returns the stored credential of an account for mechanism, or
// ErrNotFound; the account may be disabled or pending, which a login checks after
// the password (State), so that only who knows it learns why it cannot log in.
func (s *Store) Credential(ctx context.Context, addr, mechanism string) (scram.Credential, error) {
	bare, err := Normalize(addr)
	if err != nil {
		return scram.Credential{}, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	c := scram.Credential{Mechanism: mechanism}
	err = s.db.QueryRowContext(ctx, `SELECT c.salt, c.iterations, c.stored_key, c.server_key
		FROM credentials c JOIN accounts a ON a.jid = c.jid
		WHERE c.jid = ? AND c.mechanism = ? AND a.`+inAccounts, bare, mechanism).
		Scan(&c.Salt, &c.Iterations, &c.StoredKey, &c.ServerKey)
	if errors.Is(err, sql.ErrNoRows) {
		return scram.Credential{}, fmt.Errorf("%w: %s", ErrNotFound, bare)
	}
	if err != nil {
		return scram.Credential{}, fmt.Errorf("accounts: reading credential of %s: %w", bare, err)
	}
	return c, nil
}

// Delete removes an account (in any state, or a registration in progress) with its
// credentials, roster, group memberships and offline messages, and its items in
// other accounts' rosters, in one transaction; the name is free again. It returns
// the accounts whose rosters listed it, for their online sessions to be told, or
// ErrNotFound when there is no such account.
func (s *Store) Delete(ctx context.Context, addr string) (listedBy []string, err error) {
	bare, err := Normalize(addr)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("accounts: deleting %s: %w", bare, err)
	}
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.QueryContext(ctx, `SELECT owner FROM roster WHERE contact = ? AND owner <> ? ORDER BY owner`, bare, bare)
	if err != nil {
		return nil, fmt.Errorf("accounts: deleting %s: %w", bare, err)
	}
	for rows.Next() {
		var o string
		if err := rows.Scan(&o); err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("accounts: deleting %s: %w", bare, err)
		}
		listedBy = append(listedBy, o)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("accounts: deleting %s: %w", bare, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM roster WHERE contact = ?`, bare); err != nil {
		return nil, fmt.Errorf("accounts: deleting %s from rosters: %w", bare, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM accounts WHERE jid = ?`, bare)
	if err != nil {
		return nil, fmt.Errorf("accounts: deleting %s: %w", bare, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, bare)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("accounts: deleting %s: %w", bare, err)
	}
	return listedBy, nil
}

// State returns the state of the account addr: StateNone when there is none (an
// invalid address, or a registration still in progress, included).
func (s *Store) State(ctx context.Context, addr string) (State, error) {
	bare, err := Normalize(addr)
	if err != nil {
		return StateNone, nil
	}
	var col int
	err = s.db.QueryRowContext(ctx, `SELECT state FROM accounts WHERE jid = ?`, bare).Scan(&col)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return StateNone, nil
	case err != nil:
		return "", fmt.Errorf("accounts: looking up %s: %w", bare, err)
	}
	return stateOf(col), nil
}

// SetState makes the account addr active, disabled or pending, and returns its
// state before; ErrNotFound when there is no such account, ErrBadState for another
// state.
func (s *Store) SetState(ctx context.Context, addr string, st State) (before State, err error) {
	bare, err := Normalize(addr)
	if err != nil {
		return "", err
	}
	col, ok := stateColumn(st)
	if !ok {
		return "", fmt.Errorf("%w, not %q", ErrBadState, st)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("accounts: changing the state of %s: %w", bare, err)
	}
	defer func() { _ = tx.Rollback() }()
	var old int
	err = tx.QueryRowContext(ctx, `SELECT state FROM accounts WHERE jid = ? AND `+inAccounts, bare).Scan(&old)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("%w: %s", ErrNotFound, bare)
	case err != nil:
		return "", fmt.Errorf("accounts: changing the state of %s: %w", bare, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET state = ? WHERE jid = ?`, col, bare); err != nil {
		return "", fmt.Errorf("accounts: changing the state of %s: %w", bare, err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("accounts: changing the state of %s: %w", bare, err)
	}
	return stateOf(old), nil
}

// isConstraint reports whether err is a primary key or unique violation.
func isConstraint(err error) bool {
	return errors.Is(err, sqlite3.CONSTRAINT_PRIMARYKEY) || errors.Is(err, sqlite3.CONSTRAINT_UNIQUE)
}
