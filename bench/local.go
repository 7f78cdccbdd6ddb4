package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/xmpp-invites/invites/internal/config"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/service"
	"github.com/xmpp-invites/invites/internal/store"
	"github.com/xmpp-invites/invites/plugin"
)

// benchDomain is the XMPP domain every run serves.
const benchDomain = "localhost"

// apiPath is where the invite API is mounted, in xmppd as in the in-process server.
const apiPath = "/invites_api"

// localServer is an HTTP server in this process on a loopback port.
type localServer struct {
	// URL is the invite endpoint.
	URL string
	srv *http.Server
	ln  net.Listener
	// done is closed when Serve has returned.
	done chan struct{}
	// closers run after the server has stopped, last first.
	closers []func() error
}

// serveLocal serves h on an ephemeral loopback port with the timeouts a public server
// would have.
func serveLocal(ctx context.Context, h http.Handler) (*localServer, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle(apiPath, h)
	s := &localServer{
		URL: "http://" + ln.Addr().String() + apiPath,
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       60 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Close stops the server, letting requests in flight finish for a while, then runs
// the closers.
func (s *localServer) Close(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if err != nil {
		err = errors.Join(fmt.Errorf("shutting down: %w", err), s.srv.Close())
	}
	<-s.done
	for i := len(s.closers) - 1; i >= 0; i-- {
		err = errors.Join(err, s.closers[i]())
	}
	return err
}

// ceilingHandler answers every request 201 with a Location, as the invite API does,
// and does nothing else: the most any handler can do on this machine.
func ceilingHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Location", "xmpp:"+benchDomain+"?register;preauth=AAAAAAAAAAAAAAAAAAAAAAAA")
		w.WriteHeader(http.StatusCreated)
	})
}

// inProcess is the plugin's serving side (internal/service: its mux, httpapi, the core,
// SQLite) mounted in this process: everything the plugin does but the process
// boundary, the same handler stack.
type inProcess struct {
	*localServer
	// Credential is an API key for benchDomain.
	Credential string
}

// startInProcess configures the plugin's service on dir (its SQLite store
// dir/invites.db, created if needed) with the plugin config xmppd gets, creates an API
// key, and serves it.
// Its log, audit records included, goes to dir/service.log at level (xmppd's default
// is info) in xmppd's format, so that both do the same work per invite.
func startInProcess(ctx context.Context, dir string, level slog.Level) (*inProcess, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "service.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("service log: %w", err)
	}
	svc := service.New(slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: level})))
	if _, err := svc.Configure(ctx, plugin.Config{Domains: []string{benchDomain}, DataDir: dir, ConfigTOML: pluginConfig}, nil); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("configuring the service: %w", err)
	}
	cred, err := createKey(ctx, filepath.Join(dir, config.StoreFile))
	if err != nil {
		_ = svc.Close(ctx)
		_ = logf.Close()
		return nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _ = svc.ServeHTTP(r.Context(), w, r) })
	ls, err := serveLocal(ctx, h)
	if err != nil {
		_ = svc.Close(ctx)
		_ = logf.Close()
		return nil, err
	}
	ls.closers = append(ls.closers, logf.Close, func() error { return svc.Close(context.WithoutCancel(ctx)) })
	return &inProcess{localServer: ls, Credential: cred}, nil
}

// createKey creates an API key for benchDomain in the store at path, as the key
// command line does.
func createKey(ctx context.Context, path string) (string, error) {
	st, err := store.Open(ctx, path, nil)
	if err != nil {
		return "", fmt.Errorf("opening store: %w", err)
	}
	defer st.Close()
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: benchDomain}}})
	if err != nil {
		return "", fmt.Errorf("core service: %w", err)
	}
	_, cred, err := svc.CreateKey(ctx, core.KeySpec{Host: benchDomain, Name: "bench"})
	if err != nil {
		return "", fmt.Errorf("creating key: %w", err)
	}
	return cred, nil
}
