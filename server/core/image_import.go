package core

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// ImportImage registers a template file that sits in a template library
// storage pool whose path the server sees (a shared path, an NFS mount)
// as a ready image of the catalog (administrators). When the pool's path is
// the server's library directory and the file keeps its name, it is taken
// as it is (hashed once); otherwise it is copied into the library, hashed
// on the way. A pool the server cannot see, or a missing file, is a
// problem naming the field.
func (s *Service) ImportImage(ctx context.Context, p auth.Principal, in apitypes.ImageImport) (Image, error) {
	if err := requireAdmin(p, "importing images"); err != nil {
		return Image{}, err
	}
	if err := s.needLibrary(); err != nil {
		return Image{}, err
	}
	var f ovm.Fields
	rel := path.Clean(in.Path)
	if in.Path == "" || path.IsAbs(in.Path) || rel == ".." || strings.HasPrefix(rel, "../") || strings.Contains(in.Path, "\\") {
		f.Add("path", "must be a file's path relative to the pool's path, inside it")
	}
	name := in.Name
	if name == "" {
		name = path.Base(rel)
	}
	format := ovm.Template(name).Format
	checkTemplateName(&f, "name", name, format)
	if in.VDCID == "" && strings.HasPrefix(name, privatePrefix) {
		f.Add("name", "must not start with "+privatePrefix+" (the library's names of private images)")
	}
	if in.VDCID != "" && !in.VDCID.Valid() {
		f.Add("vdcId", "must be a lower-case UUID")
	}
	checkOSType(&f, in.OSType)
	if err := f.Err("invalid image import"); err != nil {
		return Image{}, err
	}
	var pool storagePoolRecord
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if pool, _, err = getAs[storagePoolRecord](ctx, tx, store.KindStoragePool, in.StoragePoolID); err != nil {
			return fieldNotFound(err, "storagePoolId")
		}
		if in.VDCID != "" {
			if _, err := s.tenantVDC(ctx, tx, p, in.VDCID); err != nil {
				return err
			}
		}
		return nameFree(ctx, tx, kindImage, in.VDCID, name, "name")
	})
	if err != nil {
		return Image{}, err
	}
	if !pool.TemplateLibrary {
		return Image{}, invalid("not a template library", "storagePoolId", fmt.Sprintf("pool %s is not a template library pool", pool.Name))
	}
	src, err := openPoolFile(pool, rel)
	if err != nil {
		return Image{}, err
	}
	defer src.Close()
	img := imageRecord{Image: Image{ID: ovm.NewID(), Name: name, Kind: apitypes.ImageTemplate, Format: format, VDCID: in.VDCID,
		Phase: apitypes.ImageReady, HostKinds: ovm.ImageRef{Format: format}.HostKinds(), OSType: in.OSType,
		CreatedAt: s.now(), UpdatedAt: s.now()}, File: templateFile(in.VDCID, name)}
	lib := s.o.Library
	copied := !s.inLibrary(pool, rel, img.File)
	var got image.Image
	if copied {
		got, err = lib.Put(ctx, img.fileRef(), src, "")
	} else {
		got, err = lib.Get(ctx, img.fileRef())
	}
	if err != nil {
		return Image{}, fieldOf(err, "path")
	}
	img.Size, img.Digest, img.VirtualSize = got.Size, got.Digest, got.VirtualSize
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := nameFree(ctx, tx, kindImage, in.VDCID, name, "name"); err != nil {
			return err
		}
		if in.VDCID != "" {
			img.Reserved = ovm.Usage{Disk: img.Size}
			if err := tx.Reserve(ctx, in.VDCID, img.Reserved); err != nil {
				return err
			}
		}
		rec := store.Record{Kind: kindImage, ID: img.ID, VDCID: in.VDCID, Name: name}
		if err := setData(&rec, img); err != nil {
			return err
		}
		return tx.Insert(ctx, &rec)
	})
	if err != nil {
		if copied {
			if derr := lib.Delete(ctx, img.fileRef()); derr != nil {
				err = errors.Join(err, derr)
			}
		}
		return Image{}, err
	}
	return s.imageView(ctx, img), nil
}

// openPoolFile opens a file of a pool's path on the server, never outside
// it: a pool the server does not see, or a missing file, names its field.
func openPoolFile(pool storagePoolRecord, rel string) (*os.File, error) {
	root, err := os.OpenRoot(pool.Path)
	if err != nil {
		return nil, invalid("the server does not see the pool", "storagePoolId",
			fmt.Sprintf("the pool's path %s is not a directory this server sees (mount it here to import from it)", pool.Path))
	}
	defer root.Close()
	f, err := root.Open(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &ovm.Error{Kind: ovm.KindNotFound, Message: "no such file in the pool",
			Fields: []ovm.FieldError{{Field: "path", Reason: fmt.Sprintf("no file %s under the pool's path %s", rel, pool.Path)}}}
	case err != nil:
		return nil, invalid("the file cannot be read", "path", fmt.Sprintf("%s cannot be read here: %s", rel, printableErr(err)))
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, invalid("not a file", "path", rel+" is not a regular file")
	}
	return f, nil
}

// printableErr is an error's text without the path the caller gave.
func printableErr(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// inLibrary reports whether the pool's file is the library's file name
// itself: the pool's path is the server's library directory.
func (s *Service) inLibrary(pool storagePoolRecord, rel, file string) bool {
	if s.o.LibraryDir == "" || rel != file {
		return false
	}
	a, err1 := filepath.EvalSymlinks(pool.Path)
	b, err2 := filepath.EvalSymlinks(s.o.LibraryDir)
	return err1 == nil && err2 == nil && a == b
}

// fieldOf names field in an invalid error of the library that names none
// of the request's fields.
func fieldOf(err error, field string) error {
	if ovm.KindOf(err) != ovm.KindInvalid {
		return err
	}
	return ovm.Invalid("the file is not a template of its format: "+ovm.PublicMessage(err),
		ovm.FieldError{Field: field, Reason: ovm.PublicMessage(err)})
}
