#!/usr/bin/env bash
# Installs and starts every engine the integration tests need, idempotently,
# and writes their addresses to .testenv as export lines.
#
# Engines are added here as the drivers that need them land; each block
# checks whether its engine already runs before starting it.
set -euo pipefail
cd "$(dirname "$0")/.."

out=.testenv
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

{
  echo "# written by scripts/testenv.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$tmp"

mv "$tmp" "$out"
trap - EXIT
echo "testenv: wrote $out"
