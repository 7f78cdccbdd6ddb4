#!/usr/bin/env bash
# Builds xmppd and invites-plugin into ./bin and starts the demo server with zero
# configuration: domain localhost, data in ./data, c2s on 127.0.0.1:5222, HTTP on
# 127.0.0.1:5280. Needs only Go (and bash). Every xmppd flag may follow, such as other
# ports: bash scripts/demo.sh -c2s 127.0.0.1:15222 -http 127.0.0.1:15280 -data ./data2
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
mkdir -p bin
if [ ! -x bin/xmppd ] || [ ! -x bin/invites-plugin ]; then
	echo "demo: building xmppd and invites-plugin into ./bin; the first build downloads the" >&2
	echo "demo: Go modules and compiles them, a few minutes on a fresh machine..." >&2
	# go prints each module it downloads; the build itself is quiet, so say it is alive.
	# (sleep must not hold the output open once the build is done and the loop killed.)
	( while sleep 20 </dev/null >/dev/null 2>&1; do echo "demo: still building..." >&2; done ) &
	ticker=$!
	trap 'kill "$ticker" 2>/dev/null || true' EXIT
	go build -o bin/ ./cmd/invites-plugin ./examples/xmppd
	kill "$ticker" 2>/dev/null || true
	trap - EXIT
	echo "demo: built." >&2
else
	echo "demo: rebuilding xmppd and invites-plugin (quick when nothing changed)..." >&2
	go build -o bin/ ./cmd/invites-plugin ./examples/xmppd
fi
echo "demo: starting xmppd -demo $*" >&2
exec ./bin/xmppd -demo "$@"
