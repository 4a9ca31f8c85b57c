package hypervisor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"regexp"
	"strings"
	"sync"

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

// DigestOf is the digest of b as TemplateDelivery takes it.
func DigestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParseDigest reads a digest sidecar's contents: the digest and true, or
// false when they are not one (a sidecar written by hand, a torn write).
func ParseDigest(b []byte) (string, bool) {
	d := strings.TrimSpace(string(b))
	return d, digestPattern.MatchString(d)
}

// VerifiedSource is a template source that has checked its own bytes
// against a digest: the image center's template library, which hashes a
// template when it is stored and again whenever its file changed. A
// delivery from it counts the bytes but does not hash them a second time
// (hashing took a quarter of a delivery's time); Verify compares the
// digests.
type VerifiedSource interface {
	io.Reader
	VerifiedDigest() string
}

// Verified returns r as a VerifiedSource of digest: bytes a caller has
// checked against it already.
func Verified(r io.Reader, digest string) VerifiedSource { return verifiedReader{r, digest} }

// KeepVerified returns br, a reader over r (a bufio.Reader that peeked at
// its head, say), as a VerifiedSource of r's digest when r is one.
func KeepVerified(br, r io.Reader) io.Reader {
	if v, ok := r.(VerifiedSource); ok {
		return Verified(br, v.VerifiedDigest())
	}
	return br
}

type verifiedReader struct {
	io.Reader
	digest string
}

func (v verifiedReader) VerifiedDigest() string { return v.digest }

// DeliveryReader is what a driver streams a template from: the caller's
// reader, checked. It fails a read once the context is done or more than
// the announced size comes, hashes what it passes on, and reports progress
// by bytes (0 to 99; the driver reports 100 when the template is in place).
// The hashing runs in a goroutine of its own, beside the sending: on the
// machines OVM runs on it would otherwise take as long as the upload.
// Verify or Close ends that goroutine.
type DeliveryReader struct {
	ctx      context.Context
	r        io.Reader
	size     int64
	progress Progress
	last     int
	chunk    int

	h      hash.Hash     // written only by the hashing goroutine
	pieces chan []byte   // copies of what Read passed on, to hash in order
	free   chan []byte   // buffers the hashing goroutine is done with
	done   chan struct{} // closed when the hashing goroutine has ended

	// The engine's client may still be reading (in a goroutine of its
	// own) when the driver learns that the upload failed and closes d.
	mu     sync.Mutex
	n      int64 // bytes passed on
	err    error // the first failure Read returned
	closed bool
	// trusted is a VerifiedSource's digest: nothing is hashed.
	trusted string
}

// hashQueue is how many pieces may wait to be hashed.
const hashQueue = 64

// NewDeliveryReader wraps r, which should yield size bytes. With chunk
// positive, each Read returns chunk bytes (fewer only at the end), reading
// r as often as it takes, so that a stream protocol sends messages of the
// size its engine handles best whatever pieces r (a pipe, a request body)
// hands out; with chunk zero, Read returns what one read of r gives.
func NewDeliveryReader(ctx context.Context, r io.Reader, size ovm.Bytes, progress Progress, chunk int) *DeliveryReader {
	d := &DeliveryReader{ctx: ctx, r: r, size: int64(size), progress: progress, last: -1, chunk: chunk,
		h: sha256.New(), pieces: make(chan []byte, hashQueue), free: make(chan []byte, hashQueue+2), done: make(chan struct{})}
	if v, ok := r.(VerifiedSource); ok && v.VerifiedDigest() != "" {
		d.trusted = v.VerifiedDigest()
		close(d.done) // no hashing goroutine
		return d
	}
	go d.hash()
	return d
}

// hash hashes the pieces Read sends until Close.
func (d *DeliveryReader) hash() {
	defer close(d.done)
	for b := range d.pieces {
		d.h.Write(b)
		select {
		case d.free <- b:
		default:
		}
	}
}

// keep hands a copy of b to the hashing goroutine and counts it; false
// when d is closed.
func (d *DeliveryReader) keep(b []byte) bool {
	var buf []byte
	select {
	case buf = <-d.free:
	default:
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	if len(b) > 0 && d.trusted == "" {
		d.pieces <- append(buf[:0], b...)
	}
	d.n += int64(len(b))
	return true
}

// Close ends the hashing goroutine; a Read after it fails. Closing twice
// is harmless.
func (d *DeliveryReader) Close() {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.pieces)
	}
	d.mu.Unlock()
	<-d.done
}

// Read implements io.Reader.
func (d *DeliveryReader) Read(p []byte) (int, error) {
	if err := d.ctx.Err(); err != nil {
		return 0, d.fail(err)
	}
	// d.n changes only here (in keep), so this goroutine reads it freely.
	// Ask for one byte more than is left, to see a source that is too long.
	if left := d.size - d.n + 1; int64(len(p)) > left {
		p = p[:left]
	}
	if d.chunk > 0 && len(p) > d.chunk {
		p = p[:d.chunk]
	}
	var n int
	var err error
	if d.chunk > 0 {
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
	if !d.keep(p[:n]) {
		return 0, d.fail(errors.New("template delivery is over"))
	}
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
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err == nil {
		d.err = err
	}
	return err
}

// Err returns the first failure a Read returned (the context ended, the
// source failed or gave too much), or nil: the cause of a stream the
// driver's engine reports only as aborted.
func (d *DeliveryReader) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Verify checks, once the source is drained, that it gave the announced
// size and digest: ovm.ErrInvalid otherwise. It closes d.
func (d *DeliveryReader) Verify(digest string) error {
	d.Close()
	d.mu.Lock()
	n := d.n
	d.mu.Unlock()
	if n != d.size {
		return ovm.Errorf(ovm.KindInvalid, "template source gave %d bytes, want the %d announced", n, d.size)
	}
	if d.trusted != "" {
		if d.trusted != digest {
			return ovm.Errorf(ovm.KindInvalid, "template source has digest %s, want %s", d.trusted, digest)
		}
		return nil
	}
	if got := "sha256:" + hex.EncodeToString(d.h.Sum(nil)); got != digest {
		return ovm.Errorf(ovm.KindInvalid, "template source has digest %s, want %s", got, digest)
	}
	return nil
}
