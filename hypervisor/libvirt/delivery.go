package libvirt

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

var _ hypervisor.TemplateDelivery = (*Driver)(nil)

// maxSidecar bounds what TemplateDigest reads of a digest sidecar.
const maxSidecar = 4096

// uploadChunk is the size of the stream messages a template is sent in:
// libvirt's own clients (virsh vol-upload) send 256 KiB messages, and
// libvirtd takes the 4 MiB messages go-libvirt sends from a large read
// about twice as slowly (BenchmarkTemplateDelivery).
const uploadChunk = 256 << 10

// TemplateDigest reads the digest sidecar ("<name>.sha256") of template
// name in the pool the driver takes templates from. A template without a
// sidecar, or a sidecar without its template, is not a delivered one.
func (d *Driver) TemplateDigest(ctx context.Context, name string) (string, bool, error) {
	if err := ovm.Template(name).Validate(); err != nil {
		return "", false, err
	}
	pool, err := d.ensureDirPool(ctx, d.templates())
	if err != nil {
		return "", false, err
	}
	if _, err := lookupVolume(ctx, d.l, pool, name); isCode(err, golibvirt.ErrNoStorageVol) {
		return "", false, nil
	} else if err != nil {
		return "", false, wrap(err, "libvirt: look up template %s", name)
	}
	side, err := lookupVolume(ctx, d.l, pool, name+hypervisor.DigestSuffix)
	if isCode(err, golibvirt.ErrNoStorageVol) {
		return "", false, nil
	}
	if err != nil {
		return "", false, wrap(err, "libvirt: look up the digest of template %s", name)
	}
	var buf bytes.Buffer
	if err := do(ctx, func() error { return d.l.StorageVolDownload(side, &buf, 0, maxSidecar, 0) }); err != nil {
		return "", false, wrap(err, "libvirt: read the digest of template %s", name)
	}
	digest, ok := hypervisor.ParseDigest(buf.Bytes())
	return digest, ok, nil
}

// DeliverTemplate streams size bytes from r into a new volume name of the
// pool the driver takes templates from, replacing the one there, and then
// writes its digest beside it ("<name>.sha256"). libvirt cannot rename a
// volume, so the old template and its digest are deleted first and the new
// one written in place; the digest comes last, so a volume that is still
// being written, or was left by a crash, has none and is never taken for a
// delivered template. A failed delivery (the reader fails, the context
// ends, the bytes do not match size and digest) deletes what it wrote.
func (d *Driver) DeliverTemplate(ctx context.Context, name, digest string, size ovm.Bytes, r io.Reader, progress hypervisor.Progress) error {
	if err := hypervisor.CheckDelivery(name, digest, size); err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, uploadChunk)
	if err := checkTemplateHeader(br); err != nil {
		return err
	}
	d.deliverMu.Lock()
	defer d.deliverMu.Unlock()
	pool, err := d.ensureDirPool(ctx, d.templates())
	if err != nil {
		return err
	}
	for _, n := range []string{name + hypervisor.DigestSuffix, name} {
		if err := deleteVolume(ctx, d.l, pool, n); err != nil {
			return err
		}
	}
	vol, _, err := createVolume(ctx, d.l, pool, VolumeXML(name, uint64(size), "raw", "", ""))
	if err != nil {
		return err
	}
	fail := func(err error) error {
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		for _, n := range []string{name + hypervisor.DigestSuffix, name} {
			if derr := deleteVolume(c, d.l, pool, n); derr != nil {
				err = errors.Join(err, derr)
			}
		}
		return err
	}
	src := hypervisor.NewDeliveryReader(ctx, hypervisor.KeepVerified(br, r), size, progress, uploadChunk)
	defer src.Close()
	if err := do(ctx, func() error { return d.l.StorageVolUpload(vol, src, 0, uint64(size), 0) }); err != nil {
		if serr := src.Err(); serr != nil {
			err = serr // the cause of the stream libvirt reports as aborted
		}
		return fail(wrap(err, "libvirt: upload template %s", name))
	}
	if err := src.Verify(digest); err != nil {
		return fail(fmt.Errorf("libvirt: template %s: %w", name, err))
	}
	if err := RefreshPool(ctx, d.l, pool); err != nil {
		return fail(wrap(err, "libvirt: refresh pool %s", pool.Name))
	}
	if err := writeSidecar(ctx, d.l, pool, name+hypervisor.DigestSuffix, digest); err != nil {
		return fail(err)
	}
	if progress != nil {
		progress(100, fmt.Sprintf("template %s delivered", name))
	}
	return nil
}

// checkTemplateHeader refuses a template that would make the host read
// files other than itself: libvirt's dir pools take a file's format from
// its contents, and qemu-img, copying a template to a boot disk, follows a
// qcow2 backing file or external data file, a VMDK's extents, a QED's
// backing file or a VHD's parent, wherever on the host they point. Raw
// contents and a self-contained qcow2 go through.
func checkTemplateHeader(br *bufio.Reader) error {
	head, _ := br.Peek(512)
	refuse := func(reason string) error {
		return ovm.Invalid("invalid template delivery", ovm.FieldError{Field: "body", Reason: reason})
	}
	switch {
	case bytes.HasPrefix(head, []byte("QFI\xfb")) && len(head) >= 20:
		if binary.BigEndian.Uint64(head[8:16]) != 0 {
			return refuse("a qcow2 template must not name a backing file")
		}
		// Version 3 headers have incompatible features; bit 2 is an
		// external data file.
		if binary.BigEndian.Uint32(head[4:8]) >= 3 && len(head) >= 80 && binary.BigEndian.Uint64(head[72:80])&4 != 0 {
			return refuse("a qcow2 template must not keep its data in an external file")
		}
	case bytes.HasPrefix(head, []byte("KDMV")), bytes.HasPrefix(head, []byte("COWD")), bytes.Contains(head, []byte("# Disk DescriptorFile")):
		return refuse("a VMDK cannot be a KVM template: convert it to qcow2 or raw (qemu-img convert)")
	case bytes.HasPrefix(head, []byte("QED\x00")), bytes.HasPrefix(head, []byte("conectix")), bytes.HasPrefix(head, []byte("vhdxfile")):
		return refuse("QED, VHD and VHDX images cannot be KVM templates: convert them to qcow2 or raw (qemu-img convert)")
	}
	return nil
}

// writeSidecar writes digest as the contents of a new raw volume name.
func writeSidecar(ctx context.Context, l *golibvirt.Libvirt, pool golibvirt.StoragePool, name, digest string) error {
	body := []byte(digest + "\n")
	vol, _, err := createVolume(ctx, l, pool, VolumeXML(name, uint64(len(body)), "raw", "", ""))
	if err != nil {
		return err
	}
	if err := do(ctx, func() error { return l.StorageVolUpload(vol, bytes.NewReader(body), 0, uint64(len(body)), 0) }); err != nil {
		return wrap(err, "libvirt: write %s", name)
	}
	return nil
}

// deleteVolume deletes volume name of pool; one that is not there is fine.
func deleteVolume(ctx context.Context, l *golibvirt.Libvirt, pool golibvirt.StoragePool, name string) error {
	vol, err := lookupVolume(ctx, l, pool, name)
	if isCode(err, golibvirt.ErrNoStorageVol) {
		return nil
	}
	if err != nil {
		return wrap(err, "libvirt: look up volume %s", name)
	}
	if err := do(ctx, func() error { return l.StorageVolDelete(vol, 0) }); err != nil && !isCode(err, golibvirt.ErrNoStorageVol) {
		return wrap(err, "libvirt: delete volume %s", name)
	}
	return nil
}
