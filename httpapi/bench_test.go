package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/xmpp-invites/invites/httpapi"
)

// benchParallelism is how many requesters per CPU the benchmarks run: a server's
// clients are many more than its cores, and concurrent invites share a commit.
const benchParallelism = 32

// benchmark runs parallel requests through h and reports requests per second; each
// request must answer want.
func benchmark(b *testing.B, h http.Handler, target, auth string, want int) {
	b.Helper()
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := n.Add(1)
		remote := fmt.Sprintf("192.0.2.%d:%d", i%250+1, 1000+i)
		for pb.Next() {
			r := httptest.NewRequestWithContext(context.Background(), http.MethodPost, target, nil)
			r.RemoteAddr = remote
			if auth != "" {
				r.Header.Set("Authorization", auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != want {
				b.Errorf("status %d, want %d: %s", rec.Code, want, rec.Body)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkCreate creates invites through the handler on SQLite, in parallel: each
// request authenticates, stores an invite durably and answers 201.
func BenchmarkCreate(b *testing.B) {
	f := newFixture(b)
	h := httpapi.New(f.svc, httpapi.Options{})
	benchmark(b, h, "/invites_api", "Bearer "+f.creds["good"], http.StatusCreated)
}

// BenchmarkCreateHTTP creates invites end to end: an HTTP client over loopback to a
// net/http server mounting the handler, with keep-alive connections.
func BenchmarkCreateHTTP(b *testing.B) {
	f := newFixture(b)
	srv := httptest.NewServer(httpapi.New(f.svc, httpapi.Options{}))
	defer srv.Close()
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	auth := "Bearer " + f.creds["good"]
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, srv.URL+"/invites_api", nil)
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Authorization", auth)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}

// BenchmarkRejectBadKey answers requests with a well-formed but unknown key: a store
// lookup and a hash comparison, then 403. The failed-authentication limit is off so
// that every request takes that path.
func BenchmarkRejectBadKey(b *testing.B) {
	f := newFixture(b)
	h := httpapi.New(f.svc, httpapi.Options{FailedAuthCount: -1})
	benchmark(b, h, "/invites_api", "Bearer "+f.creds["unknown"], http.StatusForbidden)
}

// BenchmarkRejectMalformedKey answers requests whose key is malformed: 403 without a
// store lookup.
func BenchmarkRejectMalformedKey(b *testing.B) {
	f := newFixture(b)
	h := httpapi.New(f.svc, httpapi.Options{FailedAuthCount: -1})
	benchmark(b, h, "/invites_api?key=not-a-key", "", http.StatusForbidden)
}

// BenchmarkRejectLimited answers clients whose failed-authentication budget is spent:
// 429 before any key is looked at.
func BenchmarkRejectLimited(b *testing.B) {
	f := newFixture(b)
	h := httpapi.New(f.svc, httpapi.Options{FailedAuthCount: 1, FailedAuthPeriod: 1 << 62})
	for i := range 250 { // spend the budget of every address benchmark uses
		r := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/invites_api?key="+f.creds["wrong"], nil)
		r.RemoteAddr = fmt.Sprintf("192.0.2.%d:1", i+1)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	benchmark(b, h, "/invites_api", "Bearer "+f.creds["wrong"], http.StatusTooManyRequests)
}

// BenchmarkCreateClient is BenchmarkCreateHTTP through the Client: a form body, the
// JSON invite asked for and decoded. Beside it, it tells what the client costs.
func BenchmarkCreateClient(b *testing.B) {
	f := newFixture(b)
	srv := httptest.NewServer(httpapi.New(f.svc, httpapi.Options{}))
	defer srv.Close()
	hc := srv.Client()
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	c, err := httpapi.NewClient(srv.URL+"/invites_api", f.creds["good"], hc)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if inv, err := c.Create(context.Background(), httpapi.CreateParams{Note: "bench"}); err != nil || inv.Token == "" {
				b.Errorf("%+v %v", inv, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
