package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLogHandler checks the plugin's log lines against what go-plugin's host parses
// (log_entry.go): @message, @level as an hclog level name, @timestamp in its layout.
func TestLogHandler(t *testing.T) {
	for i, tc := range []struct {
		level slog.Level
		want  string
	}{
		{slog.LevelDebug - 4, "trace"},
		{slog.LevelDebug, "debug"},
		{slog.LevelInfo, "info"},
		{slog.LevelInfo + 2, "info"},
		{slog.LevelWarn, "warn"},
		{slog.LevelError, "error"},
		{slog.LevelError + 4, "error"},
	} {
		var buf bytes.Buffer
		log := slog.New(newLogHandler(&buf, slog.LevelDebug-4))
		log.With("component", "http").WithGroup("req").Log(context.Background(), tc.level, "invite created", "id", "abc", "n", 3)
		line := buf.String()
		if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
			t.Fatalf("%d: not one line: %q", i, line)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%d: %v: %q", i, err, line)
		}
		if m["@message"] != "invite created" || m["@level"] != tc.want || m["component"] != "http" {
			t.Errorf("%d: %q", i, line)
		}
		if g, ok := m["req"].(map[string]any); !ok || g["id"] != "abc" || g["n"] != 3.0 {
			t.Errorf("%d: group lost: %q", i, line)
		}
		ts, ok := m["@timestamp"].(string)
		if !ok {
			t.Fatalf("%d: no @timestamp: %q", i, line)
		}
		at, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", ts)
		if err != nil || time.Since(at) > time.Minute || time.Since(at) < 0 {
			t.Errorf("%d: @timestamp %q: %v", i, ts, err)
		}
		for _, k := range []string{"msg", "level", "time"} {
			if _, ok := m[k]; ok {
				t.Errorf("%d: slog key %q left: %q", i, k, line)
			}
		}
	}
	var buf bytes.Buffer
	slog.New(newLogHandler(&buf, slog.LevelInfo)).Debug("hidden")
	if buf.Len() != 0 {
		t.Errorf("below the level: %q", buf.String())
	}
}

func TestLaunched(t *testing.T) {
	t.Setenv(magicCookieKey, "")
	if Launched() {
		t.Error("Launched without the cookie")
	}
	if err := Serve(t.Context(), func(*slog.Logger) Invites { return nil }); err == nil {
		t.Error("Serve without the cookie succeeded")
	}
	t.Setenv(magicCookieKey, "wrong")
	if Launched() {
		t.Error("Launched with a wrong cookie")
	}
	t.Setenv(magicCookieKey, magicCookieValue)
	if !Launched() {
		t.Error("not Launched with the cookie")
	}
	h := handshake()
	if h.ProtocolVersion != ProtocolVersion || h.MagicCookieKey != magicCookieKey || h.MagicCookieValue != magicCookieValue {
		t.Errorf("Handshake = %+v", h)
	}
}

// TestServeStopsWhenHostDies kills a host with SIGKILL and checks that its plugin
// process, orphaned, stops by itself.
func TestServeStopsWhenHostDies(t *testing.T) {
	if os.Getenv("INVITES_TEST_ORPHAN") == "plugin" {
		// The plugin: serve until the host is gone.
		err := Serve(t.Context(), func(*slog.Logger) Invites { return &fakeInvites{} })
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	if os.Getenv("INVITES_TEST_ORPHAN") == "host" {
		// The host: start the plugin, print its PID, then wait to be killed.
		cmd := exec.Command(os.Args[0], "-test.run=^TestServeStopsWhenHostDies$")
		cmd.Env = append(os.Environ(), "INVITES_TEST_ORPHAN=plugin", magicCookieKey+"="+magicCookieValue,
			"PLUGIN_PROTOCOL_VERSIONS=3", "PLUGIN_MIN_PORT=0", "PLUGIN_MAX_PORT=0")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		fmt.Println(cmd.Process.Pid)
		time.Sleep(time.Minute)
		return
	}
	host := exec.Command(os.Args[0], "-test.run=^TestServeStopsWhenHostDies$")
	host.Env = append(os.Environ(), "INVITES_TEST_ORPHAN=host")
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscan(out, &pid); err != nil {
		t.Fatalf("reading the plugin's PID: %v", err)
	}
	// Let the plugin start serving, then kill the host so that it cannot clean up.
	time.Sleep(300 * time.Millisecond)
	_ = host.Process.Kill()
	_ = host.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Fatal("the orphaned plugin did not stop within 10 s of its host's death")
}
