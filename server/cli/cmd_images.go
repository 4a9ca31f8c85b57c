package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

func imageCommands() *command {
	return &command{name: "image", aliases: []string{"images"}, summary: "The image catalog: VM templates uploaded, downloaded and imported", sub: []*command{
		{name: "list", aliases: []string{"ls"}, summary: "List the catalog's images", run: listCmd[apitypes.Image]{noun: "images", vdc: true,
			desc: "List the catalog's images: the platform's and the VDC's.",
			list: func(cl *client.Client, ctx context.Context, o client.ListOptions) ([]apitypes.Image, error) {
				return cl.ListImages(ctx, client.ImageQuery{}, o)
			},
			head: []any{"NAME", "ID", "KIND", "FORMAT", "PHASE", "SIZE", "SCOPE", "OS", "CREATED"},
			cells: func(i apitypes.Image, now time.Time) []any {
				scope := "platform"
				if i.VDCID != "" {
					scope = "vdc"
				}
				return []any{i.Name, i.ID, i.Kind, i.Format, i.Phase, i.Size, scope, i.OSType, ago(i.CreatedAt, now)}
			}}.run},
		{name: "show", aliases: []string{"get"}, summary: "Show an image", run: func(a *app, path string, args []string) error {
			f := a.flags(path, "IMAGE", "Show an image; an uploading one says how many bytes the server has.")
			cl, id, err := f.object(args, "IMAGE", "image")
			if err != nil {
				return err
			}
			img, err := cl.GetImage(a.ctx, id)
			if err != nil {
				return err
			}
			return a.show(img, func(w io.Writer) { imageDetail(w, img) })
		}},
		{name: "create", summary: "Record a VM template whose file is uploaded next", run: (*app).imageCreate},
		{name: "upload", summary: "Upload a template file (resumes an upload that was cut)", run: (*app).imageUpload},
		{name: "download", summary: "Download a template's file", run: (*app).imageDownload},
		{name: "import", summary: "Import a template file of a template library storage pool (administrators)", run: (*app).imageImport},
		{name: "set", summary: "Change an image's OS hint", run: (*app).imageSet},
		{name: "delete", aliases: []string{"rm"}, summary: "Delete an image from the catalog and the library", run: func(a *app, path string, args []string) error {
			f := a.flags(path, "IMAGE", "Delete an image and its file; a VDC's image gives its disk quota back.")
			cl, id, err := f.object(args, "IMAGE", "image")
			if err != nil {
				return err
			}
			if err := cl.DeleteImage(a.ctx, id); err != nil {
				return err
			}
			fmt.Fprintf(a.env.Stdout, "Image %s deleted.\n", id)
			return nil
		}},
		imageConvertCommand(),
	}}
}

// imageDetail writes an image as a list of fields.
func imageDetail(w io.Writer, i apitypes.Image) {
	kinds := make([]string, len(i.HostKinds))
	for n, k := range i.HostKinds {
		kinds[n] = string(k)
	}
	rows := [][2]string{{"Name", i.Name}, {"ID", string(i.ID)}, {"Kind", string(i.Kind)}, {"Format", string(i.Format)},
		{"Phase", string(i.Phase)}, {"Size", i.Size.String()}, {"Digest", i.Digest}, {"Host kinds", strings.Join(kinds, ", ")}}
	if i.VDCID != "" {
		rows = append(rows, [2]string{"VDC", string(i.VDCID)})
	}
	if i.VirtualSize > 0 {
		rows = append(rows, [2]string{"Virtual size", i.VirtualSize.String()})
	}
	if i.Phase == apitypes.ImageUploading {
		rows = append(rows, [2]string{"Uploaded", fmt.Sprintf("%d of %d bytes", i.UploadedBytes, i.Size)})
	}
	if i.OSType != "" {
		rows = append(rows, [2]string{"OS", i.OSType})
	}
	if i.Message != "" {
		rows = append(rows, [2]string{"Message", i.Message})
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%-13s %s\n", r[0]+":", r[1])
	}
}

// imageFlags are the flags of a new image.
type imageFlags struct {
	format, digest, osType, vdc *string
}

func addImageFlags(f *flags) imageFlags {
	return imageFlags{
		format: f.String("format", "", "qcow2, raw or vmdk (default: from the name's extension)"),
		digest: f.String("digest", "", "sha256:`HEX` of the file; an upload of other bytes fails"),
		osType: f.String("os-type", "", "a hint of the guest `OS`, such as linux or windows"),
		vdc:    f.String("vdc", "", "publish into this `VDC` (administrators; default: platform-wide)"),
	}
}

// create records an image of name and size.
func (fl imageFlags) create(a *app, cl *client.Client, name string, size ovm.Bytes) (apitypes.Image, error) {
	vdc, err := a.resolveVDC(*fl.vdc)
	if err != nil {
		return apitypes.Image{}, err
	}
	format := ovm.ImageFormat(*fl.format)
	if format == "" {
		format = ovm.Template(name).Format
	}
	return cl.CreateImage(a.ctx, apitypes.ImageCreate{Name: name, Format: format, VDCID: vdc, Size: size, Digest: *fl.digest,
		OSType: *fl.osType, IdempotencyKey: newKey()})
}

func (a *app) imageCreate(path string, args []string) error {
	f := a.flags(path, "NAME --size SIZE [--format F] [--digest sha256:HEX] [--os-type OS] [--vdc VDC]",
		"Record a VM template whose file is uploaded next (ovm image upload). A VDC's image reserves its size on the VDC's disk quota.")
	sizeText := f.String("size", "", "the file's `SIZE` in bytes (or 64MiB, 2GiB)")
	fl := addImageFlags(f)
	pos, err := f.parseN(args, "NAME")
	if err != nil {
		return err
	}
	if *sizeText == "" {
		return f.fail("--size is required")
	}
	size, err := parseSize(*sizeText)
	if err != nil {
		return f.fail("--size: %v", err)
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	img, err := fl.create(a, cl, pos[0], size)
	if err != nil {
		return err
	}
	return a.show(img, func(w io.Writer) { imageDetail(w, img) })
}

// fileDigest returns a file's size and SHA-256 digest.
func fileDigest(name string) (ovm.Bytes, string, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", name, err)
	}
	return ovm.Bytes(n), "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func (a *app) imageUpload(path string, args []string) error {
	f := a.flags(path, "FILE [--name NAME] [--format F] [--os-type OS] [--vdc VDC]",
		"Upload a template file: records the image from the file's size and SHA-256 digest, then streams the file.\n"+
			"Run again on an image still uploading (of the same name, size and digest), it resumes from the bytes the server has.")
	name := f.String("name", "", "the image's `NAME` (default: the file's base name)")
	fl := addImageFlags(f)
	pos, err := f.parseN(args, "FILE")
	if err != nil {
		return err
	}
	file := pos[0]
	if *name == "" {
		*name = filepath.Base(file)
	}
	size, digest, err := fileDigest(file)
	if err != nil {
		return err
	}
	if *fl.digest != "" && *fl.digest != digest {
		return f.fail("--digest %s is not the file's digest %s", *fl.digest, digest)
	}
	*fl.digest = digest
	cl, err := a.client()
	if err != nil {
		return err
	}
	img, err := a.uploadingImage(cl, *name, *fl.vdc, size, digest)
	if err != nil {
		return err
	}
	if img.ID == "" {
		if img, err = fl.create(a, cl, *name, size); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.env.Stderr, "Resuming the upload of %s at %d of %d bytes.\n", img.Name, img.UploadedBytes, img.Size)
	}
	src, err := os.Open(file)
	if err != nil {
		return err
	}
	defer src.Close()
	start := int64(img.UploadedBytes)
	if _, err := src.Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s: %w", file, err)
	}
	out, err := cl.UploadImage(a.ctx, img.ID, start, int64(size)-start, int64(size), src)
	if err != nil {
		return fmt.Errorf("upload %s (run the command again to resume): %w", img.Name, err)
	}
	if out.Phase != apitypes.ImageReady {
		return fmt.Errorf("image %s is %s after its upload: %s", out.Name, out.Phase, out.Message)
	}
	return a.show(out, func(w io.Writer) { imageDetail(w, out) })
}

// uploadingImage finds an image of name still uploading the file of size
// and digest, to resume; the zero image when there is none. An image of
// that name in another state is an error.
func (a *app) uploadingImage(cl *client.Client, name, vdcRef string, size ovm.Bytes, digest string) (apitypes.Image, error) {
	vdc, err := a.resolveVDC(vdcRef)
	if err != nil {
		return apitypes.Image{}, err
	}
	all, err := cl.ListImages(a.ctx, client.ImageQuery{Kind: apitypes.ImageTemplate}, client.ListOptions{VDCID: string(vdc)})
	if err != nil {
		return apitypes.Image{}, err
	}
	for _, img := range all {
		if img.Name != name || (vdc != "" && img.VDCID != vdc) {
			continue
		}
		if img.Phase == apitypes.ImageUploading && img.Size == size && img.Digest == digest {
			return cl.GetImage(a.ctx, img.ID)
		}
		if img.Phase == apitypes.ImageUploading {
			return apitypes.Image{}, fmt.Errorf("image %s is being uploaded with another size or digest: delete it first (ovm image delete %s)", name, img.ID)
		}
	}
	return apitypes.Image{}, nil
}

func (a *app) imageDownload(path string, args []string) error {
	f := a.flags(path, "IMAGE FILE", "Download a ready template's file into FILE.")
	f.inVDC("image")
	pos, err := f.parseN(args, "IMAGE", "FILE")
	if err != nil {
		return err
	}
	cl, id, err := f.lookup("image", pos[0])
	if err != nil {
		return err
	}
	tmp := pos[1] + ".part"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	n, err := cl.DownloadImage(a.ctx, id, out)
	err = errors.Join(err, out.Close())
	if err == nil {
		err = os.Rename(tmp, pos[1])
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	fmt.Fprintf(a.env.Stdout, "Wrote %d bytes to %s.\n", n, pos[1])
	return nil
}

func (a *app) imageImport(path string, args []string) error {
	f := a.flags(path, "--pool POOL --path PATH [--name NAME] [--os-type OS] [--vdc VDC]",
		"Import a template file that sits in a template library storage pool whose path the server sees (administrators).")
	pool := f.String("pool", "", "the template library storage `POOL`")
	filePath := f.String("path", "", "the file's `PATH` relative to the pool's path")
	name := f.String("name", "", "the image's `NAME` (default: the file's base name)")
	osType := f.String("os-type", "", "a hint of the guest `OS`")
	vdcRef := f.String("vdc", "", "import as a private image of this `VDC`")
	if _, err := f.parseN(args); err != nil {
		return err
	}
	if *pool == "" || *filePath == "" {
		return f.fail("--pool and --path are required")
	}
	cl, err := a.client()
	if err != nil {
		return err
	}
	poolID, err := a.resolve("storage pool", *pool, "")
	if err != nil {
		return err
	}
	vdc, err := a.resolveVDC(*vdcRef)
	if err != nil {
		return err
	}
	img, err := cl.ImportImage(a.ctx, apitypes.ImageImport{StoragePoolID: poolID, Path: *filePath, Name: *name, VDCID: vdc,
		OSType: *osType, IdempotencyKey: newKey()})
	if err != nil {
		return err
	}
	return a.show(img, func(w io.Writer) { imageDetail(w, img) })
}

func (a *app) imageSet(path string, args []string) error {
	f := a.flags(path, "IMAGE --os-type OS", "Change an image's OS hint.")
	osType := f.String("os-type", "", "a hint of the guest `OS`, such as linux or windows")
	cl, id, err := f.object(args, "IMAGE", "image")
	if err != nil {
		return err
	}
	set := false
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == "os-type" })
	if !set {
		return f.fail("nothing to change: give --os-type")
	}
	img, err := cl.UpdateImage(a.ctx, id, apitypes.ImagePatch{OSType: osType})
	if err != nil {
		return err
	}
	return a.show(img, func(w io.Writer) { imageDetail(w, img) })
}
