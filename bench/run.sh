#!/usr/bin/env bash
# run.sh runs every side-by-side figure of this module and summarizes it with
# benchstat: the raw output goes to results/latest.txt, the table to
# results/latest-benchstat.txt (with the command and the date on top).
#
# Environment: BENCH (regexp, default .), COUNT (default 6, the least
# benchstat needs for a confidence interval), BENCHTIME (default 1s).
# Redis figures need a Redis at 127.0.0.1:6379; without one they skip.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da # golang.org/x/perf
bench=${BENCH:-.}
count=${COUNT:-6}
benchtime=${BENCHTIME:-1s}

GOBIN="$here/bin" go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION"

mkdir -p results
cmd=(go test -run '^$' -bench "$bench" -benchmem -count "$count" -benchtime "$benchtime" .)
echo "+ ${cmd[*]}" >&2
status=0
"${cmd[@]}" | tee results/latest.txt || status=$?

{
	echo "command: cd bench && ${cmd[*]}"
	echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "machine: $(nproc) cores, $(go version | cut -d' ' -f3-)"
	echo
	bin/benchstat results/latest.txt
} >results/latest-benchstat.txt
echo "wrote results/latest.txt and results/latest-benchstat.txt" >&2
if [ "$status" -ne 0 ]; then
	echo "go test failed (exit $status): see results/latest.txt" >&2
fi
exit "$status"
