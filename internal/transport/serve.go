package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/xmpp-invites/invites/plugin"
)

// TimestampLayout is the layout of "@timestamp" in the plugin's log lines: go-plugin's
// host parses exactly this (log_entry.go), microseconds and all.
const TimestampLayout = "2006-01-02T15:04:05.000000Z07:00"

// EnvLogLevel is the environment variable in which a host asks the plugin for the
// least level worth logging, as slog.Level's text ("DEBUG", "INFO", "WARN+2"): lines
// below what the host keeps are not written at all.
const EnvLogLevel = "INVITES_PLUGIN_LOG_LEVEL"

// parentPollInterval is how often the plugin checks that its host still runs.
const parentPollInterval = 500 * time.Millisecond

// closeTimeout bounds the final bookkeeping flush when the plugin stops.
const closeTimeout = 10 * time.Second

// errHostGone ends Serve when the host process has died.
var errHostGone = errors.New("the host process is gone")

// Launched reports whether the process was started by a go-plugin host, that is
// whether the magic cookie is in its environment.
func Launched() bool { return os.Getenv(plugin.MagicCookieKey) == plugin.MagicCookieValue }

// ServeOptions tune Serve.
type ServeOptions struct {
	// Level is the least level logged; nil means the level in EnvLogLevel, or
	// slog.LevelInfo when that is unset or invalid.
	Level slog.Leveler
}

// Serve runs the plugin when a host has started the process (see Launched): it builds
// the implementation with newImpl, handing it the plugin's logger, serves its control
// plane over go-plugin and its HTTP exchanges on the data path the host handed over,
// until the host shuts the plugin down, the host dies, or ctx ends; then it closes the
// implementation if it has a Close(context.Context) error method.
// The implementation is a parameter so that this package, which hosts import, does not
// link the store and everything behind it; cmd/invites-plugin passes service.New.
// Its log goes to the process's stderr as JSON lines in go-plugin's format, which the
// host re-logs at each line's level; but a record logged with the context of an HTTP
// exchange travels with that exchange's answer instead (record.go).
// ctx should end only when the plugin must stop on its own, such as on SIGTERM: not on
// an interrupt, which go-plugin ignores because a terminal's Ctrl-C reaches the plugin
// as well as the host, and the host stops the plugin itself.
func Serve(ctx context.Context, newImpl func(*slog.Logger) plugin.Invites, opts ServeOptions) error {
	if !Launched() {
		return errors.New("not started by a host (the magic cookie is not set)")
	}
	level := opts.Level
	if level == nil {
		var l slog.Level
		if err := l.UnmarshalText([]byte(os.Getenv(EnvLogLevel))); err != nil {
			l = slog.LevelInfo
		}
		level = l
	}
	// goplugin.Serve replaces os.Stderr with a pipe of its own; the host reads log
	// lines from the process's real stderr, so keep that file.
	stderr := os.Stderr
	logger := slog.New(newExchangeLogHandler(NewLogHandler(stderr, level)))
	impl := newImpl(logger)

	// A host killed with SIGKILL cannot shut its plugin down; without this watch the
	// plugin would live on as an orphan, holding its store open.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go watchParent(ctx, cancel, parentPollInterval)

	if ctrl, err := dataControl(); err != nil {
		logger.Warn("no data path: HTTP exchanges will fail", "err", err)
	} else {
		ds := &dataServer{impl: impl, log: logger.With("component", "data-path"),
			maxReq: maxHeadBytes + DefaultMaxBodyBytes, maxResp: DefaultMaxResponseBytes}
		go ds.acceptData(context.WithoutCancel(ctx), ctrl)
		defer ctrl.Close()
	}

	served := make(chan struct{})
	go func() {
		defer close(served)
		goplugin.Serve(&goplugin.ServeConfig{
			HandshakeConfig: plugin.Handshake(),
			Plugins:         PluginSet(&InvitesPlugin{Impl: impl}),
			GRPCServer:      goplugin.DefaultGRPCServer,
			Logger: hclog.New(&hclog.LoggerOptions{
				Name:       "go-plugin",
				Output:     stderr,
				JSONFormat: true,
				Level:      hclogLevel(level.Level()),
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
	s := os.Getenv(EnvDataFD)
	if s == "" {
		return nil, fmt.Errorf("%s is not set", EnvDataFD)
	}
	fd, err := strconv.Atoi(s)
	if err != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q is not a descriptor", EnvDataFD, s)
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

// NewLogHandler returns the handler Serve logs through: JSON lines on w with the keys
// go-plugin's host understands, "@message", "@level" (trace, debug, info, warn or
// error) and "@timestamp" (TimestampLayout), so the host re-logs each line at its
// level with the other attributes as they are.
func NewLogHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				if a.Value.Kind() == slog.KindTime {
					return slog.String("@timestamp", a.Value.Time().Format(TimestampLayout))
				}
			case slog.LevelKey:
				if l, ok := a.Value.Any().(slog.Level); ok {
					return slog.String("@level", hclogLevel(l).String())
				}
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	})
}

// hclogLevel maps a slog level onto the nearest hclog level at or below it.
func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l < slog.LevelDebug:
		return hclog.Trace
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	}
	return hclog.Error
}
