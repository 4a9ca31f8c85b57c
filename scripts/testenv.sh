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

# --- PostgreSQL: the store's production engine (CockroachDB is not installable
# here; its SQL and wire protocol are PostgreSQL's). Serializable by default, so
# the store's retry path runs. Writes OVM_TEST_DATABASE_URL.
pg_password=ovm-test-only
if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql; }
fi
pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main" { found = 1 } END { exit !found }'; then
  pg_createcluster "$pg_version" main
fi
if ! pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main" && $4 == "online" { up = 1 } END { exit !up }'; then
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" main start
fi
pg_port=$(pg_lsclusters -h | awk -v v="$pg_version" '$1 == v && $2 == "main" { print $3 }')
pg_psql() { (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$pg_port" "$@"); }
for _ in $(seq 1 30); do pg_psql -c 'SELECT 1' >/dev/null 2>&1 && break; sleep 1; done
if [ "$(pg_psql -tAc "SELECT current_setting('default_transaction_isolation')")" != serializable ]; then
  pg_psql -c "ALTER SYSTEM SET default_transaction_isolation = 'serializable'" -c 'SELECT pg_reload_conf()' >/dev/null
fi
if [ "$(pg_psql -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'ovm'")" != 1 ]; then
  pg_psql -c "CREATE ROLE ovm LOGIN PASSWORD '$pg_password'"
fi
if [ "$(pg_psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'ovm_test'")" != 1 ]; then
  pg_psql -c 'CREATE DATABASE ovm_test OWNER ovm'
fi
pg_psql -d ovm_test -c "ALTER DATABASE ovm_test SET default_transaction_isolation = 'serializable'" >/dev/null
echo "export OVM_TEST_DATABASE_URL='postgres://ovm:$pg_password@127.0.0.1:$pg_port/ovm_test?sslmode=disable'" >>"$tmp"

# --- Engines of the hypervisor drivers: one script each in scripts/testenv.d,
# sourced in order; each appends its export lines to "$tmp".
for part in scripts/testenv.d/*.sh; do
  [ -e "$part" ] || continue
  # shellcheck source=/dev/null
  . "$part"
done

mv "$tmp" "$out"
trap - EXIT
echo "testenv: wrote $out"
