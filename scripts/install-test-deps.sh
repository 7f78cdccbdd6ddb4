#!/usr/bin/env bash
# Installs what the test suite needs beyond Go, on Debian and its derivatives:
#   - python3-slixmpp (for Debian's /usr/bin/python3): the interop tests in
#     examples/xmppd drive the server with it;
#   - chromium (and a font): the real-browser tests of the invite page;
#   - the operator tools the tests of deploy/ run for real: nginx and caddy (reverse
#     proxies), prometheus (promtool), systemd (systemd-analyze verify), and
#     postgresql-client (pg_dump, pg_restore: the PostgreSQL backup test), sqlite3
#     (the backup of xmppd's accounts, as the operator guide gives it);
#   - dpkg-deb (dpkg): the release test reads the Debian packages it builds;
#   - curl: httpapi's test runs the curl commands of README.md and docs/*.md.
# PostgreSQL is scripts/postgres.sh's business (CI has a server running; a fresh
# machine gets a throwaway one).
# Idempotent: when everything is there it only checks, in well under a second, and
# changes nothing. Needs root (or sudo) only when something is missing; then it runs
# apt-get update once and installs everything missing in one go.
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

have_slixmpp() {
	[ -x "$python" ] && "$python" -c 'import slixmpp' >/dev/null 2>&1
}

have_chromium() {
	if [ -n "${INVITES_CHROMIUM:-}" ] && [ -x "${INVITES_CHROMIUM}" ]; then
		return 0
	fi
	command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1
}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

missing=()
have_slixmpp || missing+=(python3-slixmpp)
have_chromium || missing+=(chromium fonts-dejavu-core)
# Tool, then the Debian package that brings it.
for pair in nginx:nginx-light caddy:caddy promtool:prometheus systemd-analyze:systemd \
	pg_dump:postgresql-client pg_restore:postgresql-client dpkg-deb:dpkg sqlite3:sqlite3 curl:curl; do
	tool=${pair%%:*} pkg=${pair#*:}
	if ! have "$tool" && [[ " ${missing[*]} " != *" $pkg "* ]]; then
		missing+=("$pkg")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "test dependencies: python3-slixmpp, chromium, nginx, caddy, promtool, systemd-analyze, pg_dump, curl present"
	exit 0
fi
if $check_only; then
	echo "test dependencies: missing ${missing[*]} (run $0 to install them)" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "test dependencies: ${missing[*]} missing and there is no apt-get here; install them" >&2
	echo "by other means (INVITES_CHROMIUM names a browser, INVITES_TEST_PYTHON a Python with slixmpp)" >&2
	exit 1
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "test dependencies: installing ${missing[*]} needs root, and there is no sudo" >&2
		exit 1
	fi
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
echo "test dependencies: installing ${missing[*]} with apt-get"
# A concurrent apt run holds the lock for a while: wait for it (apt-get's own lock
# timeout) rather than fail.
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 update -qq
"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}"
if ! have_slixmpp; then
	echo "test dependencies: python3-slixmpp installed, but $python still cannot import slixmpp" >&2
	exit 1
fi
if ! have_chromium; then
	echo "test dependencies: chromium installed, but it is not on PATH" >&2
	exit 1
fi
for tool in nginx caddy promtool systemd-analyze pg_dump curl; do
	if ! have "$tool"; then
		echo "test dependencies: $tool still missing after apt-get install" >&2
		exit 1
	fi
done
echo "test dependencies: ready"
