//go:build integration

package convert_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/image/convert"
	"github.com/openovm/ovm/ovm"
)

// getenv reads a variable of .testenv; a missing one fails the test.
func getenv(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run `make testenv` and `. ./.testenv` first", name)
	}
	return v
}

// bootOptions is the test guest's kernel and the modules its initramfs
// loads to reach /dev/vda (scripts/testguest.sh keeps them beside it).
func bootOptions(t testing.TB) convert.Boot {
	t.Helper()
	kernel := getenv(t, "OVM_TEST_LIBVIRT_KERNEL")
	dir := filepath.Join(filepath.Dir(kernel), "modules")
	var mods []string
	for _, m := range []string{"virtio_ring.ko", "virtio.ko", "virtio_pci_legacy_dev.ko", "virtio_pci_modern_dev.ko", "virtio_pci.ko", "virtio_blk.ko"} {
		if _, err := os.Stat(filepath.Join(dir, m)); err == nil { // absent: built into the kernel
			mods = append(mods, filepath.Join(dir, m))
		}
	}
	return convert.Boot{Kernel: kernel, Modules: mods, Busybox: "/bin/busybox"}
}

// pushTestImage pushes the busybox test image plus two layers to the test
// registry: one adds /etc/gone and /etc/kept, the next deletes /etc/gone by
// a whiteout; its entrypoint prints a marker, an environment variable and
// whether /etc/gone survived. The tag is removed when t ends.
func pushTestImage(t *testing.T, marker string) string {
	t.Helper()
	base, err := name.ParseReference(getenv(t, "OVM_TEST_DOCKER_IMAGE"))
	require.NoError(t, err)
	img, err := remote.Image(base, remote.WithContext(t.Context()))
	require.NoError(t, err, "pull the busybox test image")
	img, err = mutate.AppendLayers(img,
		layer(t, file{name: "etc/gone", body: "x"}, file{name: "etc/kept", body: marker}),
		layer(t, file{name: "etc/.wh.gone"}))
	require.NoError(t, err)
	img, err = mutate.Config(img, v1.Config{
		Entrypoint: []string{"/bin/sh", "-c"},
		Cmd:        []string{`echo "OVM-CONVERT $(cat /etc/kept) $GREETING $(ls /etc/gone 2>/dev/null || echo whiteout-applied) $(pwd)"`},
		Env:        []string{"GREETING=hello world", "PATH=/bin"},
		WorkingDir: "/etc",
	})
	require.NoError(t, err)
	ref := fmt.Sprintf("%s/ovm-convert-test:%s", getenv(t, "OVM_TEST_REGISTRY"), marker)
	pushed, err := name.ParseReference(ref)
	require.NoError(t, err)
	require.NoError(t, remote.Write(pushed, img, remote.WithContext(t.Context())), "push %s", ref)
	t.Cleanup(func() { deleteImage(ref) })
	return ref
}

// deleteImage removes a test image's manifest from the registry.
func deleteImage(ref string) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return
	}
	if d, err := remote.Head(r); err == nil {
		_ = remote.Delete(r.Context().Digest(d.Digest.String()))
	}
}

// TestImageToDiskBoots converts an image pushed to the real registry into
// a VM disk, boots it on the real libvirtd and reads what its entrypoint
// printed on the serial console (a file-backed serial port).
func TestImageToDiskBoots(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	marker := ovm.NewID().Short()
	ref := pushTestImage(t, marker)

	dir := filepath.Join(getenv(t, "OVM_TEST_LIBVIRT_SHARED"), "convert-"+marker)
	require.NoError(t, os.Mkdir(dir, 0o777))
	require.NoError(t, os.Chmod(dir, 0o777))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	var steps []string
	var last convert.Progress
	c := &convert.Converter{Progress: func(p convert.Progress) {
		last = p
		if len(steps) == 0 || steps[len(steps)-1] != p.Step {
			steps = append(steps, p.Step)
		}
	}}
	start := time.Now()
	disk, err := c.ImageToDisk(ctx, convert.ToDisk{Image: ref, Dir: dir, Boot: bootOptions(t)})
	require.NoError(t, err, "ImageToDisk %s: got an error, want a disk", ref)
	t.Logf("image to disk: %s (disk of %s)", time.Since(start).Round(time.Millisecond), disk.Size)
	assert.Equal(t, []string{"pull", "flatten", "mke2fs", "qemu-img", "boot"}, steps, "progress steps")
	assert.Equal(t, last.Steps, last.Index, "the last report is of the last step")

	console := filepath.Join(dir, "console.log")
	l := golibvirt.NewWithDialer(dialers.NewLocal())
	require.NoError(t, l.ConnectToURI(golibvirt.ConnectURI(getenv(t, "OVM_TEST_LIBVIRT_URI"))))
	t.Cleanup(func() { _ = l.Disconnect() })
	def := libvirtxml.Domain{Type: "qemu", Name: "ovm-convert-" + marker,
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

	want := regexp.MustCompile(`OVM-CONVERT (\S+) hello world (\S+) (\S+)`)
	var out string
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) && !strings.Contains(out, "OVM-ENTRYPOINT-EXIT") && !strings.Contains(out, "end Kernel panic") {
		time.Sleep(500 * time.Millisecond)
		b, _ := os.ReadFile(console)
		out = string(b)
	}
	m := want.FindStringSubmatch(out)
	require.NotNil(t, m, "console: no entrypoint output; got %q", tailOf(out))
	assert.Equal(t, []string{marker, "whiteout-applied", "/etc"}, m[1:], "entrypoint output: marker, whiteout, working directory")
	assert.Contains(t, out, "OVM-ENTRYPOINT-EXIT 0", "entrypoint exit status")
}

// tailOf is the console's last lines, without the kernel's own messages.
func tailOf(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "[") {
			keep = append(keep, strings.TrimRight(l, "\r"))
		}
	}
	return strings.Join(keep[max(0, len(keep)-30):], "\n")
}
