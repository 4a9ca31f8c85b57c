package convert

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/openovm/ovm/ovm"
)

// countingReader counts the bytes read through it and reports them.
type countingReader struct {
	r      io.Reader
	n      int64
	report func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.report != nil && n > 0 {
		c.report(c.n)
	}
	return n, err
}

// untar writes a flattened tar stream (mutate.Extract's: whiteouts already
// applied) into dir, keeping modes, owners and times. Every entry is made
// through an os.Root, so neither a name nor a symlink of the image can
// reach outside dir.
func untar(ctx context.Context, r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("flatten: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("flatten: %w", err)
	}
	defer root.Close()
	tr := tar.NewReader(r)
	var dirs []*tar.Header
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ovm.Wrap(ovm.KindInvalid, err, "read the image's layers")
		}
		name := strings.TrimPrefix(filepath.Clean("/"+hdr.Name), "/")
		if name == "" {
			continue
		}
		if err := untarEntry(root, tr, hdr, name); err != nil {
			return ovm.Wrap(ovm.KindInvalid, err, "layer entry %s", name)
		}
		if hdr.Typeflag == tar.TypeDir {
			dirs = append(dirs, hdr)
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = root.Chtimes(strings.TrimPrefix(filepath.Clean("/"+dirs[i].Name), "/"), dirs[i].ModTime, dirs[i].ModTime)
	}
	return nil
}

// untarEntry makes one entry of a layer under root.
func untarEntry(root *os.Root, tr *tar.Reader, hdr *tar.Header, name string) error {
	if parent := filepath.Dir(name); parent != "." {
		if err := root.MkdirAll(parent, 0o755); err != nil {
			return err
		}
	}
	mode := hdr.FileInfo().Mode()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.MkdirAll(name, 0o755); err != nil {
			return err
		}
	case tar.TypeReg:
		_ = root.Remove(name)
		f, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, tr)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		_ = root.Remove(name)
		if err := root.Symlink(hdr.Linkname, name); err != nil {
			return err
		}
		return root.Lchown(name, hdr.Uid, hdr.Gid)
	case tar.TypeLink:
		_ = root.Remove(name)
		return root.Link(strings.TrimPrefix(filepath.Clean("/"+hdr.Linkname), "/"), name)
	default:
		// Device nodes, FIFOs: a booted guest gets /dev from devtmpfs,
		// and a container from its engine.
		return nil
	}
	if err := root.Lchown(name, hdr.Uid, hdr.Gid); err != nil && !errors.Is(err, fs.ErrPermission) {
		return err
	}
	if err := root.Chmod(name, mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return err
	}
	_ = root.Chtimes(name, hdr.ModTime, hdr.ModTime)
	return nil
}

// tarDir writes dir's tree as a tar stream (paths relative to dir, owners
// and modes kept, hard links written once).
func tarDir(ctx context.Context, dir string, w io.Writer) error {
	tw := tar.NewWriter(w)
	seen := map[[2]uint64]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		if key, nlink, ok := inode(info); ok && info.Mode().IsRegular() && nlink > 1 {
			if first, dup := seen[key]; dup {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				seen[key] = hdr.Name
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return fmt.Errorf("archive %s: %w", strings.TrimPrefix(dir, "/"), err)
	}
	return tw.Close()
}
