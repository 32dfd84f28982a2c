#!/usr/bin/env bash
# Runs every native fuzz test of every module for FUZZTIME each (default 3s).
# Usage: scripts/fuzz.sh [fuzztime]
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-3s}
status=0
for mod in $(scripts/modules.sh); do
  # `go test -list` prints the matching names of each package, then an "ok" line.
  pkgs=$(cd "$mod" && go list ./...)
  for pkg in $pkgs; do
    names=$(cd "$mod" && go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true)
    for name in $names; do
      echo "fuzz $pkg $name ($fuzztime)"
      if ! (cd "$mod" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/levee-fuzz.log 2>&1); then
        cat /tmp/levee-fuzz.log
        status=1
      fi
    done
  done
done
exit $status
