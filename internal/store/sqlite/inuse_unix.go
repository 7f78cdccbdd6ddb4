//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// shmDMS is the byte of the shared-memory index (PATH-shm) on which every connection
// to a database in WAL mode holds a read lock for as long as it is open: SQLite's
// "dead man switch" (UNIX_SHM_DMS in SQLite's os_unix.c, _SHM_DMS in the driver's VFS).
const shmDMS = 128

// inUse fails when a process has the store at path open: a running server, or a
// command line at work. It asks the kernel whether a write lock on the shared-memory
// index's dead man switch would conflict with a lock someone holds; every release of
// invites (and the sqlite3 shell) holds one while it has the store open.
func inUse(path string) error {
	f, err := os.Open(path + "-shm")
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("checking whether the store %s is in use: %w", path, err)
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: shmDMS, Len: 1}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return fmt.Errorf("checking whether the store %s is in use: %w", path, err)
	}
	if lk.Type != syscall.F_UNLCK {
		return fmt.Errorf("the store %s is in use by a running server or command: stop the server first (systemctl stop invites), then restore, then start it again", path)
	}
	return nil
}
