package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormat(t *testing.T) {
	platform := " " + runtime.GOOS + "/" + runtime.GOARCH
	for i, tc := range []struct {
		in   info
		want string
	}{
		0: {info{version: "v1.2.0", revision: "1f8d971e2c4a55aa", time: "2026-11-28T10:00:00Z", goVersion: "go1.26.0"},
			"x v1.2.0 (revision 1f8d971e2c4a, 2026-11-28T10:00:00Z) go1.26.0" + platform},
		1: {info{version: "(devel)", revision: "abc", modified: true, goVersion: "go1.26.0"},
			"x (devel) (revision abc, modified) go1.26.0" + platform},
		2: {info{version: "(unknown)", goVersion: "go1.26.0"}, "x (unknown) go1.26.0" + platform},
	} {
		if got := format("x", tc.in); got != tc.want {
			t.Errorf("%d: %q, want %q", i, got, tc.want)
		}
	}
}

// TestRead checks that stamped values win over what the go command recorded, and that
// a build without either says so.
func TestRead(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "aaaa"}, {Key: "vcs.time", Value: "2026-01-01T00:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	noVCS := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}
	for i, tc := range []struct {
		bi   *debug.BuildInfo
		s    stamp
		want info
	}{
		0: {vcs, stamp{}, info{version: "(devel)", revision: "aaaa", time: "2026-01-01T00:00:00Z", modified: true, goVersion: "go1.26.0"}},
		1: {noVCS, stamp{}, info{version: "(devel)", goVersion: "go1.26.0"}},
		2: {noVCS, stamp{"v1.0.0", "bbbb", "2026-02-02T00:00:00Z"}, info{version: "v1.0.0", revision: "bbbb", time: "2026-02-02T00:00:00Z", goVersion: "go1.26.0"}},
		3: {vcs, stamp{"v1.0.0", "bbbb", ""}, info{version: "v1.0.0", revision: "bbbb", goVersion: "go1.26.0"}},
		4: {vcs, stamp{version: "v1.0.0"}, info{version: "v1.0.0", revision: "aaaa", time: "2026-01-01T00:00:00Z", modified: true, goVersion: "go1.26.0"}},
		5: {nil, stamp{}, info{version: "(unknown)", goVersion: runtime.Version()}},
	} {
		if got := read(tc.bi, tc.s); got != tc.want {
			t.Errorf("%d: %+v, want %+v", i, got, tc.want)
		}
	}
}

func TestString(t *testing.T) {
	s := String("invites-plugin")
	if !strings.HasPrefix(s, "invites-plugin "+Version()+" ") || !strings.Contains(s, runtime.Version()) || strings.Contains(s, "\n") {
		t.Errorf("String = %q", s)
	}
}
