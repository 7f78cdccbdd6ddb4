package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// childEnv, when set in the environment, makes the bench binary serve instead of
// measuring: "ceiling" serves the bare 201 handler, "inprocess:DIR" serves the plugin's
// service (internal/service) on DIR/invites.db; "storecreate:PATH:N:DURATION" measures
// invite creation on the SQLite store at PATH and exits (see runStoreCreate).
// The servers compared with xmppd run in a process of their own, like xmppd, so that
// they do not share a Go runtime (scheduler, collector) with the load generator.
const childEnv = "INVITES_BENCH_SERVE"

// Child modes.
const (
	childCeiling   = "ceiling"
	childInProcess = "inprocess"
	// childInProcessWarn is childInProcess logging warnings and errors only (no audit
	// records), for the cost of a log record.
	childInProcessWarn = "inprocess-warn"
)

// serveChild runs the server childEnv names: it prints "ready URL [CREDENTIAL]" on
// stdout, serves until stdin is closed (the harness stops it, or has died), then stops.
func serveChild(ctx context.Context, mode string, stdin io.Reader, stdout io.Writer) error {
	kind, dir, _ := strings.Cut(mode, ":")
	if kind == childStoreCreate {
		// A measurement, not a server: it ends by itself.
		return runStoreCreate(ctx, dir, stdout)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	var url, cred string
	var closeFn func(context.Context) error
	switch kind {
	case childCeiling:
		s, err := serveLocal(ctx, ceilingHandler())
		if err != nil {
			return err
		}
		url, closeFn = s.URL, s.Close
	case childInProcess, childInProcessWarn:
		if dir == "" {
			return errors.New("inprocess: no directory")
		}
		level := slog.LevelInfo
		if kind == childInProcessWarn {
			level = slog.LevelWarn
		}
		s, err := startInProcess(ctx, dir, level)
		if err != nil {
			return err
		}
		url, cred, closeFn = s.URL, s.Credential, s.Close
	default:
		return fmt.Errorf("%s: unknown mode %q", childEnv, mode)
	}
	fmt.Fprintf(stdout, "ready %s %s\n", url, cred)
	<-ctx.Done()
	return closeFn(context.WithoutCancel(ctx))
}

// childServer is a server in a child process of the harness.
type childServer struct {
	// URL is the invite endpoint; Credential the API key, when the server has keys.
	URL, Credential string
	cmd             *exec.Cmd
	stdin           io.WriteCloser
	exited          chan struct{}
	err             error
	stderr          strings.Builder
}

// startChild runs this program again in the given child mode and waits until it serves.
func startChild(ctx context.Context, mode string) (*childServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program: %w", err)
	}
	c := &childServer{exited: make(chan struct{})}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	cmd.Stderr = &c.stderr
	if c.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("child stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("child stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s server: %w", mode, err)
	}
	c.cmd = cmd
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case ready <- sc.Text():
			default:
			}
		}
		c.err = cmd.Wait()
		close(c.exited)
	}()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case line := <-ready:
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "ready" {
			_ = c.Close()
			return nil, fmt.Errorf("%s server said %q", mode, line)
		}
		c.URL = f[1]
		if len(f) > 2 {
			c.Credential = f[2]
		}
		return c, nil
	case <-c.exited:
		return nil, fmt.Errorf("%s server exited: %v: %s", mode, c.err, strings.TrimSpace(c.stderr.String()))
	case <-tctx.Done():
		_ = c.Close()
		return nil, fmt.Errorf("%s server not ready: %w", mode, tctx.Err())
	}
}

// PID is the child's process ID.
func (c *childServer) PID() int { return c.cmd.Process.Pid }

// Close closes the child's stdin, which stops it, and waits; after 15 s it is killed.
func (c *childServer) Close() error {
	_ = c.stdin.Close()
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.exited
		return errors.New("child server did not stop within 15s")
	}
	if c.err != nil {
		return fmt.Errorf("child server: %w: %s", c.err, strings.TrimSpace(c.stderr.String()))
	}
	return nil
}
