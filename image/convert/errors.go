package convert

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/openovm/ovm/ovm"
)

// registryError classifies an error of a registry call, keeping its text.
func registryError(err error, format string, args ...any) error {
	var te *transport.Error
	var ne net.Error
	switch {
	case errors.As(err, &te):
		switch te.StatusCode {
		case http.StatusNotFound:
			return ovm.Wrap(ovm.KindNotFound, err, format, args...)
		case http.StatusUnauthorized, http.StatusForbidden:
			return ovm.Wrap(ovm.KindInvalid, err, format+": the registry refused the credentials", args...)
		case http.StatusMethodNotAllowed:
			return ovm.Wrap(ovm.KindUnsupported, err, format, args...)
		}
		if te.StatusCode >= 500 {
			return ovm.Wrap(ovm.KindUnavailable, err, format, args...)
		}
	case errors.As(err, &ne):
		return ovm.Wrap(ovm.KindUnavailable, err, format, args...)
	case strings.Contains(err.Error(), "no child with platform"):
		return ovm.Wrap(ovm.KindUnsupported, err, format+": the image has no variant for this architecture", args...)
	}
	return ovm.Internal(err, format, args...)
}

// parseImage parses an image reference, noting a bad one as the field
// "image".
func parseImage(f *ovm.Fields, s string) name.Reference {
	ref, err := name.ParseReference(s)
	if err != nil {
		f.Add("image", err.Error())
	}
	return ref
}

// treeSize is the bytes of the regular files under dir, plus a block per
// entry for directories, symlinks and inodes.
func treeSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		n += 4096
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}

func roundUp(b, unit ovm.Bytes) ovm.Bytes { return (b + unit - 1) / unit * unit }

// copyFile copies src to dst, readable by everyone (a hypervisor reads it
// as its own user).
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
