package buildinfo

import (
	"runtime"
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

func TestString(t *testing.T) {
	s := String("invites-plugin")
	if !strings.HasPrefix(s, "invites-plugin ") || !strings.Contains(s, runtime.Version()) || strings.Contains(s, "\n") {
		t.Errorf("String = %q", s)
	}
}
