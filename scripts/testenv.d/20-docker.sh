# Docker hosts for hypervisor/docker's integration tests. Sourced by
# scripts/testenv.sh (set -euo pipefail, cwd = repo root); appends its export
# lines to "$tmp". Idempotent: each daemon is started only when it does not
# answer already.
#
#   host 1    dockerd on /var/run/docker.sock (docker0)
#   host 2    dockerd on /var/tmp/ovm-testenv/docker2/docker.sock (br-ovm2),
#             its own data and exec roots, the same network namespace
#   registry  docker-registry on 127.0.0.1:5000, filesystem root
#   image     127.0.0.1:5000/ovm-busybox:1, static busybox imported with
#             `docker import` (no internet), pushed to the registry and
#             loaded into host 2
#   shared    /var/tmp/ovm-testenv/docker-shared, a directory both hosts see
#             (what an NFS mount is to them)

docker_state=/var/tmp/ovm-testenv
docker2=$docker_state/docker2
docker_image=127.0.0.1:5000/ovm-busybox:1
mkdir -p "$docker_state" "$docker2" "$docker_state/docker-shared"

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker-registry >/dev/null 2>&1 || [ ! -x /bin/busybox ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io busybox-static docker-registry ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io busybox-static docker-registry; }
fi
# The docker.io CLI, whatever else is first on PATH.
dk() { /usr/bin/docker "$@"; }

# docker_wait SOCKET: up to 30 s for a daemon to answer on SOCKET.
docker_wait() {
  for _ in $(seq 1 60); do
    dk -H "unix://$1" version >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "testenv: dockerd on $1 did not answer; see $docker_state/*.log" >&2
  return 1
}

# --- host 1
if ! dk -H unix:///var/run/docker.sock version >/dev/null 2>&1; then
  nohup dockerd --storage-driver=vfs --iptables=false >>"$docker_state/dockerd.log" 2>&1 &
  docker_wait /var/run/docker.sock
fi

# --- host 2, on its own bridge (never --bridge=none: that deletes docker0)
if ! ip link show br-ovm2 >/dev/null 2>&1; then
  ip link add br-ovm2 type bridge
fi
if ! ip -4 addr show dev br-ovm2 | grep -q '172.31.250.1/24'; then
  ip addr add 172.31.250.1/24 dev br-ovm2
fi
ip link set br-ovm2 up
if ! dk -H "unix://$docker2/docker.sock" version >/dev/null 2>&1; then
  rm -f "$docker2/docker.pid"
  nohup dockerd --data-root "$docker2/root" --exec-root "$docker2/exec" -H "unix://$docker2/docker.sock" \
    --pidfile "$docker2/docker.pid" --storage-driver=vfs --iptables=false --bridge=br-ovm2 \
    >>"$docker_state/dockerd2.log" 2>&1 &
  docker_wait "$docker2/docker.sock"
fi

# --- registry
if ! curl -fsS http://127.0.0.1:5000/v2/ >/dev/null 2>&1; then
  mkdir -p "$docker_state/registry"
  cat >"$docker_state/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $docker_state/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:5000
EOF
  nohup docker-registry serve "$docker_state/registry.yml" >>"$docker_state/registry.log" 2>&1 &
  for _ in $(seq 1 60); do curl -fsS http://127.0.0.1:5000/v2/ >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fsS http://127.0.0.1:5000/v2/ >/dev/null
fi

# --- the test image: static busybox and its applets, nothing else
if ! dk -H unix:///var/run/docker.sock image inspect "$docker_image" >/dev/null 2>&1; then
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/data"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
  done
  echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
  tar -C "$rootfs" -c . | dk -H unix:///var/run/docker.sock import -c 'CMD ["/bin/sh"]' - "$docker_image" >/dev/null
  rm -rf "$rootfs"
fi
if ! curl -fsS "http://127.0.0.1:5000/v2/ovm-busybox/tags/list" 2>/dev/null | grep -q '"1"'; then
  dk -H unix:///var/run/docker.sock push "$docker_image" >/dev/null
fi
if ! dk -H "unix://$docker2/docker.sock" image inspect "$docker_image" >/dev/null 2>&1; then
  dk -H unix:///var/run/docker.sock save "$docker_image" | dk -H "unix://$docker2/docker.sock" load >/dev/null
fi

{
  echo "export DOCKER_HOST='unix:///var/run/docker.sock'"
  echo "export OVM_TEST_DOCKER_HOST2='unix://$docker2/docker.sock'"
  echo "export OVM_TEST_REGISTRY='127.0.0.1:5000'"
  echo "export OVM_TEST_DOCKER_IMAGE='$docker_image'"
  echo "export OVM_TEST_DOCKER_SHARED='$docker_state/docker-shared'"
} >>"$tmp"
