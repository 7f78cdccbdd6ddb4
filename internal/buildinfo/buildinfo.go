// Package buildinfo says which build of invites a binary is, for --version: the module
// version and the version control revision the go command stamps into every binary
// (runtime/debug.ReadBuildInfo), so that an operator can name exactly what runs.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// String returns one line naming program and its build, such as
//
//	invites-plugin v1.2.0 (revision 1f8d971e2c4a, 2026-11-28T10:00:00Z) go1.26.0 linux/amd64
//
// A binary built from a checkout has the version "(devel)" and, when the checkout had
// uncommitted changes, "modified" after its revision.
func String(program string) string {
	return format(program, read())
}

// info is what String reports.
type info struct {
	version, revision, time string
	modified                bool
	goVersion               string
}

// read gathers the build information of the running binary.
func read() info {
	i := info{version: "(unknown)", goVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return i
	}
	if bi.Main.Version != "" {
		i.version = bi.Main.Version
	}
	if bi.GoVersion != "" {
		i.goVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			i.revision = s.Value
		case "vcs.time":
			i.time = s.Value
		case "vcs.modified":
			i.modified = s.Value == "true"
		}
	}
	return i
}

// format writes i for program.
func format(program string, i info) string {
	var b strings.Builder
	b.WriteString(program + " " + i.version)
	if i.revision != "" {
		rev := i.revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		b.WriteString(" (revision " + rev)
		if i.time != "" {
			b.WriteString(", " + i.time)
		}
		if i.modified {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	}
	b.WriteString(" " + i.goVersion + " " + runtime.GOOS + "/" + runtime.GOARCH)
	return b.String()
}
