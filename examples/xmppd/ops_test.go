package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLockDataDir is the regression test of two servers on one data directory: the
// second is refused, naming the process that holds it; once the first lets go, the
// directory can be taken again.
func TestLockDataDir(t *testing.T) {
	dir := t.TempDir()
	first, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockDataDir(dir)
	if err == nil {
		t.Fatal("a second server took the same data directory")
	}
	want := "the data directory " + dir + " is in use by another xmppd (process " + strconv.Itoa(os.Getpid()) + ")"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to say %q", err, want)
	}
	first.unlock()
	again, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("after the first let go: %v", err)
	}
	again.unlock()
}

// TestServeRefusesLockedDataDir runs serve on a data directory another server holds:
// it fails before touching anything.
func TestServeRefusesLockedDataDir(t *testing.T) {
	dir := t.TempDir()
	l, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer l.unlock()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-data", dir, "-plugin", "/nonexistent", "-c2s", "127.0.0.1:0", "-http", "127.0.0.1:0"},
		nil, &stdout, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "is in use by another xmppd") {
		t.Errorf("code %d, stderr %q", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "accounts.db")); err == nil {
		t.Error("the refused server opened the account store")
	}
}

// TestLogFormatJSON checks that -log-format json writes one JSON object a line.
func TestLogFormatJSON(t *testing.T) {
	var buf bytes.Buffer
	cfg := Config{LogLevel: "info", LogFormat: "json"}
	newLogger(cfg, &buf).Info("hello", "k", "v")
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil || m["msg"] != "hello" || m["k"] != "v" {
		t.Errorf("line %q: %v", buf.String(), err)
	}
}

// TestHelpAndVersion: -h prints the usage to standard output, as invites-plugin does,
// and -version the version.
func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, nil, &stdout, &stderr); code != exitOK || !strings.Contains(stdout.String(), "Usage:") || stderr.Len() != 0 {
			t.Errorf("%v: code %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
	for _, args := range [][]string{{"-version"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, nil, &stdout, &stderr); code != exitOK || !strings.HasPrefix(stdout.String(), "xmppd ") {
			t.Errorf("%v: code %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-nope"}, nil, &stdout, &stderr); code != exitUsage || stdout.Len() != 0 || stderr.Len() == 0 {
		t.Errorf("a bad flag: code %d, stdout %q", code, stdout.String())
	}
}

func TestMetricsAllow(t *testing.T) {
	c := Config{MetricsAllow: []string{"10.1.2.3", "192.0.2.0/24", "::1"}}
	got, err := c.metricsAllow()
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.1.2.3/32"), netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("::1/128")}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %v, want %v", i, got[i], want[i])
		}
	}
	if none, err := (&Config{}).metricsAllow(); err != nil || none != nil {
		t.Errorf("empty: %v %v (nil means the host's default, loopback)", none, err)
	}
}
