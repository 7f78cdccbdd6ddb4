package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
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
	http       string
	store      *accounts.Store
}

// demo prepares the zero-configuration demonstration: it gives admin@DOMAIN a new
// random password at every start (so the printed one always works; only its SCRAM
// credentials are stored), makes an API key with the plugin's command line on the
// first run and reuses it on the next ones, and prints both with a ready curl line.
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
	fmt.Fprintf(stdout, `
xmppd demo
  XMPP domain   %s
  Clients       %s (STARTTLS, %s)
  Admin JID     %s
  Password      %s   (%s)
  API key       %s   (%s)

Create an account invite:
  curl -i -H 'Authorization: Bearer %s' %s/invites_api

Redeem it with an XMPP client that supports invites (Conversations and its forks) by
opening the xmpp: URI from the Location header, or log in as the admin and use the
ad-hoc commands. Data lives in %s; stop with Ctrl-C.

`, cfg.Domain, loopbackIfUnspecified(env.c2s), cert, admin, password, what, key, keyNote, key, env.http, env.dataDir)
	return nil
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
