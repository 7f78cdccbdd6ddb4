package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// storeFiles are the suffixes of the files SQLite keeps beside the database (the
// write-ahead log and its shared-memory index), and of the key sentinel.
var storeFiles = []string{"", "-wal", "-shm", "-keys"}

// prepareFiles creates the store's directory (0700) when missing and its files (0600)
// before SQLite opens them, so that they never exist with a mode that lets other users
// read them; existing files that others could read are narrowed to 0600.
// A data directory that others can enter is worth a warning: the names of the files in
// it are visible, and files made there by other programs may not be protected.
func prepareFiles(path string, log *slog.Logger) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the store's directory %s: %w", dir, err)
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the store's directory is accessible to other users; chmod 700 it", "dir", dir, "mode", fi.Mode().Perm().String())
	}
	for _, suffix := range storeFiles {
		name := path + suffix
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
		switch {
		case errors.Is(err, fs.ErrPermission) && suffix != "":
			// Not ours to create (a read-only directory): SQLite says what it can do.
			continue
		case err != nil:
			return fmt.Errorf("opening the store file %s: %w", name, err)
		}
		fi, err := f.Stat()
		if err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := f.Chmod(0o600); err != nil {
				log.Warn("cannot make a store file private", "file", name, "err", err)
			}
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("opening the store file %s: %w", name, err)
		}
	}
	return nil
}
