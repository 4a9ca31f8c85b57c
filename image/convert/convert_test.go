package convert_test

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image/convert"
	"github.com/openovm/ovm/image/convert/converttest"
	"github.com/openovm/ovm/ovm"
)

// testRegistry starts go-containerregistry's in-memory registry on
// loopback, stopped when t ends, and returns its host:port.
func testRegistry(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// push writes img to ref.
func push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	require.NoError(t, remote.Write(r, img, remote.WithContext(t.Context())))
}

// imageOf makes an image of layers with a configuration for arch.
func imageOf(t *testing.T, arch string, cfg v1.Config, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Config = "linux", arch, cfg
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	return img
}

// files reads an image's flattened tree: path -> content ("->target" for
// symlinks).
func files(t *testing.T, ref string) map[string]string {
	t.Helper()
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	img, err := remote.Image(r, remote.WithContext(t.Context()))
	require.NoError(t, err)
	rc := mutate.Extract(img)
	defer rc.Close()
	got := map[string]string{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		require.NoError(t, err)
		switch hdr.Typeflag {
		case tar.TypeReg:
			b, err := io.ReadAll(tr)
			require.NoError(t, err)
			got[strings.TrimPrefix(hdr.Name, "./")] = string(b)
		case tar.TypeSymlink:
			got[hdr.Name] = "->" + hdr.Linkname
		}
	}
}

// TestRoundTrip converts an image with a whiteout into a disk (real
// mke2fs and qemu-img) and the disk back into an image (real qemu-img and
// debugfs), and compares the trees: whiteouts applied, files and symlinks
// kept, the init and busybox added under /.ovm.
func TestRoundTrip(t *testing.T) {
	reg := testRegistry(t)
	cfg := v1.Config{Entrypoint: []string{"/bin/echo"}, Cmd: []string{"it's", "here"}, Env: []string{"A=b c"}, WorkingDir: "/srv"}
	push(t, reg+"/app:1", imageOf(t, "amd64", cfg,
		converttest.Layer(t, converttest.File{Name: "srv/a.txt", Body: "one"}, converttest.File{Name: "srv/gone", Body: "x"}, converttest.File{Name: "etc/dir/f", Body: "f"}),
		converttest.Layer(t, converttest.File{Name: "srv/.wh.gone"}, converttest.File{Name: "srv/link", Link: "a.txt"}, converttest.File{Name: "etc/dir/.wh..wh..opq"}, converttest.File{Name: "etc/dir/g", Body: "g"})))

	dir := t.TempDir()
	c := &convert.Converter{Scratch: dir}
	disk, err := c.ImageToDisk(t.Context(), convert.ToDisk{Image: reg + "/app:1", Arch: "amd64", Dir: dir,
		Boot: convert.Boot{Kernel: "/bin/busybox", Busybox: "/bin/busybox"}})
	require.NoError(t, err, "ImageToDisk: got an error, want a disk")
	for _, p := range []string{disk.Disk, disk.Kernel, disk.Initrd} {
		assert.FileExists(t, p)
	}
	assert.Equal(t, convert.Cmdline, disk.Cmdline)

	back, err := c.DiskToImage(t.Context(), convert.ToImage{Disk: disk.Disk, Image: reg + "/back:1", Cmd: []string{"/bin/true"}})
	require.NoError(t, err, "DiskToImage: got an error, want an image")
	got := files(t, back.Ref)
	assert.Equal(t, "one", got["srv/a.txt"])
	assert.Equal(t, "->a.txt", got["srv/link"])
	assert.Equal(t, "g", got["etc/dir/g"])
	for _, gone := range []string{"srv/gone", "srv/.wh.gone", "etc/dir/f"} {
		assert.NotContains(t, got, gone, "whiteout of %s", gone)
	}
	assert.NotEmpty(t, got[".ovm/busybox"])
	init := got[".ovm/init"]
	assert.Contains(t, init, `export 'A=b c'`)
	assert.Contains(t, init, `cd '/srv'`)
	assert.Contains(t, init, `'/bin/echo' 'it'\''s' 'here'`)

	r, err := name.ParseReference(back.Ref)
	require.NoError(t, err)
	img, err := remote.Image(r, remote.WithContext(t.Context()))
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, []string{"/bin/true"}, cf.Config.Cmd)
	assert.Equal(t, "linux", cf.OS)
}

// TestCannotConvert checks the kinds and messages of what cannot convert.
func TestCannotConvert(t *testing.T) {
	reg := testRegistry(t)
	push(t, reg+"/arm:1", imageOf(t, "arm64", v1.Config{Cmd: []string{"/bin/sh"}}, converttest.Layer(t, converttest.File{Name: "a", Body: "a"})))
	dir := t.TempDir()
	zeros := filepath.Join(dir, "zeros.raw")
	require.NoError(t, os.WriteFile(zeros, make([]byte, 1<<20), 0o644))
	mbr := make([]byte, 1<<20)
	mbr[510], mbr[511] = 0x55, 0xAA
	parted := filepath.Join(dir, "parted.raw")
	require.NoError(t, os.WriteFile(parted, mbr, 0o644))
	noTools := t.TempDir()
	boot := convert.Boot{Kernel: "/bin/busybox"}

	tests := []struct {
		name    string
		path    string // PATH for the tools; empty: unchanged
		toDisk  *convert.ToDisk
		toImage *convert.ToImage
		kind    error
		says    string
	}{
		{name: "other architecture", toDisk: &convert.ToDisk{Image: reg + "/arm:1", Arch: "amd64", Dir: dir, Boot: boot},
			kind: ovm.ErrUnsupported, says: "linux/arm64, not linux/amd64"},
		{name: "missing image", toDisk: &convert.ToDisk{Image: reg + "/nothing:1", Dir: dir, Boot: boot},
			kind: ovm.ErrNotFound, says: "pull"},
		{name: "bad options", toDisk: &convert.ToDisk{Image: "UPPER:case:x"},
			kind: ovm.ErrInvalid, says: "invalid"},
		{name: "no mke2fs", path: noTools, toDisk: &convert.ToDisk{Image: reg + "/arm:1", Dir: dir, Boot: boot},
			kind: ovm.ErrUnavailable, says: "install the e2fsprogs package"},
		{name: "no qemu-img", path: noTools, toImage: &convert.ToImage{Disk: zeros, Image: reg + "/x:1"},
			kind: ovm.ErrUnavailable, says: "install the qemu-utils package"},
		{name: "no filesystem", toImage: &convert.ToImage{Disk: zeros, Image: reg + "/x:1"},
			kind: ovm.ErrUnsupported, says: "no ext2/3/4 filesystem"},
		{name: "partitioned", toImage: &convert.ToImage{Disk: parted, Image: reg + "/x:1"},
			kind: ovm.ErrUnsupported, says: "partition table"},
		{name: "missing disk", toImage: &convert.ToImage{Disk: filepath.Join(dir, "none.qcow2"), Image: reg + "/x:1"},
			kind: ovm.ErrNotFound, says: "none.qcow2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.path != "" {
				t.Setenv("PATH", tt.path)
			}
			c := &convert.Converter{Scratch: dir}
			var err error
			if tt.toDisk != nil {
				_, err = c.ImageToDisk(t.Context(), *tt.toDisk)
			} else {
				_, err = c.DiskToImage(t.Context(), *tt.toImage)
			}
			require.ErrorIs(t, err, tt.kind, "got %v", err)
			assert.Contains(t, err.Error(), tt.says)
		})
	}
	left, err := filepath.Glob(filepath.Join(dir, "ovm-convert-*"))
	require.NoError(t, err)
	assert.Empty(t, left, "scratch directories left behind")
}

// TestLayerCannotEscape flattens layers whose symlinks point outside the
// tree, with entries under them in either order: nothing is written
// outside, and a tree that cannot be made fails as invalid.
func TestLayerCannotEscape(t *testing.T) {
	reg := testRegistry(t)
	tests := []struct {
		name   string
		layers func(outside string) []v1.Layer
	}{
		{name: "symlink then entry", layers: func(o string) []v1.Layer {
			return []v1.Layer{converttest.Layer(t, converttest.File{Name: "evil", Link: o}, converttest.File{Name: "evil/pwned", Body: "x"}, converttest.File{Name: "../../up", Body: "x"})}
		}},
		{name: "entry then symlink", layers: func(o string) []v1.Layer {
			return []v1.Layer{converttest.Layer(t, converttest.File{Name: "evil/pwned", Body: "x"}, converttest.File{Name: "evil", Link: o})}
		}},
		{name: "symlink in a lower layer", layers: func(o string) []v1.Layer {
			return []v1.Layer{converttest.Layer(t, converttest.File{Name: "evil", Link: o}), converttest.Layer(t, converttest.File{Name: "evil/pwned", Body: "x"})}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outside := t.TempDir()
			ref := fmt.Sprintf("%s/escape:%d", reg, i)
			push(t, ref, imageOf(t, "amd64", v1.Config{Cmd: []string{"/bin/sh"}}, tt.layers(outside)...))
			dir := t.TempDir()
			c := &convert.Converter{Scratch: dir}
			_, err := c.ImageToDisk(t.Context(), convert.ToDisk{Image: ref, Arch: "amd64", Dir: dir, Boot: convert.Boot{Kernel: "/bin/busybox"}})
			if err != nil {
				require.ErrorIs(t, err, ovm.ErrInvalid, "got %v", err)
			}
			escaped, err := os.ReadDir(outside)
			require.NoError(t, err)
			assert.Empty(t, escaped, "files written outside the tree through a symlink")
			_, err = os.Stat(filepath.Join(filepath.Dir(dir), "up"))
			assert.ErrorIs(t, err, os.ErrNotExist, "a ../ name written outside the tree")
		})
	}
}
