# shellcheck shell=bash
# KVM through libvirt: two libvirtd hosts on this machine, a bootable test
# guest (Debian cloud kernel + busybox initramfs with the QEMU guest agent)
# and a qcow2 template, all built without internet. Sourced by scripts/testenv.sh (set -euo pipefail);
# idempotent. Appends OVM_TEST_LIBVIRT_* export lines to "$tmp".
#
#   host 1: the system libvirtd, qemu:///system
#   host 2: a second libvirtd in its own mount namespace (private
#           /var/run/libvirt, /var/lib/libvirt, /etc/libvirt,
#           /var/log/libvirt), qemu+tcp://127.0.0.2/system
# Shared storage: $lv_cache/shared, which both daemons see (the second one's
# namespace bind-mounts only its private libvirt directories).

lv_cache=/var/tmp/ovm-testenv/libvirt
lv_host2=$lv_cache/host2
lv_uri2=qemu+tcp://127.0.0.2/system

# e2fsprogs (mke2fs -d, debugfs) and qemu-utils: the image conversion tests.
lv_pkgs="libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils dnsmasq-base busybox-static cpio qemu-guest-agent e2fsprogs"
lv_missing=""
for p in $lv_pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || lv_missing="$lv_missing $p"
done
if [ -n "$lv_missing" ]; then
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $lv_missing ||
    { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $lv_missing; }
fi

mkdir -p "$lv_cache" "$lv_cache/shared" "$lv_cache/pools"
chmod 755 /var/tmp/ovm-testenv "$lv_cache"
chmod 777 "$lv_cache/shared" "$lv_cache/pools"

# --- The test guest: Debian's cloud kernel and a busybox initramfs with the
# QEMU guest agent (scripts/testguest.sh, rebuilt when its version changes).
scripts/testguest.sh "$lv_cache"

# --- A small qcow2 template the instances' disks are copy-on-write clones of.
if [ ! -s "$lv_cache/template.qcow2" ]; then
  qemu-img create -q -f qcow2 "$lv_cache/template.qcow2.new" 64M
  mv "$lv_cache/template.qcow2.new" "$lv_cache/template.qcow2"
  chmod 644 "$lv_cache/template.qcow2"
fi

# --- A size-limited filesystem for "pool full" tests: a 64 MiB tmpfs.
if ! mountpoint -q "$lv_cache/small"; then
  mkdir -p "$lv_cache/small"
  mount -t tmpfs -o size=64m,mode=0777 ovm-small "$lv_cache/small"
fi

# /dev/kvm as Debian's udev rule leaves it (root:kvm 0660; libvirt-qemu is in
# group kvm). Left root-only, libvirtd's capability cache sees KVM when it
# probes QEMU but not when it checks the cache, and probes QEMU again on every
# domain define (~45 s each). KVM itself does not run guests on these
# machines (they hang at the first instruction): the tests use type qemu.
if [ -c /dev/kvm ] && [ "$(stat -c %G:%a /dev/kvm)" != kvm:660 ]; then
  chgrp kvm /dev/kvm && chmod 660 /dev/kvm
fi

lv_answers() { timeout 10 virsh -q -c "$1" version >/dev/null 2>&1; }

# Both daemons run on this machine and give their guests VNC displays on its
# loopback: each hands them out from a range of its own (host 1 5900-5949,
# host 2 5950-5999), or two guests started at once on the two take the same
# port and the second fails to start. lv_display_range FILE MIN MAX sets the
# range in a qemu.conf and fails when it had to change it.
lv_display_range() {
  grep -q "^remote_display_port_min = $2\$" "$1" && grep -q "^remote_display_port_max = $3\$" "$1" && return 0
  sed -i '/^remote_display_port_m\(in\|ax\) =/d' "$1"
  printf 'remote_display_port_min = %s\nremote_display_port_max = %s\n' "$2" "$3" >>"$1"
  return 1
}
# lv_stop PIDFILE...: ends the daemons of the pid files (to start again with
# a changed configuration) and waits for them.
lv_stop() {
  for f in "$@"; do
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  done
}

# --- Host 1: the system libvirtd.
if ! lv_display_range /etc/libvirt/qemu.conf 5900 5949 && lv_answers qemu:///system; then
  lv_stop /run/libvirtd.pid
fi
if ! lv_answers qemu:///system; then
  mkdir -p /var/log/libvirt /var/run/libvirt
  pgrep -x virtlogd >/dev/null || virtlogd -d
  libvirtd -d
  for _ in $(seq 1 30); do lv_answers qemu:///system && break; sleep 1; done
  lv_answers qemu:///system || { echo "testenv: libvirtd (qemu:///system) does not answer" >&2; exit 1; }
fi

# --- Host 2: a second libvirtd in its own mount namespace, on 127.0.0.2.
if ! lv_answers "$lv_uri2"; then
  if [ ! -e "$lv_host2/etc/libvirtd.conf" ]; then
    rm -rf "$lv_host2"
    mkdir -p "$lv_host2"/{run,lib,etc,log}
    cp -a /etc/libvirt/. "$lv_host2/etc/"
    cp -a /var/lib/libvirt/. "$lv_host2/lib/" 2>/dev/null || true
    rm -rf "$lv_host2/etc/qemu/networks/autostart" "$lv_host2/etc/storage"
    cat >"$lv_host2/etc/libvirtd.conf" <<EOF
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.2"
auth_tcp = "none"
unix_sock_group = "root"
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
EOF
  fi
fi
if ! lv_display_range "$lv_host2/etc/qemu.conf" 5950 5999 && lv_answers "$lv_uri2"; then
  lv_stop "$lv_host2/run/libvirtd.pid" "$lv_host2/run/virtlogd.pid"
fi
if ! lv_answers "$lv_uri2"; then
  unshare -m --propagation private sh -c "
    mount --bind '$lv_host2/run' /run/libvirt &&
    mount --bind '$lv_host2/lib' /var/lib/libvirt &&
    mount --bind '$lv_host2/etc' /etc/libvirt &&
    mount --bind '$lv_host2/log' /var/log/libvirt &&
    virtlogd -d -p /run/libvirt/virtlogd.pid &&
    libvirtd --listen -d -p /run/libvirt/libvirtd.pid"
  for _ in $(seq 1 30); do lv_answers "$lv_uri2" && break; sleep 1; done
  lv_answers "$lv_uri2" || { echo "testenv: the second libvirtd ($lv_uri2) does not answer" >&2; exit 1; }
fi

{
  echo "export OVM_TEST_LIBVIRT_URI='qemu:///system'"
  echo "export OVM_TEST_LIBVIRT_URI2='$lv_uri2'"
  echo "export OVM_TEST_LIBVIRT_KERNEL='$lv_cache/vmlinuz'"
  echo "export OVM_TEST_LIBVIRT_INITRD='$lv_cache/initrd.gz'"
  echo "export OVM_TEST_LIBVIRT_TEMPLATE='$lv_cache/template.qcow2'"
  echo "export OVM_TEST_LIBVIRT_SHARED='$lv_cache/shared'"
  echo "export OVM_TEST_LIBVIRT_POOLS='$lv_cache/pools'"
  echo "export OVM_TEST_LIBVIRT_SMALL='$lv_cache/small'"
} >>"$tmp"
