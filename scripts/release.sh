#!/usr/bin/env bash
# Builds a release of invites from the committed source (HEAD, through git archive):
#   - static binaries (xmppd, invites-plugin) for linux/amd64 and linux/arm64:
#     CGO_ENABLED=0, -trimpath, -buildvcs=false, the version, revision and commit time
#     stamped into internal/buildinfo with -ldflags -X, so that --version names the
#     release whatever the machine's Go settings;
#   - a tarball per architecture with the binaries, README.md, LICENSE, CHANGELOG.md,
#     docs/*.md and deploy/;
#   - a Debian package per architecture (nfpm, a Go tool dependency: deploy/nfpm.yaml);
#   - SHA256SUMS of all of them.
# Everything is reproducible: file times are the commit's (SOURCE_DATE_EPOCH), tar
# entries sorted and owned by root, gzip without a name or time, the Go toolchain and
# its settings fixed. --check builds a second time in another directory with an empty
# build cache and fails unless SHA256SUMS is identical (several minutes: every package
# is compiled again for both architectures).
#
#   bash scripts/release.sh VERSION [--out DIR] [--check]
#
# VERSION is v1.2.3 (or v1.2.3-rc.1); the artifacts go to DIR (default dist/VERSION).
set -euo pipefail
export PATH="$PATH:/usr/local/go/bin"

usage() { echo "usage: $0 VERSION [--out DIR] [--check]   (VERSION such as v1.2.3)" >&2; exit 2; }
[ $# -ge 1 ] || usage
version=$1; shift
out="" check=false
while [ $# -gt 0 ]; do
	case "$1" in
	--out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	--check) check=true; shift ;;
	*) usage ;;
	esac
done
if ! [[ "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]]; then
	echo "release: version $version is not of the form v1.2.3 or v1.2.3-rc.1" >&2
	exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${out:-dist/$version}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "release: note: uncommitted changes are not in the release (it is built from HEAD)" >&2
fi
revision=$(git rev-parse HEAD)
epoch=$(git log -1 --format=%ct HEAD)
commit_time=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

# build DIR: the whole release into DIR (artifacts in DIR/out).
build() {
	local dir=$1
	mkdir -p "$dir/src" "$dir/out"
	git archive --format=tar HEAD | tar -x -C "$dir/src"
	local pkg=github.com/xmpp-invites/invites/internal/buildinfo
	local ldflags="-s -w -buildid= -X $pkg.version=$version -X $pkg.revision=$revision -X $pkg.commitTime=$commit_time"
	local arch
	for arch in amd64 arm64; do
		echo "release: building linux/$arch"
		(cd "$dir/src" && env CGO_ENABLED=0 GOOS=linux GOARCH="$arch" GOAMD64=v1 GOARM64=v8.0 \
			GOFLAGS=-mod=readonly GOTOOLCHAIN=local GOEXPERIMENT= \
			go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$dir/bin/$arch/" ./examples/xmppd ./cmd/invites-plugin)
		local name=invites_${version}_linux_$arch
		local stage=$dir/stage/$name
		mkdir -p "$stage/docs"
		cp "$dir/bin/$arch/xmppd" "$dir/bin/$arch/invites-plugin" "$stage/"
		cp "$dir/src/README.md" "$dir/src/LICENSE" "$dir/src/CHANGELOG.md" "$stage/"
		cp "$dir/src/docs/"*.md "$stage/docs/"
		cp -r "$dir/src/deploy" "$stage/"
		find "$stage/deploy" -name '*.go' -delete
		tar -C "$dir/stage" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
			--mode='u+rwX,go+rX,go-w' --format=gnu -cf - "$name" | gzip -n -9 >"$dir/out/$name.tar.gz"
		echo "release: packaging the Debian package for $arch"
		rm -rf "$dir/src/.release" && mkdir -p "$dir/src/.release" && cp -r "$dir/bin/$arch" "$dir/src/.release/bin"
		(cd "$dir/src" && env VERSION="${version#v}" ARCH="$arch" SOURCE_DATE_EPOCH="$epoch" \
			GOFLAGS=-mod=readonly GOTOOLCHAIN=local \
			go tool nfpm package --config deploy/nfpm.yaml --packager deb --target "$dir/out/" >/dev/null)
	done
	(cd "$dir/out" && sha256sum -- *.tar.gz *.deb >SHA256SUMS)
}

work=$(mktemp -d /tmp/invites-release.XXXXXX)
trap 'rm -rf "$work"' EXIT
build "$work/a"
if $check; then
	echo "release: building again with an empty build cache to check that the build is reproducible"
	GOCACHE="$work/gocache" build "$work/b"
	if ! diff "$work/a/out/SHA256SUMS" "$work/b/out/SHA256SUMS"; then
		echo "release: NOT reproducible: the two builds differ (above)" >&2
		exit 1
	fi
	echo "release: reproducible: both builds have the same SHA256SUMS"
fi
cp "$work/a/out/"* "$out/"
echo "release: $version ($revision, $(go version | cut -d' ' -f3)) in $out:"
(cd "$out" && cat SHA256SUMS)
