package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// The plugin's log records cross the boundary by one path: the plugin writes each as
// a JSON line in go-plugin's format on its stderr (newLogHandler), and the host's
// stderrLog re-logs it into the host's slog.Logger; so are go-plugin's own lines, in
// the plugin (on its stderr too) and in the host (goPluginLogger).
//
// Measured by bench's transport group (2 cores, c=16): an audit record per invite costs
// 16 µs of host + plugin CPU this way, 5 µs in-process; version 2's record frames, which
// carried an exchange's records in front of its answer on the data path as a second
// channel, cost 3–4 µs less per invite in a head-to-head run.

// timestampLayout is the layout of "@timestamp" in the plugin's log lines: go-plugin's
// host parses exactly this (log_entry.go), microseconds and all.
const timestampLayout = "2006-01-02T15:04:05.000000Z07:00"

// maxPluginLine bounds a line of the plugin's stderr held while waiting for its end;
// a longer one is logged as it stands.
const maxPluginLine = 1 << 20

// stderrLog re-logs the lines of the plugin's stderr into the host's log, each at its
// own level with its own attributes, in the order the plugin wrote them.
//
// go-plugin hands it every raw line (ClientConfig.Stderr) while go-plugin's own
// parsing is off (see goPluginLogger): go-plugin decodes each line into a map and
// formats and parses its timestamp again, and with one audit record per invite that
// was a fifth of the host's CPU. Here a line is checked with json.Valid and read in
// one pass.
// Lines that are not JSON keep go-plugin's rules: the level their "[WARN]"-style prefix
// names, else debug; a Go panic and everything after it, error.
type stderrLog struct {
	log      *slog.Logger
	name     string // the "logger" attribute: the plugin binary's name
	goPlugin bool   // the lines of go-plugin's own logger in the host (goPluginLogger)

	mu      sync.Mutex
	buf     []byte // the start of a line whose end has not come yet
	inPanic bool
}

// Write implements io.Writer: go-plugin writes each line, then its newline.
func (w *stderrLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	start := 0
	for {
		i := bytes.IndexByte(w.buf[start:], '\n')
		if i < 0 {
			break
		}
		w.line(w.buf[start : start+i])
		start += i + 1
	}
	rest := copy(w.buf, w.buf[start:])
	w.buf = w.buf[:rest]
	if len(w.buf) > maxPluginLine {
		w.line(w.buf)
		w.buf = w.buf[:0]
	}
	if cap(w.buf) > 64<<10 && len(w.buf) == 0 {
		w.buf = nil // do not hold a long line's room for ever
	}
	return len(p), nil
}

// line logs one line.
func (w *stderrLog) line(b []byte) {
	b = bytes.TrimRight(b, "\r")
	if len(b) == 0 {
		return
	}
	if b[0] == '{' && json.Valid(b) {
		w.jsonLine(b)
		return
	}
	s := string(b)
	level, ok := prefixLevel(s)
	if !ok {
		level = slog.LevelDebug
	}
	if strings.HasPrefix(s, "panic: ") || strings.HasPrefix(s, "fatal error: ") {
		w.inPanic = true
	}
	if w.inPanic {
		level = slog.LevelError
	}
	w.emit(time.Now(), level, s, nil)
}

// jsonLine logs a line the plugin's log handler wrote (newLogHandler): an
// object with "@level", "@message" and "@timestamp" beside the record's attributes.
// An object without a level is not such a line: it is logged verbatim at debug.
func (w *stderrLog) jsonLine(b []byte) {
	var (
		msg, levelText string
		hasLevel       bool
		t              time.Time
		attrs          []slog.Attr
	)
	sc := jsonScanner{b: b, i: 1}
	for {
		sc.space()
		if sc.b[sc.i] == '}' {
			break
		}
		key := sc.str()
		sc.space()
		sc.i++ // ':'
		sc.space()
		switch key {
		case "@level":
			levelText, hasLevel = sc.value().String(), true
		case "@message":
			msg = sc.value().String()
		case "@timestamp":
			if pt, err := time.Parse(timestampLayout, sc.value().String()); err == nil {
				t = pt
			}
		default:
			attrs = append(attrs, slog.Attr{Key: key, Value: sc.value()})
		}
		sc.space()
		if sc.b[sc.i] == ',' {
			sc.i++
		}
	}
	hl := hclog.LevelFromString(levelText)
	level, ok := slogLevel(hl)
	if !hasLevel || !ok || hl == hclog.NoLevel {
		w.emit(time.Now(), slog.LevelDebug, string(b), nil)
		return
	}
	if t.IsZero() {
		t = time.Now()
	}
	w.emit(t, level, msg, attrs)
}

// emit hands one record to the host's handler.
func (w *stderrLog) emit(t time.Time, level slog.Level, msg string, attrs []slog.Attr) {
	if w.goPlugin {
		level = min(level, slog.LevelWarn)
		if connectionClosed(msg) {
			level = slog.LevelDebug
		}
	}
	ctx := context.Background() // a line carries no context
	if !w.log.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(t, level, msg, 0)
	if w.name != "" {
		r.AddAttrs(slog.String("logger", w.name))
	}
	r.AddAttrs(attrs...)
	_ = w.log.Handler().Handle(ctx, r)
}

// jsonScanner reads a JSON text that json.Valid has accepted, so it checks nothing.
type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str reads a string; s.i is at its opening quote.
func (s *jsonScanner) str() string {
	start := s.i
	s.i++
	escaped := false
	for s.b[s.i] != '"' {
		if s.b[s.i] == '\\' {
			escaped = true
			s.i++
		}
		s.i++
	}
	s.i++
	if !escaped {
		return string(s.b[start+1 : s.i-1])
	}
	var out string
	_ = json.Unmarshal(s.b[start:s.i], &out) // valid: cannot fail
	return out
}

// value reads any value: strings, numbers, booleans and null as slog kinds of their
// own, objects and arrays decoded as encoding/json does.
func (s *jsonScanner) value() slog.Value {
	switch c := s.b[s.i]; c {
	case '"':
		return slog.StringValue(s.str())
	case 't':
		s.i += len("true")
		return slog.BoolValue(true)
	case 'f':
		s.i += len("false")
		return slog.BoolValue(false)
	case 'n':
		s.i += len("null")
		return slog.AnyValue(nil)
	case '{', '[':
		start := s.i
		s.skipComposite()
		var v any
		_ = json.Unmarshal(s.b[start:s.i], &v) // valid: cannot fail
		return slog.AnyValue(v)
	}
	start := s.i
	for s.i < len(s.b) && strings.IndexByte("+-.0123456789eE", s.b[s.i]) >= 0 {
		s.i++
	}
	text := string(s.b[start:s.i])
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		return slog.Int64Value(n)
	}
	f, _ := strconv.ParseFloat(text, 64) // a number beyond float64 is ±Inf
	return slog.Float64Value(f)
}

// skipComposite moves past an object or an array; s.i is at its opening bracket.
func (s *jsonScanner) skipComposite() {
	depth := 0
	for {
		switch s.b[s.i] {
		case '"':
			s.str()
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		s.i++
		if depth == 0 {
			return
		}
	}
}

// newLogHandler returns the handler Serve logs through: JSON lines on w with the keys
// go-plugin's host understands, "@message", "@level" (trace, debug, info, warn or
// error) and "@timestamp" (timestampLayout), so the host re-logs each line at its
// level with the other attributes as they are.
func newLogHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				if a.Value.Kind() == slog.KindTime {
					return slog.String("@timestamp", a.Value.Time().Format(timestampLayout))
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

// goPluginLogger returns the hclog.Logger go-plugin logs its own work through in the
// host: hclog's JSON lines, re-logged into l by a stderrLog, errors as warnings (the
// host reports a failure itself, once) and the multiplexer's closed connection, with
// which every stop ends, at debug.
// The logger go-plugin names after the plugin binary logs nothing: go-plugin then
// leaves the plugin's stderr to the stderrLog of the plugin's records, rather than
// decoding each line into a map and logging it again.
func goPluginLogger(l *slog.Logger, binary string) hclog.Logger {
	level := hclogLevel(leastLevel(l))
	if !l.Enabled(context.Background(), slog.LevelWarn) {
		level = hclog.Off // its errors are warnings
	}
	return mutedLogger{hclog.New(&hclog.LoggerOptions{
		Output:     &stderrLog{log: l, goPlugin: true},
		JSONFormat: true,
		Level:      level,
	}), binary}
}

// mutedLogger is an hclog.Logger whose logger Named(mute) logs nothing.
type mutedLogger struct {
	hclog.Logger
	mute string
}

// Named implements hclog.Logger.
func (m mutedLogger) Named(name string) hclog.Logger {
	if name == m.mute {
		return hclog.New(&hclog.LoggerOptions{Output: io.Discard, Level: hclog.Off})
	}
	return m.Logger.Named(name)
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

// prefixLevel returns the level a line's "[WARN]"-style prefix names, as hclog's
// InferLevels and go-plugin read it on a plugin's lines that are not JSON.
func prefixLevel(line string) (slog.Level, bool) {
	for _, p := range [...]struct {
		prefix string
		level  slog.Level
	}{
		{"[TRACE]", slog.LevelDebug - 4}, {"[DEBUG]", slog.LevelDebug}, {"[INFO]", slog.LevelInfo},
		{"[WARN]", slog.LevelWarn}, {"[ERR]", slog.LevelError}, {"[ERROR]", slog.LevelError},
	} {
		if strings.HasPrefix(line, p.prefix) {
			return p.level, true
		}
	}
	return 0, false
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
