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

// TestMutedAdapter: the logger go-plugin names after the plugin binary is off, so that
// go-plugin leaves the plugin's lines to stderrLog; every other logger is as before.
func TestMutedAdapter(t *testing.T) {
	var buf bytes.Buffer
	a := newHCLogAdapter(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), "invites-plugin")
	muted := a.Named("invites-plugin")
	if got := muted.GetLevel(); got.String() != "off" {
		t.Errorf("the plugin binary's logger has level %v, want off", got)
	}
	muted.Error("dropped")
	muted.With("k", "v").Info("dropped too")
	if buf.Len() != 0 {
		t.Errorf("the muted logger wrote %q", buf.String())
	}
	a.Named("stdio").Debug("kept")
	a.Info("kept too")
	if strings.Count(buf.String(), "kept") != 2 {
		t.Errorf("the other loggers wrote %q", buf.String())
	}
}

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var l hclog.Logger = newHCLogAdapter(base, "")

	if got := l.GetLevel(); got != hclog.Debug {
		t.Errorf("GetLevel = %v, want debug", got)
	}
	if l.IsTrace() || !l.IsDebug() || !l.IsInfo() || !l.IsWarn() || !l.IsError() {
		t.Error("Is* disagree with the handler's level")
	}

	// What go-plugin does with a plugin's line: Named(binary), then the line's
	// attributes and its timestamp.
	l = l.Named("invites-plugin").With("plugin", "invites").Named("child")
	l.Warn("invite created", "id", "abc", "timestamp", "2026-05-06T07:08:09.123Z")
	l.Trace("dropped")
	var m map[string]any
	line := strings.TrimSpace(buf.String())
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("%v: %q", err, line)
	}
	want := map[string]any{
		"level": "WARN", "msg": "invite created", "logger": "invites-plugin.child",
		"plugin": "invites", "id": "abc", "time": "2026-05-06T07:08:09.123Z",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v (line %q)", k, m[k], v, line)
		}
	}
	if _, ok := m["timestamp"]; ok {
		t.Errorf("timestamp kept as an attribute: %q", line)
	}
	if got := l.Name(); got != "invites-plugin.child" {
		t.Errorf("Name = %q", got)
	}
	if got := l.ImpliedArgs(); len(got) != 2 || got[0] != "plugin" {
		t.Errorf("ImpliedArgs = %v", got)
	}
	if got := l.ResetNamed("other").Name(); got != "other" {
		t.Errorf("ResetNamed = %q", got)
	}

	// Levels map one to one; Off logs nothing.
	for i, tc := range []struct {
		level hclog.Level
		want  string
	}{
		{hclog.Debug, "DEBUG"}, {hclog.Info, "INFO"}, {hclog.Warn, "WARN"}, {hclog.Error, "ERROR"}, {hclog.NoLevel, "INFO"},
	} {
		buf.Reset()
		l.Log(tc.level, "m")
		if !strings.Contains(buf.String(), `"level":"`+tc.want+`"`) {
			t.Errorf("%d: %v logged %q", i, tc.level, buf.String())
		}
	}
	buf.Reset()
	l.Log(hclog.Off, "m")
	if buf.Len() != 0 {
		t.Errorf("Off logged %q", buf.String())
	}

	buf.Reset()
	l.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}).Print("from log")
	if !strings.Contains(buf.String(), `"level":"ERROR"`) || !strings.Contains(buf.String(), "from log") ||
		!strings.Contains(buf.String(), `"logger":"invites-plugin.child"`) {
		t.Errorf("StandardLogger wrote %q", buf.String())
	}

	// Lines of a standard logger get the level of their prefix; the multiplexer's
	// "connection closed" errors, which every plugin stop ends with, are debug.
	buf.Reset()
	std := l.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	std.Print("[WARN] something odd")
	if !strings.Contains(buf.String(), `"level":"WARN"`) || !strings.Contains(buf.String(), `"msg":"something odd"`) {
		t.Errorf("inferred level: %q", buf.String())
	}
	buf.Reset()
	std.Print("[ERR] yamux: Failed to write header: write unix @->/tmp/x/plugin1: write: broken pipe")
	std.Print("[ERR] yamux: Failed to read header: read unix @->/tmp/x/plugin1: use of closed network connection")
	if strings.Contains(buf.String(), `"level":"ERROR"`) || strings.Contains(buf.String(), `"level":"WARN"`) ||
		strings.Count(buf.String(), `"level":"DEBUG"`) != 2 {
		t.Errorf("yamux shutdown lines: %q", buf.String())
	}

	// go-plugin's own errors (the root logger) are warnings: supervision logs the error.
	buf.Reset()
	newHCLogAdapter(base, "").Error("plugin process exited", "error", "exit status 1")
	if !strings.Contains(buf.String(), `"level":"WARN"`) {
		t.Errorf("go-plugin's own error logged %q", buf.String())
	}

	off := newHCLogAdapter(slog.New(slog.DiscardHandler), "")
	if off.GetLevel() != hclog.Off {
		t.Errorf("discarding logger level = %v", off.GetLevel())
	}
}
