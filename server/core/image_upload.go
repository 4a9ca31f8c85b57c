package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
)

// uploadLocks marks the images whose upload (or delete) runs in this
// replica, so that a second request on one image is refused instead of
// interleaving its bytes.
type uploadLocks struct {
	mu   sync.Mutex
	busy map[ovm.ID]bool
}

// lock marks id busy, or refuses (409) while it is.
func (l *uploadLocks) lock(id ovm.ID) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.busy[id] {
		return nil, conflictf("another request uploads or deletes image %s: wait for it to end", id)
	}
	if l.busy == nil {
		l.busy = map[ovm.ID]bool{}
	}
	l.busy[id] = true
	return func() {
		l.mu.Lock()
		delete(l.busy, id)
		l.mu.Unlock()
	}, nil
}

// UploadOffsetError is the conflict of an upload that does not start at the
// bytes the server has: resume from Uploaded.
type UploadOffsetError struct {
	Image    ovm.ID
	Start    ovm.Bytes
	Uploaded ovm.Bytes
	// Field is where the start was given (header.Content-Range or
	// query.offset).
	Field string
}

func (e *UploadOffsetError) Error() string {
	return fmt.Sprintf("the server has %d bytes of image %s, not %d: send the bytes from %d", e.Uploaded, e.Image, e.Start, e.Uploaded)
}

// Is makes the error a conflict.
func (e *UploadOffsetError) Is(target error) bool { return target == ovm.ErrConflict }

// Upload is a part of a template's file sent to the catalog.
type Upload struct {
	// Start is the offset of the body's first byte; StartField where the
	// client gave it (for problems).
	Start      ovm.Bytes
	StartField string
	// Total is the file's size the client declared (-1: none), TotalField
	// where.
	Total      ovm.Bytes
	TotalField string
	// Length is the body's length when known (-1: unknown).
	Length int64
	Body   io.Reader
}

// UploadImage appends a part of a template's file to its upload: Start
// must be the bytes the server has (else an UploadOffsetError, 409), and
// the body may not pass the image's size (422, and the upload starts over).
// When the last byte arrived the file's digest is checked against the
// declared one: the image becomes ready, or failed with the reason (its
// partial file removed; 422 naming digest).
func (s *Service) UploadImage(ctx context.Context, p auth.Principal, id ovm.ID, up Upload) (Image, error) {
	if err := s.needLibrary(); err != nil {
		return Image{}, err
	}
	lib := s.o.Library
	if !id.Valid() {
		return Image{}, ovm.NotFound("image", id)
	}
	// The image is read under the lock, so that an upload that ended
	// meanwhile is seen ready.
	unlock, err := s.uploads.lock(id)
	if err != nil {
		return Image{}, err
	}
	defer unlock()
	img, err := s.viewImage(ctx, p, id)
	if err != nil {
		return Image{}, err
	}
	if img.VDCID == "" && !p.Admin() {
		return Image{}, forbidden("uploading platform images is for platform administrators")
	}
	if img.Phase != apitypes.ImageUploading {
		return Image{}, conflictf("image %s is %s: only an image being uploaded takes bytes", img.Name, img.Phase)
	}
	if up.Total >= 0 && up.Total != img.Size {
		return Image{}, invalid("the upload's size is not the image's", up.TotalField,
			fmt.Sprintf("the total must be the image's size, %d bytes", img.Size))
	}
	have, err := lib.Partial(ctx, img.fileRef())
	if err != nil {
		return Image{}, err
	}
	if up.Start != have {
		return Image{}, &UploadOffsetError{Image: id, Start: up.Start, Uploaded: have, Field: up.StartField}
	}
	rest := img.Size - have
	if up.Length >= 0 && ovm.Bytes(up.Length) > rest {
		return Image{}, ovm.Invalid("the body is longer than the image's size",
			ovm.FieldError{Field: "body", Reason: fmt.Sprintf("must be at most %d bytes: the image is %d bytes and the server has %d", rest, img.Size, have)})
	}
	lr := &io.LimitedReader{R: up.Body, N: int64(rest)}
	got, err := lib.Append(ctx, img.fileRef(), have, lr)
	if err != nil {
		if ctx.Err() != nil {
			// The request ended (the client went away): what arrived is
			// kept, the upload resumes.
			return Image{}, ovm.Wrap(ovm.KindUnavailable, ctx.Err(), "the upload of image %s ended with its request after %d bytes: resume from there", img.Name, got)
		}
		if errors.Is(err, ovm.ErrInternal) {
			return Image{}, fmt.Errorf("core: upload of image %s ended at %d bytes: %w", img.Name, got, err)
		}
		// The body broke off: what arrived is kept, the upload resumes.
		return Image{}, ovm.Invalid(fmt.Sprintf("the body of the upload of image %s broke off after %d bytes: resume from there", img.Name, got),
			ovm.FieldError{Field: "body", Reason: "ended before its length"})
	}
	if lr.N == 0 {
		// The image's bytes are all here: anything more is too long.
		var one [1]byte
		if n, _ := io.ReadFull(up.Body, one[:]); n > 0 {
			aerr := lib.Discard(ctx, img.fileRef())
			return Image{}, errors.Join(ovm.Invalid("the body is longer than the image's size",
				ovm.FieldError{Field: "body", Reason: fmt.Sprintf("must end at the image's size, %d bytes: the upload starts over", img.Size)}), aerr)
		}
	}
	if got < img.Size {
		return s.imageView(ctx, img), nil
	}
	return s.commitImage(ctx, img)
}

// commitImage checks a complete upload and records the image ready, or
// failed with the library's reason.
func (s *Service) commitImage(ctx context.Context, img imageRecord) (Image, error) {
	done, cerr := s.o.Library.Commit(ctx, img.fileRef(), img.Digest)
	if cerr != nil && ovm.KindOf(cerr) != ovm.KindInvalid {
		return Image{}, cerr
	}
	var out imageRecord
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		cur, r, err := getAs[imageRecord](ctx, tx, kindImage, img.ID)
		if err != nil {
			return err
		}
		if cerr != nil {
			cur.Phase, cur.Message = apitypes.ImageFailed, ovm.PublicMessage(cerr)
		} else {
			cur.Phase, cur.Message = apitypes.ImageReady, ""
			cur.Digest, cur.VirtualSize = done.Digest, done.VirtualSize
			if done.Size > 0 {
				cur.Size = done.Size
			}
		}
		cur.UpdatedAt = s.now()
		out = cur
		return save(ctx, tx, &r, cur)
	})
	if err != nil {
		return Image{}, err
	}
	if cerr != nil {
		fields := ovm.FieldsOf(cerr)
		if len(fields) == 0 {
			fields = []ovm.FieldError{{Field: "body", Reason: ovm.PublicMessage(cerr)}}
		}
		return Image{}, ovm.Invalid("image "+img.Name+" failed: "+ovm.PublicMessage(cerr), fields...)
	}
	return s.imageView(ctx, out), nil
}

// OpenImage returns a ready template's bytes for download.
func (s *Service) OpenImage(ctx context.Context, p auth.Principal, id ovm.ID) (io.ReadCloser, Image, error) {
	if err := s.needLibrary(); err != nil {
		return nil, Image{}, err
	}
	img, err := s.viewImage(ctx, p, id)
	if err != nil {
		return nil, Image{}, err
	}
	if img.Phase != apitypes.ImageReady {
		return nil, Image{}, conflictf("image %s is %s: only a ready image is downloaded", img.Name, img.Phase)
	}
	rc, _, err := s.o.Library.Open(ctx, img.fileRef())
	if err != nil {
		return nil, Image{}, err
	}
	return rc, s.imageView(ctx, img), nil
}
