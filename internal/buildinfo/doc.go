// Package buildinfo says which build of invites a binary is, for --version: the version
// and the version control revision stamped into it, so that an operator can name
// exactly what runs.
//
// A release build (scripts/release.sh) stamps the version, the revision and the
// revision's commit time with the linker, whatever the machine's Go settings:
//
//	go build -trimpath -buildvcs=false -ldflags "-X github.com/xmpp-invites/invites/internal/buildinfo.version=v1.2.0
//	    -X github.com/xmpp-invites/invites/internal/buildinfo.revision=1f8d971e…
//	    -X github.com/xmpp-invites/invites/internal/buildinfo.commitTime=2026-11-28T10:00:00Z" ./cmd/...
//
// Any other build reports what the go command recorded (runtime/debug.ReadBuildInfo):
// the module version, "(devel)" for a checkout, and the VCS revision when VCS stamping
// was on.
package buildinfo
