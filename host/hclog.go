package host

import (
	"context"
	"io"
	"log"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
)

// hclogAdapter is the one place where go-plugin's hclog meets the host's slog: go-plugin
// logs its own work through it. The plugin's stderr lines go to pluginLog instead (see
// mute); a host that leaves mute empty gets them from go-plugin here, at each line's
// level.
// With and Named keep their arguments: With adds attributes, Named sets the "logger"
// attribute (names joined with dots).
type hclogAdapter struct {
	log     *slog.Logger // with the implied arguments
	name    string
	implied []any
	// mute is the name (given to Named on the root) of a logger that logs nothing:
	// go-plugin re-logs the plugin's stderr through the logger it names after the
	// binary, and skips its own parsing of the lines when that logger is off, because
	// pluginLog re-logs them instead.
	mute string
	off  bool
}

// newHCLogAdapter returns an hclog.Logger writing to l.
func newHCLogAdapter(l *slog.Logger) hclog.Logger { return &hclogAdapter{log: l} }

// newMutedHCLogAdapter is newHCLogAdapter whose logger Named(mute) logs nothing.
func newMutedHCLogAdapter(l *slog.Logger, mute string) hclog.Logger {
	return &hclogAdapter{log: l, mute: mute}
}

// slogLevel maps an hclog level; ok is false for Off.
func slogLevel(l hclog.Level) (slog.Level, bool) {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4, true
	case hclog.Debug:
		return slog.LevelDebug, true
	case hclog.Warn:
		return slog.LevelWarn, true
	case hclog.Error:
		return slog.LevelError, true
	case hclog.Off:
		return 0, false
	}
	return slog.LevelInfo, true
}

// hclogTimestampKey is the attribute go-plugin adds to a re-logged plugin line: the
// time the plugin logged it, in hclog.TimeFormat.
const hclogTimestampKey = "timestamp"

// Log implements hclog.Logger.
// go-plugin's own error lines (about a process that exited, or failed to start) are
// logged as warnings: supervision logs the one error line per failure, with what it
// does next. Lines the plugin wrote (under a name) keep their level.
func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if a.name == "" && level > hclog.Warn && level != hclog.Off {
		level = hclog.Warn
	}
	sl, ok := slogLevel(level)
	ctx := context.Background() // hclog carries no context
	if a.off || !ok || !a.log.Enabled(ctx, sl) {
		return
	}
	t := time.Now()
	rest := args[:0:0]
	for i := 0; i < len(args); i++ {
		if k, ok := args[i].(string); ok && k == hclogTimestampKey && i+1 < len(args) {
			if s, ok := args[i+1].(string); ok {
				if pt, err := time.Parse(hclog.TimeFormat, s); err == nil {
					t = pt
					i++
					continue
				}
			}
		}
		rest = append(rest, args[i])
	}
	r := slog.NewRecord(t, sl, msg, 0)
	if a.name != "" {
		r.AddAttrs(slog.String("logger", a.name))
	}
	r.Add(rest...)
	_ = a.log.Handler().Handle(ctx, r)
}

// Trace implements hclog.Logger.
func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }

// Debug implements hclog.Logger.
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }

// Info implements hclog.Logger.
func (a *hclogAdapter) Info(msg string, args ...any) { a.Log(hclog.Info, msg, args...) }

// Warn implements hclog.Logger.
func (a *hclogAdapter) Warn(msg string, args ...any) { a.Log(hclog.Warn, msg, args...) }

// Error implements hclog.Logger.
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) enabled(l hclog.Level) bool {
	sl, ok := slogLevel(l)
	return !a.off && ok && a.log.Enabled(context.Background(), sl)
}

// IsTrace implements hclog.Logger.
func (a *hclogAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }

// IsDebug implements hclog.Logger.
func (a *hclogAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }

// IsInfo implements hclog.Logger.
func (a *hclogAdapter) IsInfo() bool { return a.enabled(hclog.Info) }

// IsWarn implements hclog.Logger.
func (a *hclogAdapter) IsWarn() bool { return a.enabled(hclog.Warn) }

// IsError implements hclog.Logger.
func (a *hclogAdapter) IsError() bool { return a.enabled(hclog.Error) }

// ImpliedArgs implements hclog.Logger.
func (a *hclogAdapter) ImpliedArgs() []any { return slices.Clone(a.implied) }

// With implements hclog.Logger.
func (a *hclogAdapter) With(args ...any) hclog.Logger {
	return &hclogAdapter{
		log:     a.log.With(args...),
		name:    a.name,
		implied: append(slices.Clone(a.implied), args...),
		off:     a.off,
	}
}

// Name implements hclog.Logger.
func (a *hclogAdapter) Name() string { return a.name }

// Named implements hclog.Logger.
func (a *hclogAdapter) Named(name string) hclog.Logger {
	if a.name == "" && a.mute != "" && name == a.mute {
		return &hclogAdapter{log: a.log, name: name, implied: a.implied, off: true}
	}
	if a.name != "" {
		name = a.name + "." + name
	}
	return a.ResetNamed(name)
}

// ResetNamed implements hclog.Logger.
func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	return &hclogAdapter{log: a.log, name: name, implied: a.implied, off: a.off}
}

// SetLevel does nothing: the slog handler decides what is logged.
func (a *hclogAdapter) SetLevel(hclog.Level) {}

// GetLevel returns the lowest hclog level the slog handler logs, or Off.
func (a *hclogAdapter) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if a.enabled(l) {
			return l
		}
	}
	return hclog.Off
}

// StandardLogger implements hclog.Logger: a log.Logger whose lines reach the slog
// logger at opts.ForceLevel, or else at the level their "[ERR]"-style prefix names,
// at info without one.
// go-plugin gives one to its multiplexer (yamux), which logs at error level that its
// connection closed: that is how every stop or kill of the plugin ends, and supervision
// logs those itself, so such lines are debug.
func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

// StandardWriter implements hclog.Logger: see StandardLogger.
func (a *hclogAdapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	w := &standardWriter{a: a, level: hclog.Info, infer: true}
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		w.level, w.infer = opts.ForceLevel, false
	}
	return w
}

// standardWriter turns the lines of a log.Logger into records of the adapter.
type standardWriter struct {
	a     *hclogAdapter
	level hclog.Level // of a line without a prefix, or of every line when forced
	infer bool        // a line's prefix sets its level
}

// levelPrefixes are the prefixes hclog's InferLevels reads.
var levelPrefixes = []struct {
	prefix string
	level  hclog.Level
}{
	{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info},
	{"[WARN]", hclog.Warn}, {"[ERR]", hclog.Error}, {"[ERROR]", hclog.Error},
}

// Write implements io.Writer: one record per line.
func (w *standardWriter) Write(p []byte) (int, error) {
	for line := range strings.SplitSeq(strings.TrimRight(string(p), "\n"), "\n") {
		level := w.level
		msg := strings.TrimSpace(line)
		for _, lp := range levelPrefixes {
			if rest, ok := strings.CutPrefix(msg, lp.prefix); ok {
				msg = strings.TrimSpace(rest)
				if w.infer {
					level = lp.level
				}
				break
			}
		}
		if connectionClosed(msg) {
			level = hclog.Debug
		}
		w.a.Log(level, msg)
	}
	return len(p), nil
}

// connectionClosed reports whether a line of go-plugin's multiplexer says only that
// its connection to the plugin closed.
func connectionClosed(msg string) bool {
	if !strings.Contains(msg, "yamux") {
		return false
	}
	for _, s := range []string{"use of closed network connection", "broken pipe", "connection reset", "EOF"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

var _ hclog.Logger = (*hclogAdapter)(nil)
