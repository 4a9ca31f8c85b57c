package library

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/ovm"
)

// partialSuffix names a template's restartable upload: ".<base>.partial"
// beside it.
const partialSuffix = "partial"

// lock returns the lock of a template name's partial upload, held by
// Append, Commit and Discard. It serializes the uploads of one name within
// this process; two processes appending to one name over NFS are not
// serialized.
func (l *Library) lock(name string) *sync.Mutex {
	l.mu.Lock()
	defer l.mu.Unlock()
	mu, ok := l.uploads[name]
	if !ok {
		mu = &sync.Mutex{}
		l.uploads[name] = mu
	}
	return mu
}

// Partial returns how many bytes the restartable upload of ref holds: zero
// when none was started. An upload resumes with Append at that offset.
func (l *Library) Partial(ctx context.Context, ref ovm.ImageRef) (ovm.Bytes, error) {
	if err := check(ref); err != nil {
		return 0, err
	}
	st, err := l.root.Stat(hidden(ref.Name, partialSuffix))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, nil
	case err != nil:
		return 0, ovm.Internal(err, "reading the upload of template %s", ref.Name)
	}
	return ovm.Bytes(st.Size()), nil
}

// Append writes r to the restartable upload of ref from offset on and
// returns the bytes the upload then holds. Offset 0 starts an upload (or
// starts it again); an offset up to what the upload holds drops the bytes
// after it first; an offset past it is ovm.ErrConflict naming what it
// holds. The bytes are synced before Append returns, also when r fails:
// then Append returns what the upload holds and r's error, and the upload
// resumes from there.
func (l *Library) Append(ctx context.Context, ref ovm.ImageRef, offset ovm.Bytes, r io.Reader) (ovm.Bytes, error) {
	if err := check(ref); err != nil {
		return 0, err
	}
	if offset < 0 {
		return 0, ovm.Invalid("invalid upload offset", ovm.FieldError{Field: "offset", Reason: "must not be negative", Value: offset})
	}
	mu := l.lock(ref.Name)
	mu.Lock()
	defer mu.Unlock()
	if err := l.mkdirs(ref.Name); err != nil {
		return 0, err
	}
	name := hidden(ref.Name, partialSuffix)
	f, err := l.root.OpenFile(name, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return 0, ovm.Internal(err, "opening the upload of template %s", ref.Name)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, ovm.Internal(err, "reading the upload of template %s", ref.Name)
	}
	if have := ovm.Bytes(st.Size()); offset > have {
		return have, ovm.Errorf(ovm.KindConflict, "the upload of template %s holds %d bytes: resume at an offset up to %d, not %d",
			ref.Name, have, have, offset)
	}
	if err := f.Truncate(int64(offset)); err != nil {
		return 0, ovm.Internal(err, "writing the upload of template %s", ref.Name)
	}
	n, copyErr := io.Copy(io.NewOffsetWriter(f, int64(offset)), image.ContextReader(ctx, r))
	have := offset + ovm.Bytes(n)
	if err := f.Sync(); err != nil {
		return have, ovm.Internal(err, "writing the upload of template %s", ref.Name)
	}
	if copyErr != nil {
		if ctx.Err() != nil {
			return have, ctx.Err()
		}
		return have, fmt.Errorf("appending to the upload of template %s: %w", ref.Name, copyErr)
	}
	return have, nil
}

// Commit makes the restartable upload of ref the template ref, as Put
// does: the upload is read again to hash it (the digest, when given, must
// match), checked with qemu-img and renamed over the template. An upload
// refused for its digest or format is removed; no upload is
// ovm.ErrNotFound.
func (l *Library) Commit(ctx context.Context, ref ovm.ImageRef, digest string) (image.Image, error) {
	if err := checkPut(ref, digest); err != nil {
		return image.Image{}, err
	}
	mu := l.lock(ref.Name)
	mu.Lock()
	defer mu.Unlock()
	name := hidden(ref.Name, partialSuffix)
	f, err := l.root.OpenFile(name, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return image.Image{}, ovm.NotFound("upload of template", ref.Name)
	}
	if err != nil {
		return image.Image{}, ovm.Internal(err, "opening the upload of template %s", ref.Name)
	}
	defer f.Close()
	h, err := hashFile(ctx, f)
	if err != nil {
		if ctx.Err() != nil {
			return image.Image{}, ctx.Err()
		}
		return image.Image{}, ovm.Internal(err, "hashing the upload of template %s", ref.Name)
	}
	img, err := l.install(ctx, ref, name, f, h, digest)
	if errors.Is(err, ovm.ErrInvalid) {
		l.root.Remove(name)
	}
	return img, err
}

// Discard removes the restartable upload of ref; no upload is
// ovm.ErrNotFound.
func (l *Library) Discard(ctx context.Context, ref ovm.ImageRef) error {
	if err := check(ref); err != nil {
		return err
	}
	mu := l.lock(ref.Name)
	mu.Lock()
	defer mu.Unlock()
	err := l.root.Remove(hidden(ref.Name, partialSuffix))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ovm.NotFound("upload of template", ref.Name)
	case err != nil:
		return ovm.Internal(err, "removing the upload of template %s", ref.Name)
	}
	return nil
}
