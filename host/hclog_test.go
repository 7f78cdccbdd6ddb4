package host

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var l hclog.Logger = newHCLogAdapter(base)

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
	newHCLogAdapter(base).Error("plugin process exited", "error", "exit status 1")
	if !strings.Contains(buf.String(), `"level":"WARN"`) {
		t.Errorf("go-plugin's own error logged %q", buf.String())
	}

	off := newHCLogAdapter(slog.New(slog.DiscardHandler))
	if off.GetLevel() != hclog.Off {
		t.Errorf("discarding logger level = %v", off.GetLevel())
	}
}
