package core

import (
	"context"
	"io"
	"slices"
	"strings"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// kindImage is a VM template of the image catalog: platform-wide (no VDC)
// or private to a VDC, named as its owners see it; its file in the
// template library is imageRecord.File.
const kindImage store.Kind = "image"

// TemplateLibrary is the directory of VM templates the catalog keeps its
// templates in (package image/library implements it), with restartable
// uploads.
type TemplateLibrary interface {
	image.Source
	// Partial returns how many bytes the upload in progress of ref holds
	// (0 when none started).
	Partial(ctx context.Context, ref ovm.ImageRef) (ovm.Bytes, error)
	// Append writes r at offset of the upload of ref and returns the bytes
	// the upload holds after it, also when r failed midway.
	Append(ctx context.Context, ref ovm.ImageRef, offset ovm.Bytes, r io.Reader) (ovm.Bytes, error)
	// Commit checks the upload's digest (when not empty) and format and
	// makes it the template ref; one refused (ovm.ErrInvalid) is removed.
	Commit(ctx context.Context, ref ovm.ImageRef, digest string) (image.Image, error)
	// Discard removes the upload of ref; none is ovm.ErrNotFound.
	Discard(ctx context.Context, ref ovm.ImageRef) error
}

// Image is an entry of the image catalog.
type Image = apitypes.Image

// fileRef is the template's file in the library.
func (r imageRecord) fileRef() ovm.ImageRef { return ovm.ImageRef{Format: r.Format, Name: r.File} }

// imageRecord is a stored template.
type imageRecord struct {
	apitypes.Image
	// File is the template's file name in the library: its name for a
	// platform image, prefixed by its VDC for a private one.
	File string `json:"file"`
	// Reserved is what a private image holds of its VDC's quota.
	Reserved ovm.Usage `json:"reserved"`
	version  int64
}

func (r *imageRecord) setVersion(v int64) { r.version = v }

// privatePrefix starts the file names of private templates; platform
// images may not start with it.
const privatePrefix = "vdc-"

// templateFile is the library file name of a template named name in vdc.
func templateFile(vdc ovm.ID, name string) string {
	if vdc == "" {
		return name
	}
	return privatePrefix + string(vdc) + "-" + name
}

// MaxTemplateSize bounds a template's declared size.
const MaxTemplateSize = 4 * ovm.TiB

// templateFormats are the formats of templates.
var templateFormats = []ovm.ImageFormat{ovm.FormatQCOW2, ovm.FormatRaw, ovm.FormatVMDK}

// formatExt is the extension a template's name has for its format (a
// qcow2 template's may be any other).
var formatExt = map[ovm.ImageFormat]string{ovm.FormatQCOW2: ".qcow2", ovm.FormatRaw: ".raw or .img", ovm.FormatVMDK: ".vmdk"}

// checkTemplateName names what is wrong with a template's name.
func checkTemplateName(f *ovm.Fields, field, name string, format ovm.ImageFormat) {
	switch err := (ovm.ImageRef{Format: format, Name: name}).Validate(); {
	case strings.Contains(name, "/"):
		f.Add(field, "must be a file name: letters, digits, '.', '-' and '_', starting with a letter or digit")
	case len(name) > 200:
		f.Add(field, "must be at most 200 characters")
	case err == nil && slices.Contains(templateFormats, format) && ovm.Template(name).Format != format:
		f.Add(field, "must end in "+formatExt[format]+" for format "+string(format))
	case err != nil:
		for _, fe := range ovm.FieldsOf(err) {
			if fe.Field == "name" {
				f.Add(field, fe.Reason)
			}
		}
	}
}

// CreateImage records a VM template the caller uploads next (phase
// uploading). A private image (vdcId, or any tenant's) reserves its size on
// its VDC's disk quota in the same transaction; a platform-wide image
// (administrators, no vdcId) counts against nothing.
func (s *Service) CreateImage(ctx context.Context, p auth.Principal, in apitypes.ImageCreate) (Image, error) {
	if err := s.needLibrary(); err != nil {
		return Image{}, err
	}
	var f ovm.Fields
	if !slices.Contains(templateFormats, in.Format) {
		f.Addf("format", "must be one of %s, %s, %s", ovm.FormatQCOW2, ovm.FormatRaw, ovm.FormatVMDK)
	}
	checkTemplateName(&f, "name", in.Name, in.Format)
	if in.VDCID == "" && p.Admin() && strings.HasPrefix(in.Name, privatePrefix) {
		f.Add("name", "must not start with "+privatePrefix+" (the library's names of private images)")
	}
	if in.Size <= 0 || in.Size > MaxTemplateSize {
		f.Add("size", "must be between 1 byte and 4TiB")
	}
	f.Merge("", image.CheckDigest(in.Digest))
	checkOSType(&f, in.OSType)
	if err := f.Err("invalid image"); err != nil {
		return Image{}, err
	}
	vdc := in.VDCID
	if !p.Admin() {
		var err error
		if vdc, err = resolveVDC(p, in.VDCID, true); err != nil {
			return Image{}, err
		}
	} else if vdc != "" && !vdc.Valid() {
		return Image{}, invalid("invalid vdc", "vdcId", "must be a lower-case UUID")
	}
	ref := ovm.ImageRef{Format: in.Format, Name: in.Name}
	img := imageRecord{Image: Image{ID: ovm.NewID(), Name: in.Name, Kind: apitypes.ImageTemplate, Format: in.Format, VDCID: vdc,
		Phase: apitypes.ImageUploading, Size: in.Size, Digest: in.Digest, HostKinds: ref.HostKinds(), OSType: in.OSType,
		CreatedAt: s.now(), UpdatedAt: s.now()}, File: templateFile(vdc, in.Name)}
	var out Image
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "image.create", in.IdempotencyKey, in, &out, func() error {
			if vdc != "" {
				if _, err := s.tenantVDC(ctx, tx, p, vdc); err != nil {
					return err
				}
				img.Reserved = ovm.Usage{Disk: in.Size}
				if err := tx.Reserve(ctx, vdc, img.Reserved); err != nil {
					return err
				}
			}
			if err := nameFree(ctx, tx, kindImage, vdc, in.Name, "name"); err != nil {
				return err
			}
			rec := store.Record{Kind: kindImage, ID: img.ID, VDCID: vdc, Name: in.Name}
			if err := setData(&rec, img); err != nil {
				return err
			}
			out = img.Image
			return tx.Insert(ctx, &rec)
		})
	})
	return out, err
}

// checkOSType names an OS hint that is too long or not printable.
func checkOSType(f *ovm.Fields, os string) {
	if len(os) > 63 || (os != "" && ovm.ValidateName(os) != "") {
		f.Add("osType", "must be at most 63 lower-case letters, digits and hyphens, such as linux or windows")
	}
}

// needLibrary refuses catalog templates on a server without a library.
func (s *Service) needLibrary() error {
	if s.o.Library == nil {
		return ovm.Errorf(ovm.KindUnsupported, "this server has no template library")
	}
	return nil
}

// imageVisible reads an image the principal may see: platform images are
// everybody's, private ones their VDC's (another VDC's is not found).
func imageVisible(ctx context.Context, tx store.Tx, p auth.Principal, id ovm.ID) (imageRecord, store.Record, error) {
	if !id.Valid() {
		return imageRecord{}, store.Record{}, ovm.NotFound("image", id)
	}
	img, r, err := getAs[imageRecord](ctx, tx, kindImage, id)
	if err != nil {
		return img, r, err
	}
	if r.VDCID != "" && !p.CanSeeVDC(r.VDCID) {
		return imageRecord{}, store.Record{}, ovm.NotFound("image", id)
	}
	img.version = r.Version
	return img, r, nil
}

// imageView is an image as the API shows it: an uploading one with the
// bytes the library holds.
func (s *Service) imageView(ctx context.Context, img imageRecord) Image {
	out := img.Image
	if out.Phase == apitypes.ImageUploading && s.o.Library != nil {
		if n, err := s.o.Library.Partial(ctx, img.fileRef()); err == nil {
			out.UploadedBytes = n
		}
	}
	if out.HostKinds == nil {
		out.HostKinds = []ovm.HostKind{}
	}
	return out
}

// GetImage returns a catalog image the principal sees, and its version.
func (s *Service) GetImage(ctx context.Context, p auth.Principal, id ovm.ID) (Image, int64, error) {
	var img imageRecord
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		img, _, err = imageVisible(ctx, tx, p, id)
		return err
	})
	if err != nil {
		return Image{}, 0, err
	}
	return s.imageView(ctx, img), img.version, nil
}

// ImageFilter selects catalog images.
type ImageFilter struct {
	ListOptions
	Kind   apitypes.ImageKind
	Format ovm.ImageFormat
}

// ListImages lists the catalog's templates the principal sees: a tenant's
// VDC's private images and the platform's; an administrator's every image,
// or one VDC's (vdcId) with the platform's.
func (s *Service) ListImages(ctx context.Context, p auth.Principal, o ImageFilter) (Page[Image], error) {
	var f ovm.Fields
	if o.Kind != "" && o.Kind != apitypes.ImageTemplate && o.Kind != apitypes.ImageContainer {
		f.Add("query.kind", "must be template or container")
	}
	if o.Format != "" && !slices.Contains(append(templateFormats, ovm.FormatOCI), o.Format) {
		f.Add("query.format", "must be qcow2, raw, vmdk or oci")
	}
	if err := f.Err("invalid image filter"); err != nil {
		return Page[Image]{}, err
	}
	vdc, err := resolveVDC(p, o.VDCID, false)
	if err != nil {
		return Page[Image]{}, err
	}
	pg, err := o.page()
	if err != nil {
		return Page[Image]{}, err
	}
	if pg.Limit == 0 {
		pg.Limit = 100
	}
	out := Page[Image]{Items: []Image{}}
	if o.Kind == apitypes.ImageContainer {
		return out, nil // container images are listed from registries
	}
	var recs []imageRecord
	err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		recs = recs[:0]
		after := pg.After
		for len(recs) < pg.Limit {
			rs, next, err := tx.List(ctx, store.Filter{Kind: kindImage, AllVDCs: true}, store.Page{After: after, Limit: MaxLimit})
			if err != nil {
				return err
			}
			for _, r := range rs {
				if r.VDCID != "" && (vdc != "" && r.VDCID != vdc || !p.CanSeeVDC(r.VDCID)) {
					continue
				}
				img, err := decode[imageRecord](r)
				if err != nil {
					return err
				}
				if o.Format != "" && img.Format != o.Format {
					continue
				}
				recs = append(recs, img)
				if len(recs) == pg.Limit {
					break
				}
			}
			if next == "" || len(recs) == pg.Limit {
				break
			}
			after = next
		}
		return nil
	})
	if err != nil {
		return Page[Image]{}, err
	}
	for _, img := range recs {
		out.Items = append(out.Items, s.imageView(ctx, img))
	}
	if len(recs) == pg.Limit {
		out.Next = string(recs[len(recs)-1].ID)
	}
	return out, nil
}

// UpdateImage changes an image's OS hint (its VDC's administrators, or
// platform administrators; a platform image only the latter).
func (s *Service) UpdateImage(ctx context.Context, p auth.Principal, id ovm.ID, in apitypes.ImagePatch, ifVersion int64) (Image, int64, error) {
	var f ovm.Fields
	if in.OSType != nil {
		checkOSType(&f, *in.OSType)
	}
	if err := f.Err("invalid image"); err != nil {
		return Image{}, 0, err
	}
	var out imageRecord
	var ver int64
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		img, r, err := s.imageToChange(ctx, tx, p, id, ifVersion)
		if err != nil {
			return err
		}
		if in.OSType != nil {
			img.OSType = *in.OSType
		}
		img.UpdatedAt = s.now()
		if err := save(ctx, tx, &r, img); err != nil {
			return err
		}
		out, ver = img, r.Version
		return nil
	})
	if err != nil {
		return Image{}, 0, err
	}
	return s.imageView(ctx, out), ver, nil
}

// imageToChange reads an image the principal may change under If-Match:
// a tenant reads platform images but changes none (forbidden).
func (s *Service) imageToChange(ctx context.Context, tx store.Tx, p auth.Principal, id ovm.ID, ifVersion int64) (imageRecord, store.Record, error) {
	img, r, err := imageVisible(ctx, tx, p, id)
	if err != nil {
		return img, r, err
	}
	if err := checkVersion(r, ifVersion); err != nil {
		return img, r, err
	}
	if r.VDCID == "" && !p.Admin() {
		return img, r, forbidden("changing platform images is for platform administrators")
	}
	return img, r, nil
}

// DeleteImage removes a template from the catalog and the library and
// gives its quota back. Refused (409) while its upload runs, or while an
// instance boots from it: of its VDC for a private image, of any VDC for a
// platform one.
func (s *Service) DeleteImage(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) error {
	if err := s.needLibrary(); err != nil {
		return err
	}
	unlock, err := s.uploads.lock(id)
	if err != nil {
		return err
	}
	defer unlock()
	var img imageRecord
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		var r store.Record
		var err error
		if img, r, err = s.imageToChange(ctx, tx, p, id, ifVersion); err != nil {
			return err
		}
		if user, err := imageUser(ctx, tx, img); err != nil {
			return err
		} else if user != "" {
			return conflictf("image %s is the image of instance %s: delete the instance first", img.Name, user)
		}
		if img.VDCID != "" && img.Reserved != (ovm.Usage{}) {
			if err := tx.Reserve(ctx, img.VDCID, ovm.Usage{}.Sub(img.Reserved)); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, kindImage, id, r.Version)
	})
	if err != nil {
		return err
	}
	lib := s.o.Library
	if err := ignore(lib.Discard(ctx, img.fileRef()), ovm.KindNotFound); err != nil {
		s.log.WarnContext(ctx, "core: remove an image's upload", "image", img.ID, "err", err)
	}
	if err := ignore(lib.Delete(ctx, img.fileRef()), ovm.KindNotFound); err != nil {
		s.log.WarnContext(ctx, "core: remove an image's file", "image", img.ID, "err", err)
	}
	if img.Boot != nil {
		if err := s.removeBootFiles(img.File); err != nil {
			s.log.WarnContext(ctx, "core: remove a converted image's kernel and initramfs", "image", img.ID, "err", err)
		}
	}
	return nil
}

// imageUser returns the name of an instance that boots from the image
// (of its VDC for a private image, of any VDC for a platform one), or "";
// an instance whose create failed holds nothing of it.
func imageUser(ctx context.Context, tx store.Tx, img imageRecord) (string, error) {
	rs, err := listAll(ctx, tx, vdcFilter(store.KindInstance, img.VDCID))
	if err != nil {
		return "", err
	}
	for _, r := range rs {
		inst, err := decode[instanceRecord](r)
		if err != nil {
			return "", err
		}
		if inst.Status.Phase != ovm.PhaseFailed && inst.Spec.Image.Format == img.Format && inst.Spec.Image.Name == img.Name {
			if img.VDCID == "" {
				// A VDC's private image of the same name hides the
				// platform's for that VDC.
				if _, err := tx.GetByName(ctx, kindImage, r.VDCID, img.Name); err == nil {
					continue
				}
			}
			return inst.Name, nil
		}
	}
	return "", nil
}
