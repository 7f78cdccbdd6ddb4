package host

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/xmpp-invites/invites/internal/transport"
)

// maxPluginLine bounds a line of the plugin's stderr held while waiting for its end;
// a longer one is logged as it stands.
const maxPluginLine = 1 << 20

// pluginLog re-logs the lines of the plugin's stderr into the host's log, each at its
// own level with its own attributes, in the order the plugin wrote them; and, through
// emit (transport.DataOptions.Log), the records that come with the answers of HTTP
// exchanges, already decoded, such as the audit record of each invite.
//
// go-plugin hands it every raw line (ClientConfig.Stderr) while go-plugin's own
// parsing is off (see hclogAdapter.mute): go-plugin decodes each line into a map and
// formats and parses its timestamp again, and with one audit record per invite that
// was a fifth of the host's CPU. Here a line is checked with json.Valid and read in
// one pass.
// Lines that are not JSON keep go-plugin's rules: the level their "[WARN]"-style prefix
// names, else debug; a Go panic and everything after it, error.
type pluginLog struct {
	log  *slog.Logger
	name string // the "logger" attribute: the plugin binary's name

	mu      sync.Mutex
	buf     []byte // the start of a line whose end has not come yet
	inPanic bool
}

// Write implements io.Writer: go-plugin writes each line, then its newline.
func (w *pluginLog) Write(p []byte) (int, error) {
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
func (w *pluginLog) line(b []byte) {
	b = bytes.TrimRight(b, "\r")
	if len(b) == 0 {
		return
	}
	if b[0] == '{' && json.Valid(b) {
		w.jsonLine(b)
		return
	}
	level := slog.LevelDebug
	s := string(b)
	for _, lp := range levelPrefixes {
		if strings.HasPrefix(s, lp.prefix) {
			level, _ = slogLevel(lp.level)
			break
		}
	}
	if strings.HasPrefix(s, "panic: ") || strings.HasPrefix(s, "fatal error: ") {
		w.inPanic = true
	}
	if w.inPanic {
		level = slog.LevelError
	}
	w.emit(time.Now(), level, s, nil)
}

// jsonLine logs a line the plugin's log handler wrote (transport.NewLogHandler): an
// object with "@level", "@message" and "@timestamp" beside the record's attributes.
// An object without a level is not such a line: it is logged verbatim at debug.
func (w *pluginLog) jsonLine(b []byte) {
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
			if pt, err := time.Parse(transport.TimestampLayout, sc.value().String()); err == nil {
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

// emit hands one record to the host's handler. It is safe for concurrent use.
func (w *pluginLog) emit(t time.Time, level slog.Level, msg string, attrs []slog.Attr) {
	ctx := context.Background() // a line carries no context
	if !w.log.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(t, level, msg, 0)
	r.AddAttrs(slog.String("logger", w.name))
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
