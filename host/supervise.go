package host

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// exitPoll is how often supervision looks whether the plugin process has exited:
// go-plugin offers no notification, and a crash should be noticed at once even when
// no call fails.
const exitPoll = 50 * time.Millisecond

// supervise keeps a plugin running until Close: it watches the running one, and while
// there is none, starts one, with backoff, for as long as it takes.
func (p *Plugin) supervise() {
	defer close(p.done)
	for p.ctx.Err() == nil {
		p.mu.RLock()
		inst := p.cur
		p.mu.RUnlock()
		if inst == nil {
			p.restart()
		} else {
			p.watch(inst)
		}
	}
}

// watch returns when inst is down (its process exited, or HealthFailures health checks
// in a row failed or timed out: then it is killed) or on Close.
// Its health is checked every HealthInterval, and at once when a call found it
// unreachable.
func (p *Plugin) watch(inst *instance) {
	health := time.NewTimer(p.cfg.HealthInterval)
	defer health.Stop()
	poll := time.NewTicker(exitPoll)
	defer poll.Stop()
	fails := 0
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-poll.C:
			if inst.Exited() {
				p.down(inst, "the plugin process exited", nil)
				return
			}
			continue
		case <-p.kick:
		case <-health.C:
		}
		began := time.Now()
		ctx, cancel := context.WithTimeout(p.ctx, p.cfg.HealthTimeout)
		err := inst.Health(ctx)
		cancel()
		switch {
		case p.ctx.Err() != nil:
			return
		case inst.Exited():
			p.down(inst, "the plugin process exited", nil)
			return
		case err == nil:
			if fails > 0 {
				p.log.Info("invites plugin healthy again", "pid", inst.pid)
			}
			fails = 0
			health.Reset(p.cfg.HealthInterval)
			continue
		}
		fails++
		if fails >= p.cfg.HealthFailures {
			p.down(inst, fmt.Sprintf("%d health checks in a row failed", fails), err)
			return
		}
		p.log.Warn("invites plugin health check failed", "pid", inst.pid, "failures", fails,
			"of", p.cfg.HealthFailures, "err", err)
		// The next check follows one timeout after this one began.
		health.Reset(max(p.cfg.HealthTimeout-time.Since(began), 0))
	}
}

// down takes inst out of service and stops it at once, and plans the next start:
// immediate after a plugin that ran for MaxBackoff or longer, with backoff otherwise.
func (p *Plugin) down(inst *instance, reason string, cause error) {
	now := time.Now()
	p.mu.Lock()
	if p.cur != inst {
		p.mu.Unlock()
		return
	}
	p.cur = nil
	p.metrics.up.Set(0)
	p.downSince = now
	if now.Sub(inst.started) >= p.cfg.MaxBackoff {
		p.failures = 0
	}
	delay := p.backoff(p.failures)
	p.failures++
	p.retryAt = now.Add(delay)
	p.mu.Unlock()
	args := []any{"reason", reason, "pid", inst.pid, "retry_in", delay}
	if cause != nil {
		args = append(args, "err", cause)
	}
	p.log.Error("invites plugin down", args...)
	// Calls in flight fail on their own as the process goes: nothing to drain.
	inst.stop(true)
}

// restart waits for the planned start, then starts a plugin; a failure plans the next
// one, MinBackoff doubling to MaxBackoff.
func (p *Plugin) restart() {
	p.mu.RLock()
	at := p.retryAt
	p.mu.RUnlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-p.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	p.mu.Lock()
	p.retryAt = time.Time{} // a start is under way
	p.mu.Unlock()
	inst, m, err := p.start(p.ctx)
	if p.ctx.Err() != nil {
		if inst != nil {
			inst.stop(false)
		}
		return
	}
	now := time.Now()
	p.mu.Lock()
	if err != nil {
		delay := p.backoff(p.failures)
		p.failures++
		p.retryAt = now.Add(delay)
		n := p.failures
		p.mu.Unlock()
		p.log.Error("invites plugin could not start", "err", err, "attempt", n, "retry_in", delay)
		return
	}
	p.cur = inst
	changed := !slices.Equal(m.Routes, p.manifest.Routes)
	p.manifest = m
	p.metrics.up.Set(1)
	p.metrics.restarts.Inc()
	down := now.Sub(p.downSince)
	p.mu.Unlock()
	p.log.Info("invites plugin restarted", "pid", inst.pid, "down_for", down.Round(time.Millisecond))
	if changed {
		p.log.Info("the invites plugin serves other routes now; of them, Mount routed only the contract's paths and those served before",
			"routes", routePaths(m))
	}
}

// backoff is the wait before a start after n failures in a row: none after none, then
// MinBackoff doubling up to MaxBackoff.
func (p *Plugin) backoff(n int) time.Duration {
	if n == 0 {
		return 0
	}
	d := p.cfg.MinBackoff
	for i := 1; i < n && d < p.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.cfg.MaxBackoff)
}
