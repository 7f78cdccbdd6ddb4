package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

// envLogLevel is the environment variable in which a host asks the plugin for the
// least level worth logging, as slog.Level's text ("DEBUG", "INFO", "WARN+2"): lines
// below what the host keeps are not written at all. A host's own environment
// overrides what Start sets.
const envLogLevel = "INVITES_PLUGIN_LOG_LEVEL"

// parentPollInterval is how often the plugin checks that its host still runs.
const parentPollInterval = 500 * time.Millisecond

// tidyPeriod is how often the plugin looks whether it holds free memory after a burst.
const tidyPeriod = 5 * time.Second

// closeTimeout bounds the final bookkeeping flush when the plugin stops.
const closeTimeout = 10 * time.Second

// errHostGone ends Serve when the host process has died.
var errHostGone = errors.New("the host process is gone")

// Serve runs the plugin when a host has started the process (see Launched): it builds
// the implementation with newImpl, handing it the plugin's logger, serves it over
// go-plugin and its HTTP exchanges on the data sockets the host hands over, until the
// host shuts the plugin down, the host dies, or ctx ends; then it closes the
// implementation if it has a Close(context.Context) error method.
// The implementation is a parameter so that this package, which hosts import, does not
// link the store and everything behind it; cmd/invites-plugin passes service.New.
// The logger writes JSON lines in go-plugin's format on the process's stderr, which the
// host re-logs at each line's level (log.go).
// ctx should end only when the plugin must stop on its own, such as on SIGTERM: not on
// an interrupt, which go-plugin ignores because a terminal's Ctrl-C reaches the plugin
// as well as the host, and the host stops the plugin itself.
func Serve(ctx context.Context, newImpl func(*slog.Logger) Invites) error {
	if !Launched() {
		return errors.New("not started by a host (the magic cookie is not set)")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(os.Getenv(envLogLevel))); err != nil {
		level = slog.LevelInfo
	}
	// goplugin.Serve replaces os.Stderr with a pipe of its own; the host reads log
	// lines from the process's real stderr, so keep that file.
	stderr := os.Stderr
	logger := slog.New(newLogHandler(stderr, level))
	if err := offeredVersion(os.Getenv("PLUGIN_PROTOCOL_VERSIONS")); err != nil {
		// A host of another release: say so in its log, which shows this line, rather
		// than answer a handshake it will refuse with go-plugin's words alone.
		logger.Error(err.Error())
		return err
	}
	impl := newImpl(logger)

	// A host killed with SIGKILL cannot shut its plugin down; without this watch the
	// plugin would live on as an orphan, holding its store open.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go watchParent(ctx, cancel, parentPollInterval)

	if ctrl, err := dataControl(); err != nil {
		logger.Warn("no data path: HTTP exchanges will fail", "err", err)
	} else {
		ds := &dataServer{impl: impl, log: logger.With("component", "data-path"), maxResp: defaultMaxResponseBytes}
		go ds.acceptData(context.WithoutCancel(ctx), ctrl)
		go ds.tidyMemory(ctx, tidyPeriod)
		defer ctrl.Close()
	}

	served := make(chan struct{})
	go func() {
		defer close(served)
		goplugin.Serve(&goplugin.ServeConfig{
			HandshakeConfig: handshake(),
			Plugins:         goplugin.PluginSet{pluginName: &invitesPlugin{impl: impl, timeout: defaultCallTimeout}},
			GRPCServer:      goplugin.DefaultGRPCServer,
			Logger: hclog.New(&hclog.LoggerOptions{
				Name:       "go-plugin",
				Output:     stderr,
				JSONFormat: true,
				Level:      hclogLevel(level),
			}),
		})
	}()
	var err error
	select {
	case <-served:
		logger.Debug("host shut the plugin down")
	case <-ctx.Done():
		err = context.Cause(ctx)
		if errors.Is(err, errHostGone) {
			logger.Warn("plugin stopping: its host is gone")
			err = nil
		} else {
			logger.Info("plugin stopping", "reason", err)
		}
	}
	cctx, cancelClose := context.WithTimeout(context.WithoutCancel(ctx), closeTimeout)
	defer cancelClose()
	if c, ok := impl.(interface{ Close(context.Context) error }); ok {
		if cerr := c.Close(cctx); cerr != nil {
			logger.Error("closing the plugin failed", "err", cerr)
			err = errors.Join(err, cerr)
		}
	}
	return err
}

// dataControl returns the data path's control socket the host handed over.
func dataControl() (*net.UnixConn, error) {
	s := os.Getenv(envDataFD)
	if s == "" {
		return nil, fmt.Errorf("%s is not set", envDataFD)
	}
	fd, err := strconv.Atoi(s)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q is not a descriptor", envDataFD, s)
	}
	f := os.NewFile(uintptr(fd), "invites-data-control")
	c, err := net.FileConn(f)
	_ = f.Close()
	if err != nil {
		return nil, fmt.Errorf("data path control socket: %w", err)
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		_ = c.Close()
		return nil, errors.New("data path control socket is not a unix socket")
	}
	return uc, nil
}

// watchParent cancels ctx with errHostGone once the process that started this one has
// died (the plugin is then re-parented, so its parent PID changes).
func watchParent(ctx context.Context, cancel context.CancelCauseFunc, every time.Duration) {
	parent := os.Getppid()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if os.Getppid() != parent {
				cancel(errHostGone)
				return
			}
		}
	}
}

// offeredVersion checks the protocol versions a host offers (go-plugin's
// PLUGIN_PROTOCOL_VERSIONS, comma-separated; empty from hosts that do not say) against
// ProtocolVersion, and says what to do when they do not meet.
func offeredVersion(offered string) error {
	if offered == "" {
		return nil
	}
	for v := range strings.SplitSeq(offered, ",") {
		if strings.TrimSpace(v) == strconv.Itoa(ProtocolVersion) {
			return nil
		}
	}
	return fmt.Errorf("this invites-plugin speaks protocol version %d and the server protocol version %s: "+
		"install the invites-plugin of the server's release (or upgrade the server)", ProtocolVersion, offered)
}
