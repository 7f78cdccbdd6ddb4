package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/xmpp-invites/invites/internal/httpapi"
	"github.com/xmpp-invites/invites/internal/core"
	"github.com/xmpp-invites/invites/internal/store"
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

// inProcess is the invite API mounted in this process over a core.Service on SQLite:
// everything the plugin does but the process boundary.
type inProcess struct {
	*localServer
	// Credential is an API key for benchDomain.
	Credential string
	// Service is the core the server uses, for checks.
	Service *core.Service
}

// startInProcess opens (creating if needed) the SQLite store dir/invites.db, creates an
// API key and serves httpapi over it.
// The failed-authentication limit is off, so that the bad-key path can be measured.
func startInProcess(ctx context.Context, dir string) (*inProcess, error) {
	st, err := store.Open(ctx, filepath.Join(dir, "invites.db"), nil)
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	svc, err := core.NewService(core.Options{Store: st, Hosts: []core.HostConfig{{Domain: benchDomain}}})
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("core service: %w", err)
	}
	_, cred, err := svc.CreateKey(ctx, core.KeySpec{Host: benchDomain, Name: "bench"})
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("creating key: %w", err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { svc.Run(runCtx) })
	h := httpapi.New(svc, httpapi.Options{FailedAuthRate: core.Rate{N: -1}})
	ls, err := serveLocal(ctx, h)
	if err != nil {
		stop()
		wg.Wait()
		_ = st.Close()
		return nil, err
	}
	ls.closers = append(ls.closers, st.Close, func() error {
		stop()
		wg.Wait()
		return nil
	})
	return &inProcess{localServer: ls, Credential: cred, Service: svc}, nil
}
