package host

import (
	"context"
	"errors"
	"time"

	"github.com/xmpp-invites/invites/plugin"
)

// exitPoll is how often supervision looks whether the plugin process has exited:
// go-plugin offers no notification, and a crash should be noticed well within the
// restart budget even when no call fails.
const exitPoll = 50 * time.Millisecond

// supervise watches the running plugin until Close: it restarts the plugin when its
// process exits or it stops answering, and checks its health every HealthInterval and
// whenever a call found it unreachable.
func (p *Plugin) supervise() {
	defer close(p.done)
	health := time.NewTicker(p.cfg.HealthInterval)
	defer health.Stop()
	poll := time.NewTicker(exitPoll)
	defer poll.Stop()
	unhealthy := false
	for {
		check := false
		select {
		case <-p.ctx.Done():
			return
		case <-poll.C:
		case <-p.kick:
			check = true
		case <-health.C:
			check = true
		}
		p.mu.RLock()
		inst := p.cur
		p.mu.RUnlock()
		switch {
		case inst == nil:
			continue
		case inst.client.Exited():
			p.restart(inst, "plugin process exited", nil)
			unhealthy = false
			continue
		case !check:
			continue
		}
		ctx, cancel := context.WithTimeout(p.ctx, p.cfg.CallTimeout)
		err := inst.invites.Health(ctx)
		cancel()
		switch {
		case p.ctx.Err() != nil:
			return
		case errors.Is(err, plugin.ErrUnavailable):
			p.restart(inst, "plugin not answering", err)
			unhealthy = false
			continue
		case err != nil && !unhealthy:
			p.log.Warn("invites plugin unhealthy", "err", err)
		case err == nil && unhealthy:
			p.log.Info("invites plugin healthy again")
		}
		unhealthy = err != nil
	}
}

// restart takes inst down and starts a new process, with backoff, until one starts,
// the restart budget is spent (then the plugin stays down), or Close.
func (p *Plugin) restart(inst *instance, reason string, cause error) {
	p.mu.Lock()
	if p.cur != inst {
		p.mu.Unlock()
		return
	}
	p.cur = nil
	down := time.Now()
	p.downSince = down
	p.mu.Unlock()
	if cause != nil {
		p.log.Warn("invites plugin down", "reason", reason, "pid", inst.pid, "err", cause)
	} else {
		p.log.Warn("invites plugin down", "reason", reason, "pid", inst.pid)
	}
	// The process is gone or hung: calls in flight fail on their own, nothing to drain.
	inst.client.Kill()

	for {
		now := time.Now()
		p.mu.Lock()
		kept := p.restarts[:0]
		for _, t := range p.restarts {
			if now.Sub(t) < p.cfg.RestartWindow {
				kept = append(kept, t)
			}
		}
		p.restarts = kept
		n := len(p.restarts)
		if n >= p.cfg.MaxRestarts {
			p.gaveUp = true
			p.retryAt = time.Time{}
			p.mu.Unlock()
			p.log.Error("invites plugin stays down: too many restarts",
				"restarts", n, "window", p.cfg.RestartWindow)
			return
		}
		delay := p.backoff(n)
		p.retryAt = now.Add(delay)
		p.mu.Unlock()

		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-p.ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		p.mu.Lock()
		p.restarts = append(p.restarts, time.Now())
		p.mu.Unlock()
		next, err := p.start(p.ctx)
		if p.ctx.Err() != nil {
			if next != nil {
				next.client.Kill()
			}
			return
		}
		if err != nil {
			p.log.Error("invites plugin restart failed", "err", err)
			continue
		}
		p.mu.Lock()
		p.cur = next
		p.retryAt = time.Time{}
		p.mu.Unlock()
		p.log.Info("invites plugin restarted", "pid", next.pid, "down_for", time.Since(down).Round(time.Millisecond))
		return
	}
}

// backoff is the wait before a restart when n restarts happened within the window:
// none before the first, then MinBackoff doubling up to MaxBackoff.
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
