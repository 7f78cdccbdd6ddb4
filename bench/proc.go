package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// binaries are the programs the harness builds.
type binaries struct {
	// XMPPD is the example XMPP server.
	XMPPD string
	// Plugin is invites-plugin.
	Plugin string
}

// moduleRoot returns the directory of the main module, where go build runs.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the invites module")
	}
	return filepath.Dir(gomod), nil
}

// buildBinaries builds xmppd and invites-plugin into dir with go build.
func buildBinaries(ctx context.Context, dir string) (binaries, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return binaries{}, err
	}
	b := binaries{XMPPD: filepath.Join(dir, "xmppd"), Plugin: filepath.Join(dir, "invites-plugin")}
	for _, t := range []struct{ out, pkg string }{
		{b.XMPPD, "./examples/xmppd"},
		{b.Plugin, "./cmd/invites-plugin"},
	} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", t.out, t.pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return binaries{}, fmt.Errorf("go build %s: %w\n%s", t.pkg, err, out)
		}
	}
	return b, nil
}

// openFileLimit returns the soft limit on open files of a process, from
// /proc/PID/limits ("unlimited" as is).
func openFileLimit(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	return "?"
}

// peakRSS returns the peak resident set size (VmHWM) of a process, in bytes.
func peakRSS(pid int) (int64, error) {
	return statusField(pid, "VmHWM:")
}

// statusField reads a "kB" field of /proc/PID/status, in bytes.
func statusField(pid int, name string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading status of %d: %w", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		f := strings.Fields(line[len(name):])
		if len(f) < 1 {
			break
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("status of %d: %s: %w", pid, name, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("status of %d: no %s", pid, name)
}

// children returns the pids whose parent is ppid, from /proc/*/stat.
func children(ppid int) ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("listing /proc: %w", err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if p, err := strconv.Atoi(f[1]); err == nil && p == ppid {
			out = append(out, pid)
		}
	}
	return out, nil
}

// processName returns the comm of a process.
func processName(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// childNamed waits until ppid has a child whose comm starts with name (the kernel
// cuts comm to 15 bytes) and is not one of skip, and returns its pid.
func childNamed(ctx context.Context, ppid int, name string, skip int, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if len(name) > 15 {
		name = name[:15]
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		kids, err := children(ppid)
		if err != nil {
			return 0, err
		}
		for _, k := range kids {
			if k != skip && processName(k) == name && alive(k) {
				return k, nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no %s child of %d: %w", name, ppid, ctx.Err())
		case <-tick.C:
		}
	}
}

// raiseFileLimit lifts this process's soft limit on open files to the hard limit
// (processes it starts inherit it) and returns the new limit.
func raiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return 0, fmt.Errorf("setrlimit: %w", err)
		}
	}
	return rl.Cur, nil
}

// userHZ is the unit of the CPU times in /proc/PID/stat: 100 per second on Linux
// whatever the kernel's tick (USER_HZ).
const userHZ = 100

// cpuTime returns the user plus system CPU time a process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading stat of %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat of %d: malformed", pid)
	}
	// After the comm: state(3) ppid(4) … utime(14) stime(15).
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("stat of %d: malformed", pid)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat of %d: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}
