#!/usr/bin/env bash
# Runs every check and test of the project: formatting, vet, then the whole test suite
# (under the race detector when a C compiler is there, since -race needs cgo).
# Needs only Go and bash on a Debian machine: what else the tests use is installed
# here with apt-get when missing (python3-slixmpp and chromium, by
# scripts/install-test-deps.sh), and the PostgreSQL tests run against
# INVITES_TEST_POSTGRES, else the server on 127.0.0.1:5432, else a throwaway server
# started for this run (scripts/postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
start=$(date +%s)

echo "== test dependencies"
bash scripts/install-test-deps.sh
echo "== PostgreSQL"
# shellcheck source=postgres.sh
source scripts/postgres.sh

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted:"; echo "$unformatted"; exit 1
fi
echo "== go vet"
go vet ./...
race=()
if [ "$(go env CGO_ENABLED)" = 1 ] && command -v "$(go env CC)" >/dev/null 2>&1; then
	race=(-race)
	echo "== go test (race detector on)"
else
	echo "== go test (no C compiler: race detector off; apt-get install gcc to turn it on)"
fi
log=$(mktemp /tmp/invites-test.XXXXXX)
# CI=1 makes the browser and interop tests refuse to be skipped.
set +e
CI="${CI:-1}" go test "${race[@]}" -count=1 -timeout 12m ./... 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# go test writes "ok  <TAB>PKG" for a package that passed and "FAIL<TAB>PKG" for one that
# failed (a bare "FAIL" line also ends each failed package's output, and the whole run).
passed=$(grep -cE '^ok[[:space:]]' "$log" || true)
failed_pkgs=$(grep $'^FAIL\t' "$log" | cut -f2 | cut -d' ' -f1 | sort -u || true)
failed=$(printf '%s' "$failed_pkgs" | grep -c . || true)
rm -f "$log"
echo "packages: $passed passed, $failed failed ($(( $(date +%s) - start )) s)"
if [ -n "$failed_pkgs" ]; then
	echo "failed:"; printf '  %s\n' $failed_pkgs
fi
exit "$status"
