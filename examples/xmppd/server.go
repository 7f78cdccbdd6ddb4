package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/accounts"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/c2s"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/certs"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/connlimit"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/register"
	"github.com/xmpp-invites/invites/examples/xmppd/internal/roster"
	"github.com/xmpp-invites/invites/host"
	"github.com/xmpp-invites/invites/internal/clientaddr"
	"github.com/xmpp-invites/invites/internal/logthrottle"
	"github.com/xmpp-invites/invites/plugin"
)

// HTTP server bounds.
const (
	httpReadHeaderTimeout = 10 * time.Second
	httpReadTimeout       = 30 * time.Second
	httpWriteTimeout      = 60 * time.Second
	httpIdleTimeout       = 120 * time.Second
	httpMaxHeaderBytes    = 64 << 10
	shutdownTimeout       = 10 * time.Second
)

// serve runs the server until ctx ends.
func serve(ctx context.Context, cfg Config, stdout io.Writer, logger *slog.Logger) error {
	if cfg.Demo {
		admin := DemoAdmin + "@" + cfg.Domain
		if !slices.Contains(cfg.Admins, admin) {
			cfg.Admins = append(cfg.Admins, admin)
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating the data directory: %w", err)
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	checkDataDir(dataDir, logger)
	lock, err := lockDataDir(dataDir)
	if err != nil {
		return err
	}
	defer lock.unlock()
	pluginPath, err := cfg.pluginPath(exec.LookPath)
	if err != nil {
		return err
	}

	store, err := accounts.Open(ctx, filepath.Join(dataDir, accounts.FileName), accounts.Options{Logger: logger, Reserved: cfg.reservedNames()})
	if err != nil {
		return err
	}
	defer store.Close()
	warnAdminsWithoutAccount(ctx, cfg, store, logger)
	rosters, err := roster.New(store, cfg.Domain)
	if err != nil {
		return err
	}

	cert, err := loadCertificate(cfg, dataDir, logger)
	if err != nil {
		return err
	}

	var lc net.ListenConfig
	c2sLn, err := lc.Listen(ctx, "tcp", cfg.C2S)
	if err != nil {
		return fmt.Errorf("c2s listener: %w", err)
	}
	defer c2sLn.Close()
	httpLn, err := lc.Listen(ctx, "tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("http listener: %w", err)
	}
	defer httpLn.Close()
	httpURL := cfg.httpURL(httpLn.Addr())

	api := &hostAPI{domain: cfg.Domain, admins: cfg.Admins, accounts: store}
	pluginCfg := plugin.Config{
		Domains:     []string{cfg.Domain},
		HTTPBaseURL: httpURL,
		DataDir:     dataDir,
		ConfigFile:  cfg.PluginConfig,
	}
	if cfg.Demo && cfg.PluginConfig == "" {
		// The demo turns the invite page on; a plugin config of the operator's decides
		// for itself.
		pluginCfg.ConfigTOML = demoPluginConfig(cfg, c2sLn.Addr())
	}
	var inv invites
	metricsAllow, _ := cfg.metricsAllow() // checked by Validate
	inv, err = host.Load(ctx, host.Config{
		PluginPath:   pluginPath,
		Plugin:       pluginCfg,
		API:          api,
		Events:       true, // logins, ends of streams, accounts created and administered
		Logger:       logger,
		MetricsAllow: metricsAllow,
	})
	if err != nil {
		return fmt.Errorf("loading the invites plugin %s: %w", pluginPath, err)
	}
	defer inv.Close()

	// notify tells the plugin what happened; it queues, never waits.
	notify := func(ctx context.Context, t plugin.EventType, jid, lang string) {
		if err := inv.Notify(ctx, plugin.Event{Type: t, Host: cfg.Domain, JID: jid, Lang: lang}); err != nil {
			logger.Warn("cannot tell the invites plugin", "event", string(t), "jid", jid, "err", err)
		}
	}
	mode, _ := register.ParseMode(cfg.Registration)
	hooks := &inviteHooks{domain: cfg.Domain}
	reg, err := register.New(register.Config{
		Domain: cfg.Domain, Mode: mode, Invites: inv, Accounts: store,
		// The redemption the plugin holds is confirmed once the account exists.
		Created: func(ctx context.Context, account string, _ plugin.Invite) {
			notify(ctx, plugin.EventAccountCreated, account, "")
		},
		Welcome:                 hooks.welcome,
		MaxTokenFailuresPerAddr: cfg.MaxInvitationFailuresPerAddr,
		// A store failing every attempt (a full disk) logs once a minute, not per attempt.
		Logger: slog.New(logthrottle.New(logger.With("component", "register").Handler(), logthrottle.Options{MaxKinds: 64})),
	})
	if err != nil {
		return err
	}
	api.reg.Store(reg)
	cmdLog := logger.With("component", "adhoc")
	admin, err := newAdminCommands(api, notify, cmdLog)
	if err != nil {
		return err
	}
	commands := serverCommands{own: admin, plugin: inv, log: cmdLog}
	srv, err := c2s.New(c2s.Config{
		Domain:                cfg.Domain,
		TLS:                   &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		Credentials:           store,
		Registration:          reg,
		Roster:                rosters,
		Accounts:              store,
		Offline:               store,
		ContactInvites:        contactInvites{invites: inv},
		MaxStanzaSize:         cfg.MaxStanzaSize,
		MaxPendingPerAddr:     cfg.MaxUnauthenticatedPerAddr,
		MaxSessionsPerAccount: cfg.MaxSessionsPerAccount,
		MaxSessionsPerAddr:    cfg.MaxSessionsPerAddr,
		// Administrators log in whatever an account or an address has used.
		Unlimited: func(account jid.JID) bool { return slices.Contains(cfg.Admins, account.String()) },
		NewCommandHandler: func(ctx context.Context, requester jid.JID, remote net.Addr) c2s.CommandHandler {
			// Every command call carries the client's address, for the plugin's audit.
			base := plugin.WithClientAddr(ctx, remote.String())
			return adhoc.NewHandler(commands, cfg.Domain, requester, adhoc.HandlerOptions{
				BaseContext: func() context.Context { return base },
				Logger:      cmdLog.With("client", clientaddr.String(clientaddr.Key(clientaddr.Of(remote)))),
				Role:        api.role,
			})
		},
		OnLogin: func(ctx context.Context, full jid.JID, lang string) {
			notify(ctx, plugin.EventLogin, full.String(), lang)
		},
		OnStreamEnd: func(ctx context.Context, full jid.JID) {
			notify(ctx, plugin.EventStreamEnded, full.String(), "")
		},
		Logger: logger.With("component", "c2s"),
	})
	if err != nil {
		return err
	}
	hooks.srv = srv
	api.srv.Store(srv)

	mux := http.NewServeMux()
	inv.Mount(mux)
	inv.MountOperations(mux) // /metrics (metrics_allow), /healthz, /readyz
	// Bounded connections, in all and per client address.
	httpConns := connlimit.New(httpLn, connlimit.Options{
		MaxConns:        cfg.HTTPMaxConnections,
		MaxConnsPerAddr: cfg.HTTPMaxConnectionsPerAddr,
		Logger:          logger.With("component", "http"),
	})
	httpSrv := &http.Server{
		ConnState:         httpConns.ConnState,
		Handler:           mux,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ErrorLog:          slog.NewLogLogger(logger.With("component", "http").Handler(), slog.LevelWarn),
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ctx, c2sLn); err != nil {
			cancel(err)
		}
	})
	wg.Go(func() {
		if err := httpSrv.Serve(httpConns); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cancel(fmt.Errorf("http: %w", err))
		}
	})
	wg.Go(func() {
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer scancel()
		if err := httpSrv.Shutdown(sctx); err != nil {
			logger.Warn("stopping the HTTP server", "err", err)
		}
	})

	c2sAddr := c2sLn.Addr().String()
	logger.Info("xmppd started", "domain", cfg.Domain, "c2s", c2sAddr, "http", httpLn.Addr().String(),
		"registration", string(mode), "plugin", pluginPath, "data", dataDir,
		"accounts", filepath.Join(dataDir, accounts.FileName))
	if cfg.Demo {
		env := demoEnv{dataDir: dataDir, pluginPath: pluginPath, c2s: c2sLn.Addr(), http: httpURL,
			httpAddr: loopbackIfUnspecified(httpLn.Addr()), store: store, logger: logger,
			page: inv.Manifest().Serves(plugin.PathInvite)}
		if err := demo(ctx, cfg, env, stdout); err != nil {
			cancel(fmt.Errorf("demo setup: %w", err))
		}
	}
	fmt.Fprintf(stdout, "xmppd ready: domain=%s c2s=%s http=%s\n", cfg.Domain, c2sAddr, httpLn.Addr())

	<-ctx.Done()
	wg.Wait()
	logger.Info("xmppd stopped")
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// checkDataDir warns when other users may read the data directory: it holds the
// account credentials and the plugin's store.
func checkDataDir(dir string, logger *slog.Logger) {
	fi, err := os.Stat(dir)
	if err != nil {
		logger.Warn("cannot check the data directory's permissions", "dir", dir, "err", err)
		return
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		logger.Warn("the data directory is open to other users: make it private with chmod 700",
			"dir", dir, "mode", fmt.Sprintf("%#o", perm))
	}
}

// warnAdminsWithoutAccount warns about each configured administrator that has no
// account: registration refuses their names, so only the operator can create them.
func warnAdminsWithoutAccount(ctx context.Context, cfg Config, store *accounts.Store, logger *slog.Logger) {
	for _, a := range cfg.Admins {
		if cfg.Demo && a == DemoAdmin+"@"+cfg.Domain {
			continue // the demo creates it
		}
		ok, err := store.Exists(ctx, a)
		switch {
		case err != nil:
			logger.Warn("cannot check an administrator's account", "jid", a, "err", err)
		case !ok:
			logger.Warn("administrator has no account; create it with xmppd adduser (registration refuses this name)", "jid", a)
		}
	}
}

// loadCertificate returns the configured certificate or the self-signed one.
func loadCertificate(cfg Config, dataDir string, logger *slog.Logger) (tls.Certificate, error) {
	if cfg.TLSCert != "" {
		return certs.Load(cfg.TLSCert, cfg.TLSKey)
	}
	dir := filepath.Join(dataDir, "tls")
	cert, created, err := certs.SelfSigned(dir, []string{cfg.Domain}, time.Now())
	if err != nil {
		return tls.Certificate{}, err
	}
	if created {
		logger.Warn("generated a self-signed TLS certificate; clients must be told to accept it", "dir", dir)
	}
	return cert, nil
}
