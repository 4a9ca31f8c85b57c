package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/openovm/ovm/ovm"
)

// ToImage configures DiskToImage.
type ToImage struct {
	// Disk is a qcow2, raw (or any format qemu-img reads) disk whose whole
	// device holds an ext2/3/4 filesystem, as OVM's templates and converted
	// disks do. Partitioned disks are not read.
	Disk string
	// Image is the reference to push, e.g. "registry:5000/app:1".
	Image string
	// Cmd is the image's default command (default ["/bin/sh"]).
	Cmd []string
	// Env is the image's environment, "KEY=value" (default a PATH).
	Env []string
	// Arch is the image's architecture (GOARCH name); empty means this
	// server's.
	Arch string
}

// Pushed is what DiskToImage pushed.
type Pushed struct {
	Ref    string // the reference pushed, with its digest: repo@sha256:...
	Digest string
	Size   ovm.Bytes // the compressed layer's size
}

// DiskToImage reads a VM disk's root filesystem without mounting it and
// pushes it as a one-layer container image.
func (c *Converter) DiskToImage(ctx context.Context, o ToImage) (Pushed, error) {
	var f ovm.Fields
	ref := parseImage(&f, o.Image)
	if o.Disk == "" {
		f.Add("disk", "required")
	}
	if err := f.Err("the conversion's options are invalid"); err != nil {
		return Pushed{}, err
	}
	if _, err := os.Stat(o.Disk); err != nil {
		return Pushed{}, ovm.Wrap(ovm.KindNotFound, err, "disk %s", filepath.Base(o.Disk))
	}
	if err := lookTools(ToolQemuImg, ToolDebugfs); err != nil {
		return Pushed{}, err
	}
	rep := newReporter(c.Progress, 4)
	work, err := os.MkdirTemp(c.Scratch, "ovm-convert-")
	if err != nil {
		return Pushed{}, fmt.Errorf("scratch: %w", err)
	}
	defer os.RemoveAll(work)

	info, err := diskInfo(ctx, o.Disk)
	if err != nil {
		return Pushed{}, err
	}
	rep.step("qemu-img", info.VirtualSize)
	raw := filepath.Join(work, "disk.raw")
	if _, err := run(ctx, ToolQemuImg, "convert", "-q", "-f", info.Format, "-O", "raw", o.Disk, raw); err != nil {
		return Pushed{}, err
	}
	if err := checkExt(raw); err != nil {
		return Pushed{}, err
	}

	rep.step("debugfs", info.VirtualSize)
	root := filepath.Join(work, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return Pushed{}, fmt.Errorf("scratch: %w", err)
	}
	_, stderr, err := runBoth(ctx, ToolDebugfs, "-R", "rdump / "+root, raw)
	if err != nil {
		return Pushed{}, err
	}
	if msg := debugfsErrors(stderr); msg != "" {
		return Pushed{}, ovm.Errorf(ovm.KindInvalid, "read the filesystem of disk %s: %s", filepath.Base(o.Disk), msg)
	}
	_ = os.RemoveAll(filepath.Join(root, "lost+found"))
	_ = os.Remove(raw)

	rep.step("layer", 0)
	layerFile := filepath.Join(work, "layer.tar")
	lf, err := os.Create(layerFile)
	if err != nil {
		return Pushed{}, fmt.Errorf("scratch: %w", err)
	}
	err = tarDir(ctx, root, lf)
	if cerr := lf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Pushed{}, err
	}
	layer, err := tarball.LayerFromFile(layerFile)
	if err != nil {
		return Pushed{}, fmt.Errorf("layer: %w", err)
	}
	img, err := c.image(layer, o)
	if err != nil {
		return Pushed{}, err
	}
	size, err := layer.Size()
	if err != nil {
		return Pushed{}, fmt.Errorf("layer: %w", err)
	}

	rep.step("push", size)
	updates := make(chan v1.Update, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for u := range updates {
			rep.bytes(u.Complete, u.Total)
		}
	}()
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithProgress(updates)}, c.Remote...)
	err = remote.Write(ref, img, opts...)
	<-done
	if err != nil {
		return Pushed{}, registryError(err, "push %s", o.Image)
	}
	digest, err := img.Digest()
	if err != nil {
		return Pushed{}, fmt.Errorf("digest: %w", err)
	}
	return Pushed{Ref: ref.Context().Digest(digest.String()).String(), Digest: digest.String(), Size: ovm.Bytes(size)}, nil
}

// image makes the one-layer image with its configuration.
func (c *Converter) image(layer v1.Layer, o ToImage) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", o.Arch
	if cf.Architecture == "" {
		cf.Architecture = runtime.GOARCH
	}
	cf.Config.Cmd = o.Cmd
	if len(cf.Config.Cmd) == 0 {
		cf.Config.Cmd = []string{"/bin/sh"}
	}
	cf.Config.Env = o.Env
	if len(cf.Config.Env) == 0 {
		cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return img, nil
}

// qemuInfo is what `qemu-img info --output=json` says of a disk.
type qemuInfo struct {
	Format      string `json:"format"`
	VirtualSize int64  `json:"virtual-size"`
}

func diskInfo(ctx context.Context, disk string) (qemuInfo, error) {
	out, err := run(ctx, ToolQemuImg, "info", "--output=json", disk)
	if err != nil {
		return qemuInfo{}, ovm.Wrap(ovm.KindInvalid, err, "disk %s is not a disk image qemu-img reads", filepath.Base(disk))
	}
	var i qemuInfo
	if err := json.Unmarshal(out, &i); err != nil || i.Format == "" {
		return qemuInfo{}, ovm.Internal(err, "qemu-img info %s: unexpected output", filepath.Base(disk))
	}
	return i, nil
}

// checkExt refuses a raw disk whose first bytes hold no ext2/3/4
// superblock (magic 0xEF53 at byte 1080), saying when it is partitioned.
func checkExt(raw string) error {
	f, err := os.Open(raw)
	if err != nil {
		return fmt.Errorf("read disk: %w", err)
	}
	defer f.Close()
	head := make([]byte, 2048)
	if _, err := io.ReadFull(f, head); err != nil {
		return ovm.Wrap(ovm.KindUnsupported, err, "the disk is too small to hold a filesystem")
	}
	if head[1080] == 0x53 && head[1081] == 0xEF {
		return nil
	}
	if head[510] == 0x55 && head[511] == 0xAA {
		return ovm.Errorf(ovm.KindUnsupported, "the disk has a partition table, not an ext2/3/4 filesystem on the whole disk: OVM reads only the latter")
	}
	return ovm.Errorf(ovm.KindUnsupported, "the disk holds no ext2/3/4 filesystem OVM can read")
}

// debugfsErrors returns what debugfs printed on standard error besides its
// version banner (it exits 0 after most failures).
func debugfsErrors(stderr []byte) string {
	var msgs []string
	for _, l := range bytes.Split(stderr, []byte("\n")) {
		s := strings.TrimSpace(string(l))
		if s != "" && !strings.HasPrefix(s, "debugfs ") {
			msgs = append(msgs, s)
		}
	}
	return strings.Join(msgs, "; ")
}
