package host_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xmpp-invites/invites/host"
	"github.com/xmpp-invites/invites/internal/service"
	"github.com/xmpp-invites/invites/plugin"
)

// BenchmarkCreateInvite creates invites over HTTP through the host and the real plugin
// binary, and through the plugin's serving side (internal/service) in this process on
// the same store, in the same run.
// The ratio metric is in-process time over plugin time: for "serial", one request at a
// time, a ratio of latencies; for "parallel", with 4×GOMAXPROCS clients at once, a
// ratio of throughputs.
//
//	go test ./host -run '^$' -bench CreateInvite -benchtime 3s
func BenchmarkCreateInvite(b *testing.B) {
	bin := pluginBinary(b)
	dataDir := b.TempDir()
	cred := newKey(b, dataDir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	p, err := host.Load(ctx, host.Config{
		PluginPath: bin,
		Plugin:     plugin.Config{Domains: []string{"localhost"}, DataDir: dataDir},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = p.Close() }()
	viaPlugin := httptest.NewServer(p.Handler())
	defer viaPlugin.Close()

	// In-process: the plugin's own serving side, the same handler stack, on the same
	// store, without the boundary.
	svc := service.New(nil)
	if _, err := svc.Configure(ctx, plugin.Config{Domains: []string{"localhost"}, DataDir: dataDir}, nil); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = svc.Close(ctx) }()
	inProcess := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = svc.ServeHTTP(r.Context(), w, r)
	}))
	defer inProcess.Close()

	// The two sides take turns, so that load from elsewhere on the machine hits both
	// alike; each side's time is accumulated on its own.
	b.Run("serial", func(b *testing.B) { benchSerial(b, viaPlugin, inProcess, cred) })
	b.Run("parallel", func(b *testing.B) { benchParallel(b, viaPlugin, inProcess, cred) })
}

// benchClient returns a client for srv keeping enough idle connections for the
// parallel case.
func benchClient(srv *httptest.Server) *http.Client {
	c := srv.Client()
	if t, ok := c.Transport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = 64
	}
	return c
}

// report records the mean time per invite of each side and the ratio of the plugin's
// throughput to in-process's (in-process time over plugin time).
func report(b *testing.B, pluginTime, inProcessTime time.Duration, n int) {
	p, q := float64(pluginTime)/float64(n), float64(inProcessTime)/float64(n)
	b.ReportMetric(p, "plugin-ns/invite")
	b.ReportMetric(q, "in-process-ns/invite")
	b.ReportMetric(q/p, "ratio")
}

// benchSerial creates b.N invites on each side, one at a time, alternating request by
// request: the ratio compares latencies.
func benchSerial(b *testing.B, viaPlugin, inProcess *httptest.Server, cred string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pc, ic := benchClient(viaPlugin), benchClient(inProcess)
	var pluginTime, inProcessTime time.Duration
	one := func(c *http.Client, srv *httptest.Server, sum *time.Duration) {
		start := time.Now()
		code, _, _, err := createInvite(ctx, c, srv.URL, cred)
		*sum += time.Since(start)
		if err != nil || code != http.StatusCreated {
			b.Fatalf("status %d, %v", code, err)
		}
	}
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			one(pc, viaPlugin, &pluginTime)
			one(ic, inProcess, &inProcessTime)
		} else {
			one(ic, inProcess, &inProcessTime)
			one(pc, viaPlugin, &pluginTime)
		}
		i++
	}
	report(b, pluginTime, inProcessTime, b.N)
}

// benchParallel creates b.N invites on each side with several clients at once, in
// rounds of a few hundred per side, alternating round by round: the ratio compares
// throughputs.
func benchParallel(b *testing.B, viaPlugin, inProcess *httptest.Server, cred string) {
	const round = 256
	workers := 4 * runtime.GOMAXPROCS(0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pc, ic := benchClient(viaPlugin), benchClient(inProcess)
	burst := func(c *http.Client, srv *httptest.Server, n int) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for next.Add(1) <= int64(n) {
					code, _, _, err := createInvite(ctx, c, srv.URL, cred)
					if err != nil || code != http.StatusCreated {
						b.Errorf("status %d, %v", code, err)
						return
					}
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	var pluginTime, inProcessTime time.Duration
	b.ResetTimer()
	for done, i := 0, 0; done < b.N; i++ {
		n := min(round, b.N-done)
		if i%2 == 0 {
			pluginTime += burst(pc, viaPlugin, n)
			inProcessTime += burst(ic, inProcess, n)
		} else {
			inProcessTime += burst(ic, inProcess, n)
			pluginTime += burst(pc, viaPlugin, n)
		}
		done += n
	}
	b.StopTimer()
	report(b, pluginTime, inProcessTime, b.N)
}
