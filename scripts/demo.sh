#!/usr/bin/env bash
# Builds xmppd and invites-plugin into ./bin and starts the demo server with zero
# configuration: domain localhost, data in ./data, c2s on 127.0.0.1:5222, HTTP on
# 127.0.0.1:5280. Needs only Go (and bash).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
mkdir -p bin
go build -o bin/ ./cmd/invites-plugin ./examples/xmppd
exec ./bin/xmppd -demo "$@"
