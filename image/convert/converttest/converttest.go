// Package converttest has what the tests of conversions share: test
// layers and images pushed to the real registry, a VM disk written as a
// VM would, booting a converted disk on the real libvirtd and reading its
// console, and running an image on the real dockerd.
package converttest

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/stretchr/testify/require"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/image/convert"
)

// Getenv reads a variable of .testenv; a missing one fails the test.
func Getenv(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run `make testenv` and `. ./.testenv` first", name)
	}
	return v
}

// File is one entry of a test layer: a regular file, or a symlink when
// Link is set.
type File struct {
	Name, Body, Link string
	Mode             int64
}

// Layer makes a gzipped layer of files.
func Layer(t testing.TB, files ...File) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.Name, Mode: f.Mode, Size: int64(len(f.Body)), Typeflag: tar.TypeReg}
		if hdr.Mode == 0 {
			hdr.Mode = 0o644
		}
		if f.Link != "" {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeSymlink, f.Link, 0
		}
		require.NoError(t, tw.WriteHeader(hdr))
		_, err := tw.Write([]byte(f.Body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	require.NoError(t, err)
	return l
}

// Boot is the test guest's kernel and the modules its initramfs loads to
// reach /dev/vda (scripts/testguest.sh keeps them beside it).
func Boot(t testing.TB) convert.Boot {
	t.Helper()
	kernel := Getenv(t, "OVM_TEST_LIBVIRT_KERNEL")
	dir := filepath.Join(filepath.Dir(kernel), "modules")
	var mods []string
	for _, m := range []string{"virtio_ring.ko", "virtio.ko", "virtio_pci_legacy_dev.ko", "virtio_pci_modern_dev.ko", "virtio_pci.ko", "virtio_blk.ko"} {
		if _, err := os.Stat(filepath.Join(dir, m)); err == nil { // absent: built into the kernel
			mods = append(mods, filepath.Join(dir, m))
		}
	}
	return convert.Boot{Kernel: kernel, Modules: mods, Busybox: "/bin/busybox"}
}

// Entrypoint matches the line the entrypoint of PushImage prints: the
// marker, whether the whiteout was applied, and the working directory.
var Entrypoint = regexp.MustCompile(`OVM-CONVERT (\S+) hello world (\S+) (\S+)`)

// PushImage pushes the busybox test image plus two layers to the test
// registry as repository:marker: one adds /etc/gone and /etc/kept, the next
// deletes /etc/gone by a whiteout; its entrypoint prints a marker, an
// environment variable and whether /etc/gone survived (see Entrypoint).
// The tag is removed when t ends.
func PushImage(t *testing.T, repository, marker string) string {
	t.Helper()
	base, err := name.ParseReference(Getenv(t, "OVM_TEST_DOCKER_IMAGE"))
	require.NoError(t, err)
	img, err := remote.Image(base, remote.WithContext(t.Context()))
	require.NoError(t, err, "pull the busybox test image")
	img, err = mutate.AppendLayers(img,
		Layer(t, File{Name: "etc/gone", Body: "x"}, File{Name: "etc/kept", Body: marker}),
		Layer(t, File{Name: "etc/.wh.gone"}))
	require.NoError(t, err)
	img, err = mutate.Config(img, v1.Config{
		Entrypoint: []string{"/bin/sh", "-c"},
		Cmd:        []string{`echo "OVM-CONVERT $(cat /etc/kept) $GREETING $(ls /etc/gone 2>/dev/null || echo whiteout-applied) $(pwd)"`},
		Env:        []string{"GREETING=hello world", "PATH=/bin"},
		WorkingDir: "/etc",
	})
	require.NoError(t, err)
	ref := fmt.Sprintf("%s/%s:%s", Getenv(t, "OVM_TEST_REGISTRY"), repository, marker)
	pushed, err := name.ParseReference(ref)
	require.NoError(t, err)
	require.NoError(t, remote.Write(pushed, img, remote.WithContext(t.Context())), "push %s", ref)
	t.Cleanup(func() { DeleteImage(ref) })
	return ref
}

// DeleteImage removes a test image's manifest from the registry.
func DeleteImage(ref string) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return
	}
	if d, err := remote.Head(r); err == nil {
		_ = remote.Delete(r.Context().Digest(d.Digest.String()))
	}
}

// BootConsole boots a converted disk on the real libvirtd (a domain it
// defines and destroys when t ends) with its console in a file of dir,
// and returns what the console showed once the entrypoint exited.
func BootConsole(t *testing.T, name string, disk convert.VMDisk, dir string) string {
	t.Helper()
	console := filepath.Join(dir, "console.log")
	l := golibvirt.NewWithDialer(dialers.NewLocal())
	require.NoError(t, l.ConnectToURI(golibvirt.ConnectURI(Getenv(t, "OVM_TEST_LIBVIRT_URI"))))
	t.Cleanup(func() { _ = l.Disconnect() })
	def := libvirtxml.Domain{Type: "qemu", Name: name,
		Memory: &libvirtxml.DomainMemory{Value: 128, Unit: "MiB"},
		VCPU:   &libvirtxml.DomainVCPU{Value: 1},
		OS: &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Arch: "x86_64", Type: "hvm"},
			Kernel: disk.Kernel, Initrd: disk.Initrd, Cmdline: disk.Cmdline},
		OnPoweroff: "destroy",
		Devices: &libvirtxml.DomainDeviceList{
			Disks: []libvirtxml.DomainDisk{{Device: "disk",
				Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: "qcow2"},
				Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: disk.Disk}},
				Target: &libvirtxml.DomainDiskTarget{Dev: "vda", Bus: "virtio"}}},
			Serials: []libvirtxml.DomainSerial{{
				Source: &libvirtxml.DomainChardevSource{File: &libvirtxml.DomainChardevSourceFile{Path: console}},
				Target: &libvirtxml.DomainSerialTarget{Port: new(uint)}}},
		}}
	x, err := def.Marshal()
	require.NoError(t, err)
	dom, err := l.DomainCreateXML(x, 0)
	require.NoError(t, err, "start the converted disk's domain")
	t.Cleanup(func() { _ = l.DomainDestroy(dom) })

	var out string
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) && !strings.Contains(out, "OVM-ENTRYPOINT-EXIT") && !strings.Contains(out, "end Kernel panic") {
		time.Sleep(500 * time.Millisecond)
		b, _ := os.ReadFile(console)
		out = string(b)
	}
	return out
}

// TailOf is the console's last lines, without the kernel's own messages.
func TailOf(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "[") {
			keep = append(keep, strings.TrimRight(l, "\r"))
		}
	}
	return strings.Join(keep[max(0, len(keep)-30):], "\n")
}

// Disk makes a qcow2 disk whose whole device is an ext4 filesystem
// (mke2fs -d, no mount) holding static busybox, a marker file and a file
// owned by uid 1000 with mode 0640, as a VM would have written them.
func Disk(t testing.TB, dir, marker string) string {
	t.Helper()
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	bb, err := os.ReadFile("/bin/busybox")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "bin/busybox"), bb, 0o755))
	for _, l := range []string{"sh", "cat", "stat"} {
		require.NoError(t, os.Symlink("busybox", filepath.Join(root, "bin", l)))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/ovm-marker"), []byte(marker+"\n"), 0o644))
	owned := filepath.Join(root, "etc/owned")
	require.NoError(t, os.WriteFile(owned, []byte("x"), 0o640))
	require.NoError(t, os.Chown(owned, 1000, 1000))
	raw := filepath.Join(dir, "vm.raw")
	disk := filepath.Join(dir, "vm.qcow2")
	Sh(t, "mke2fs", "-q", "-F", "-t", "ext4", "-d", root, raw, "32M")
	Sh(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, disk)
	return disk
}

// Sh runs a command, failing t with its output when it fails.
func Sh(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
}

// RunImage runs ref on the real dockerd and returns what it printed; the
// container and the pulled image are removed when t ends.
func RunImage(t *testing.T, ref string) string {
	t.Helper()
	ctx := t.Context()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	rc, err := cli.ImagePull(ctx, ref, image.PullOptions{})
	require.NoError(t, err, "docker pull %s", ref)
	_, _ = io.Copy(io.Discard, rc)
	_ = rc.Close()
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true, PruneChildren: true})
	})
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: ref}, nil, nil, nil, "")
	require.NoError(t, err, "docker create %s", ref)
	t.Cleanup(func() {
		_ = cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
	})
	require.NoError(t, cli.ContainerStart(ctx, c.ID, container.StartOptions{}))
	waitC, errC := cli.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	select {
	case w := <-waitC:
		require.Zero(t, w.StatusCode, "container exit status")
	case err := <-errC:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("container still running after a minute")
	}
	logs, err := cli.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	require.NoError(t, err)
	defer logs.Close()
	var stdout, stderr bytes.Buffer
	_, err = stdcopy.StdCopy(&stdout, &stderr, logs)
	require.NoError(t, err)
	return stdout.String() + stderr.String()
}
