package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The flood run of issue 26: bad-token requests to the invite page at floodRate a
// second, from floodAddrs loopback addresses, while a key creates invites at
// floodKeyConcurrency; the key's p99 must stay within floodGoal times its p99 without
// the flood.
const (
	nameFloodQuiet      = "key creating invites, page quiet"
	nameFloodLoud       = "key creating invites, page flooded"
	nameFlood           = "flood: bad-token page requests"
	floodRate           = 5000
	floodAddrs          = 64
	floodKeyConcurrency = 4
	floodGoal           = 2.0
)

// pageConfig turns the built-in invite page on.
const pageConfig = `landing_page = "builtin"` + "\n"

// runFlood measures the key's latency on a fresh xmppd with the page on, quiet, then
// under the flood.
func (h *harness) runFlood(ctx context.Context, rep *report) (err error) {
	x, key, err := h.startServerWith(ctx, h.bins, "flood", serverOptions{config: pageConfig})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.stopServer(rep, x, "xmppd (flood)")) }()
	spec := h.spec(x.URL, key, floodKeyConcurrency)
	quiet, err := h.measure(ctx, rep, nameFloodQuiet, orderFlood, spec)
	if err != nil {
		return err
	}
	rep.add(h.withRSS(ctx, quiet, x))
	fctx, stop := context.WithCancel(ctx)
	flooded := make(chan floodResult, 1)
	go func() { flooded <- flood(fctx, "http://"+x.HTTPAddr+"/invite?", floodRate, floodAddrs) }()
	loud, err := h.measure(ctx, rep, nameFloodLoud, orderFlood, spec)
	stop()
	fr := <-flooded
	if err != nil {
		return err
	}
	loud.Note = fmt.Sprintf("(beside %.0f bad-token requests/s: %s)", fr.rate(), statusList(fr.statuses))
	rep.add(h.withRSS(ctx, loud, x))
	rep.add(row{Run: nameFlood, Concurrency: floodAddrs, order: orderFlood, Expect: http.StatusNotFound,
		Result: loadResult{Sent: fr.sent, OK: fr.statuses[http.StatusNotFound], Statuses: fr.statuses, Elapsed: fr.elapsed},
		Note:   fmt.Sprintf("(aimed at %d/s from %d addresses; 429s are the page's budget of failed attempts per address)", floodRate, floodAddrs)})
	q, l := quiet.Result.Percentile(0.99), loud.Result.Percentile(0.99)
	r := ratio(float64(l), float64(q))
	rep.goal(fmt.Sprintf("the key's p99 under %d bad-token page requests/s ≤ %.0f× its quiet p99, concurrency %d", floodRate, floodGoal, floodKeyConcurrency),
		r > 0 && r <= floodGoal, fmt.Sprintf("%.2f× (%s vs %s; the flood reached %.0f/s)", r, ms(l), ms(q), fr.rate()))
	return nil
}

// floodResult is what a flood sent and got.
type floodResult struct {
	sent     int
	statuses map[int]int // 0: no answer
	elapsed  time.Duration
}

func (f floodResult) rate() float64 {
	if f.elapsed <= 0 {
		return 0
	}
	return float64(f.sent) / f.elapsed.Seconds()
}

// flood sends GETs of base followed by a random token of an invite's length, at rate
// a second, over addrs connections each from its own loopback address (127.0.1.N),
// until ctx ends. It is open-loop: a request is due every 1/rate s whether the earlier
// ones were answered or not; what the connections cannot take is dropped.
func flood(ctx context.Context, base string, rate, addrs int) floodResult {
	var next atomic.Uint32
	tr := &http.Transport{
		MaxConnsPerHost:     addrs,
		MaxIdleConnsPerHost: addrs,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			n := next.Add(1)
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+n%250))}}
			return d.DialContext(ctx, network, addr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	due := make(chan struct{}, addrs)
	var mu sync.Mutex
	res := floodResult{statuses: map[int]int{}}
	var wg sync.WaitGroup
	for range addrs {
		wg.Go(func() {
			b := make([]byte, 27)
			for range due {
				_, _ = rand.Read(b)
				code := 0
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+base64.RawURLEncoding.EncodeToString(b), nil)
				if err == nil {
					if resp, err := client.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						_ = resp.Body.Close()
						code = resp.StatusCode
					}
				}
				if ctx.Err() != nil && code == 0 {
					continue // stopped, not failed
				}
				mu.Lock()
				res.sent++
				res.statuses[code]++
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	t := time.NewTicker(time.Millisecond)
	sent := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case now := <-t.C:
			for want := int(now.Sub(start).Seconds() * float64(rate)); sent < want; sent++ {
				select {
				case due <- struct{}{}:
				default: // every connection busy: dropped
				}
			}
		}
	}
	t.Stop()
	close(due)
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}
