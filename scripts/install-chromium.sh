#!/usr/bin/env bash
# Makes sure Debian's chromium is installed, for the real-browser tests of the invite
# page (internal/page). Idempotent: when a chromium binary is already on PATH (or named by
# INVITES_CHROMIUM) it only prints its path and exits at once; otherwise it installs the
# Debian package with apt-get (as root, or through sudo when that is there).
# Never downloads a browser build of its own.
# Prints the browser's path on its last line of standard output.
set -euo pipefail

find_browser() {
	if [ -n "${INVITES_CHROMIUM:-}" ] && [ -x "${INVITES_CHROMIUM}" ]; then
		echo "$INVITES_CHROMIUM"
		return 0
	fi
	for name in chromium chromium-browser; do
		if path=$(command -v "$name" 2>/dev/null); then
			echo "$path"
			return 0
		fi
	done
	return 1
}

if find_browser; then
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-chromium: no chromium on PATH and no apt-get to install it; install Debian's chromium package (or set INVITES_CHROMIUM)" >&2
	exit 1
fi

sudo=()
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo=(sudo -n)
	else
		echo "install-chromium: not root and no sudo: run 'apt-get install chromium' as root" >&2
		exit 1
	fi
fi

echo "install-chromium: installing Debian's chromium package" >&2
export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing or stale on a fresh machine: update once, then install.
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2

if find_browser; then
	exit 0
fi
echo "install-chromium: apt-get finished but no chromium is on PATH" >&2
exit 1
