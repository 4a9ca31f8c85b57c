package library

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/ovm"
)

var _ image.Source = (*Library)(nil)

// Options tune a Library. The zero value is ready to use.
type Options struct {
	// QemuImg is the qemu-img program, by name or path ("qemu-img").
	QemuImg string
	// Logger receives what List skips (files that are not templates of
	// the format their name gives). Nil discards it.
	Logger *slog.Logger
}

// Library is a template library directory. Its methods are safe for
// concurrent use.
type Library struct {
	root    *os.Root
	qemuImg string
	log     *slog.Logger

	mu      sync.Mutex
	uploads map[string]*sync.Mutex // a lock per template name for the partial uploads
}

// New opens the library in dir, which must exist. Close releases it.
func New(dir string, opts Options) (*Library, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, ovm.Wrap(ovm.KindUnavailable, err, "opening the template library %s", dir)
	}
	l := &Library{root: root, qemuImg: opts.QemuImg, log: opts.Logger, uploads: map[string]*sync.Mutex{}}
	if l.qemuImg == "" {
		l.qemuImg = "qemu-img"
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	return l, nil
}

// Close releases the library's directory.
func (l *Library) Close() error { return l.root.Close() }

// check returns ovm.ErrInvalid unless ref names a template this library can
// hold: a valid template name whose extension gives ref's format.
func check(ref ovm.ImageRef) error {
	if ref.Format == ovm.FormatOCI {
		return ovm.Invalid("invalid image reference", ovm.FieldError{Field: "format",
			Reason: "the template library holds VM templates (qcow2, raw, vmdk), not container images", Value: ref.Format})
	}
	if err := ref.Validate(); err != nil {
		return err
	}
	if f := ovm.Template(ref.Name).Format; f != ref.Format {
		return ovm.Invalid("invalid image reference", ovm.FieldError{Field: "format",
			Reason: fmt.Sprintf("must be %s, the format the name's extension gives", f), Value: ref.Format})
	}
	return nil
}

// checkPut checks what a Put or Commit is given: ovm.ErrInvalid naming
// every bad field.
func checkPut(ref ovm.ImageRef, digest string) error {
	var f ovm.Fields
	f.Merge("", check(ref))
	f.Merge("", image.CheckDigest(digest))
	return f.Err("invalid template upload")
}

// hidden returns the name of a file the library keeps beside the
// template name: ".<base>.<suffix>" in the same directory. Template names
// never start with a dot, so these never collide with a template.
func hidden(name, suffix string) string {
	dir, base := path.Split(name)
	return dir + "." + base + "." + suffix
}

// isHidden reports whether a file name is one of the library's own.
func isHidden(name string) bool { return strings.HasPrefix(path.Base(name), ".") }

// List returns every template of the library, in lexical order of name.
// Files that are not templates of the format their name gives are skipped
// and logged.
func (l *Library) List(ctx context.Context) ([]image.Image, error) {
	var out []image.Image
	err := fs.WalkDir(l.root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed while listing
			}
			return err
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if name == "." {
			return nil
		}
		if isHidden(name) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		ref := ovm.Template(name)
		if !d.Type().IsRegular() || ref.Validate() != nil {
			return nil
		}
		img, err := l.Get(ctx, ref)
		switch {
		case errors.Is(err, ovm.ErrNotFound):
			return nil
		case errors.Is(err, ovm.ErrConflict):
			l.log.WarnContext(ctx, "template library: skipping a file that is not a template", "name", name, "err", err)
			return nil
		case err != nil:
			return err
		}
		out = append(out, img)
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ovm.Internal(err, "listing the template library")
	}
	return out, nil
}

// Get returns a template. A file whose bytes are not a self-contained
// image of the format its name gives is ovm.ErrConflict.
func (l *Library) Get(ctx context.Context, ref ovm.ImageRef) (image.Image, error) {
	f, img, err := l.open(ctx, ref)
	if err != nil {
		return image.Image{}, err
	}
	f.Close()
	return img, nil
}

// Open returns a template's file.
func (l *Library) Open(ctx context.Context, ref ovm.ImageRef) (io.ReadCloser, image.Image, error) {
	f, img, err := l.open(ctx, ref)
	if err != nil {
		return nil, image.Image{}, err
	}
	return f, img, nil
}

// open opens a template's file and describes it.
func (l *Library) open(ctx context.Context, ref ovm.ImageRef) (*os.File, image.Image, error) {
	if err := check(ref); err != nil {
		return nil, image.Image{}, err
	}
	f, err := l.root.Open(ref.Name)
	if err != nil {
		if st, lerr := l.root.Lstat(ref.Name); lerr == nil && st.Mode()&fs.ModeSymlink != 0 {
			// A link out of the library: no template of the library.
			return nil, image.Image{}, ovm.NotFound("template", ref.Name)
		}
		return nil, image.Image{}, notFound(err, ref)
	}
	img, err := l.describe(ctx, ref, f)
	if err != nil {
		f.Close()
		return nil, image.Image{}, err
	}
	return f, img, nil
}

// notFound turns a missing file into ovm.ErrNotFound.
func notFound(err error, ref ovm.ImageRef) error {
	if errors.Is(err, fs.ErrNotExist) {
		return ovm.NotFound("template", ref.Name)
	}
	return ovm.Internal(err, "opening template %s", ref.Name)
}

// describe returns the image of an open template file: from its metadata
// file when that was written for the file's current size and time, else
// by hashing and inspecting the file (and writing the metadata again).
func (l *Library) describe(ctx context.Context, ref ovm.ImageRef, f *os.File) (image.Image, error) {
	st, err := f.Stat()
	if err != nil {
		return image.Image{}, ovm.Internal(err, "reading template %s", ref.Name)
	}
	if !st.Mode().IsRegular() {
		return image.Image{}, ovm.NotFound("template", ref.Name)
	}
	m, ok := l.readMeta(ref.Name)
	if !ok || !m.describes(st) {
		sum, err := hashFile(ctx, f)
		if err != nil {
			if ctx.Err() != nil {
				return image.Image{}, ctx.Err()
			}
			return image.Image{}, ovm.Internal(err, "hashing template %s", ref.Name)
		}
		in, err := l.inspect(ctx, f, ref.Format)
		if err != nil {
			return image.Image{}, err
		}
		if in.refused != "" {
			return image.Image{}, ovm.Errorf(ovm.KindConflict, "template %s is not a %s image: %s", ref.Name, ref.Format, in.refused)
		}
		m = newMeta(st, sum.Digest(), in.virtualSize)
		if err := l.writeMeta(ref.Name, m); err != nil {
			// A library mounted read-only still answers; it hashes again.
			l.log.WarnContext(ctx, "template library: cannot keep a template's digest", "name", ref.Name, "err", err)
		}
	}
	return m.image(ref), nil
}

// Put stores a template from r: the bytes go to a new file beside the
// template, hashed as they are written, synced, checked with qemu-img
// and renamed over the template, so that readers see the old file or the
// new one, never a part. The digest, when given, is of the bytes r yields.
func (l *Library) Put(ctx context.Context, ref ovm.ImageRef, r io.Reader, digest string) (image.Image, error) {
	if err := checkPut(ref, digest); err != nil {
		return image.Image{}, err
	}
	if err := l.mkdirs(ref.Name); err != nil {
		return image.Image{}, err
	}
	tmp, f, err := l.createTemp(ref.Name)
	if err != nil {
		return image.Image{}, err
	}
	defer l.root.Remove(tmp) // a no-op once renamed
	defer f.Close()
	h := image.NewDigester()
	if _, err := io.Copy(io.MultiWriter(f, h), image.ContextReader(ctx, r)); err != nil {
		if ctx.Err() != nil {
			return image.Image{}, ctx.Err()
		}
		return image.Image{}, fmt.Errorf("writing template %s: %w", ref.Name, err)
	}
	return l.install(ctx, ref, tmp, f, h, digest)
}

// install makes the written, still open file tmp the template ref: it
// checks the digest of what h read against want (when want is given),
// syncs the file, checks its format, renames it into place and writes its
// metadata.
func (l *Library) install(ctx context.Context, ref ovm.ImageRef, tmp string, f *os.File, h *image.Digester, want string) (image.Image, error) {
	if err := h.Verify(want); err != nil {
		return image.Image{}, err
	}
	if err := f.Sync(); err != nil {
		return image.Image{}, ovm.Internal(err, "writing template %s", ref.Name)
	}
	in, err := l.inspect(ctx, f, ref.Format)
	if err != nil {
		return image.Image{}, err
	}
	if in.refused != "" {
		return image.Image{}, ovm.Invalid("not a template of the format its name gives",
			ovm.FieldError{Field: "format", Reason: in.refused, Value: ref.Format})
	}
	st, err := f.Stat()
	if err != nil {
		return image.Image{}, ovm.Internal(err, "writing template %s", ref.Name)
	}
	m := newMeta(st, h.Digest(), in.virtualSize)
	if err := l.root.Rename(tmp, ref.Name); err != nil {
		return image.Image{}, ovm.Internal(err, "installing template %s", ref.Name)
	}
	// A reader between the two renames sees metadata of another size or
	// time and hashes the file again.
	if err := l.writeMeta(ref.Name, m); err != nil {
		return image.Image{}, err
	}
	if err := l.syncDir(ref.Name); err != nil {
		return image.Image{}, err
	}
	return m.image(ref), nil
}

// Delete removes a template and its metadata.
func (l *Library) Delete(ctx context.Context, ref ovm.ImageRef) error {
	if err := check(ref); err != nil {
		return err
	}
	st, err := l.root.Lstat(ref.Name)
	if err != nil {
		return notFound(err, ref)
	}
	if !st.Mode().IsRegular() {
		return ovm.NotFound("template", ref.Name)
	}
	if err := l.root.Remove(ref.Name); err != nil {
		return notFound(err, ref)
	}
	if err := l.root.Remove(hidden(ref.Name, metaSuffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return ovm.Internal(err, "removing the metadata of template %s", ref.Name)
	}
	return l.syncDir(ref.Name)
}

// mkdirs makes the directories a template name is in. A name that is a
// directory, or below a file, cannot be a template: ovm.ErrConflict.
func (l *Library) mkdirs(name string) error {
	if st, err := l.root.Lstat(name); err == nil && st.IsDir() {
		return ovm.Errorf(ovm.KindConflict, "template name %s is a directory of the template library", name)
	}
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	for d := dir; d != "."; d = path.Dir(d) {
		if st, err := l.root.Lstat(d); err == nil && !st.IsDir() {
			return ovm.Errorf(ovm.KindConflict, "template name %s is below %s, a file of the template library", name, d)
		}
	}
	if err := l.root.MkdirAll(dir, 0o755); err != nil {
		return ovm.Internal(err, "making directory %s in the template library", dir)
	}
	return nil
}

// createTemp creates a new hidden file beside name for an upload.
func (l *Library) createTemp(name string) (string, *os.File, error) {
	for range 10 {
		tmp := hidden(name, "upload-"+ovm.NewID().Short())
		f, err := l.root.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", nil, ovm.Internal(err, "creating a file for template %s", name)
		}
		return tmp, f, nil
	}
	return "", nil, ovm.Internal(fs.ErrExist, "creating a file for template %s", name)
}

// syncDir syncs the directory name is in, so that a rename or removal
// survives a crash.
func (l *Library) syncDir(name string) error {
	d, err := l.root.Open(path.Dir(name))
	if err != nil {
		return ovm.Internal(err, "syncing the template library")
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return ovm.Internal(err, "syncing the template library")
	}
	return nil
}

// updatedAtNano is a file's modification time as an image reports it.
func updatedAtNano(ns int64) time.Time { return time.Unix(0, ns).UTC() }
