// Package convert turns container images into bootable VM disks and VM disks
// into container images, with no mount and no privileged step:
//
//   - ImageToDisk pulls an OCI/Docker image (go-containerregistry), flattens
//     its layers into a directory (whiteouts applied), makes an ext4
//     filesystem from it with `mke2fs -d`, adds an init that runs the image's
//     entrypoint and command with its environment, and converts the result
//     with `qemu-img convert -O qcow2`. The disk boots by direct kernel boot:
//     the given kernel and a small initramfs (static busybox and the kernel
//     modules the caller lists, e.g. virtio_blk) that mounts /dev/vda and
//     switches to the image's root; the kernel command line is in the result.
//   - DiskToImage reads the root filesystem out of a qcow2/raw disk
//     (`qemu-img convert` to raw, then e2fsprogs' `debugfs -R "rdump / DIR"`),
//     makes a one-layer OCI image of it with a default command, and pushes
//     it to a registry.
//
// What cannot convert fails with a kind from package ovm: a disk whose start
// holds no ext2/3/4 filesystem, an image built for another architecture
// (ovm.ErrUnsupported), a tool that is not installed (ovm.ErrUnavailable,
// naming the Debian package to install). Progress is reported through a
// callback, step by step with bytes where they are known.
package convert
