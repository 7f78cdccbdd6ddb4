package plugin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

// relog feeds input to a stderrLog the way go-plugin does (each line, then its
// newline, in separate writes) and returns the host's JSON records.
func relog(t *testing.T, level slog.Level, lines ...string) []map[string]any {
	t.Helper()
	var buf bytes.Buffer
	w := &stderrLog{log: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level})), name: "invites-plugin"}
	for _, l := range lines {
		_, _ = w.Write([]byte(l))
		_, _ = w.Write([]byte("\n"))
	}
	var out []map[string]any
	for l := range strings.SplitSeq(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("host wrote %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestPluginLog(t *testing.T) {
	for _, tc := range []struct {
		name  string
		level slog.Level
		line  string
		want  map[string]any // nil: nothing logged
	}{
		{"info record keeps its attributes and time", slog.LevelInfo,
			`{"@level":"info","@message":"audit","@timestamp":"2026-05-06T07:08:09.123456Z","audit":true,"event":"invite.created","max_uses":1,"ratio":0.5,"none":null}`,
			map[string]any{"level": "INFO", "msg": "audit", "logger": "invites-plugin", "time": "2026-05-06T07:08:09.123456Z",
				"audit": true, "event": "invite.created", "max_uses": 1.0, "ratio": 0.5, "none": nil}},
		{"escapes and nested values", slog.LevelInfo,
			`{"@level":"warn","@message":"a \"quoted\" \u00e9 line","changed":["max_uses","note"],"obj":{"a":[1,{"b":"}]"}]}}`,
			map[string]any{"level": "WARN", "msg": `a "quoted" é line`, "changed": []any{"max_uses", "note"},
				"obj": map[string]any{"a": []any{1.0, map[string]any{"b": "}]"}}}}},
		{"below the host's level", slog.LevelWarn, `{"@level":"info","@message":"quiet"}`, nil},
		{"error level", slog.LevelInfo, `{"@level":"error","@message":"bad"}`, map[string]any{"level": "ERROR", "msg": "bad"}},
		{"trace is below debug", slog.LevelDebug, `{"@level":"trace","@message":"x"}`, nil},
		{"JSON without a level, verbatim at debug", slog.LevelDebug, `{"a":1}`, map[string]any{"level": "DEBUG", "msg": `{"a":1}`}},
		{"invalid JSON is a plain line", slog.LevelDebug, `{"@level":"info",`, map[string]any{"level": "DEBUG", "msg": `{"@level":"info",`}},
		{"plain line with a level prefix", slog.LevelInfo, `[WARN] odd`, map[string]any{"level": "WARN", "msg": "[WARN] odd"}},
		{"plain line without one is debug", slog.LevelInfo, `hello`, nil},
		{"a panic is an error", slog.LevelInfo, `panic: boom`, map[string]any{"level": "ERROR", "msg": "panic: boom"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := relog(t, tc.level, tc.line)
			if tc.want == nil {
				if len(got) != 0 {
					t.Fatalf("logged %v, want nothing", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("logged %d records (%v), want 1", len(got), got)
			}
			for k, v := range tc.want {
				if fmt.Sprint(got[0][k]) != fmt.Sprint(v) {
					t.Errorf("%s = %#v, want %#v (record %v)", k, got[0][k], v, got[0])
				}
			}
		})
	}
}

func TestPluginLogAfterPanic(t *testing.T) {
	got := relog(t, slog.LevelInfo, "panic: boom", "", "goroutine 1 [running]:", "main.main()")
	if len(got) != 3 {
		t.Fatalf("logged %v, want the panic and its two trace lines", got)
	}
	for _, r := range got {
		if r["level"] != "ERROR" {
			t.Errorf("trace line at %v: %v", r["level"], r)
		}
	}
}

func TestPluginLogSplitWrites(t *testing.T) {
	var buf bytes.Buffer
	w := &stderrLog{log: slog.New(slog.NewJSONHandler(&buf, nil)), name: "p"}
	line := `{"@level":"info","@message":"one"}` + "\n" + `{"@level":"info","@message":"two"}` + "\n"
	for i := range len(line) { // a byte at a time
		_, _ = w.Write([]byte{line[i]})
	}
	if n := strings.Count(buf.String(), `"msg":"one"`) + strings.Count(buf.String(), `"msg":"two"`); n != 2 {
		t.Errorf("logged %q", buf.String())
	}
	// A line past the bound is logged as it stands rather than held.
	buf.Reset()
	_, _ = w.Write([]byte("[WARN] " + strings.Repeat("x", maxPluginLine)))
	if !strings.Contains(buf.String(), `"level":"WARN"`) || len(w.buf) != 0 {
		t.Errorf("long line: logged %d bytes, holding %d", buf.Len(), len(w.buf))
	}
}

// TestPluginLogOfPluginHandler reads what the plugin's own log handler writes: every
// kind of attribute arrives as the plugin logged it.
func TestPluginLogOfPluginHandler(t *testing.T) {
	var line bytes.Buffer
	pl := slog.New(newLogHandler(&line, slog.LevelInfo))
	when := time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)
	r := slog.NewRecord(when, slog.LevelWarn, "store slow", 0)
	r.AddAttrs(slog.String("component", "audit"), slog.Int("n", 42), slog.Duration("took", 1500*time.Millisecond),
		slog.Float64("big", math.MaxFloat64), slog.Any("list", []string{"a", "b"}), slog.Group("g", slog.String("k", "v")))
	_ = pl.Handler().Handle(t.Context(), r)
	got := relog(t, slog.LevelInfo, strings.TrimSpace(line.String()))
	if len(got) != 1 {
		t.Fatalf("got %v", got)
	}
	want := map[string]any{"level": "WARN", "msg": "store slow", "time": "2026-05-06T07:08:09.123456Z",
		"component": "audit", "n": 42.0, "took": 1.5e9, "big": math.MaxFloat64, "list": []any{"a", "b"},
		"g": map[string]any{"k": "v"}, "logger": "invites-plugin"}
	for k, v := range want {
		if fmt.Sprint(got[0][k]) != fmt.Sprint(v) {
			t.Errorf("%s = %#v, want %#v", k, got[0][k], v)
		}
	}
}

// FuzzPluginLog checks that any input is logged without a panic, and that the
// attributes of a valid object are the ones encoding/json finds.
func FuzzPluginLog(f *testing.F) {
	for _, s := range []string{
		`{"@level":"info","@message":"m","a":1,"b":"x\"y","c":[1,{"d":"]"}],"e":null,"f":-1.5e3}`,
		`{"@level":"error","@message":"\ud83d\ude00","k":true}`,
		`[WARN] x`, `panic: x`, `{`, `{}`, `{"@level":5}`, `  {"@level":"info"}  `,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		line = strings.ReplaceAll(line, "\n", " ")
		var buf bytes.Buffer
		w := &stderrLog{log: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug - 4})), name: "p"}
		_, _ = w.Write([]byte(line + "\n"))
		var want map[string]any
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &want) != nil {
			return
		}
		if lv, ok := want["@level"].(string); !ok || (lv != "trace" && lv != "debug" && lv != "info" && lv != "warn" && lv != "error") {
			return
		}
		var got map[string]any
		if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &got); err != nil {
			t.Fatalf("host wrote %q for %q", buf.String(), line)
		}
		for k, v := range want {
			if strings.HasPrefix(k, "@") || k == "time" || k == "level" || k == "msg" || k == "logger" {
				continue
			}
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Errorf("%s = %#v, want %#v (line %q)", k, got[k], v, line)
			}
		}
	})
}

// TestGoPluginLogger checks go-plugin's own lines in the host: at their levels but
// errors as warnings and a closed multiplexer at debug, named loggers kept, and the
// logger named after the plugin binary off, so that go-plugin leaves the plugin's
// lines to stderrLog.
func TestGoPluginLogger(t *testing.T) {
	var buf bytes.Buffer
	l := goPluginLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), "invites-plugin")
	if got := l.GetLevel(); got != hclog.Debug {
		t.Errorf("GetLevel = %v, want debug", got)
	}
	muted := l.Named("invites-plugin")
	if got := muted.GetLevel(); got != hclog.Off {
		t.Errorf("the plugin binary's logger has level %v, want off", got)
	}
	muted.Error("dropped")
	muted.With("k", "v").Info("dropped too")
	if buf.Len() != 0 {
		t.Errorf("the muted logger wrote %q", buf.String())
	}
	records := func() []map[string]any {
		var out []map[string]any
		for line := range strings.Lines(buf.String()) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("%v: %q", err, line)
			}
			out = append(out, m)
		}
		buf.Reset()
		return out
	}
	for i, tc := range []struct {
		log        func()
		level, msg string
	}{
		{func() { l.Debug("starting plugin", "path", "/x") }, "DEBUG", "starting plugin"},
		{func() { l.Named("stdio").Warn("odd", "n", 1) }, "WARN", "odd"},
		{func() { l.Error("plugin process exited", "error", "exit status 1") }, "WARN", "plugin process exited"},
		{func() { l.Trace("dropped") }, "", ""},
		{func() {
			l.Named("yamux").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).
				Print("[ERR] yamux: Failed to read header: read unix @->/tmp/x: use of closed network connection")
		}, "DEBUG", "yamux: Failed to read header: read unix @->/tmp/x: use of closed network connection"},
		{func() {
			l.Named("yamux").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}).Print("[WARN] yamux: keepalive late")
		}, "WARN", "yamux: keepalive late"},
	} {
		tc.log()
		got := records()
		if tc.level == "" {
			if len(got) != 0 {
				t.Errorf("%d: logged %v", i, got)
			}
			continue
		}
		if len(got) != 1 || got[0]["level"] != tc.level || got[0]["msg"] != tc.msg {
			t.Errorf("%d: logged %v, want %s %q", i, got, tc.level, tc.msg)
		}
	}
	if off := goPluginLogger(slog.New(slog.DiscardHandler), "x"); off.IsError() {
		t.Error("a logger that keeps nothing asks for errors")
	}
}
