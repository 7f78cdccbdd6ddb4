package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"

	"github.com/xmpp-invites/invites/adhoc"
	"github.com/xmpp-invites/invites/plugin"
)

// Defaults for the zero fields of Config.
const (
	// DefaultHealthInterval is how often a running plugin's health is checked.
	DefaultHealthInterval = 10 * time.Second
	// DefaultStartTimeout bounds starting and configuring the plugin.
	DefaultStartTimeout = 30 * time.Second
	// DefaultMinBackoff is the wait before the second restart within RestartWindow;
	// the first is immediate, each later one waits twice as long as the one before.
	DefaultMinBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff bounds the wait between restarts.
	DefaultMaxBackoff = 30 * time.Second
	// DefaultMaxRestarts is how many restarts RestartWindow allows before the plugin
	// stays down.
	DefaultMaxRestarts = 5
	// DefaultRestartWindow is the period MaxRestarts counts over.
	DefaultRestartWindow = 10 * time.Minute
	// DefaultShutdownTimeout bounds how long Close waits for calls in flight.
	DefaultShutdownTimeout = 10 * time.Second
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
	// nil means a host with no administrators and no accounts, serving Plugin.Domains,
	// whose Log writes to Logger.
	API plugin.HostAPI
	// Logger receives the host's supervision log and the plugin's own log (each line at
	// its level, with logger=invites-plugin); nil discards both.
	Logger *slog.Logger
	// HealthInterval is how often a running plugin's health is checked.
	// Default DefaultHealthInterval. A crash is noticed sooner: the process's exit and
	// failed calls are watched continuously.
	HealthInterval time.Duration
	// StartTimeout bounds starting the process and configuring it.
	// Default DefaultStartTimeout.
	StartTimeout time.Duration
	// CallTimeout bounds each call to the plugin (commands, redemption, health) when the
	// caller's context has no earlier deadline. Default plugin.DefaultCallTimeout.
	CallTimeout time.Duration
	// HTTPTimeout bounds one HTTP exchange with the plugin.
	// Default plugin.DefaultHTTPTimeout.
	HTTPTimeout time.Duration
	// MaxBodyBytes bounds the request bodies Handler forwards; a longer one gets 413.
	// The plugin's own, usually smaller, limit applies too.
	// Default plugin.DefaultMaxBodyBytes (16 MiB).
	MaxBodyBytes int64
	// MinBackoff is the wait before the second restart within RestartWindow; the first
	// restart is immediate, and each later one waits twice as long as the one before,
	// at most MaxBackoff. Default DefaultMinBackoff.
	MinBackoff time.Duration
	// MaxBackoff bounds the wait between restarts. Default DefaultMaxBackoff.
	MaxBackoff time.Duration
	// MaxRestarts is how many restarts (successful or not) RestartWindow allows; when
	// one more would be needed the plugin stays down, which is logged as an error,
	// until Close. Default DefaultMaxRestarts.
	MaxRestarts int
	// RestartWindow is the period MaxRestarts counts over. Default DefaultRestartWindow.
	RestartWindow time.Duration
	// ShutdownTimeout bounds how long Close waits for calls in flight before it stops
	// the plugin. Default DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
}

func (c *Config) fill() error {
	if c.PluginPath == "" {
		return errors.New("host: no plugin path")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	setDefault(&c.HealthInterval, DefaultHealthInterval)
	setDefault(&c.StartTimeout, DefaultStartTimeout)
	setDefault(&c.CallTimeout, plugin.DefaultCallTimeout)
	setDefault(&c.HTTPTimeout, plugin.DefaultHTTPTimeout)
	setDefault(&c.MaxBodyBytes, plugin.DefaultMaxBodyBytes)
	setDefault(&c.MinBackoff, DefaultMinBackoff)
	setDefault(&c.MaxBackoff, DefaultMaxBackoff)
	setDefault(&c.MaxRestarts, DefaultMaxRestarts)
	setDefault(&c.RestartWindow, DefaultRestartWindow)
	setDefault(&c.ShutdownTimeout, DefaultShutdownTimeout)
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	return nil
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Plugin is a running, supervised invites plugin: mount Handler on the host's HTTP
// server, and use Commands, Execute, CheckInvite and RedeemInvite from its XMPP side.
// While the plugin is down (crashed, restarting, given up, or closed), HTTP answers 503
// with Retry-After, commands fail with service-unavailable, and redemption with
// plugin.ErrUnavailable.
// It is safe for concurrent use.
type Plugin struct {
	cfg Config
	log *slog.Logger
	api plugin.HostAPI

	ctx    context.Context // ends with Close; supervision and restarts run under it
	cancel context.CancelFunc
	kick   chan struct{} // a call saw the plugin unavailable: look now
	done   chan struct{} // closed when supervision has ended

	mu        sync.RWMutex
	cur       *instance // nil while down
	downSince time.Time
	retryAt   time.Time // when the next start is tried; zero when none is planned
	gaveUp    bool
	restarts  []time.Time // starts after a crash, within RestartWindow

	closeOnce sync.Once
}

// instance is one plugin process.
type instance struct {
	client  *goplugin.Client
	invites plugin.Invites
	pid     int
	calls   sync.WaitGroup // calls in flight
}

// Load starts the plugin binary, configures it, and supervises it until Close.
// It fails when the plugin cannot be started or configured, or ctx ends first; ctx
// bounds only the start, supervision runs until Close.
func Load(ctx context.Context, cfg Config) (*Plugin, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	path, err := filepath.Abs(cfg.PluginPath)
	if err != nil {
		return nil, fmt.Errorf("host: plugin path: %w", err)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("host: plugin: %w", err)
	}
	cfg.PluginPath = path
	p := &Plugin{
		cfg:  cfg,
		log:  cfg.Logger,
		api:  cfg.API,
		kick: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	if p.api == nil {
		p.api = defaultAPI{domains: cfg.Plugin.Domains, log: cfg.Logger}
	}
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	inst, err := p.start(ctx)
	if err != nil {
		p.cancel()
		return nil, err
	}
	p.cur = inst
	p.log.Info("invites plugin started", "pid", inst.pid)
	go p.supervise()
	return p, nil
}

// start runs one plugin process and configures it.
func (p *Plugin) start(ctx context.Context) (*instance, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.StartTimeout)
	defer cancel()
	cmd := exec.Command(p.cfg.PluginPath)
	// The plugin need not write lines the host would drop; go-plugin adds the
	// host's environment after this.
	cmd.Env = []string{plugin.EnvLogLevel + "=" + leastLevel(p.log).String()}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig: plugin.Handshake(),
		Plugins: plugin.PluginSet(&plugin.InvitesPlugin{
			CallTimeout:  p.cfg.CallTimeout,
			HTTPTimeout:  p.cfg.HTTPTimeout,
			MaxBodyBytes: p.cfg.MaxBodyBytes,
		}),
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		GRPCDialOptions:  plugin.DialOptions(),
		StartTimeout:     p.cfg.StartTimeout,
		Logger:           newHCLogAdapter(p.log),
	})
	type started struct {
		invites plugin.Invites
		err     error
	}
	ch := make(chan started, 1)
	go func() {
		rpc, err := client.Client()
		if err != nil {
			ch <- started{err: err}
			return
		}
		raw, err := rpc.Dispense(plugin.Name)
		if err != nil {
			ch <- started{err: err}
			return
		}
		inv, ok := raw.(plugin.Invites)
		if !ok {
			ch <- started{err: fmt.Errorf("dispensed %T, not plugin.Invites", raw)}
			return
		}
		ch <- started{invites: inv}
	}()
	var s started
	select {
	case s = <-ch:
	case <-ctx.Done():
		go func() {
			<-ch
			client.Kill()
		}()
		return nil, fmt.Errorf("host: starting plugin: %w", ctx.Err())
	}
	if s.err != nil {
		client.Kill()
		return nil, fmt.Errorf("host: starting plugin: %w", s.err)
	}
	if err := s.invites.Configure(ctx, p.cfg.Plugin, p.api); err != nil {
		client.Kill()
		return nil, fmt.Errorf("host: configuring plugin: %w", err)
	}
	pid := 0
	if cmd.Process != nil {
		pid = cmd.Process.Pid
	}
	return &instance{client: client, invites: s.invites, pid: pid}, nil
}

// leastLevel returns the least level l logs, or one above every level in use when it
// logs nothing.
func leastLevel(l *slog.Logger) slog.Level {
	for _, lv := range []slog.Level{slog.LevelDebug - 4, slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError} {
		if l.Enabled(context.Background(), lv) {
			return lv
		}
	}
	return slog.LevelError + 4
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

// downError describes why the plugin is down, for errors and logs.
func (p *Plugin) downError() error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	switch {
	case p.ctx.Err() != nil:
		return fmt.Errorf("%w: closed", plugin.ErrUnavailable)
	case p.gaveUp:
		return fmt.Errorf("%w: stopped after %d restarts", plugin.ErrUnavailable, len(p.restarts))
	}
	return fmt.Errorf("%w: restarting", plugin.ErrUnavailable)
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

// Commands lists the ad-hoc commands requester may run on host.
// It implements adhoc.Executor.
func (p *Plugin) Commands(ctx context.Context, host, requester string) ([]adhoc.Command, error) {
	inst, release := p.acquire()
	if inst == nil {
		return nil, &adhoc.Error{Condition: adhoc.CondServiceUnavailable, Text: p.downError().Error()}
	}
	defer release()
	cmds, err := inst.invites.Commands(ctx, host, requester)
	if err != nil {
		return nil, p.commandError(err)
	}
	return cmds, nil
}

// Execute runs one step of an ad-hoc command on host; protocol failures are
// *adhoc.Error, service-unavailable while the plugin is down.
// It implements adhoc.Executor.
func (p *Plugin) Execute(ctx context.Context, host string, req adhoc.Request) (adhoc.Response, error) {
	inst, release := p.acquire()
	if inst == nil {
		return adhoc.Response{}, &adhoc.Error{Condition: adhoc.CondServiceUnavailable, Text: p.downError().Error()}
	}
	defer release()
	resp, err := inst.invites.Execute(ctx, host, req)
	if err != nil {
		return adhoc.Response{}, p.commandError(err)
	}
	return resp, nil
}

func (p *Plugin) commandError(err error) error {
	if errors.Is(err, plugin.ErrUnavailable) {
		p.unavailable()
		return &adhoc.Error{Condition: adhoc.CondServiceUnavailable, Text: err.Error()}
	}
	return err
}

// CheckInvite says whether token can register an account on host (XEP-0445
// pre-authentication); it fails with plugin.ErrInviteNotFound, plugin.ErrInviteExpired,
// or plugin.ErrUnavailable while the plugin is down.
func (p *Plugin) CheckInvite(ctx context.Context, host, token string) (plugin.Invite, error) {
	inst, release := p.acquire()
	if inst == nil {
		return plugin.Invite{}, p.downError()
	}
	defer release()
	inv, err := inst.invites.CheckInvite(ctx, host, token)
	if errors.Is(err, plugin.ErrUnavailable) {
		p.unavailable()
	}
	return inv, err
}

// RedeemInvite consumes token to register username on host; of concurrent calls for
// one token exactly one succeeds.
// It fails with the plugin.Err* sentinels, plugin.ErrUnavailable while the plugin is
// down.
func (p *Plugin) RedeemInvite(ctx context.Context, host, token, username string) (plugin.Invite, error) {
	inst, release := p.acquire()
	if inst == nil {
		return plugin.Invite{}, p.downError()
	}
	defer release()
	inv, err := inst.invites.RedeemInvite(ctx, host, token, username)
	if errors.Is(err, plugin.ErrUnavailable) {
		p.unavailable()
	}
	return inv, err
}

// Health returns nil while the plugin runs and says it can serve; otherwise an error,
// matching plugin.ErrUnavailable when the plugin is down or does not answer.
func (p *Plugin) Health(ctx context.Context) error {
	inst, release := p.acquire()
	if inst == nil {
		return p.downError()
	}
	defer release()
	err := inst.invites.Health(ctx)
	if errors.Is(err, plugin.ErrUnavailable) {
		p.unavailable()
	}
	return err
}

// Close stops supervision, waits for calls in flight (at most ShutdownTimeout), and
// shuts the plugin down cleanly, letting it write what it holds.
// Later calls do nothing.
func (p *Plugin) Close() error {
	p.closeOnce.Do(func() {
		p.cancel()
		<-p.done
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
		inst.client.Kill()
		p.log.Info("invites plugin stopped", "pid", inst.pid)
	})
	return nil
}

// Interface guards.
var _ adhoc.Executor = (*Plugin)(nil)
