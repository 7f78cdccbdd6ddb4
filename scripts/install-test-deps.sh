#!/usr/bin/env bash
# Installs what the test suite needs beyond Go, on Debian and its derivatives:
# python3-slixmpp (with Debian's /usr/bin/python3), which the interop tests in
# examples/xmppd drive the server with. Idempotent: when everything is there it only
# checks, in well under a second, and changes nothing. Needs root (or sudo) only when
# something is missing.
#
#   bash scripts/install-test-deps.sh          install what is missing
#   bash scripts/install-test-deps.sh --check  only report; exit 1 if something is missing
set -euo pipefail

check_only=false
case "${1:-}" in
	--check) check_only=true ;;
	"") ;;
	*) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

python=/usr/bin/python3
packages=(python3-slixmpp)

have_slixmpp() {
	[ -x "$python" ] && "$python" -c 'import slixmpp' >/dev/null 2>&1
}

if have_slixmpp; then
	echo "test dependencies: python3-slixmpp present ($("$python" -c 'import slixmpp; print(slixmpp.__version__)' 2>/dev/null))"
	exit 0
fi
if $check_only; then
	echo "test dependencies: python3-slixmpp missing (run $0 to install it)" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "test dependencies: python3-slixmpp is missing and there is no apt-get here;" >&2
	echo "install slixmpp for $python by other means, or set INVITES_TEST_PYTHON to a Python that has it" >&2
	exit 1
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "test dependencies: installing ${packages[*]} needs root, and there is no sudo" >&2
		exit 1
	fi
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
echo "test dependencies: installing ${packages[*]} with apt-get"
# The package lists may be stale or absent on a fresh machine: update them once if
# the first attempt cannot find the packages. A concurrent apt run holds the lock for
# a while: wait for it (apt-get's own lock timeout) rather than fail.
install() {
	"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${packages[@]}"
}
if ! install; then
	"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update
	install
fi
if ! have_slixmpp; then
	echo "test dependencies: ${packages[*]} installed, but $python still cannot import slixmpp" >&2
	exit 1
fi
echo "test dependencies: ready"
