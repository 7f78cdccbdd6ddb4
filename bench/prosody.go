package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ncruces/go-sqlite3/driver"
)

// prosodyPackages are the Debian packages the Prosody run needs: Prosody 0.12,
// mod_invites_api (in prosody-modules) and the SQLite driver of LuaDBI.
var prosodyPackages = []string{"prosody", "prosody-modules", "lua-dbi-sqlite3"}

// prosodyUser is the account the Debian package creates; Prosody runs as it.
const prosodyUser = "prosody"

// prosody is a running Prosody 0.12 with mod_invites_api on SQLite, serving
// benchDomain on loopback ports.
type prosody struct {
	// Dir holds the config, the data (prosody.sqlite) and the log.
	Dir string
	// URL is the invite endpoint with the API key in its query, as mod_invites_api
	// takes it.
	URL string
	// Version is what prosodyctl says of itself (its first line).
	Version string
	cmd     *exec.Cmd
	cfg     string // the config file
	exited  chan struct{}
	err     error
	cred    *syscall.Credential
}

// ensureProsody installs Prosody's packages with apt-get when one is missing (as on a
// fresh CI machine), and says what it did.
func ensureProsody(ctx context.Context) (string, error) {
	missing := missingPackages(ctx, prosodyPackages)
	if len(missing) == 0 {
		return "installed already", nil
	}
	if os.Geteuid() != 0 {
		return "", fmt.Errorf("the packages %s are missing and installing them needs root", strings.Join(missing, " "))
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", fmt.Errorf("the packages %s are missing and there is no apt-get to install them", strings.Join(missing, " "))
	}
	install := func() error {
		args := append([]string{"install", "-y", "--no-install-recommends"}, missing...)
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install %s: %w: %s", strings.Join(missing, " "), err, lastLines(out, 5))
		}
		return nil
	}
	if err := install(); err != nil {
		// A machine that never updated its package lists knows no package yet.
		cmd := exec.CommandContext(ctx, "apt-get", "update")
		if out, uerr := cmd.CombinedOutput(); uerr != nil {
			return "", errors.Join(err, fmt.Errorf("apt-get update: %w: %s", uerr, lastLines(out, 5)))
		}
		if err := install(); err != nil {
			return "", err
		}
	}
	if still := missingPackages(ctx, prosodyPackages); len(still) > 0 {
		return "", fmt.Errorf("apt-get did not install %s", strings.Join(still, " "))
	}
	return "installed by the harness with apt-get: " + strings.Join(missing, " "), nil
}

// missingPackages returns the packages dpkg does not have installed.
func missingPackages(ctx context.Context, pkgs []string) []string {
	var missing []string
	for _, p := range pkgs {
		out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Status}", p).Output()
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "installed") {
			missing = append(missing, p)
		}
	}
	return missing
}

// lastLines returns the last n lines of out, for an error message.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// What a Prosody run serves besides mod_invites_api.
const (
	// prosodyAPI is mod_invites_api alone.
	prosodyAPI = iota
	// prosodyRegisterWeb adds web registration with invites
	// (mod_invites_register_web, and the modules it needs).
	prosodyRegisterWeb
)

// prosodyPasswordPolicy stands in for prosody-modules' mod_password_policy, which
// mod_invites_register_web needs and Debian's prosody-modules does not ship: a
// password of 8 characters or more passes, as with that module's default.
const prosodyPasswordPolicy = `-- Written by the invites bench: the least mod_invites_register_web needs.
local min_length = 8;
function get_policy() return { length = min_length }; end
function check_password(password)
	if #password < min_length then return nil, "Password is too short"; end
	return true;
end
`

// prosodyConfig is Prosody's config for the run: HTTP and c2s on loopback,
// mod_invites_api (and web registration, for prosodyRegisterWeb), SQLite storage in
// DIR/data, no s2s, no TLS.
func prosodyConfig(dir string, c2sPort, httpPort, variant int) string {
	modules := `"http", "invites", "invites_api"`
	if variant == prosodyRegisterWeb {
		modules += `, "invites_page", "invites_register", "invites_register_web", "register_apps", "password_policy"`
	}
	return fmt.Sprintf(`pidfile = %[1]q
data_path = %[2]q
plugin_paths = { %[7]q }
daemonize = false
admins = { }
modules_enabled = { %[8]s }
modules_disabled = { "s2s" }
c2s_ports = { %[3]d }
c2s_interfaces = { "127.0.0.1" }
s2s_ports = { }
http_ports = { %[4]d }
http_interfaces = { "127.0.0.1" }
https_ports = { }
storage = "sql"
sql = { driver = "SQLite3", database = "prosody.sqlite" }
log = { info = %[5]q }
VirtualHost %[6]q
`, filepath.Join(dir, "prosody.pid"), filepath.Join(dir, "data"), c2sPort, httpPort,
		filepath.Join(dir, "prosody.log"), benchDomain, filepath.Join(dir, "modules"), modules)
}

// startProsody makes a directory of its own under parent (owned by the prosody user,
// which must reach it), writes the config, creates an API key with prosodyctl, starts
// Prosody in the foreground as the prosody user, and waits until it serves HTTP.
func startProsody(ctx context.Context, parent string) (*prosody, error) {
	return startProsodyWith(ctx, parent, prosodyAPI)
}

// startProsodyWith is startProsody serving variant.
func startProsodyWith(ctx context.Context, parent string, variant int) (*prosody, error) {
	u, err := user.Lookup(prosodyUser)
	if err != nil {
		return nil, fmt.Errorf("looking up the %s user: %w", prosodyUser, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("the %s user's IDs: %w", prosodyUser, err)
	}
	dir, err := os.MkdirTemp(parent, "invites-bench-prosody-")
	if err != nil {
		return nil, fmt.Errorf("prosody directory: %w", err)
	}
	p := &prosody{Dir: dir, exited: make(chan struct{}),
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}}
	fail := func(err error) (*prosody, error) {
		_ = p.Close(false)
		return nil, err
	}
	for _, sub := range []string{"data", "modules"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o750); err != nil {
			return fail(fmt.Errorf("prosody directory: %w", err))
		}
	}
	policy := filepath.Join(dir, "modules", "mod_password_policy.lua")
	if err := os.WriteFile(policy, []byte(prosodyPasswordPolicy), 0o640); err != nil {
		return fail(fmt.Errorf("prosody module: %w", err))
	}
	c2sPort, err := freePort(ctx)
	if err != nil {
		return fail(err)
	}
	httpPort, err := freePort(ctx)
	if err != nil {
		return fail(err)
	}
	cfg := filepath.Join(dir, "prosody.cfg.lua")
	if err := os.WriteFile(cfg, []byte(prosodyConfig(dir, c2sPort, httpPort, variant)), 0o640); err != nil {
		return fail(fmt.Errorf("prosody config: %w", err))
	}
	p.cfg = cfg
	for _, f := range []string{dir, filepath.Join(dir, "data"), filepath.Join(dir, "modules"), policy, cfg} {
		if err := os.Chown(f, uid, gid); err != nil {
			return fail(fmt.Errorf("prosody directory: %w", err))
		}
	}
	if out, err := p.command(ctx, "prosodyctl", "--config", cfg, "about").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			// "Prosody 0.12.3", not a warning such as "Prosody was unable to find …".
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Prosody "); ok && v != "" && v[0] >= '0' && v[0] <= '9' {
				p.Version = v
				break
			}
		}
	}
	var stdout, stderr bytes.Buffer
	kc := p.command(ctx, "prosodyctl", "--config", cfg, "mod_invites_api", "create", benchDomain, "bench")
	kc.Stdout, kc.Stderr = &stdout, &stderr
	if err := kc.Run(); err != nil {
		return fail(fmt.Errorf("prosodyctl mod_invites_api create: %w: %s", err, lastLines(stderr.Bytes(), 3)))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	key := strings.TrimSpace(lines[len(lines)-1])
	if key == "" || strings.ContainsAny(key, " \t") {
		return fail(fmt.Errorf("prosodyctl mod_invites_api create printed %q", stdout.String()))
	}
	p.URL = fmt.Sprintf("http://127.0.0.1:%d%s?%s", httpPort, apiPath, url.Values{"key": {key}}.Encode())
	// Not CommandContext: stop ends it.
	p.cmd = p.command(context.WithoutCancel(ctx), "prosody", "--config", cfg)
	logf, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return fail(fmt.Errorf("prosody log: %w", err))
	}
	defer logf.Close()
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		p.cmd = nil
		return fail(fmt.Errorf("starting prosody: %w", err))
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	if err := p.waitReady(ctx, httpPort, 30*time.Second); err != nil {
		return fail(err)
	}
	return p, nil
}

// command runs a Prosody program as the prosody user in p.Dir.
func (p *prosody) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = p.Dir
	cmd.Env = append(os.Environ(), "HOME="+p.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Setpgid: true}
	return cmd
}

// waitReady polls Prosody's HTTP port until it answers (any status: a GET of / is
// 404), without creating an invite.
func (p *prosody) waitReady(ctx context.Context, port int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("prosody exited before it served: %v (log: %s)", p.err, filepath.Join(p.Dir, "prosody.log"))
		default:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
		if err != nil {
			return fmt.Errorf("prosody readiness request: %w", err)
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("prosody did not serve HTTP within %s (log: %s)", timeout, filepath.Join(p.Dir, "prosody.log"))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// PID is Prosody's process ID (the Lua interpreter running it).
func (p *prosody) PID() int { return p.cmd.Process.Pid }

// Close stops Prosody (SIGTERM, SIGKILL after 10 s) and removes its directory unless
// keep is set.
func (p *prosody) Close(keep bool) error {
	err := p.stop()
	if !keep {
		err = errors.Join(err, os.RemoveAll(p.Dir))
	}
	return err
}

func (p *prosody) stop() error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.exited
		return errors.New("prosody did not stop within 10 s of SIGTERM")
	}
	return nil
}

// reusableInvite creates an account invite with prosodyctl mod_invites generate and
// makes it reusable in Prosody's store, as Prosody's own reusable invites are (its
// command line has no way to ask for one), and returns its token.
func (p *prosody) reusableInvite(ctx context.Context) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := p.command(ctx, "prosodyctl", "--config", p.cfg, "mod_invites", "generate", benchDomain)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("prosodyctl mod_invites generate: %w: %s", err, lastLines(stderr.Bytes(), 3))
	}
	out := strings.TrimSpace(stdout.String())
	i := strings.LastIndexAny(out, "?=")
	if i < 0 {
		return "", fmt.Errorf("prosodyctl mod_invites generate printed %q", out)
	}
	token := out[i+1:]
	db, err := driver.Open("file:" + filepath.Join(p.Dir, "data", "prosody.sqlite"))
	if err != nil {
		return "", fmt.Errorf("opening Prosody's store: %w", err)
	}
	defer db.Close()
	res, err := db.ExecContext(ctx, `UPDATE prosody SET value = json_set(value, '$.reusable', json('true'))
		WHERE store = 'invite_token' AND key = ? AND type = 'json'`, token)
	if err != nil {
		return "", fmt.Errorf("making the invite reusable: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return "", fmt.Errorf("making the invite reusable: %d rows for token %q", n, token)
	}
	return token, nil
}
