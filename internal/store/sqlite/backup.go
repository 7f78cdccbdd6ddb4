package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/ncruces/go-sqlite3"
	"github.com/ncruces/go-sqlite3/driver"
)

// Summary says what a backup or a restored store holds.
type Summary struct {
	// Keys and Invites count the API keys and the invites (of any status).
	Keys, Invites int64
	// Schema is the version of the store's schema (see migrations).
	Schema int
	// Bytes is the size of the file.
	Bytes int64
}

// String describes s in the operator's words.
func (s Summary) String() string {
	return fmt.Sprintf("%d API keys, %d invites, schema version %d, %d bytes", s.Keys, s.Invites, s.Schema, s.Bytes)
}

// rawConn is the driver connection of ncruces' database/sql driver.
type rawConn interface{ Raw() *sqlite3.Conn }

// Backup writes a consistent copy of the store to path, a new file, while the store
// keeps serving: SQLite's online backup copies every page in one read transaction, so
// the copy holds exactly the writes committed before it began, and writers (in this
// process and in others) go on meanwhile. The copy is one self-contained file (rollback
// journal mode, no write-ahead log beside it), checked, synced, and readable by its
// owner only (0600). It is written beside path under a temporary name and linked into
// place once complete, so that a backup interrupted by a crash leaves no partial file
// under path; an existing path is refused, never overwritten.
func (s *Store) Backup(ctx context.Context, path string) (Summary, error) {
	if path == "" {
		return Summary{}, errors.New("no file name given for the backup")
	}
	if _, err := os.Lstat(path); err == nil {
		return Summary{}, fmt.Errorf("the backup file %s exists already: give a new file name (a backup never overwrites a file)", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Summary{}, fmt.Errorf("the backup file %s: %w", path, err)
	}
	if same, _ := sameFile(path, s.path); same {
		return Summary{}, fmt.Errorf("the backup file %s is the store itself", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return Summary{}, fmt.Errorf("creating the backup file: %w", err)
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer func() {
		for _, suffix := range []string{"", "-journal", "-wal", "-shm"} {
			_ = os.Remove(tmpName + suffix)
		}
	}()

	conn, err := s.r.Conn(ctx)
	if err != nil {
		return Summary{}, fmt.Errorf("backing up the store: %w", err)
	}
	err = conn.Raw(func(dc any) error {
		rc, ok := dc.(rawConn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		return rc.Raw().Backup("main", tmpName)
	})
	_ = conn.Close()
	if err != nil {
		return Summary{}, fmt.Errorf("backing up the store: %w", err)
	}
	sum, err := seal(ctx, tmpName)
	if err != nil {
		return Summary{}, err
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Summary{}, fmt.Errorf("the backup file %s appeared while the backup was taken: give a new file name", path)
		}
		return Summary{}, fmt.Errorf("placing the backup file: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return Summary{}, err
	}
	return sum, nil
}

// seal turns the fresh copy at path into one self-contained file (rollback journal
// mode), checks it, syncs it to disk and says what it holds.
func seal(ctx context.Context, path string) (Summary, error) {
	db, err := openRaw(path, "journal_mode(DELETE)", "synchronous(FULL)")
	if err != nil {
		return Summary{}, fmt.Errorf("checking the backup: %w", err)
	}
	sum, err := inspect(ctx, db, path)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("checking the backup: %w", cerr)
	}
	if err != nil {
		return Summary{}, err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err == nil {
		err = f.Sync()
		if fi, serr := f.Stat(); serr == nil {
			sum.Bytes = fi.Size()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return Summary{}, fmt.Errorf("syncing the backup: %w", err)
	}
	return sum, nil
}

// Restore replaces the SQLite store at path (made if missing, with its directory) by
// the backup in the file from, as Backup writes it: it checks that from is an intact
// store of invites, refuses a store that a process has open (a running server, a
// command line), and copies from into it with SQLite's backup API, in one transaction
// of the store's own: a restore that is interrupted leaves the store as it was.
// The copy is not migrated: the restored store is at the backup's schema version, and
// the server upgrades it when it starts, so that a backup taken before an upgrade can
// be restored for the earlier release to run on.
func Restore(ctx context.Context, from, path string) (Summary, error) {
	if from == "" || path == "" {
		return Summary{}, errors.New("restore needs the backup file and the store")
	}
	fi, err := os.Stat(from)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Summary{}, fmt.Errorf("the backup file %s does not exist", from)
	case err != nil:
		return Summary{}, fmt.Errorf("the backup file %s: %w", from, err)
	case !fi.Mode().IsRegular():
		return Summary{}, fmt.Errorf("the backup file %s is not a regular file", from)
	}
	if same, _ := sameFile(from, path); same {
		return Summary{}, fmt.Errorf("the backup file %s is the store itself", from)
	}
	if wal, err := os.Stat(from + "-wal"); err == nil && wal.Size() > 0 {
		return Summary{}, fmt.Errorf("the file %s has a write-ahead log beside it (%s-wal): it is a live store, not a backup; make a backup of it with invites-plugin backup and restore that", from, from)
	}
	// The backup, opened read-only as an immutable file: nothing is written beside it.
	src, err := openRawURI(fileURI(from, url.Values{"mode": {"ro"}, "immutable": {"1"}}))
	if err != nil {
		return Summary{}, fmt.Errorf("reading the backup file %s: %w", from, err)
	}
	sum, err := inspect(ctx, src, from)
	_ = src.Close()
	if err != nil {
		return Summary{}, err
	}
	sum.Bytes = fi.Size()
	if err := inUse(path); err != nil {
		return Summary{}, err
	}
	if err := prepareFiles(path, slog.New(slog.DiscardHandler)); err != nil {
		return Summary{}, err
	}
	dst, err := openRaw(path, "journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)")
	if err != nil {
		return Summary{}, openError(path, err)
	}
	defer dst.Close()
	conn, err := dst.Conn(ctx)
	if err != nil {
		return Summary{}, openError(path, err)
	}
	err = conn.Raw(func(dc any) error {
		rc, ok := dc.(rawConn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		return rc.Raw().Restore("main", fileURI(from, url.Values{"mode": {"ro"}, "immutable": {"1"}}))
	})
	_ = conn.Close()
	if err != nil {
		return Summary{}, fmt.Errorf("restoring %s into %s: %w", from, path, err)
	}
	if _, err := inspect(ctx, dst, path); err != nil {
		return Summary{}, err
	}
	return sum, nil
}

// inspect checks that db, read from the file name, is an intact store of invites and
// counts what it holds.
func inspect(ctx context.Context, db *sql.DB, name string) (Summary, error) {
	var sum Summary
	if err := quickCheck(ctx, db, name); err != nil {
		return sum, err
	}
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&sum.Schema)
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM keys`).Scan(&sum.Keys)
	}
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM invites`).Scan(&sum.Invites)
	}
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return sum, fmt.Errorf("%s is a SQLite database but not a store of invites (%w)", name, err)
		}
		return sum, openError(name, err)
	}
	return sum, nil
}

// openRaw opens path alone, with the pragmas, for the one connection of a backup or
// restore; files SQLite makes beside it take its mode.
func openRaw(path string, pragmas ...string) (*sql.DB, error) {
	q := url.Values{"modeof": {path}}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	return openRawURI(fileURI(path, q))
}

// openRawURI opens a pool of one connection on a file: URI.
func openRawURI(uri string) (*sql.DB, error) {
	db, err := driver.Open(uri)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// fileURI is the file: URI of path with the query q.
func fileURI(path string, q url.Values) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// sameFile reports whether a and b name one existing file.
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// syncDir makes a new name in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
