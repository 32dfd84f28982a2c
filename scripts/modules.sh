#!/usr/bin/env bash
# Prints the repository's Go modules (directories with a go.mod), the core first.
set -euo pipefail
cd "$(dirname "$0")/.."
echo .
for d in */; do
  d=${d%/}
  [ -f "$d/go.mod" ] && echo "$d"
done
exit 0
