#!/usr/bin/env bash
# Builds the libvirt tests' guest into DIR (default /var/tmp/ovm-testenv/libvirt):
#
#   DIR/vmlinuz    the kernel of Debian's linux-image-cloud-amd64
#   DIR/modules/   the modules the guest loads from its initramfs, and their
#                  order (the cloud kernel builds virtio, virtio_console and
#                  virtio_net as modules)
#   DIR/initrd.gz  static busybox, the QEMU guest agent (Debian's qemu-ga and
#                  the shared libraries ldd lists) and an /init that:
#                  - prints OVM-GUEST-BOOTED, then a counter (OVM-TICK n) on
#                    the serial console, and powers off on the ACPI button;
#                  - starts qemu-ga on the virtio-serial port named
#                    org.qemu.guest_agent.0 (OVM-GUEST-AGENT port);
#                  - reports its disks and the cloud-init NoCloud seed it
#                    finds (OVM-SEED..., a copy in /run/ovm-seed);
#                  - brings up each NIC by DHCP (OVM-NET iface address),
#                    and prints eth0's IPv4 address with each tick
#                    (OVM-ADDR eth0 address/prefix);
#                  - when the seed's user-data has chef settings and the
#                    initramfs has the tests' converge stand-in (appended
#                    by a test as a second cpio archive), runs it once as
#                    cloud-init's chef module would at first boot
#                    (OVM-CHEF-FIRSTBOOT exit code).
#
# Needs busybox-static, cpio and qemu-guest-agent installed. Idempotent: the
# kernel and the initramfs are rebuilt only when missing or older than the
# version below. Used by scripts/testenv.d/30-libvirt.sh.
set -euo pipefail

dir=${1:-/var/tmp/ovm-testenv/libvirt}
version=3-dhcp
mkdir -p "$dir"

modules="drivers/acpi/button.ko drivers/input/evdev.ko drivers/virtio/virtio_ring.ko
  drivers/virtio/virtio.ko drivers/virtio/virtio_pci_legacy_dev.ko drivers/virtio/virtio_pci_modern_dev.ko
  drivers/virtio/virtio_pci.ko drivers/block/virtio_blk.ko drivers/cdrom/cdrom.ko fs/isofs/isofs.ko
  drivers/char/virtio_console.ko net/core/failover.ko drivers/net/net_failover.ko drivers/net/virtio_net.ko"

if [ ! -s "$dir/vmlinuz" ] || ! grep -q virtio_net "$dir/modules/order" 2>/dev/null; then
  kpkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
  dl=$(mktemp -d)
  chmod 755 "$dl"
  (cd "$dl" && apt-get download "$kpkg" >/dev/null 2>&1)
  dpkg-deb -x "$dl"/*.deb "$dl/x"
  cp "$dl"/x/boot/vmlinuz-* "$dir/vmlinuz.new"
  mv "$dir/vmlinuz.new" "$dir/vmlinuz"
  rm -rf "$dir/modules"
  mkdir -p "$dir/modules"
  kver=$(ls "$dl/x/lib/modules")
  : >"$dir/modules/order.new"
  for m in $modules; do
    f=$(find "$dl/x/lib/modules/$kver" -path "*/$m*" | head -n 1)
    [ -n "$f" ] || continue # built into the kernel
    case "$f" in
      *.xz) xz -dc "$f" >"$dir/modules/$(basename "$m")" ;;
      *) cp "$f" "$dir/modules/$(basename "$m")" ;;
    esac
    basename "$m" >>"$dir/modules/order.new"
  done
  mv "$dir/modules/order.new" "$dir/modules/order"
  rm -rf "$dl" "$dir/initrd.gz"
  chmod 644 "$dir/vmlinuz"
fi

if [ ! -s "$dir/initrd.gz" ] || [ "$(cat "$dir/initrd.version" 2>/dev/null)" != "$version" ]; then
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,sbin,proc,sys,dev,etc,tmp,run,lib/modules,mnt,usr/sbin,usr/share/udhcpc}
  mkdir -p "$root/var" && ln -s ../run "$root/var/run"
  cp /bin/busybox "$root/bin/busybox"
  cp "$dir"/modules/* "$root/lib/modules/"
  # The guest agent and the shared libraries it loads, at their paths.
  cp /usr/sbin/qemu-ga "$root/usr/sbin/qemu-ga"
  for lib in $(ldd /usr/sbin/qemu-ga | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  cat >"$root/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
# busybox udhcpc's hook: apply the lease.
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route replace default via "${router%% *}" dev "$interface"
    echo "OVM-NET $interface $ip" >/dev/console
    ;;
esac
exit 0
EOF
  chmod 755 "$root/usr/share/udhcpc/default.script"
  cat >"$root/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/local/bin:/usr/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs run /run
while read -r m; do insmod "/lib/modules/$m" 2>/dev/null; done </lib/modules/order
echo "OVM-GUEST-BOOTED"
for i in /sys/class/input/input*; do
  [ "$(cat "$i/name" 2>/dev/null)" = "Power Button" ] || continue
  for e in "$i"/event*; do
    (head -c 1 "/dev/input/${e##*/}" >/dev/null && echo "OVM-POWER-BUTTON" && poweroff -f) &
  done
done
for p in /sys/class/virtio-ports/*; do
  [ "$(cat "$p/name" 2>/dev/null)" = org.qemu.guest_agent.0 ] || continue
  qemu-ga -m virtio-serial -p "/dev/${p##*/}" -t /run -f /run/qemu-ga.pid -l /run/qemu-ga.log &
  echo "OVM-GUEST-AGENT ${p##*/}"
done
ip link set lo up
# The NICs may register after their driver is loaded: wait for one.
for _ in $(seq 1 20); do [ -n "$(ls /sys/class/net | grep -v '^lo$')" ] && break; sleep 0.5; done
for n in /sys/class/net/*; do
  i=${n##*/}
  [ "$i" = lo ] && continue
  ip link set "$i" up
  # Wait for the link's carrier, and ask again until a lease comes; the
  # hook is named (Debian's busybox looks for it in /etc/udhcpc).
  (
    for _ in $(seq 1 30); do [ "$(cat "$n/carrier" 2>/dev/null)" = 1 ] && break; sleep 1; done
    for _ in $(seq 1 10); do udhcpc -i "$i" -s /usr/share/udhcpc/default.script -f -q -n -t 10 -T 2 >/dev/null 2>&1 && break; sleep 2; done
  ) &
done
sleep 1
for d in /sys/block/vd*; do
  [ -e "$d" ] || continue
  n=${d##*/}
  echo "OVM-DISK $n $(cat "$d/size")"
  if mount -t iso9660 -o ro "/dev/$n" /mnt 2>/dev/null; then
    if [ -e /mnt/meta-data ]; then
      echo "OVM-SEED $n"
      sed 's/^/OVM-SEED-META /' /mnt/meta-data
      sed 's/^/OVM-SEED-USER /' /mnt/user-data
      mkdir -p /run/ovm-seed
      cp /mnt/meta-data /mnt/user-data /run/ovm-seed/
    fi
    umount /mnt
  fi
done
if [ -x /usr/local/bin/ovm-test-converge ] && grep -q '"chef"' /run/ovm-seed/user-data 2>/dev/null; then
  (
    for _ in $(seq 1 60); do ip route | grep -q default && break; sleep 1; done
    ovm-test-converge -cloud-config /run/ovm-seed/user-data >/run/ovm-chef-firstboot.log 2>&1
    echo "OVM-CHEF-FIRSTBOOT $?"
  ) &
fi
i=0
while true; do
  echo "OVM-TICK $i"
  ip -4 -o addr show dev eth0 2>/dev/null | sed -n 's/.* inet \([0-9.]*\/[0-9]*\).*/OVM-ADDR eth0 \1/p'
  i=$((i + 1))
  sleep 1
done
EOF
  chmod 755 "$root/init"
  (cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -9) >"$dir/initrd.gz.new"
  mv "$dir/initrd.gz.new" "$dir/initrd.gz"
  chmod 644 "$dir/initrd.gz"
  echo "$version" >"$dir/initrd.version"
  rm -rf "$root"
fi
