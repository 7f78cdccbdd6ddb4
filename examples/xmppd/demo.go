package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os/exec"
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
// credentials are stored), creates a fresh API key with the plugin's command line,
// and prints both with a ready curl line.
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
	key, err := createKey(ctx, env, cfg)
	if err != nil {
		return err
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
  API key       %s   (new for this run; shown only here)

Create an account invite:
  curl -i -H 'Authorization: Bearer %s' %s/invites_api

Redeem it with an XMPP client that supports invites (Conversations and its forks) by
opening the xmpp: URI from the Location header, or log in as the admin and use the
ad-hoc commands. Data lives in %s; stop with Ctrl-C.

`, cfg.Domain, loopbackIfUnspecified(env.c2s), cert, admin, password, what, key, key, env.http, env.dataDir)
	return nil
}

// createKey runs "invites-plugin keys create DOMAIN demo" on the store the plugin
// uses and returns the key it prints.
func createKey(ctx context.Context, env demoEnv, cfg Config) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	args := []string{"-data", env.dataDir}
	if cfg.PluginConfig != "" {
		args = append(args, "-config", cfg.PluginConfig)
	}
	args = append(args, "keys", "create", cfg.Domain, "demo")
	cmd := exec.CommandContext(ctx, env.pluginPath, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("creating an API key with %s: %w: %s", env.pluginPath, err, strings.TrimSpace(stderr.String()))
	}
	key := strings.TrimSpace(string(out))
	if !strings.Contains(key, "/") || strings.ContainsAny(key, " \n") {
		return "", fmt.Errorf("creating an API key: unexpected output %q", key)
	}
	return key, nil
}
