package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// adminUser and adminPassword are the administrator the harness creates in xmppd.
const (
	adminUser     = "admin"
	adminPassword = "bench-admin-password"
)

// xmppd is a running example XMPP server with the invites plugin.
type xmppd struct {
	bins binaries
	// DataDir is the server's data directory (-data).
	DataDir string
	// HTTPAddr and C2SAddr are the loopback addresses it listens on.
	HTTPAddr, C2SAddr string
	// URL is the invite endpoint.
	URL string
	cmd *exec.Cmd
	// exited is closed when the process has been waited for; err holds Wait's result.
	exited chan struct{}
	err    error
	logf   *os.File
}

// pluginConfig is the plugin's TOML config in every xmppd the harness starts: the
// failed-authentication budget of one client address is lifted (the default is 20 a
// minute), so that the bad-key run measures 403s rather than 429s. Nothing else differs
// from the defaults.
const pluginConfig = `[http]
failed_auth_rate = "1000000000/s"
`

// startXMPPD adds the administrator to the account store of dataDir (xmppd adduser),
// starts xmppd with the plugin on ephemeral loopback ports over dataDir, and waits
// until the invite API answers from the plugin (403 to a request without a key).
// Its log goes to dataDir/../NAME.log.
func startXMPPD(ctx context.Context, bins binaries, dataDir, name string) (*xmppd, error) {
	return startXMPPDWith(ctx, bins, dataDir, name, serverOptions{})
}

// serverOptions vary an xmppd the harness starts.
type serverOptions struct {
	// config is more top-level keys of the plugin's config (such as a store address).
	config string
	// logLevel is xmppd's -log-level; "" is its default, info.
	logLevel string
	// env is more of its environment.
	env []string
}

// startXMPPDWith is startXMPPD with options.
func startXMPPDWith(ctx context.Context, bins binaries, dataDir, name string, opts serverOptions) (*xmppd, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	base := filepath.Dir(dataDir)
	cfgFile := filepath.Join(base, "plugin.toml")
	if err := os.WriteFile(cfgFile, []byte(opts.config+pluginConfig), 0o600); err != nil {
		return nil, fmt.Errorf("plugin config: %w", err)
	}
	if err := addAdmin(ctx, bins, dataDir); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(filepath.Join(base, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("xmppd log: %w", err)
	}
	x := &xmppd{bins: bins, DataDir: dataDir, exited: make(chan struct{}), logf: logf}
	// Not CommandContext: the fault runs kill it themselves, and Stop ends it.
	args := []string{
		"-domain", benchDomain,
		"-data", dataDir,
		"-c2s", "127.0.0.1:0",
		"-http", "127.0.0.1:0",
		"-plugin", bins.Plugin,
		"-plugin-config", cfgFile,
		"-admin", adminUser + "@" + benchDomain,
	}
	if opts.logLevel != "" {
		args = append(args, "-log-level", opts.logLevel)
	}
	cmd := exec.Command(bins.XMPPD, args...)
	if opts.env != nil {
		cmd.Env = append(os.Environ(), opts.env...)
	}
	cmd.Stderr = logf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, fmt.Errorf("xmppd stdout: %w", err)
	}
	// Its own process group, so that whatever is left can be killed at the end.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting xmppd: %w", err)
	}
	x.cmd = cmd
	ready := make(chan [2]string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		readyLines(stdout, logf, ready)
	}()
	go func() {
		<-copied // Wait closes the pipe: read it all first
		x.err = cmd.Wait()
		close(x.exited)
	}()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case addrs := <-ready:
		x.C2SAddr, x.HTTPAddr = addrs[0], addrs[1]
	case <-x.exited:
		return nil, fmt.Errorf("xmppd exited before it was ready: %v (log: %s)", x.err, logf.Name())
	case <-tctx.Done():
		_ = x.Kill()
		return nil, fmt.Errorf("xmppd not ready within 30s (log: %s)", logf.Name())
	}
	x.URL = "http://" + x.HTTPAddr + apiPath
	if err := x.waitReady(ctx, 30*time.Second); err != nil {
		_ = x.Kill()
		return nil, fmt.Errorf("%w (log: %s)", err, logf.Name())
	}
	return x, nil
}

// readyLines copies xmppd's standard output to w and sends the c2s and HTTP addresses
// of its "xmppd ready: domain=D c2s=ADDR http=ADDR" line.
func readyLines(r io.Reader, w io.Writer, ready chan<- [2]string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(w, line)
		rest, ok := strings.CutPrefix(line, "xmppd ready:")
		if !ok {
			continue
		}
		var addrs [2]string
		for _, f := range strings.Fields(rest) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "c2s":
				addrs[0] = v
			case "http":
				addrs[1] = v
			}
		}
		select {
		case ready <- addrs:
		default:
		}
	}
	_, _ = io.Copy(w, r)
}

// addAdmin creates the administrator's account with xmppd adduser; an account left by
// an earlier start on the same data is kept.
func addAdmin(ctx context.Context, bins binaries, dataDir string) error {
	cmd := exec.CommandContext(ctx, bins.XMPPD, "-domain", benchDomain, "-data", dataDir,
		"adduser", adminUser+"@"+benchDomain, adminPassword)
	out, err := cmd.CombinedOutput()
	if err != nil && !strings.Contains(string(out), "already exists") {
		return fmt.Errorf("xmppd adduser: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// PID is the server's process ID.
func (x *xmppd) PID() int { return x.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (x *xmppd) Exited() bool {
	select {
	case <-x.exited:
		return true
	default:
		return false
	}
}

// waitReady polls the invite API until the plugin answers a keyless request with 403.
func (x *xmppd) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	last := "no answer"
	for {
		if x.Exited() {
			return fmt.Errorf("xmppd exited: %v", x.err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, x.URL, nil)
		if err != nil {
			return fmt.Errorf("readiness request: %w", err)
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusForbidden {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("xmppd not ready after %s: last answer %s", timeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PluginPID waits for the plugin process, a child of xmppd, other than skip.
func (x *xmppd) PluginPID(ctx context.Context, skip int, timeout time.Duration) (int, error) {
	return childNamed(ctx, x.PID(), filepath.Base(x.bins.Plugin), skip, timeout)
}

// StorePath finds the plugin's SQLite file under the data directory.
func (x *xmppd) StorePath() (string, error) {
	var found string
	err := filepath.WalkDir(x.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "invites.db" {
			found = p
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("looking for the plugin's store: %w", err)
	}
	if found == "" {
		return "", fmt.Errorf("no invites.db under %s", x.DataDir)
	}
	return found, nil
}

// CreateKey makes an API key with the invites-plugin command line against the plugin's
// data directory, while the server runs.
func (x *xmppd) CreateKey(ctx context.Context, name string) (string, error) {
	db, err := x.StorePath()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, x.bins.Plugin, "-data", filepath.Dir(db), "keys", "create", benchDomain, name)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("invites-plugin keys create: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	key := strings.TrimSpace(string(out))
	if !strings.Contains(key, "/") {
		return "", fmt.Errorf("invites-plugin keys create printed %q", key)
	}
	return key, nil
}

// Stop asks the server to stop (SIGTERM) and waits for it; see StopChecked.
func (x *xmppd) Stop(timeout time.Duration) error {
	_, err := x.StopChecked(timeout)
	return err
}

// StopChecked asks the server to stop (SIGTERM) and waits for it, killing its process
// group if it takes longer than timeout.
// It reports whether a process of the group (its plugin) was still there a second after
// the server exited; whatever is left is killed.
func (x *xmppd) StopChecked(timeout time.Duration) (left bool, err error) {
	defer x.logf.Close()
	if !x.Exited() {
		if err := x.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			x.killGroup()
			return false, fmt.Errorf("stopping xmppd: %w", err)
		}
	}
	select {
	case <-x.exited:
	case <-time.After(timeout):
		x.killGroup()
		<-x.exited
		return false, fmt.Errorf("xmppd did not stop within %s of SIGTERM", timeout)
	}
	deadline := time.Now().Add(time.Second)
	for x.groupAlive() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	left = x.groupAlive()
	x.killGroup()
	return left, nil
}

// groupAlive reports whether a live (not zombie) process remains in the server's group.
func (x *xmppd) groupAlive() bool {
	if syscall.Kill(-x.cmd.Process.Pid, 0) != nil {
		return false
	}
	// Kill(…, 0) also succeeds for zombies; look for a live member.
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return true
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		// state ppid pgrp …
		if len(f) >= 3 && f[2] == fmt.Sprint(x.cmd.Process.Pid) && f[0] != "Z" {
			return true
		}
	}
	return false
}

// Kill sends SIGKILL to the server alone.
func (x *xmppd) Kill() error {
	if err := x.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing xmppd: %w", err)
	}
	<-x.exited
	return nil
}

// killGroup kills whatever is left of the server's process group (a plugin whose host
// died), by its process group ID.
func (x *xmppd) killGroup() {
	_ = syscall.Kill(-x.cmd.Process.Pid, syscall.SIGKILL)
}

// RSS returns the peak RSS of the server and of its current plugin, in bytes.
func (x *xmppd) RSS(ctx context.Context) (host, plugin int64, err error) {
	host, err = peakRSS(x.PID())
	if err != nil {
		return 0, 0, err
	}
	pid, err := x.PluginPID(ctx, 0, time.Second)
	if err != nil {
		return host, 0, err
	}
	plugin, err = peakRSS(pid)
	return host, plugin, err
}
