package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// The values the linker stamps (-ldflags -X); empty in a build that set none.
// They are written only by the linker and never change at run time.
var (
	version    string
	revision   string
	commitTime string
)

// String returns one line naming program and its build, such as
//
//	invites-plugin v1.2.0 (revision 1f8d971e2c4a, 2026-11-28T10:00:00Z) go1.26.0 linux/amd64
//
// A binary built from a checkout without stamping has the version "(devel)" and, when
// the checkout had uncommitted changes, "modified" after its revision.
func String(program string) string {
	bi, _ := debug.ReadBuildInfo()
	return format(program, read(bi, stamp{version, revision, commitTime}))
}

// Version returns the build's version alone: the stamped one, else the module's,
// "(devel)" for a checkout, "(unknown)" when the binary carries no build information.
func Version() string {
	bi, _ := debug.ReadBuildInfo()
	return read(bi, stamp{version, revision, commitTime}).version
}

// stamp is what the linker stamped.
type stamp struct{ version, revision, time string }

// info is what String reports.
type info struct {
	version, revision, time string
	modified                bool
	goVersion               string
}

// read gathers the build information of the running binary from bi (nil when it has
// none) and the stamped values, which win over it.
func read(bi *debug.BuildInfo, s stamp) info {
	i := info{version: "(unknown)", goVersion: runtime.Version()}
	if bi != nil {
		if bi.Main.Version != "" {
			i.version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			i.goVersion = bi.GoVersion
		}
		for _, st := range bi.Settings {
			switch st.Key {
			case "vcs.revision":
				i.revision = st.Value
			case "vcs.time":
				i.time = st.Value
			case "vcs.modified":
				i.modified = st.Value == "true"
			}
		}
	}
	if s.version != "" {
		i.version = s.version
	}
	if s.revision != "" {
		// The release script stamps a clean checkout's revision: what VCS stamping
		// said of the working tree (if it was on) does not apply.
		i.revision, i.time, i.modified = s.revision, s.time, false
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
