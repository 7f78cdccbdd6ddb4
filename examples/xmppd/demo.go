package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
)

// demoEnv is what the demo set-up needs of the running server.
type demoEnv struct {
	dataDir    string
	pluginPath string
	c2s        net.Addr
	http       string // the public base URL
	httpAddr   string // where the HTTP listener is reached from this machine
	page       bool   // the plugin serves the invite page
	store      *accounts.Store
	logger     *slog.Logger
}

// demoPluginConfig is the plugin's config in the demo when the operator gives none:
// the built-in invite page, whose success page tells how to reach the server.
func demoPluginConfig(cfg Config, c2s net.Addr) string {
	host, port, err := net.SplitHostPort(loopbackIfUnspecified(c2s))
	if err != nil {
		host, port = c2s.String(), "5222"
	}
	note := fmt.Sprintf("This is a demo server. In clients that ask: server %s, port %s. "+
		"Its certificate is self-signed: accept it when your client asks.", host, port)
	if cfg.TLSCert != "" {
		note = fmt.Sprintf("This is a demo server. In clients that ask: server %s, port %s.", host, port)
	}
	return fmt.Sprintf("landing_page = %q\n\n[page]\nsite_name = %q\nlogin_note = %q\n",
		"builtin", "xmppd demo ("+cfg.Domain+")", note)
}

// demo prepares the zero-configuration demonstration: it gives admin@DOMAIN a new
// random password at every start (so the printed one always works; only its SCRAM
// credentials are stored), makes an API key with the plugin's command line on the
// first run and reuses it on the next ones, creates an invite to try at once (its
// page, with the built-in page on), and prints them with a ready curl line.
func demo(ctx context.Context, cfg Config, env demoEnv, stdout io.Writer) error {
	admin := DemoAdmin + "@" + cfg.Domain
	secret := make([]byte, 15)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("making a password: %w", err)
	}
	password := base64.RawURLEncoding.EncodeToString(secret)
	created, err := env.store.Put(ctx, admin, password)
	if err != nil {
		return fmt.Errorf("setting up %s: %w", admin, err)
	}
	key, fresh, err := demoKey(ctx, env, cfg)
	if err != nil {
		return err
	}
	keyNote := "kept from an earlier run, in " + filepath.Join(env.dataDir, demoKeyFile)
	if fresh {
		keyNote = "new; kept in " + filepath.Join(env.dataDir, demoKeyFile) + " for the next runs"
	}
	what := "password reset for this run"
	if created {
		what = "account created"
	}
	cert := "self-signed certificate in " + env.dataDir + "/tls: accept it in your client"
	if cfg.TLSCert != "" {
		cert = cfg.TLSCert
	}
	try := "\n"
	if loc, err := demoInvite(ctx, env.httpAddr, key); err != nil {
		env.logger.Warn("demo: no invite to try", "err", err)
	} else if env.page {
		try = fmt.Sprintf(`
An invite to try now (one account): open it in a browser
  %s
Its page has a QR code to scan with a phone app that takes invites (Conversations,
Monal, Siskin …), an "open in app" button, and web registration for any other client.
%s`, loc, phoneHint(env.c2s, env.httpAddr))
	} else {
		try = fmt.Sprintf(`
An invite to try now (one account): open it with an XMPP client that takes invites
(Conversations and its forks, Monal, Siskin)
  %s
`, loc)
	}
	what2 := "its Location header is the invite's page"
	if !env.page {
		what2 = "its Location header is the invite's xmpp: URI"
	}
	fmt.Fprintf(stdout, `
xmppd demo
  XMPP domain   %s
  Clients       %s (STARTTLS, %s)
  Admin JID     %s
  Password      %s   (%s)
  API key       %s   (%s)
%s
Create more account invites (%s):
  curl -i -H 'Authorization: Bearer %s' %s/invites_api

Log in as the admin with any client to use the ad-hoc commands.
Data lives in %s; stop with Ctrl-C.

`, cfg.Domain, loopbackIfUnspecified(env.c2s), cert, admin, password, what, key, keyNote, try, what2, key, env.http, env.dataDir)
	return nil
}

// phoneHint tells how a phone reaches the demo: the flags that make xmppd listen
// where a phone can connect, on the ports it was given (c2s, and httpAddr, the HTTP
// listener's address).
func phoneHint(c2s net.Addr, httpAddr string) string {
	port := func(addr string) string {
		if _, p, err := net.SplitHostPort(addr); err == nil {
			return p
		}
		return addr
	}
	httpPort, c2sPort := port(httpAddr), port(c2s.String())
	return fmt.Sprintf("A phone reaches it when xmppd listens where the phone can connect:\n"+
		"  -http 0.0.0.0:%s -http-url http://THIS-MACHINE:%s -c2s 0.0.0.0:%s\n", httpPort, httpPort, c2sPort)
}

// demoInvite creates an account invite with the HTTP API at addr, as the curl line
// does, and returns its Location.
func demoInvite(ctx context.Context, addr, key string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/invites_api", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return "", fmt.Errorf("creating an invite: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		return "", fmt.Errorf("creating an invite: %s", resp.Status)
	}
	return loc, nil
}

// demoKeyFile is the file in the data directory that keeps the demo's API key, so
// that each run does not add another key that never expires.
const demoKeyFile = "demo-key"

// demoKey returns the demo's API key: the one an earlier run kept, if the store
// still has it, else a new one ("invites-plugin keys create DOMAIN demo"), which it
// keeps (mode 0600) for the next runs. fresh reports a new key.
func demoKey(ctx context.Context, env demoEnv, cfg Config) (key string, fresh bool, err error) {
	path := filepath.Join(env.dataDir, demoKeyFile)
	if b, err := os.ReadFile(path); err == nil {
		kept := strings.TrimSpace(string(b))
		id, _, ok := strings.Cut(kept, "/")
		if ok && id != "" {
			out, err := pluginCLI(ctx, env, cfg, "keys", "list", cfg.Domain)
			if err != nil {
				return "", false, err
			}
			for line := range strings.Lines(out) {
				if strings.HasPrefix(line, id+"\t") {
					return kept, false, nil
				}
			}
		}
	}
	out, err := pluginCLI(ctx, env, cfg, "keys", "create", cfg.Domain, "demo")
	if err != nil {
		return "", false, err
	}
	key = strings.TrimSpace(out)
	if !strings.Contains(key, "/") || strings.ContainsAny(key, " \n") {
		return "", false, fmt.Errorf("creating an API key: unexpected output %q", key)
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("keeping the demo key: %w", err)
	}
	return key, true, nil
}

// pluginCLI runs the plugin's command line on the store the plugin uses and returns
// what it prints.
func pluginCLI(ctx context.Context, env demoEnv, cfg Config, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	all := []string{"-data", env.dataDir}
	if cfg.PluginConfig != "" {
		all = append(all, "-config", cfg.PluginConfig)
	}
	all = append(all, args...)
	cmd := exec.CommandContext(ctx, env.pluginPath, all...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", env.pluginPath, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
