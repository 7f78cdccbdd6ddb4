package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// socketDirPrefix starts the name of each Load's own socket directory inside
// Config.SocketDir: "host-PID-RANDOM".
const socketDirPrefix = "host-"

// socketBase returns the directory for go-plugin's sockets, and whether it is a
// fresh one of this process alone (Close removes it then).
// A configured directory must be ours (ownDir); so must the default one, but when it
// is not (another local user made /tmp/invites-plugin-UID first, or a symbolic link
// stands there) the host does not stop: it makes a fresh private directory instead.
func socketBase(configured string, log *slog.Logger) (string, bool, error) {
	if configured != "" {
		if err := os.MkdirAll(configured, 0o700); err != nil {
			return "", false, fmt.Errorf("socket directory: %w", err)
		}
		if err := ownDir(configured); err != nil {
			return "", false, err
		}
		return configured, false, nil
	}
	var candidates []string
	if xdg := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(xdg) && ownDir(xdg) == nil {
		candidates = append(candidates, filepath.Join(xdg, "invites-plugin"))
	}
	candidates = append(candidates, filepath.Join(os.TempDir(), fmt.Sprintf("invites-plugin-%d", os.Getuid())))
	for _, dir := range candidates {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			log.Warn("cannot use the socket directory", "dir", dir, "err", err)
			continue
		}
		err := ownDir(dir)
		if err == nil {
			return dir, false, nil
		}
		log.Warn("not using the socket directory", "dir", dir, "err", err)
	}
	dir, err := os.MkdirTemp("", fmt.Sprintf("invites-plugin-%d-", os.Getuid()))
	if err != nil {
		return "", false, fmt.Errorf("socket directory: %w", err)
	}
	log.Info("using a private socket directory of this process", "dir", dir)
	return dir, true, nil
}

// ownDir checks that dir is a directory, not a symbolic link, that belongs to this
// process's user and that no one else may write.
func ownDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("socket directory %s is a symbolic link", dir)
	case !fi.IsDir():
		return fmt.Errorf("socket directory %s is not a directory", dir)
	case ok && int(st.Uid) != os.Getuid():
		return fmt.Errorf("socket directory %s belongs to another user (uid %d)", dir, st.Uid)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("socket directory %s is writable by others (mode %#o)", dir, fi.Mode().Perm())
	}
	return nil
}

// prepareSocketDir removes what hosts that are gone left in base, and returns a new
// directory of this Load's own inside it.
//
// Each Load gets a directory of its own, named after its process, so that no host
// ever looks at another live host's sockets: a socket just bound by a plugin that is
// starting (not listening yet) looks exactly like a dead one, and removing it would cut
// that plugin off. Directories of processes that no longer exist are removed whole.
func prepareSocketDir(base string, log *slog.Logger) (string, error) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return "", fmt.Errorf("socket directory: %w", err)
	}
	removed := 0
	for _, e := range entries {
		pid, ok := socketDirPID(e)
		if !ok || processAlive(pid) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(base, e.Name())); err == nil {
			removed++
		}
	}
	if removed > 0 {
		log.Info("removed the plugin sockets of hosts that are gone", "dir", base, "count", removed)
	}
	own, err := os.MkdirTemp(base, socketDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", fmt.Errorf("socket directory: %w", err)
	}
	return own, nil
}

// socketDirPID returns the process that owns a host socket directory.
func socketDirPID(e fs.DirEntry) (int, bool) {
	if !e.IsDir() || !strings.HasPrefix(e.Name(), socketDirPrefix) {
		return 0, false
	}
	digits, _, _ := strings.Cut(strings.TrimPrefix(e.Name(), socketDirPrefix), "-")
	pid, err := strconv.Atoi(digits)
	return pid, err == nil && pid > 0
}

// processAlive reports whether a process with that ID exists (of any user: a process
// that cannot be signalled exists too).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// removeStaleSockets removes the sockets in this Load's own directory that nobody
// listens on: those of its plugins that were killed (a SIGKILL leaves them).
// Only the Plugin's supervision starts plugins here, one at a time, so no socket in
// it belongs to a plugin still starting.
func removeStaleSockets(ctx context.Context, dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	removed := 0
	for _, e := range entries {
		if e.Type()&fs.ModeSocket == 0 {
			continue
		}
		path := filepath.Join(dir, e.Name())
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		var d net.Dialer
		c, err := d.DialContext(dctx, "unix", path)
		cancel()
		if err == nil {
			_ = c.Close()
			continue // a live plugin
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			continue // cannot tell: leave it
		}
		if err := os.Remove(path); err == nil {
			removed++
		}
	}
	return removed
}
