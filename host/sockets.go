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
	"strings"
	"syscall"
	"time"
)

// prepareSocketDir makes dir, go-plugin's socket directory, if missing (0700), checks
// that it is a directory of ours that others cannot write, and removes the sockets in it
// that nobody listens on: those of plugins that were killed (a SIGKILL leaves them).
// Sockets of live plugins, of this host or another, stay.
func prepareSocketDir(ctx context.Context, dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("socket directory %s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return fmt.Errorf("socket directory %s belongs to another user", dir)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("socket directory %s is writable by others", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	removed := 0
	for _, e := range entries {
		if e.Type()&fs.ModeSocket == 0 || !strings.HasPrefix(e.Name(), "plugin") {
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
		if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, fs.ErrNotExist) {
			continue // cannot tell: leave it
		}
		if err := os.Remove(path); err == nil {
			removed++
		}
	}
	if removed > 0 {
		log.Info("removed stale plugin sockets", "dir", dir, "count", removed)
	}
	return nil
}
