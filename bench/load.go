package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec says what one load run sends and how long it may last.
type loadSpec struct {
	// URL is the endpoint every request goes to.
	URL string
	// Method is GET when empty.
	Method string
	// Credential, when set, is sent as "Authorization: Bearer CREDENTIAL".
	Credential string
	// Host, when set, is the request's Host header (Prosody routes by it).
	Host string
	// Concurrency is the number of workers, each with one request in flight.
	Concurrency int
	// MaxRequests caps the requests sent; zero means no cap (then MaxDuration must be set).
	MaxRequests int
	// MaxDuration caps the run's length; zero means no cap (then MaxRequests must be set).
	MaxDuration time.Duration
	// RequestTimeout bounds each request; zero means 10 s.
	RequestTimeout time.Duration
	// Expect is the status that counts as a success; 0 means 201.
	Expect int
	// Tokens collects the invite token of each success (from its Location).
	Tokens bool
	// Events records when each request ended and how, for the fault runs.
	Events bool
}

// event is one request's outcome, for the fault runs.
type event struct {
	// At is when the answer arrived, from the run's start.
	At time.Duration
	// Status is the HTTP status, or 0 for a transport error.
	Status int
}

// loadResult is what one load run measured.
type loadResult struct {
	// Sent is the number of requests sent.
	Sent int
	// OK is the number answered with the expected status.
	OK int
	// Statuses counts the answers by HTTP status.
	Statuses map[int]int
	// NoRetryAfter counts 429 and 503 answers without a Retry-After header.
	NoRetryAfter int
	// TransportErrors counts requests without an HTTP answer.
	TransportErrors int
	// FirstError is the first transport error, for the report.
	FirstError error
	// Start is when the run began; event times count from it.
	Start time.Time
	// Elapsed is the run's wall time.
	Elapsed time.Duration
	// Latencies are every request's latency, sorted.
	Latencies []time.Duration
	// Tokens are the invite tokens of the successes, when asked for.
	Tokens []string
	// Events are the outcomes in order of arrival per worker, when asked for.
	Events []event
}

// Rate is successes per second.
func (r loadResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.OK) / r.Elapsed.Seconds()
}

// Unexpected counts the requests that did not get the expected status.
func (r loadResult) Unexpected() int { return r.Sent - r.OK }

// Percentile returns the latency below which the fraction q of requests fall
// (nearest rank on the sorted samples), or 0 when there are none.
func (r loadResult) Percentile(q float64) time.Duration {
	return percentile(r.Latencies, q)
}

// percentile is the nearest-rank percentile of sorted samples.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted))+0.999999999) - 1
	rank = min(max(rank, 0), len(sorted)-1)
	return sorted[rank]
}

// statusSummary formats the non-expected answers, such as "503×12 EOF×3".
func (r loadResult) statusSummary(expect int) string {
	var parts []string
	codes := make([]int, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		if c != expect {
			parts = append(parts, fmt.Sprintf("%d×%d", c, r.Statuses[c]))
		}
	}
	if r.TransportErrors > 0 {
		parts = append(parts, fmt.Sprintf("transport×%d", r.TransportErrors))
	}
	return strings.Join(parts, " ")
}

// newClient returns a keep-alive client for conc workers: every worker keeps its
// connection, and redirects are not followed.
func newClient(conc int) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConns:          2 * conc,
		MaxIdleConnsPerHost:   2 * conc,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// workerResult is what one worker gathered.
type workerResult struct {
	lat      []time.Duration
	statuses map[int]int
	terrs    int
	noRetry  int
	firstErr error
	tokens   []string
	events   []event
}

// runLoad drives spec.URL with spec.Concurrency workers until the request cap, the time
// cap or ctx ends it. Requests in flight when it ends are finished, each bounded by
// spec.RequestTimeout.
func runLoad(ctx context.Context, spec loadSpec) (loadResult, error) {
	if spec.Concurrency < 1 {
		return loadResult{}, fmt.Errorf("load: concurrency %d", spec.Concurrency)
	}
	if spec.MaxRequests <= 0 && spec.MaxDuration <= 0 {
		return loadResult{}, fmt.Errorf("load: neither a request cap nor a time cap")
	}
	if spec.Method == "" {
		spec.Method = http.MethodGet
	}
	if spec.Expect == 0 {
		spec.Expect = http.StatusCreated
	}
	if spec.RequestTimeout <= 0 {
		spec.RequestTimeout = 10 * time.Second
	}
	runCtx := ctx
	if spec.MaxDuration > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, spec.MaxDuration)
		defer cancel()
	}
	client := newClient(spec.Concurrency)
	defer client.CloseIdleConnections()

	var issued atomic.Int64
	results := make([]workerResult, spec.Concurrency)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range spec.Concurrency {
		wg.Go(func() {
			results[w] = worker(runCtx, client, spec, &issued, start)
		})
	}
	wg.Wait()
	res := loadResult{Start: start, Elapsed: time.Since(start), Statuses: map[int]int{}}
	for _, w := range results {
		res.Latencies = append(res.Latencies, w.lat...)
		for c, n := range w.statuses {
			res.Statuses[c] += n
		}
		res.TransportErrors += w.terrs
		res.NoRetryAfter += w.noRetry
		if res.FirstError == nil {
			res.FirstError = w.firstErr
		}
		res.Tokens = append(res.Tokens, w.tokens...)
		res.Events = append(res.Events, w.events...)
	}
	res.Sent = len(res.Latencies)
	res.OK = res.Statuses[spec.Expect]
	slices.Sort(res.Latencies)
	slices.SortFunc(res.Events, func(a, b event) int { return int(a.At - b.At) })
	return res, nil
}

// worker sends requests one after another on its keep-alive connection.
func worker(ctx context.Context, client *http.Client, spec loadSpec, issued *atomic.Int64, start time.Time) workerResult {
	wr := workerResult{statuses: map[int]int{}}
	for ctx.Err() == nil {
		if spec.MaxRequests > 0 && issued.Add(1) > int64(spec.MaxRequests) {
			break
		}
		// A request already sent is finished even when the run's time is up, so that
		// every invite created is seen.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), spec.RequestTimeout)
		t0 := time.Now()
		status, token, retry, err := doRequest(rctx, client, spec)
		lat := time.Since(t0)
		cancel()
		wr.lat = append(wr.lat, lat)
		if err != nil {
			wr.terrs++
			if wr.firstErr == nil {
				wr.firstErr = err
			}
		} else {
			wr.statuses[status]++
			if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && !retry {
				wr.noRetry++
			}
			if spec.Tokens && status == spec.Expect && token != "" {
				wr.tokens = append(wr.tokens, token)
			}
		}
		if spec.Events {
			wr.events = append(wr.events, event{At: time.Since(start), Status: status})
		}
	}
	return wr
}

// doRequest sends one request and reads the whole answer, so the connection is reused.
// It returns the status, the invite token in Location, and whether Retry-After was set.
func doRequest(ctx context.Context, client *http.Client, spec loadSpec) (status int, token string, retryAfter bool, err error) {
	req, err := http.NewRequestWithContext(ctx, spec.Method, spec.URL, nil)
	if err != nil {
		return 0, "", false, fmt.Errorf("building request: %w", err)
	}
	if spec.Credential != "" {
		req.Header.Set("Authorization", "Bearer "+spec.Credential)
	}
	if spec.Host != "" {
		req.Host = spec.Host
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", false, fmt.Errorf("request: %w", err)
	}
	_, cerr := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if cerr != nil {
		return 0, "", false, fmt.Errorf("reading body: %w", cerr)
	}
	return resp.StatusCode, tokenFromLocation(resp.Header.Get("Location")), resp.Header.Get("Retry-After") != "", nil
}

// tokenFromLocation takes the preauth token out of an invite's xmpp: URI, such as
// "xmpp:example.com?register;preauth=TOKEN"; "" when there is none.
func tokenFromLocation(loc string) string {
	_, rest, ok := strings.Cut(loc, "preauth=")
	if !ok {
		return ""
	}
	tok, _, _ := strings.Cut(rest, ";")
	tok, _, _ = strings.Cut(tok, "&")
	return tok
}
