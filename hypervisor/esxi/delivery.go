package esxi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vmdk"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

var _ hypervisor.TemplateDelivery = (*Driver)(nil)

// A delivered template is a flat VMDK in the template library directory:
// the descriptor "<name>" (the name ends in .vmdk), its extent
// "<name without .vmdk>-flat.vmdk" holding the delivered bytes, which are
// the disk's raw contents, and the digest sidecar "<name>.sha256".

// flatName is the extent file of the flat VMDK name.
func flatName(name string) string { return strings.TrimSuffix(name, ".vmdk") + "-flat.vmdk" }

// TemplateDigest reads the digest sidecar of template name in the library
// directory; a template without one (or a sidecar without its template) is
// not a delivered one.
func (d *Driver) TemplateDigest(ctx context.Context, name string) (string, bool, error) {
	if err := ovm.Template(name).Validate(); err != nil {
		return "", false, err
	}
	lib := d.c.templates()
	if lib == "" {
		return "", false, nil
	}
	ds, p := splitDSPath(templatePath(lib, name))
	files, err := d.c.libraryFiles(ctx, ds, p)
	if err != nil {
		return "", false, err
	}
	base := path.Base(p)
	if !files[base] || !files[flatName(base)] || !files[base+hypervisor.DigestSuffix] {
		return "", false, nil
	}
	b, err := d.c.download(ctx, ds, p+hypervisor.DigestSuffix)
	if err != nil {
		return "", false, d.c.wrap(err, "read the digest of template %s", name)
	}
	digest, ok := hypervisor.ParseDigest(b)
	return digest, ok, nil
}

// DeliverTemplate uploads size bytes from r, the raw contents of a disk,
// into the library directory under a temporary name, moves them to the
// extent of the flat VMDK name (replacing the one there), writes its
// descriptor and then its digest. Until the upload is complete the old
// template stays whole with its digest; a failed delivery removes what it
// wrote. Sparse VMDK, qcow2 and descriptor files are refused: the host
// gets raw disk contents.
func (d *Driver) DeliverTemplate(ctx context.Context, name, digest string, size ovm.Bytes, r io.Reader, progress hypervisor.Progress) error {
	if err := hypervisor.CheckDelivery(name, digest, size); err != nil {
		return err
	}
	var f ovm.Fields
	if ovm.Template(name).Format != ovm.FormatVMDK {
		f.Add("name", "must end in .vmdk on an ESXi host")
	}
	if size%vmdk.SectorSize != 0 {
		f.Addf("size", "must be a whole number of %d-byte sectors (raw disk contents)", vmdk.SectorSize)
	}
	if err := f.Err("invalid template delivery"); err != nil {
		return err
	}
	c := d.c
	if err := c.writable(ctx, "deliver template "+name); err != nil {
		return err
	}
	lib := c.templates()
	if lib == "" {
		return ovm.Errorf(ovm.KindUnsupported, "esxi %s: deliver template %s: no template library is configured or in use", c.host, name)
	}
	br := bufio.NewReaderSize(r, 1<<20)
	if err := refuseContainer(br); err != nil {
		return err
	}
	ds, p := splitDSPath(templatePath(lib, name))
	if dir := path.Dir(p); dir != "." {
		if err := c.mkdir(ctx, dsPath(ds, dir)); err != nil {
			return c.wrap(err, "make the template library %s", lib)
		}
	}
	part := p + hypervisor.PartialSuffix
	var written []string // files to remove when a later step fails
	fail := func(err error) error {
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		for _, f := range written {
			if rerr := c.removeFile(bg, ds, f); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		return err
	}

	written = append(written, part)
	src := hypervisor.NewDeliveryReader(ctx, hypervisor.KeepVerified(br, r), size, progress, 0)
	defer src.Close()
	u := object.NewDatastoreURL(*c.soap.URL(), strings.TrimPrefix(c.dc.InventoryPath, "/"), ds, part)
	param := soap.DefaultUpload
	param.ContentLength = int64(size)
	if err := c.soap.Upload(ctx, src, u, &param); err != nil {
		if serr := src.Err(); serr != nil {
			err = serr
		} else if verr := src.Verify(digest); verr != nil {
			err = verr // a source shorter than size: the client refuses to send it
		}
		err = c.wrap(err, "upload template %s", name)
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if rerr := c.removeAborted(bg, ds, part); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return err
	}
	if err := src.Verify(digest); err != nil {
		return fail(fmt.Errorf("esxi %s: template %s: %w", c.host, name, err))
	}
	// The new bytes are complete: the old template and its digest go.
	for _, f := range []string{p + hypervisor.DigestSuffix, p} {
		if err := c.removeFile(ctx, ds, f); err != nil {
			return fail(err)
		}
	}
	written = append(written, flatName(p), p, p+hypervisor.DigestSuffix)
	fm := object.NewFileManager(c.client)
	task, err := fm.MoveDatastoreFile(ctx, dsPath(ds, part), c.dc, dsPath(ds, flatName(p)), c.dc, true)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		return fail(c.wrap(err, "move template %s in place", name))
	}
	desc := vmdk.NewDescriptor(vmdk.Extent{Size: int64(size) / vmdk.SectorSize, Info: flatName(path.Base(p))})
	desc.DDB["adapterType"] = "lsilogic"
	var buf bytes.Buffer
	if err := desc.Write(&buf); err != nil {
		return fail(fmt.Errorf("esxi %s: render the descriptor of %s: %w", c.host, name, err))
	}
	if err := c.upload(ctx, ds, p, buf.Bytes()); err != nil {
		return fail(c.wrap(err, "write the descriptor of template %s", name))
	}
	if err := c.upload(ctx, ds, p+hypervisor.DigestSuffix, []byte(digest+"\n")); err != nil {
		return fail(c.wrap(err, "write the digest of template %s", name))
	}
	if progress != nil {
		progress(100, fmt.Sprintf("template %s delivered", name))
	}
	return nil
}

// refuseContainer refuses a source that starts as a disk container format
// rather than raw disk contents.
func refuseContainer(br *bufio.Reader) error {
	head, _ := br.Peek(64)
	for _, m := range []struct{ magic, what string }{
		{"KDMV", "a sparse VMDK"}, {"COWD", "a sparse VMDK"}, {"QFI\xfb", "a qcow2 image"}, {"# Disk DescriptorFile", "a VMDK descriptor"},
	} {
		if bytes.HasPrefix(head, []byte(m.magic)) {
			return ovm.Invalid("invalid template delivery", ovm.FieldError{Field: "body",
				Reason: m.what + " cannot be delivered to an ESXi host: send the disk's raw contents (qemu-img convert -O raw)"})
		}
	}
	return nil
}

// libraryFiles lists the names of the files in the directory of "[ds] p";
// none when the directory is not there.
func (c *conn) libraryFiles(ctx context.Context, ds, p string) (map[string]bool, error) {
	dir := path.Dir(p)
	if dir == "." {
		dir = ""
	}
	files, err := c.dirFiles(ctx, ds, dir)
	if kindOf(err) == ovm.KindNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, c.wrap(err, "list %s", dsPath(ds, dir))
	}
	out := make(map[string]bool, len(files))
	for _, f := range files {
		out[f.name] = true
	}
	return out, nil
}

// abortSettle is how long removeAborted watches for the file of an aborted
// upload to come back.
const abortSettle = time.Second

// removeAborted removes the file of an upload the client aborted. The host
// may still be writing it (it creates the file when the request reaches
// it, which can be after the client gave up), so it is removed again when
// it shows up within abortSettle.
func (c *conn) removeAborted(ctx context.Context, ds, p string) error {
	deadline := time.Now().Add(abortSettle)
	for {
		if err := c.removeFile(ctx, ds, p); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// removeFile deletes "[ds] p"; one that is not there is fine.
func (c *conn) removeFile(ctx context.Context, ds, p string) error {
	err := c.remove(ctx, dsPath(ds, p))
	if err == nil || kindOf(err) == ovm.KindNotFound {
		return nil
	}
	return c.wrap(err, "remove %s", dsPath(ds, p))
}
