package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Defaults of ClientConfig.
const (
	defaultStartTimeout     = 30 * time.Second
	defaultCallTimeout      = 10 * time.Second
	defaultExchangeTimeout  = 10 * time.Second
	defaultMaxConns         = 64
	defaultMaxResponseBytes = 4 << 20
)

// ClientConfig says how a host starts the plugin binary (Start).
// The zero value of each optional field means its default.
type ClientConfig struct {
	// Path is the plugin binary (invites-plugin). Required.
	Path string
	// Logger receives the plugin's log records, each at its level and time with its
	// attributes and logger=BINARY; nil discards them. The plugin writes no record
	// below the least level Logger keeps.
	Logger *slog.Logger
	// HostLogger receives go-plugin's own lines about the process (its errors as
	// warnings: the caller reports failures); nil means Logger.
	HostLogger *slog.Logger
	// SocketDir is the directory of go-plugin's unix socket; "" means os.TempDir().
	SocketDir string
	// StartTimeout bounds starting the process and its handshake. Default 30 s.
	StartTimeout time.Duration
	// CallTimeout bounds each call (all but ServeHTTP) when the caller's context has no
	// earlier deadline, and each call the plugin makes back. Default 10 s.
	CallTimeout time.Duration
	// HTTPTimeout bounds one HTTP exchange. Default 10 s.
	HTTPTimeout time.Duration
	// MaxConns bounds the HTTP exchanges in flight (one unix socket each); more wait
	// for a free one. Default 64.
	MaxConns int
	// MaxResponseBytes bounds a response body from the plugin. Default 4 MiB.
	MaxResponseBytes int
}

// Client is a running plugin process as its host sees it: an Invites, whose calls
// travel on go-plugin's gRPC with automatic mutual TLS, and whose HTTP exchanges
// travel as frames on unix sockets the host makes and hands over (see the package doc).
// It is safe for concurrent use.
type Client struct {
	*invitesClient
	client *goplugin.Client
	cmd    *exec.Cmd
	data   *dataPath
}

// versionError refuses a plugin of an older protocol version.
type versionError struct {
	path    string
	version int
}

// Error implements error.
func (e *versionError) Error() string {
	return fmt.Sprintf("the plugin %s speaks protocol version %d and this server version %d: install the invites-plugin of the server's release",
		e.path, e.version, ProtocolVersion)
}

// refusedVersion is the go-plugin plugin of an older protocol version: the handshake
// succeeds, so that the host learns the plugin's version, and Dispense fails.
type refusedVersion struct {
	goplugin.NetRPCUnsupportedPlugin
	err *versionError
}

// GRPCServer implements goplugin.GRPCPlugin; a host serves nothing.
func (r refusedVersion) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error { return r.err }

// GRPCClient refuses the plugin.
func (r refusedVersion) GRPCClient(context.Context, *goplugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, r.err
}

// Start starts the plugin binary and returns it once go-plugin's handshake is done;
// call Configure next, and Close (or Kill) when done.
// A plugin of another protocol version fails with an error naming both versions.
func Start(ctx context.Context, cfg ClientConfig) (*Client, error) {
	if cfg.Path == "" {
		return nil, errors.New("no plugin path")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HostLogger == nil {
		cfg.HostLogger = cfg.Logger
	}
	setDefault(&cfg.StartTimeout, defaultStartTimeout)
	setDefault(&cfg.CallTimeout, defaultCallTimeout)
	setDefault(&cfg.HTTPTimeout, defaultExchangeTimeout)
	setDefault(&cfg.MaxConns, defaultMaxConns)
	setDefault(&cfg.MaxResponseBytes, defaultMaxResponseBytes)
	ctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()

	cmd := exec.Command(cfg.Path)
	// The plugin need not write lines the host would drop; go-plugin adds the host's
	// environment after this. go-plugin's listener goes in SocketDir: the plugin reads
	// PLUGIN_UNIX_SOCKET_DIR, which go-plugin itself sets only for a RunnerFunc.
	cmd.Env = []string{envLogLevel + "=" + leastLevel(cfg.Logger).String()}
	if cfg.SocketDir != "" {
		cmd.Env = append(cmd.Env, goplugin.EnvUnixSocketDir+"="+cfg.SocketDir)
	}
	data, err := newDataPath(cmd, dataOptions{maxResponseBytes: cfg.MaxResponseBytes,
		timeout: cfg.HTTPTimeout, maxConns: cfg.MaxConns})
	if err != nil {
		return nil, err
	}
	name := filepath.Base(cfg.Path)
	versions := map[int]goplugin.PluginSet{}
	for v := 1; v < ProtocolVersion; v++ {
		versions[v] = goplugin.PluginSet{pluginName: refusedVersion{err: &versionError{path: cfg.Path, version: v}}}
	}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:     handshake(),
		Plugins:             goplugin.PluginSet{pluginName: &invitesPlugin{timeout: cfg.CallTimeout, data: data}},
		VersionedPlugins:    versions,
		Cmd:                 cmd,
		AllowedProtocols:    []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:            true,
		GRPCBrokerMultiplex: true,
		UnixSocketConfig:    &goplugin.UnixSocketConfig{TempDir: cfg.SocketDir},
		StartTimeout:        cfg.StartTimeout,
		Logger:              goPluginLogger(cfg.HostLogger, name),
		Stderr:              &stderrLog{log: cfg.Logger, name: name},
	})
	c := &Client{client: client, cmd: cmd, data: data}
	type started struct {
		inv *invitesClient
		err error
	}
	ch := make(chan started, 1)
	go func() {
		rpc, err := client.Client()
		if err != nil {
			ch <- started{err: err}
			return
		}
		raw, err := rpc.Dispense(pluginName)
		if err != nil {
			ch <- started{err: err}
			return
		}
		inv, ok := raw.(*invitesClient)
		if !ok {
			err = fmt.Errorf("dispensed %T, not the invites plugin", raw)
		}
		ch <- started{inv: inv, err: err}
	}()
	var s started
	select {
	case s = <-ch:
	case <-ctx.Done():
		go func() {
			<-ch
			c.Kill()
		}()
		return nil, fmt.Errorf("starting the plugin: %w", ctx.Err())
	}
	if s.err != nil {
		c.Kill()
		if ve, ok := errors.AsType[*versionError](s.err); ok {
			return nil, ve
		}
		return nil, fmt.Errorf("starting the plugin: %w", s.err)
	}
	data.started()
	c.invitesClient = s.inv
	return c, nil
}

// PID returns the plugin's process ID.
func (c *Client) PID() int {
	if c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Exited reports whether the plugin process has exited.
func (c *Client) Exited() bool { return c.client.Exited() }

// Kill ends the process at once (SIGKILL), for a plugin that crashed or hangs:
// the calls in flight fail at once.
func (c *Client) Kill() {
	if c.cmd.Process != nil && !c.client.Exited() {
		_ = c.cmd.Process.Kill()
	}
	c.Close()
}

// Close shuts the plugin down cleanly, letting it write what it holds, and waits for
// it (go-plugin kills it after 2 s).
func (c *Client) Close() {
	c.client.Kill()
	_ = c.data.close()
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

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Interface guards.
var (
	_ Invites             = (*Client)(nil)
	_ goplugin.GRPCPlugin = refusedVersion{}
)
