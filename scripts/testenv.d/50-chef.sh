# A Chef server for the Chef automation's integration tests (server/chef,
# server/api, server/cli). Sourced by
# scripts/testenv.sh (set -euo pipefail, cwd = repo root); appends its export
# lines to "$tmp". Idempotent: goiardi is started only when it does not answer.
#
#   server   Debian's goiardi on http://127.0.0.1:4545 (the Chef server API
#            with request signing), state under /var/tmp/ovm-testenv/chef
#   admin    the client "admin" and its key admin.pem, written by goiardi
#            into its conf root at first start

chef_state=/var/tmp/ovm-testenv/chef
chef_port=4545
mkdir -p "$chef_state"

if ! command -v goiardi >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends goiardi ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends goiardi; }
fi

# chef_up: whether goiardi accepts connections on its port.
chef_up() { (exec 3<>"/dev/tcp/127.0.0.1/$chef_port") 2>/dev/null; }

if ! chef_up; then
  # Without its data file goiardi makes new keys: drop the old ones, so
  # that the wait below sees the new admin.pem.
  [ -s "$chef_state/goiardi-data.bin" ] || rm -f "$chef_state"/*.pem
  nohup goiardi -I 127.0.0.1 -P "$chef_port" -A --conf-root="$chef_state" -H 127.0.0.1 \
    --index-file="$chef_state/goiardi-index.bin" --data-file="$chef_state/goiardi-data.bin" \
    --freeze-interval=10 \
    >>"$chef_state/goiardi.log" 2>&1 &
  echo $! >"$chef_state/goiardi.pid"
  for _ in $(seq 1 60); do
    chef_up && [ -s "$chef_state/admin.pem" ] && break
    sleep 0.5
  done
  if ! chef_up; then
    echo "testenv: goiardi did not answer; see $chef_state/goiardi.log" >&2
    return 1
  fi
fi

if [ ! -s "$chef_state/admin.pem" ]; then
  echo "testenv: something else answers on 127.0.0.1:$chef_port without $chef_state/admin.pem" >&2
  return 1
fi

{
  echo "export OVM_TEST_CHEF_URL='http://127.0.0.1:$chef_port/'"
  echo "export OVM_TEST_CHEF_CLIENT='admin'"
  echo "export OVM_TEST_CHEF_KEY='$chef_state/admin.pem'"
} >>"$tmp"
