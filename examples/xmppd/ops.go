package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// This file holds what an operator needs of xmppd beyond serving (issue 16): the log
// format and the lock that keeps two servers off one data directory.

// newLogger returns the server's logger: text or JSON lines on w at the configured
// level; Normalize has checked both.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	level, _ := parseLevel(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// LockFile is the file in the data directory that xmppd holds locked while it runs.
const LockFile = "xmppd.lock"

// dataLock is a held lock on a data directory.
type dataLock struct{ f *os.File }

// lockDataDir takes the data directory for this process: an exclusive flock on
// DIR/xmppd.lock, which holds the holder's process ID. A second server on the same
// directory (whose start would, for one, reset the demo administrator's password)
// fails at once, naming the process that holds it. The kernel drops the lock when the
// process ends, however it ends.
func lockDataDir(dir string) (*dataLock, error) {
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the data directory: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := io.ReadAll(io.LimitReader(f, 32)); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf(" (process %d)", pid)
			}
		}
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("the data directory %s is in use by another xmppd%s: stop it, or give this one another -data", dir, holder)
		}
		return nil, fmt.Errorf("locking the data directory: %w", err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dataLock{f: f}, nil
}

// unlock releases the lock; the file stays, so that the next start finds it.
func (l *dataLock) unlock() {
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	_ = l.f.Close()
}
