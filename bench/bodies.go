package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The body flood of issue 21 (HIGH): concurrent POSTs of large bodies, without a key,
// to xmppd's invite API, in three ways: with a Content-Length, chunked as fast as the
// connection takes it, and chunked a little at a time. Both processes must stay within
// bodyGrowthBound of their resident set before, and the plugin must be back near its
// own within bodySettle.
const (
	bodyFloodClients = 64
	bodyFloodBytes   = 15 << 20
	bodyGrowthBound  = 64 << 20
	// bodyNear is how close to its resident set before the first flood the plugin
	// must come back.
	bodyNear   = 4 << 20
	bodySettle = time.Minute
	// trickleChunk and trickleEvery are how a trickled body arrives.
	trickleChunk = 4 << 10
	trickleEvery = 20 * time.Millisecond
)

// The ways the flood sends its bodies.
const (
	modeLength   = "with Content-Length"
	modeChunked  = "chunked"
	modeTrickled = "trickled"
)

// faultBodies floods a fresh xmppd with large bodies in each mode, one mode after the
// other, and checks both processes' resident sets (VmRSS, sampled every 50 ms).
func (h *harness) faultBodies(ctx context.Context, rep *report) (err error) {
	const name = "fault: 64 × 15 MB bodies, no key"
	x, _, err := h.startServer(ctx, "bodies")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.stopServer(rep, x, "xmppd (bodies)")) }()
	pid, err := x.PluginPID(ctx, 0, 5*time.Second)
	if err != nil {
		return err
	}
	pluginStart, _ := statusField(pid, "VmRSS:")
	for _, mode := range []string{modeLength, modeChunked, modeTrickled} {
		hostBase, _ := statusField(x.PID(), "VmRSS:")
		pluginBase, _ := statusField(pid, "VmRSS:")
		stop := make(chan struct{})
		peaks := make(chan [2]int64, 1)
		go func() {
			var peak [2]int64
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				for i, p := range []int{x.PID(), pid} {
					if v, err := statusField(p, "VmRSS:"); err == nil {
						peak[i] = max(peak[i], v)
					}
				}
				select {
				case <-stop:
					peaks <- peak
					return
				case <-t.C:
				}
			}
		}()
		start := time.Now()
		statuses := bodyFlood(ctx, x.HTTPAddr, bodyFloodClients, bodyFloodBytes, mode)
		took := time.Since(start)
		close(stop)
		peak := <-peaks
		// Back near the resident set before the first flood, within bodySettle.
		settled, after := time.Duration(-1), int64(0)
		for t0 := time.Now(); time.Since(t0) < bodySettle; {
			if after, _ = statusField(pid, "VmRSS:"); after <= pluginStart+bodyNear {
				settled = time.Since(t0)
				break
			}
			if err := sleep(ctx, 500*time.Millisecond); err != nil {
				return err
			}
		}
		detail := fmt.Sprintf("%s in %s; xmppd %s → peak %s, plugin %s → peak %s, %s %s after",
			statusList(statuses), took.Round(time.Millisecond), mib1(hostBase), mib1(peak[0]), mib1(pluginBase), mib1(peak[1]),
			mib1(after), settled.Round(100*time.Millisecond))
		h.logf("%s, %s: %s", name, mode, detail)
		// 413 past the route's limit, or 503 past the bytes in flight: refused either
		// way before the body reaches the plugin whole.
		refused := statuses[http.StatusRequestEntityTooLarge] + statuses[http.StatusServiceUnavailable]
		ok := refused == bodyFloodClients &&
			peak[0]-hostBase <= bodyGrowthBound && peak[1]-pluginBase <= bodyGrowthBound && settled >= 0
		rep.check(fmt.Sprintf("%s, %s: every answer 413 (or 503 past the bytes in flight), each process within +%s of its resident set, the plugin back within %s of its first in %s",
			name, mode, mib1(bodyGrowthBound), mib1(bodyNear), bodySettle), ok, detail)
		rep.add(row{Run: name + ", " + mode, Concurrency: bodyFloodClients, Expect: http.StatusRequestEntityTooLarge,
			Result:  loadResult{Sent: bodyFloodClients, OK: refused, Statuses: statuses, Elapsed: took},
			HostRSS: peak[0], PluginRSS: peak[1], order: orderFaults,
			Note: fmt.Sprintf("(VmRSS before %s / %s; plugin %s after)", mib1(hostBase), mib1(pluginBase), mib1(after))})
	}
	return nil
}

// bodyFlood sends n requests of size bytes at once to the invite API at addr, in mode,
// each on a connection of its own, and counts the answers by status (0: none).
func bodyFlood(ctx context.Context, addr string, n, size int, mode string) map[int]int {
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			code := postBody(ctx, addr, size, mode)
			mu.Lock()
			statuses[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return statuses
}

// postBody sends one POST of size bytes in mode, reading the answer as it comes (it
// may come before the body's end), and returns its status, or 0.
func postBody(ctx context.Context, addr string, size int, mode string) int {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Minute))
	head := "POST " + apiPath + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"
	if mode == modeLength {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n", size)
	} else {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	}
	go func() {
		w := bufio.NewWriterSize(conn, 64<<10)
		defer w.Flush()
		if _, err := io.WriteString(w, head); err != nil {
			return
		}
		chunk := strings.Repeat("a", 64<<10)
		if mode == modeTrickled {
			chunk = chunk[:trickleChunk]
		}
		for left := size; left > 0; {
			c := chunk[:min(len(chunk), left)]
			left -= len(c)
			var err error
			if mode == modeLength {
				_, err = io.WriteString(w, c)
			} else {
				_, err = fmt.Fprintf(w, "%x\r\n%s\r\n", len(c), c)
			}
			if err != nil {
				return
			}
			if mode == modeTrickled {
				if w.Flush() != nil || sleep(ctx, trickleEvery) != nil {
					return
				}
			}
		}
		if mode != modeLength {
			_, _ = io.WriteString(w, "0\r\n\r\n")
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// statusList says how many answers of each status a flood got.
func statusList(statuses map[int]int) string {
	var parts []string
	for code, n := range statuses {
		label := fmt.Sprint(code)
		if code == 0 {
			label = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%d × %s", n, label))
	}
	return strings.Join(parts, ", ")
}

// mib1 says a size in MiB, to a tenth.
func mib1(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
