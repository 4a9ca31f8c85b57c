package hypervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"regexp"
	"strings"

	"github.com/openovm/ovm/ovm"
)

// The suffixes of the files a driver keeps beside a delivered template: its
// digest, and the bytes of a delivery still under way. Template names
// ending in them are refused.
const (
	DigestSuffix  = ".sha256"
	PartialSuffix = ".ovm-part"
)

// digestPattern is a digest as TemplateDelivery takes it.
var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// CheckDelivery validates the arguments of DeliverTemplate: a template name
// at the top of the pool (no '/'), without a reserved suffix; a digest
// "sha256:" and 64 lower-case hex digits; a positive size. Bad ones are
// ovm.ErrInvalid naming the field.
func CheckDelivery(name, digest string, size ovm.Bytes) error {
	var f ovm.Fields
	if err := ovm.Template(name).Validate(); err != nil {
		f.Merge("", err)
	} else if strings.Contains(name, "/") {
		f.Add("name", "must be a name at the top of the template pool, without '/'")
	}
	for _, s := range []string{DigestSuffix, PartialSuffix} {
		if strings.HasSuffix(name, s) {
			f.Addf("name", "must not end in %q, which names the files kept beside a template", s)
		}
	}
	if !digestPattern.MatchString(digest) {
		f.Add("digest", `must be "sha256:" and 64 lower-case hex digits`)
	}
	if size <= 0 {
		f.Add("size", "must be positive")
	}
	return f.Err("invalid template delivery")
}

// ParseDigest reads a digest sidecar's contents: the digest and true, or
// false when they are not one (a sidecar written by hand, a torn write).
func ParseDigest(b []byte) (string, bool) {
	d := strings.TrimSpace(string(b))
	return d, digestPattern.MatchString(d)
}

// DeliveryReader is what a driver streams a template from: the caller's
// reader, checked. It fails a read once the context is done or more than
// the announced size comes, hashes what it passes on, and reports progress
// by bytes (0 to 99; the driver reports 100 when the template is in place).
type DeliveryReader struct {
	ctx      context.Context
	r        io.Reader
	size     int64
	n        int64
	h        hash.Hash
	progress Progress
	last     int
	fill     bool
	err      error // the first failure Read returned
}

// NewDeliveryReader wraps r, which should yield size bytes whose SHA-256 is
// digest. With fill set, each Read fills p as far as r allows before
// returning, so a stream protocol sends full messages even when r (a pipe,
// a request body) hands out small pieces.
func NewDeliveryReader(ctx context.Context, r io.Reader, size ovm.Bytes, progress Progress, fill bool) *DeliveryReader {
	return &DeliveryReader{ctx: ctx, r: r, size: int64(size), h: sha256.New(), progress: progress, last: -1, fill: fill}
}

// Read implements io.Reader.
func (d *DeliveryReader) Read(p []byte) (int, error) {
	if err := d.ctx.Err(); err != nil {
		return 0, d.fail(err)
	}
	// Ask for one byte more than is left, to see a source that is too long.
	if left := d.size - d.n + 1; int64(len(p)) > left {
		p = p[:left]
	}
	var n int
	var err error
	if d.fill {
		n, err = io.ReadFull(d.r, p)
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
	} else {
		n, err = d.r.Read(p)
	}
	if d.n+int64(n) > d.size {
		return 0, d.fail(ovm.Errorf(ovm.KindInvalid, "template source gives more than the %d bytes announced", d.size))
	}
	d.h.Write(p[:n])
	d.n += int64(n)
	if d.progress != nil && d.size > 0 {
		if pct := int(d.n * 99 / d.size); pct != d.last {
			d.last = pct
			d.progress(pct, fmt.Sprintf("%d of %d bytes sent", d.n, d.size))
		}
	}
	if err != nil && err != io.EOF {
		return n, d.fail(fmt.Errorf("read the template: %w", err))
	}
	return n, err
}

func (d *DeliveryReader) fail(err error) error {
	if d.err == nil {
		d.err = err
	}
	return err
}

// Err returns the first failure a Read returned (the context ended, the
// source failed or gave too much), or nil: the cause of a stream the
// driver's engine reports only as aborted.
func (d *DeliveryReader) Err() error { return d.err }

// Written returns how many bytes went through.
func (d *DeliveryReader) Written() ovm.Bytes { return ovm.Bytes(d.n) }

// Verify checks, once the source is drained, that it gave the announced
// size and digest: ovm.ErrInvalid otherwise.
func (d *DeliveryReader) Verify(digest string) error {
	if d.n != d.size {
		return ovm.Errorf(ovm.KindInvalid, "template source gave %d bytes, want the %d announced", d.n, d.size)
	}
	if got := "sha256:" + hex.EncodeToString(d.h.Sum(nil)); got != digest {
		return ovm.Errorf(ovm.KindInvalid, "template source has digest %s, want %s", got, digest)
	}
	return nil
}
