package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"regexp"

	"github.com/openovm/ovm/ovm"
)

var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// CheckDigest returns ovm.ErrInvalid naming the field "digest" unless
// digest is empty (no check asked) or "sha256:<64 hex digits>", the form of
// a Put's digest.
func CheckDigest(digest string) error {
	if digest == "" || digestPattern.MatchString(digest) {
		return nil
	}
	return ovm.Invalid("invalid digest", ovm.FieldError{Field: "digest",
		Reason: "must be sha256: and 64 lower-case hex digits", Value: digest})
}

// Digester is a running SHA-256 of the bytes written to it.
type Digester struct{ h hash.Hash }

// NewDigester returns a Digester of no bytes.
func NewDigester() *Digester { return &Digester{h: sha256.New()} }

// Write adds p to the digest; it never fails.
func (d *Digester) Write(p []byte) (int, error) { return d.h.Write(p) }

// Digest returns "sha256:<hex>" of the bytes written so far.
func (d *Digester) Digest() string { return "sha256:" + hex.EncodeToString(d.h.Sum(nil)) }

// Verify returns ovm.ErrInvalid naming the field "digest" when want is
// given and is not the digest of the bytes written.
func (d *Digester) Verify(want string) error {
	got := d.Digest()
	if want == "" || got == want {
		return nil
	}
	return ovm.Invalid("the bytes are not of the digest given",
		ovm.FieldError{Field: "digest", Reason: "the bytes are of digest " + got, Value: want})
}

// ContextReader reads r until ctx is done, then returns ctx's error: a
// copy from a reader that blocks no longer than one Read stops with the
// context.
func ContextReader(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
