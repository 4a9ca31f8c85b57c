# shellcheck shell=bash
# Tools of the API contract test (server/api TestContractGenerators).
# Sourced by scripts/testenv.sh (set -euo pipefail, cwd = repo root); appends
# its export lines to "$tmp". Idempotent: npm ci runs again only when the
# committed lock file changed.
#
#   npm tools  spectral, openapi-typescript and tsc at the versions of
#              server/api/testdata/contract/package-lock.json, installed with
#              npm ci into /var/tmp/ovm-testenv/contract (outside the work
#              tree: no node_modules under the Go module)
#   Go tools   the modules of server/api/testdata/contract/goclient (the
#              pinned oapi-codegen and its runtime), downloaded beforehand
#
# Writes OVM_TEST_CONTRACT_TOOLS, the directory of the npm tools' commands.

contract_src=server/api/testdata/contract
contract_dir=/var/tmp/ovm-testenv/contract

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm; }
fi
mkdir -p "$contract_dir"
if ! cmp -s "$contract_src/package-lock.json" "$contract_dir/package-lock.json" ||
  [ ! -x "$contract_dir/node_modules/.bin/spectral" ] ||
  [ ! -x "$contract_dir/node_modules/.bin/openapi-typescript" ] ||
  [ ! -x "$contract_dir/node_modules/.bin/tsc" ]; then
  rm -f "$contract_dir/package-lock.json"
  cp "$contract_src/package.json" "$contract_src/package-lock.json" "$contract_dir/"
  (cd "$contract_dir" && npm ci --ignore-scripts --no-audit --no-fund)
fi
(cd "$contract_src/goclient" && GOWORK=off go mod download)
echo "export OVM_TEST_CONTRACT_TOOLS='$contract_dir/node_modules/.bin'" >>"$tmp"
