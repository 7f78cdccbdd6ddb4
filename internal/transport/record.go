package transport

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"
	"time"
)

// Log records that travel with an exchange's answer.
//
// A record the plugin logs with the context of an HTTP exchange (an audit record of an
// invite made through the API, most often) does not go to stderr: it is held until the
// handler returns, then sent as a record frame just before the response frame, in the
// same write, and the host logs it before it answers its client. On stderr each such
// record cost a JSON encoding, a write to a pipe, a wake-up of the host's reader and a
// JSON decoding: at one audit record per invite, about a quarter of the CPU of an
// invite through the boundary. A record frame costs a few appends and no syscall.
//
//	record:  'L' seconds nanoseconds level message count attr…
//	attr:    key kind value
//
// where seconds and level are varints (seconds since the Unix epoch), nanoseconds a
// uvarint, a string as in frame.go, count a uvarint, and the value by its kind:
// valString a string, valInt a varint, valUint a uvarint, valFloat 8 bytes (IEEE 754,
// big-endian), valBool a byte, valDuration a varint of nanoseconds, valTime seconds
// and nanoseconds as above, valGroup a count then that many attrs, valJSON a string
// holding a JSON text (any other value, as slog's JSON handler would write it).
//
// Records logged with no exchange's context, past maxExchangeRecords in one exchange,
// or longer than maxRecordBytes go to stderr as before, and so do the held records of
// an exchange whose answer could not be written: the host is then gone or has given
// up, and stderr is what is left.

const kindRecord = 'L'

// The kinds of an attribute's value in a record frame.
const (
	valString   = 's'
	valInt      = 'i'
	valUint     = 'u'
	valFloat    = 'f'
	valBool     = 'b'
	valDuration = 'd'
	valTime     = 't'
	valGroup    = 'g'
	valJSON     = 'j'
)

const (
	// maxExchangeRecords bounds the records one exchange carries; the plugin sends the
	// rest to stderr, and the host refuses an answer with more.
	maxExchangeRecords = 64
	// maxRecordBytes bounds one record frame's payload; a longer record goes to stderr.
	maxRecordBytes = 64 << 10
	// maxGroupDepth bounds how deep groups nest in a record frame.
	maxGroupDepth = 8
)

// appendRecord appends a record frame holding prefix (the attributes the logger was
// made with) then r's attributes.
func appendRecord(b []byte, prefix []slog.Attr, r slog.Record) []byte {
	start := len(b)
	b = beginFrame(b, kindRecord)
	b = appendTime(b, r.Time)
	b = binary.AppendVarint(b, int64(r.Level))
	b = appendString(b, r.Message)
	n := 0
	count := func(a slog.Attr) bool {
		if !emptyAttr(a) {
			n++
		}
		return true
	}
	for _, a := range prefix {
		count(a)
	}
	r.Attrs(count)
	b = binary.AppendUvarint(b, uint64(n))
	for _, a := range prefix {
		b = appendAttr(b, a, 0)
	}
	r.Attrs(func(a slog.Attr) bool {
		b = appendAttr(b, a, 0)
		return true
	})
	return endFrameAt(b, start)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// appendAttr appends one attribute; an empty one (which handlers skip) appends
// nothing, and groups deeper than maxGroupDepth are written as JSON.
func appendAttr(b []byte, a slog.Attr, depth int) []byte {
	if emptyAttr(a) {
		return b
	}
	v := a.Value.Resolve()
	b = appendString(b, a.Key)
	switch v.Kind() {
	case slog.KindString:
		b = append(b, valString)
		b = appendString(b, v.String())
	case slog.KindInt64:
		b = append(b, valInt)
		b = binary.AppendVarint(b, v.Int64())
	case slog.KindUint64:
		b = append(b, valUint)
		b = binary.AppendUvarint(b, v.Uint64())
	case slog.KindFloat64:
		b = append(b, valFloat)
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(v.Float64()))
	case slog.KindBool:
		b = append(b, valBool)
		if v.Bool() {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case slog.KindDuration:
		b = append(b, valDuration)
		b = binary.AppendVarint(b, int64(v.Duration()))
	case slog.KindTime:
		b = append(b, valTime)
		b = appendTime(b, v.Time())
	case slog.KindGroup:
		if depth >= maxGroupDepth {
			b = append(b, valJSON)
			return appendString(b, groupJSON(v.Group()))
		}
		as := slices.DeleteFunc(slices.Clone(v.Group()), emptyAttr)
		b = append(b, valGroup)
		b = binary.AppendUvarint(b, uint64(len(as)))
		for _, g := range as {
			b = appendAttr(b, g, depth+1)
		}
	default:
		b = append(b, valJSON)
		b = appendString(b, anyJSON(v.Any()))
	}
	return b
}

// emptyAttr reports whether a is the zero Attr, which handlers skip. (Attr.Equal
// could panic on a value that is not comparable.)
func emptyAttr(a slog.Attr) bool {
	return a.Key == "" && a.Value.Kind() == slog.KindAny && a.Value.Any() == nil
}

// anyJSON writes a value of no kind of its own as slog's JSON handler does: an error
// as its text, anything else as encoding/json writes it, or as fmt does when
// encoding/json cannot.
func anyJSON(v any) string {
	if err, ok := v.(error); ok {
		v = err.Error()
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(fmt.Sprintf("%+v", v))
	}
	return string(b)
}

// groupJSON writes a group too deep for a record frame as a JSON object.
func groupJSON(as []slog.Attr) string {
	m := make(map[string]any, len(as))
	for _, a := range as {
		v := a.Value.Resolve()
		if v.Kind() == slog.KindGroup {
			m[a.Key] = json.RawMessage(groupJSON(v.Group()))
		} else {
			m[a.Key] = v.Any()
		}
	}
	return anyJSON(m)
}

// decodedRecord is a record frame's content.
type decodedRecord struct {
	Time    time.Time
	Level   slog.Level
	Message string
	Attrs   []slog.Attr
}

// decodeRecord decodes a record frame's payload.
func decodeRecord(p []byte) (decodedRecord, error) {
	var rec decodedRecord
	if len(p) == 0 || p[0] != kindRecord {
		return rec, frameError("not a log record")
	}
	d := decoder{p: p[1:]}
	rec.Time = d.time("record time")
	rec.Level = slog.Level(d.varint("record level"))
	rec.Message = d.string("record message")
	rec.Attrs = d.attrs(0)
	if d.err == nil && len(d.p) > 0 {
		d.fail("bytes after the record")
	}
	if d.err != nil {
		return decodedRecord{}, d.err
	}
	return rec, nil
}

func (d *decoder) time(what string) time.Time {
	sec := d.varint(what)
	nsec := d.uvarint(what)
	if d.err != nil || nsec >= uint64(time.Second) {
		d.fail(what)
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec))
}

// attrs reads a count, then that many attributes.
func (d *decoder) attrs(depth int) []slog.Attr {
	n := d.uvarint("attribute count")
	// Each attribute takes at least three bytes: refuse a count the payload cannot
	// hold before making room for it.
	if d.err != nil || n > uint64(len(d.p)/3) {
		d.fail("attribute count")
		return nil
	}
	if n == 0 {
		return nil
	}
	as := make([]slog.Attr, 0, n)
	for range n {
		key := d.string("attribute key")
		kind := d.byte("attribute kind")
		var v slog.Value
		switch kind {
		case valString:
			v = slog.StringValue(d.string("string value"))
		case valInt:
			v = slog.Int64Value(d.varint("int value"))
		case valUint:
			v = slog.Uint64Value(d.uvarint("uint value"))
		case valFloat:
			if len(d.p) < 8 {
				d.fail("float value")
				break
			}
			v = slog.Float64Value(math.Float64frombits(binary.BigEndian.Uint64(d.p)))
			d.p = d.p[8:]
		case valBool:
			switch d.byte("bool value") {
			case 0:
				v = slog.BoolValue(false)
			case 1:
				v = slog.BoolValue(true)
			default:
				d.fail("bool value")
			}
		case valDuration:
			v = slog.DurationValue(time.Duration(d.varint("duration value")))
		case valTime:
			v = slog.TimeValue(d.time("time value"))
		case valGroup:
			if depth >= maxGroupDepth {
				d.fail("groups nested too deep")
				break
			}
			v = slog.GroupValue(d.attrs(depth + 1)...)
		case valJSON:
			var x any
			if err := json.Unmarshal(d.bytes("JSON value"), &x); err != nil && d.err == nil {
				d.fail("JSON value")
			}
			v = slog.AnyValue(x)
		default:
			d.fail("attribute kind")
		}
		if d.err != nil {
			return nil
		}
		as = append(as, slog.Attr{Key: key, Value: v})
	}
	return as
}

// The plugin's side: holding the records of an exchange.

// exchangeLog holds the records logged with one exchange's context until its answer
// is sent. It is safe for concurrent use: a handler may log from goroutines of its own.
type exchangeLog struct {
	mu      sync.Mutex
	held    []heldRecord
	settled bool // the answer is being sent: records go to stderr from now on
}

// heldRecord is a record and the handler it was logged through.
type heldRecord struct {
	h *exchangeLogHandler
	r slog.Record
}

type exchangeLogKey struct{}

// withExchangeLog returns ctx carrying l: records logged with it are held in l.
func withExchangeLog(ctx context.Context, l *exchangeLog) context.Context {
	return context.WithValue(ctx, exchangeLogKey{}, l)
}

// hold keeps r for the answer, unless the answer is already on its way or holds
// maxExchangeRecords records.
func (l *exchangeLog) hold(h *exchangeLogHandler, r slog.Record) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.settled || len(l.held) >= maxExchangeRecords {
		return false
	}
	l.held = append(l.held, heldRecord{h: h, r: r.Clone()})
	return true
}

// settle ends the holding and returns what was held.
func (l *exchangeLog) settle() []heldRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.settled = true
	return l.held
}

// appendHeldRecords appends a record frame for each held record to b, and returns
// the records it framed (in held's room); a record too long for a frame is logged on
// stderr instead.
func appendHeldRecords(ctx context.Context, b []byte, held []heldRecord) ([]byte, []heldRecord) {
	framed := held[:0]
	for _, hr := range held {
		start := len(b)
		b = appendRecord(b, hr.h.attrs, hr.r)
		if len(b)-start-frameHeaderLen > maxRecordBytes {
			b = b[:start]
			_ = hr.h.next.Handle(ctx, hr.r)
			continue
		}
		framed = append(framed, hr)
	}
	return b, framed
}

// spillHeldRecords logs framed records on stderr: their answer could not be sent.
func spillHeldRecords(ctx context.Context, held []heldRecord) {
	for _, hr := range held {
		_ = hr.h.next.Handle(ctx, hr.r)
	}
}

// exchangeLogHandler is the plugin's log handler: a record logged with the context of
// an exchange is held for that exchange's answer (see exchangeLog), any other goes to
// next, the JSON lines on stderr (NewLogHandler).
type exchangeLogHandler struct {
	next  slog.Handler
	attrs []slog.Attr // from WithAttrs, sent before the record's own
	// grouped is set under WithGroup: such records go to next, which knows where
	// their attributes belong.
	grouped bool
}

// newExchangeLogHandler returns the plugin's handler over next.
func newExchangeLogHandler(next slog.Handler) *exchangeLogHandler {
	return &exchangeLogHandler{next: next}
}

// Enabled implements slog.Handler.
func (h *exchangeLogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle implements slog.Handler.
func (h *exchangeLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if !h.grouped && os.Getenv("INVITES_RECORDS_ON_STDERR") == "" {
		if l, ok := ctx.Value(exchangeLogKey{}).(*exchangeLog); ok && l.hold(h, r) {
			return nil
		}
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *exchangeLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &exchangeLogHandler{next: h.next.WithAttrs(as), attrs: append(slices.Clip(h.attrs), as...), grouped: h.grouped}
}

// WithGroup implements slog.Handler.
func (h *exchangeLogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &exchangeLogHandler{next: h.next.WithGroup(name), attrs: h.attrs, grouped: true}
}
