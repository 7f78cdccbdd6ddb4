package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/plugin"
)

// Defaults for the zero fields of Config.
const (
	// DefaultHealthInterval is how often a running plugin's health is checked.
	DefaultHealthInterval = 2 * time.Second
	// DefaultHealthTimeout bounds one health check.
	DefaultHealthTimeout = 2 * time.Second
	// DefaultHealthFailures is how many failed or timed-out health checks in a row
	// make the host kill the plugin and start a new one.
	DefaultHealthFailures = 3
	// DefaultStartTimeout bounds starting and configuring the plugin.
	DefaultStartTimeout = 30 * time.Second
	// DefaultMinBackoff is the wait before the second restart in a row; the first is
	// immediate, each later one waits twice as long as the one before.
	DefaultMinBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff bounds the wait between restarts.
	DefaultMaxBackoff = 30 * time.Second
	// DefaultShutdownTimeout bounds how long Close waits for calls in flight.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultMaxBodyBytesInFlight bounds the request bodies being forwarded to the
	// plugin at once, all routes together (8 MiB).
	DefaultMaxBodyBytesInFlight = 8 << 20
)

// Config says how to run the plugin.
// The zero value of each optional field means its documented default.
type Config struct {
	// PluginPath is the plugin binary (invites-plugin). Required.
	PluginPath string
	// Plugin is the configuration given to the plugin at each start: the domains
	// served, the public HTTP base URL, the data directory and the plugin's TOML config.
	Plugin plugin.Config
	// API is the host's side of the boundary, which the plugin calls back.
	// nil means a host with no accounts that registers none.
	// An API that is also a plugin.AccountAdmin or a plugin.Messenger gives the plugin
	// those features: Load fills Plugin.Features from what API implements and from
	// Events, replacing what it held.
	API plugin.HostAPI
	// Events is the host's promise to send events with Plugin.Notify (logins, ends of
	// client streams, accounts created, deleted, disabled and enabled by any means):
	// the plugin is told it has plugin.FeatureEvents and relies on them, rather than
	// on its own slower means (a sweep that asks API whether an account exists).
	// Default false.
	Events bool
	// MaxQueuedEvents bounds the events Notify holds for the plugin while it is down
	// or restarting; past it the oldest are dropped (and counted).
	// Default DefaultMaxQueuedEvents.
	MaxQueuedEvents int
	// Logger receives the host's supervision log, with component=plugin-host, and the
	// plugin's own log, each record at its level and time with logger=invites-plugin
	// and the plugin's attributes in the order it wrote them (an audit record's
	// component=audit, for one); a line of the plugin's stderr that is not a record at
	// the level its "[WARN]"-style prefix names, else debug, and a panic's trace at
	// error; go-plugin's own lines, its errors as warnings (supervision logs the
	// error). The plugin writes no record below the least level Logger keeps
	// (INVITES_PLUGIN_LOG_LEVEL in the host's environment overrides it). nil discards
	// everything.
	Logger *slog.Logger
	// SocketDir is the directory for go-plugin's unix sockets, created 0700 if
	// missing; it must belong to this process's user and be writable by no one else.
	// Each Load keeps its plugins' sockets in a directory of its own inside it
	// (host-PID-…), removed by Close; Load removes what hosts that are gone left there,
	// and each start the sockets of this Load's killed plugins.
	// Default: invites-plugin in $XDG_RUNTIME_DIR when that is set, else
	// invites-plugin-UID in os.TempDir(); when that path is not such a directory
	// (another user made it first, a symbolic link), a new private directory of
	// os.MkdirTemp's instead.
	SocketDir string
	// HealthInterval is how often a running plugin's health is checked.
	// Default DefaultHealthInterval. A crash is noticed sooner: the process's exit and
	// failed calls are watched continuously.
	HealthInterval time.Duration
	// HealthTimeout bounds one health check; after a failed one the next follows one
	// HealthTimeout after it began. Default DefaultHealthTimeout.
	HealthTimeout time.Duration
	// HealthFailures is how many failed or timed-out health checks in a row make the
	// host kill the plugin (a hung process included) and start a new one.
	// Default DefaultHealthFailures.
	HealthFailures int
	// StartTimeout bounds starting the process and configuring it.
	// Default DefaultStartTimeout.
	StartTimeout time.Duration
	// CallTimeout bounds each call to the plugin (commands, redemption) when the
	// caller's context has no earlier deadline. Default 10 s.
	CallTimeout time.Duration
	// HTTPTimeout bounds one HTTP exchange with the plugin. Default 10 s.
	HTTPTimeout time.Duration
	// MaxBodyBytesInFlight bounds the request bodies Handler is forwarding at once,
	// all routes together; a body that would pass it gets 503 with Retry-After.
	// Each route's own limit, which the plugin declares (plugin.Route), applies
	// first. Default DefaultMaxBodyBytesInFlight.
	MaxBodyBytesInFlight int64
	// MaxResponseBytes bounds a response body from the plugin. Default 4 MiB.
	MaxResponseBytes int
	// MaxConns bounds the HTTP exchanges in flight with the plugin (one unix socket
	// each); more wait for a free one. Default 64.
	MaxConns int
	// MinBackoff is the wait before the second restart in a row; the first restart is
	// immediate, and each later one waits twice as long as the one before, at most
	// MaxBackoff, for as long as it takes: the host never gives up.
	// A plugin that ran for MaxBackoff counts as new. Default DefaultMinBackoff.
	MinBackoff time.Duration
	// MaxBackoff bounds the wait between restarts. Default DefaultMaxBackoff.
	MaxBackoff time.Duration
	// ShutdownTimeout bounds how long Close waits for calls in flight before it stops
	// the plugin. Default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// MetricsAllow are the client networks MetricsHandler answers (others get 403), and
	// that ReadyzHandler tells why the plugin is not ready. Only the connection's
	// address counts, never a forwarded-for header. nil means DefaultMetricsAllow (the
	// loopback addresses); an empty, non-nil list allows no one.
	MetricsAllow []netip.Prefix
	// MetricsGatherer is the host application's own metrics, served by MetricsHandler
	// in the same scrape as the host's and the plugin's; their names must not clash.
	// nil means the Go runtime and process metrics of the host process.
	MetricsGatherer prometheus.Gatherer
}

func (c *Config) fill() error {
	if c.PluginPath == "" {
		return errors.New("no plugin path")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	setDefault(&c.HealthInterval, DefaultHealthInterval)
	setDefault(&c.HealthTimeout, DefaultHealthTimeout)
	setDefault(&c.HealthFailures, DefaultHealthFailures)
	setDefault(&c.StartTimeout, DefaultStartTimeout)
	setDefault(&c.MaxBodyBytesInFlight, DefaultMaxBodyBytesInFlight)
	setDefault(&c.MinBackoff, DefaultMinBackoff)
	setDefault(&c.MaxBackoff, DefaultMaxBackoff)
	setDefault(&c.ShutdownTimeout, DefaultShutdownTimeout)
	setDefault(&c.MaxQueuedEvents, DefaultMaxQueuedEvents)
	c.Plugin.Features = features(c.API, c.Events)
	if c.MetricsAllow == nil {
		c.MetricsAllow = DefaultMetricsAllow()
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	return nil
}

// features lists what a host with api can do beyond plugin.HostAPI, and whether it
// sends events.
func features(api plugin.HostAPI, events bool) []plugin.Feature {
	var out []plugin.Feature
	if _, ok := api.(plugin.AccountAdmin); ok {
		out = append(out, plugin.FeatureAccountStates)
	}
	if _, ok := api.(plugin.Messenger); ok {
		out = append(out, plugin.FeatureMessages)
	}
	if events {
		out = append(out, plugin.FeatureEvents)
	}
	return out
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Plugin is a supervised invites plugin: mount its HTTP routes on the host's HTTP
// server (Mount, or Handler), and use Commands, Execute, CheckInvite and RedeemInvite
// from its XMPP side.
//
// The process's exit is watched continuously and its health checked every
// Config.HealthInterval, at once when a call finds it unreachable. A plugin that
// crashes, or fails or times out Config.HealthFailures health checks in a row (a hung
// one: SIGSTOP, a deadlock), is killed and a new one started: at once, then after a
// backoff from Config.MinBackoff doubling to Config.MaxBackoff, for as long as it
// takes, a Configure that fails as unavailable (a database that is down) included;
// each failure is logged once, at error level.
// While the plugin is down (crashed, hung, restarting, not started yet, or closed),
// HTTP answers 503 with a Retry-After saying when the next start is tried, commands
// fail with service-unavailable, and the other calls with plugin.ErrUnavailable.
// Close lets calls in flight finish (up to Config.ShutdownTimeout) and shuts the
// plugin down cleanly.
// It is safe for concurrent use.
type Plugin struct {
	cfg       Config
	socketDir string // this Load's own directory inside cfg.SocketDir
	log       *slog.Logger
	api       plugin.HostAPI
	metrics   *hostMetrics
	readiness readiness
	bodies    atomic.Int64 // request body bytes being forwarded (MaxBodyBytesInFlight)
	events    *eventQueue  // for the plugin (Notify, events.go)

	ctx        context.Context // ends with Close; supervision and restarts run under it
	cancel     context.CancelFunc
	kick       chan struct{} // a call saw the plugin unavailable: look now
	done       chan struct{} // closed when supervision has ended
	eventsDone chan struct{} // closed when event delivery has ended

	mu        sync.RWMutex
	cur       *instance       // nil while down
	manifest  plugin.Manifest // of the last start; no routes before the first
	downSince time.Time
	retryAt   time.Time // when the next start is tried; zero while one is under way
	failures  int       // failed starts and short-lived processes in a row

	closeOnce sync.Once
}

// instance is one plugin process.
type instance struct {
	*plugin.Client
	pid     int
	started time.Time
	calls   sync.WaitGroup // calls in flight
}

// Load starts the plugin binary, configures it, and supervises it until Close.
// It fails when the binary is missing, or of another protocol version, or refuses its
// config, or ctx ends first: what an operator must correct. A plugin that cannot
// serve yet (its store does not answer) is left to supervision, which starts it again
// with backoff for as long as it takes, meanwhile HTTP answers 503 with Retry-After on
// the contract's paths (plugin.PathAPI and the pages).
// ctx bounds only the first start; supervision runs until Close.
func Load(ctx context.Context, cfg Config) (*Plugin, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	path, err := filepath.Abs(cfg.PluginPath)
	if err != nil {
		return nil, fmt.Errorf("plugin path: %w", err)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("plugin binary: %w", err)
	}
	cfg.PluginPath = path
	hostLog := cfg.Logger.With("component", "plugin-host")
	base, private, err := socketBase(cfg.SocketDir, hostLog)
	if err != nil {
		return nil, err
	}
	socketDir := base // a private one holds no other host's sockets
	if !private {
		if socketDir, err = prepareSocketDir(base, hostLog); err != nil {
			return nil, err
		}
	}
	p := &Plugin{
		cfg:        cfg,
		socketDir:  socketDir,
		log:        hostLog,
		api:        cfg.API,
		events:     newEventQueue(cfg.MaxQueuedEvents),
		kick:       make(chan struct{}, 1),
		done:       make(chan struct{}),
		eventsDone: make(chan struct{}),
	}
	if p.api == nil {
		p.api = defaultAPI{}
	}
	p.metrics = newHostMetrics(cfg.MetricsGatherer)
	p.api = newCountingAPI(p.api, p.metrics)
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	inst, m, err := p.start(ctx)
	switch {
	case err == nil:
		p.cur, p.manifest = inst, m
		p.metrics.up.Set(1)
		p.log.Info("invites plugin started", "pid", inst.pid, "routes", routePaths(m))
	case errors.Is(err, plugin.ErrUnavailable) && ctx.Err() == nil:
		p.downSince = time.Now()
		p.failures = 1
		p.retryAt = time.Now().Add(p.backoff(p.failures))
		p.log.Error("invites plugin could not start", "err", err, "attempt", 1, "retry_in", p.backoff(p.failures))
	default:
		p.cancel()
		_ = os.RemoveAll(socketDir)
		return nil, err
	}
	go p.supervise()
	go func() {
		defer close(p.eventsDone)
		p.deliverEvents(p.ctx)
	}()
	return p, nil
}

// routePaths lists the paths of m, for the log.
func routePaths(m plugin.Manifest) []string {
	out := make([]string, len(m.Routes))
	for i, r := range m.Routes {
		out[i] = r.Path
	}
	return out
}

// start runs one plugin process and configures it. A Configure that fails as
// unavailable, or does not answer in time, fails so: the plugin may serve later.
func (p *Plugin) start(ctx context.Context) (*instance, plugin.Manifest, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.StartTimeout)
	defer cancel()
	if n := removeStaleSockets(ctx, p.socketDir); n > 0 {
		p.log.Info("removed the sockets of killed plugins", "dir", p.socketDir, "count", n)
	}
	c, err := plugin.Start(ctx, plugin.ClientConfig{
		Path:             p.cfg.PluginPath,
		Logger:           p.cfg.Logger, // not p.log: the plugin's records name their own component
		HostLogger:       p.log,
		SocketDir:        p.socketDir,
		StartTimeout:     p.cfg.StartTimeout,
		CallTimeout:      p.cfg.CallTimeout,
		HTTPTimeout:      p.cfg.HTTPTimeout,
		MaxConns:         p.cfg.MaxConns,
		MaxResponseBytes: p.cfg.MaxResponseBytes,
	})
	if err != nil {
		return nil, plugin.Manifest{}, err
	}
	m, err := c.Configure(ctx, p.cfg.Plugin, p.api)
	if err != nil {
		c.Kill()
		if errors.Is(err, context.DeadlineExceeded) && !errors.Is(context.Cause(ctx), context.Canceled) {
			err = fmt.Errorf("%w: it did not answer within %s", plugin.ErrUnavailable, p.cfg.StartTimeout)
		}
		return nil, plugin.Manifest{}, fmt.Errorf("configuring the plugin: %w", err)
	}
	return &instance{Client: c, pid: c.PID(), started: time.Now()}, m, nil
}

// stop ends inst: at once (hard) for a process that crashed or hangs, whose calls in
// flight fail on their own; gently otherwise, letting it write what it holds.
func (inst *instance) stop(hard bool) {
	if hard {
		inst.Kill()
	} else {
		inst.Close()
	}
}

// acquire returns the running instance with a call counted in flight, or nil while
// the plugin is down; call release when done.
func (p *Plugin) acquire() (inst *instance, release func()) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.cur == nil {
		return nil, nil
	}
	inst = p.cur
	inst.calls.Add(1)
	return inst, inst.calls.Done
}

// unavailable notes that a call found the plugin unreachable, so that supervision
// looks at once.
func (p *Plugin) unavailable() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// retryIn is how long until the plugin may answer again: until the next start is
// tried, at least a second.
func (p *Plugin) retryIn() time.Duration {
	p.mu.RLock()
	defer p.mu.RUnlock()
	switch {
	case p.ctx.Err() != nil:
		return closedRetryAfter
	case !p.retryAt.IsZero():
		return max(time.Until(p.retryAt), time.Second)
	}
	return time.Second
}

// closedRetryAfter is the Retry-After of a plugin that was closed: the host is
// shutting down.
const closedRetryAfter = 60 * time.Second

// downError describes why the plugin is down.
func (p *Plugin) downError() error {
	if p.ctx.Err() != nil {
		return fmt.Errorf("%w: the server is shutting down", plugin.ErrUnavailable)
	}
	return fmt.Errorf("%w: restarting, try again in %s", plugin.ErrUnavailable, inWords(p.retryIn()))
}

// inWords says a wait as a person would: "1 second", "1 minute 30 seconds".
func inWords(d time.Duration) string {
	secs := int(d.Round(time.Second) / time.Second)
	unit := func(n int, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return fmt.Sprintf("%d %ss", n, name)
	}
	switch m, s := secs/60, secs%60; {
	case m == 0:
		return unit(s, "second")
	case s == 0:
		return unit(m, "minute")
	default:
		return unit(m, "minute") + " " + unit(s, "second")
	}
}

// PID returns the process ID of the running plugin, or 0 while it is down.
func (p *Plugin) PID() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.cur == nil {
		return 0
	}
	return p.cur.pid
}

// Manifest returns what the plugin serves: its last start's answer to Configure, no
// routes before it first started.
func (p *Plugin) Manifest() plugin.Manifest {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return plugin.Manifest{Routes: slices.Clone(p.manifest.Routes)}
}

// Commands lists the ad-hoc commands requester, whom the host holds for role, may run
// on host. It implements adhoc.Executor.
func (p *Plugin) Commands(ctx context.Context, host, requester string, role adhoc.Role) ([]adhoc.Command, error) {
	inst, release := p.acquire()
	if inst == nil {
		return nil, commandUnavailable(p.downError())
	}
	defer release()
	defer p.metrics.observeCall("commands", time.Now())
	cmds, err := inst.Commands(ctx, host, requester, role)
	if err != nil {
		return nil, p.commandError(err)
	}
	return cmds, nil
}

// Execute runs one step of an ad-hoc command on host, req.Role set by the host's
// adhoc.Handler; protocol failures are *adhoc.Error, service-unavailable while the
// plugin is down. It implements adhoc.Executor.
func (p *Plugin) Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error) {
	inst, release := p.acquire()
	if inst == nil {
		return adhoc.Response{}, commandUnavailable(p.downError())
	}
	defer release()
	defer p.metrics.observeCall("execute", time.Now())
	resp, err := inst.Execute(ctx, host, req)
	if err != nil {
		return adhoc.Response{}, p.commandError(err)
	}
	return resp, nil
}

func commandUnavailable(err error) error {
	return &adhoc.Error{Condition: adhoc.CondServiceUnavailable, Text: err.Error()}
}

func (p *Plugin) commandError(err error) error {
	if errors.Is(err, plugin.ErrUnavailable) {
		p.unavailable()
		return commandUnavailable(err)
	}
	return err
}

// CheckInvite says whether token is a usable invite on host (XEP-0445
// pre-authentication); it fails with plugin.ErrInviteNotFound, plugin.ErrInviteExpired,
// or plugin.ErrUnavailable while the plugin is down.
func (p *Plugin) CheckInvite(ctx context.Context, host, token string) (plugin.Invite, error) {
	inst, release := p.acquire()
	if inst == nil {
		return plugin.Invite{}, p.downError()
	}
	defer release()
	defer p.metrics.observeCall("check_invite", time.Now())
	inv, err := inst.CheckInvite(ctx, host, token)
	if errors.Is(err, plugin.ErrUnavailable) {
		p.unavailable()
	}
	return inv, err
}

// RedeemInvite uses an invite for r.Purpose (registration by default): of concurrent
// redemptions of one invite only as many succeed as it has uses left.
// It fails with the plugin.Err* errors, plugin.ErrUnavailable while the plugin is down.
func (p *Plugin) RedeemInvite(ctx context.Context, r plugin.Redemption) (plugin.Invite, error) {
	inst, release := p.acquire()
	if inst == nil {
		if (r.Purpose == "" || r.Purpose == plugin.PurposeRegister) && !registrationCounted(ctx) {
			p.metrics.refusals.WithLabelValues("unavailable").Inc()
		}
		return plugin.Invite{}, p.downError()
	}
	defer release()
	defer p.metrics.observeCall("redeem_invite", time.Now())
	inv, err := inst.RedeemInvite(ctx, r)
	if errors.Is(err, plugin.ErrUnavailable) {
		p.unavailable()
	}
	if err != nil && (r.Purpose == "" || r.Purpose == plugin.PurposeRegister) && !registrationCounted(ctx) {
		p.metrics.refusals.WithLabelValues(refusal(err)).Inc()
	}
	return inv, err
}

// CheckPassword says whether c.Password is acceptable for a new account (or a reset)
// by the plugin's password policy: nil, or a *plugin.PasswordError worded in c.Lang
// (the web registration page's words); plugin.ErrUnavailable while the plugin is down,
// when a host should refuse the registration rather than take an unchecked password.
func (p *Plugin) CheckPassword(ctx context.Context, c plugin.PasswordCheck) error {
	inst, release := p.acquire()
	if inst == nil {
		return p.downError()
	}
	defer release()
	defer p.metrics.observeCall("check_password", time.Now())
	err := inst.CheckPassword(ctx, c)
	if errors.Is(err, plugin.ErrUnavailable) {
		p.unavailable()
	}
	return err
}

// Health returns nil while the plugin runs and says it can serve; otherwise an error,
// matching plugin.ErrUnavailable when the plugin is down or does not answer.
func (p *Plugin) Health(ctx context.Context) error {
	inst, release := p.acquire()
	if inst == nil {
		return p.downError()
	}
	defer release()
	defer p.metrics.observeCall("health", time.Now())
	err := inst.Health(ctx)
	if errors.Is(err, plugin.ErrUnavailable) {
		p.unavailable()
	}
	return err
}

// Close sends the events queued (Notify), stops supervision, waits for calls in
// flight (at most ShutdownTimeout for both), and shuts the plugin down cleanly,
// letting it write what it holds.
// Later calls do nothing.
func (p *Plugin) Close() error {
	p.closeOnce.Do(func() {
		p.flushEvents(p.cfg.ShutdownTimeout / 2)
		p.cancel()
		<-p.done
		<-p.eventsDone
		defer os.RemoveAll(p.socketDir)
		p.mu.Lock()
		inst := p.cur
		p.cur = nil
		p.mu.Unlock()
		if inst == nil {
			return
		}
		drained := make(chan struct{})
		go func() {
			inst.calls.Wait()
			close(drained)
		}()
		t := time.NewTimer(p.cfg.ShutdownTimeout)
		select {
		case <-drained:
		case <-t.C:
			p.log.Warn("stopping the invites plugin with calls in flight")
		}
		t.Stop()
		inst.stop(false)
		p.log.Info("invites plugin stopped", "pid", inst.pid)
	})
	return nil
}

// Interface guards.
var _ adhoc.Executor = (*Plugin)(nil)
