#!/usr/bin/env bash
# Runs every check and test of the project: formatting, vet, then the whole test suite
# (under the race detector when a C compiler is there, since -race needs cgo),
# including the PostgreSQL store against INVITES_TEST_POSTGRES (default: the local server
# at 127.0.0.1:5432, database test). Needs only Go (and bash).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

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
go test "${race[@]}" -count=1 -timeout 9m ./... 2>&1 | tee /tmp/invites-test.$$.log
status=${PIPESTATUS[0]}
passed=$(grep -c '^ok ' /tmp/invites-test.$$.log || true)
failed=$(grep -c '^FAIL' /tmp/invites-test.$$.log || true)
rm -f /tmp/invites-test.$$.log
echo "packages: $passed passed, $failed failed"
exit "$status"
