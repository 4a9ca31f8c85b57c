package convert

import (
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/openovm/ovm/ovm"
)

// Boot is what makes a converted disk bootable by direct kernel boot.
type Boot struct {
	// Kernel is the guest kernel image (bzImage); it needs ext4 built in.
	Kernel string
	// Modules are kernel modules (.ko, uncompressed) the initramfs loads in
	// this order before it mounts the root disk, e.g. virtio_ring, virtio,
	// virtio_pci and virtio_blk for a kernel that builds them as modules.
	Modules []string
	// Busybox is a statically linked busybox, copied into the initramfs
	// and into the disk (as /.ovm/busybox) to run the init scripts.
	Busybox string
}

// ToDisk configures ImageToDisk.
type ToDisk struct {
	// Image is the reference to pull, e.g. "registry:5000/app:1".
	Image string
	// Arch is the architecture the disk must run on (GOARCH names:
	// amd64, arm64); empty means this server's.
	Arch string
	// Dir receives disk.qcow2, vmlinuz and initrd.gz; it must exist.
	Dir string
	// Headroom is free space added to the filesystem beyond the image's
	// files (default 64 MiB).
	Headroom ovm.Bytes
	Boot     Boot
}

// VMDisk is a converted image, ready to boot.
type VMDisk struct {
	Disk    string    // qcow2 disk, the image's root filesystem on the whole disk (/dev/vda)
	Kernel  string    // the kernel to boot
	Initrd  string    // the initramfs that mounts /dev/vda and runs the image's entrypoint
	Cmdline string    // the kernel command line
	Size    ovm.Bytes // the disk's virtual size
}

// Converter runs conversions. Its zero value works: scratch space in the
// system's temporary directory, no progress reports, anonymous registry
// access.
type Converter struct {
	// Scratch is where intermediate trees and raw images are made; they
	// are removed when a conversion ends.
	Scratch string
	// Progress receives each step's advance.
	Progress ProgressFunc
	// Remote adds options (authentication, transport) to every registry call.
	Remote []remote.Option
}

// Cmdline is the kernel command line of every converted disk: the serial
// console and the root disk the initramfs mounts.
const Cmdline = "console=ttyS0 root=/dev/vda rw quiet"

// InitPath is the init the converted disk boots into: it runs the image's
// entrypoint and command with its environment, prints
// "OVM-ENTRYPOINT-EXIT <status>" on the console, and powers off.
const InitPath = "/.ovm/init"

// ImageToDisk pulls an image and makes a bootable VM disk of it.
func (c *Converter) ImageToDisk(ctx context.Context, o ToDisk) (VMDisk, error) {
	var f ovm.Fields
	ref := parseImage(&f, o.Image)
	if o.Dir == "" {
		f.Add("dir", "required")
	}
	if o.Boot.Kernel == "" {
		f.Add("boot.kernel", "required")
	}
	if err := f.Err("the conversion's options are invalid"); err != nil {
		return VMDisk{}, err
	}
	if err := lookTools(ToolMke2fs, ToolQemuImg); err != nil {
		return VMDisk{}, err
	}
	arch := o.Arch
	if arch == "" {
		arch = runtime.GOARCH
	}
	busybox := o.Boot.Busybox
	if busybox == "" {
		busybox = "/bin/busybox"
	}
	headroom := o.Headroom
	if headroom == 0 {
		headroom = 64 * ovm.MiB
	}
	rep := newReporter(c.Progress, 5)

	rep.step("pull", 0)
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: arch})}, c.Remote...)
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return VMDisk{}, registryError(err, "pull %s", o.Image)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return VMDisk{}, registryError(err, "read the configuration of %s", o.Image)
	}
	if (cfg.Architecture != "" && cfg.Architecture != arch) || (cfg.OS != "" && cfg.OS != "linux") {
		return VMDisk{}, ovm.Errorf(ovm.KindUnsupported, "image %s is built for %s/%s, not linux/%s: it cannot boot here", o.Image, cfg.OS, cfg.Architecture, arch)
	}
	var total int64
	layers, err := img.Layers()
	if err != nil {
		return VMDisk{}, registryError(err, "list the layers of %s", o.Image)
	}
	for _, l := range layers {
		if n, err := l.Size(); err == nil {
			total += n
		}
	}

	work, err := os.MkdirTemp(c.Scratch, "ovm-convert-")
	if err != nil {
		return VMDisk{}, fmt.Errorf("scratch: %w", err)
	}
	defer os.RemoveAll(work)
	root := filepath.Join(work, "root")

	rep.step("flatten", total)
	rc := mutate.Extract(img)
	err = untar(ctx, &countingReader{r: rc, report: func(n int64) { rep.bytes(n, 0) }}, root)
	_ = rc.Close()
	if err != nil {
		return VMDisk{}, fmt.Errorf("flatten %s: %w", o.Image, err)
	}
	if err := addInit(root, busybox, cfg.Config); err != nil {
		return VMDisk{}, err
	}

	used, err := treeSize(root)
	if err != nil {
		return VMDisk{}, err
	}
	size := roundUp(ovm.Bytes(used)+ovm.Bytes(used)/5+headroom, ovm.MiB)
	rep.step("mke2fs", int64(size))
	raw := filepath.Join(work, "disk.raw")
	if _, err := run(ctx, ToolMke2fs, "-q", "-F", "-t", "ext4", "-L", "ovm-root", "-d", root, raw, fmt.Sprintf("%dk", int64(size)/1024)); err != nil {
		return VMDisk{}, err
	}

	rep.step("qemu-img", int64(size))
	out := VMDisk{Disk: filepath.Join(o.Dir, "disk.qcow2"), Kernel: filepath.Join(o.Dir, "vmlinuz"),
		Initrd: filepath.Join(o.Dir, "initrd.gz"), Cmdline: Cmdline, Size: size}
	if _, err := run(ctx, ToolQemuImg, "convert", "-q", "-f", "raw", "-O", "qcow2", raw, out.Disk); err != nil {
		return VMDisk{}, err
	}

	rep.step("boot", 0)
	if err := copyFile(o.Boot.Kernel, out.Kernel); err != nil {
		return VMDisk{}, ovm.Wrap(ovm.KindInvalid, err, "boot.kernel")
	}
	if err := writeInitramfs(out.Initrd, busybox, o.Boot.Modules); err != nil {
		return VMDisk{}, err
	}
	return out, nil
}

// addInit writes /.ovm/busybox and /.ovm/init into the image's tree.
func addInit(root, busybox string, cfg v1.Config) error {
	dir := filepath.Join(root, ".ovm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if err := copyFile(busybox, filepath.Join(dir, "busybox")); err != nil {
		return ovm.Wrap(ovm.KindInvalid, err, "boot.busybox")
	}
	if err := os.Chmod(filepath.Join(dir, "busybox"), 0o755); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if err := os.WriteFile(filepath.Join(root, strings.TrimPrefix(InitPath, "/")), []byte(initScript(cfg)), 0o755); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	return nil
}

// initScript is the guest's init: it prepares /proc, /sys and /dev, sets
// the image's environment and working directory, runs its entrypoint and
// command, reports the exit status and powers off.
func initScript(cfg v1.Config) string {
	var b strings.Builder
	b.WriteString("#!/.ovm/busybox sh\nB=/.ovm/busybox\n")
	b.WriteString("$B mkdir -p /proc /sys /dev /tmp\n$B mount -t proc proc /proc\n$B mount -t sysfs sysfs /sys\n$B mount -t devtmpfs devtmpfs /dev\n")
	b.WriteString("export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root\n")
	for _, e := range cfg.Env {
		b.WriteString("export " + quote(e) + "\n")
	}
	if cfg.WorkingDir != "" {
		b.WriteString("cd " + quote(cfg.WorkingDir) + "\n")
	}
	argv := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	if len(argv) == 0 {
		argv = []string{"/bin/sh"}
	}
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = quote(a)
	}
	b.WriteString(strings.Join(q, " ") + "\n")
	b.WriteString("echo \"OVM-ENTRYPOINT-EXIT $?\"\n$B sync\n$B poweroff -f\n")
	return b.String()
}

// quote quotes s for a POSIX shell.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// writeInitramfs writes a gzipped initramfs with busybox, the modules and
// an /init that loads them, mounts /dev/vda and switches to it.
func writeInitramfs(path, busybox string, modules []string) error {
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return ovm.Wrap(ovm.KindInvalid, err, "boot.busybox")
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	cw := &cpioWriter{w: zw}
	for _, d := range []string{"bin", "dev", "proc", "sys", "root", "lib", "lib/modules"} {
		cw.entry(d, 0o040755, nil)
	}
	cw.entry("bin/busybox", 0o100755, bb)
	var init strings.Builder
	init.WriteString("#!/bin/busybox sh\nB=/bin/busybox\n$B mount -t devtmpfs devtmpfs /dev\n$B mount -t proc proc /proc\n")
	for i, m := range modules {
		data, err := os.ReadFile(m)
		if err != nil {
			return ovm.Wrap(ovm.KindInvalid, err, "boot.modules[%d]", i)
		}
		n := fmt.Sprintf("lib/modules/%d-%s", i, filepath.Base(m))
		cw.entry(n, 0o100644, data)
		init.WriteString("$B insmod /" + n + "\n")
	}
	init.WriteString(`i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do $B sleep 0.1; i=$((i+1)); done
if ! $B mount -t ext4 -o rw /dev/vda /root; then echo "OVM-INIT: cannot mount /dev/vda"; $B poweroff -f; fi
$B umount /proc
$B umount /dev
exec $B switch_root /root ` + InitPath + "\n")
	cw.entry("init", 0o100755, []byte(init.String()))
	if err := cw.close(); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return f.Close()
}
