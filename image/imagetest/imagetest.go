package imagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/internal/conformance"
	"github.com/openovm/ovm/ovm"
)

// The names of the suite's tests: sub-test names under Run's t, and the keys
// of Harness.Exceptions.
const (
	// PutGetList: a Put image is what Get and List report, listed once.
	PutGetList = "PutGetList"
	// OpenRoundTrip: Open yields the bytes of an image that, put again
	// under another reference, has the same digest and size.
	OpenRoundTrip = "OpenRoundTrip"
	// DigestMismatch: a Put whose bytes are not of the digest given (or
	// with a malformed digest) is ovm.ErrInvalid, stores nothing and keeps
	// an image the reference already had.
	DigestMismatch = "DigestMismatch"
	// FailedPut: a Put whose reader fails midway returns that error,
	// stores nothing and keeps an image the reference already had.
	FailedPut = "FailedPut"
	// Replace: a Put to a reference that has an image replaces it.
	Replace = "Replace"
	// Delete: a deleted image is gone (ovm.ErrNotFound from Get, Open and a
	// second Delete) and the other images stay.
	Delete = "Delete"
	// UnknownRef: Get, Open and Delete of a reference never put are
	// ovm.ErrNotFound.
	UnknownRef = "UnknownRef"
	// InvalidRefs: malformed references, and references this source does
	// not hold (Harness.Foreign), are ovm.ErrInvalid for every method.
	InvalidRefs = "InvalidRefs"
	// ConcurrentPuts: 8 goroutines put distinct images at once; all are
	// stored.
	ConcurrentPuts = "ConcurrentPuts"
)

// Harness tells the suite how to exercise one source.
type Harness struct {
	// New returns a source for one test. Required.
	New func(t *testing.T) image.Source
	// Sample returns the i-th sample image of test t (i from 0 to 7): a
	// reference this source stores and bytes in the form its Put takes.
	// Within one test, distinct i give distinct references and distinct
	// content, and the same i gives the same reference and content.
	// Required.
	Sample func(t *testing.T, i int) (ovm.ImageRef, []byte)
	// Foreign lists references that are valid by ovm.ImageRef.Validate
	// but that this source does not hold (a container image for the
	// template library, another registry's image for a registry): every
	// method refuses them with ovm.ErrInvalid.
	Foreign []ovm.ImageRef
	// Exceptions names tests (the constants of this package) the source
	// cannot pass, each with a justification.
	Exceptions map[string]string
}

// test is one named test of the suite.
type test struct {
	name string
	run  func(t *testing.T, e *env)
}

// suite lists the tests in the order Run runs them.
func suite() []test {
	return []test{
		{PutGetList, testPutGetList},
		{OpenRoundTrip, testOpenRoundTrip},
		{DigestMismatch, testDigestMismatch},
		{FailedPut, testFailedPut},
		{Replace, testReplace},
		{Delete, testDelete},
		{UnknownRef, testUnknownRef},
		{InvalidRefs, testInvalidRefs},
		{ConcurrentPuts, testConcurrentPuts},
	}
}

// Tests returns the names of every test of the suite, in the order Run
// runs them.
func Tests() []string {
	names := make([]string, 0, len(suite()))
	for _, tc := range suite() {
		names = append(names, tc.name)
	}
	return names
}

// Validate checks the harness before any test runs: New and Sample are set,
// and every exception names a test of the suite and gives a justification.
// The error is ovm.ErrInvalid naming each bad field.
func (h Harness) Validate() error {
	var f ovm.Fields
	if h.New == nil {
		f.Add("New", "is required")
	}
	if h.Sample == nil {
		f.Add("Sample", "is required")
	}
	conformance.CheckExceptions(&f, h.Exceptions, Tests())
	return f.Err("invalid imagetest harness")
}

// Run runs the whole suite against the source the harness makes, each test
// as a sub-test of t named by its constant.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if err := h.Validate(); err != nil {
		t.Fatalf("imagetest: %v", err)
	}
	tests := make([]conformance.Test, 0, len(suite()))
	for _, tc := range suite() {
		tests = append(tests, conformance.Test{Name: tc.name, Run: func(t *testing.T) {
			s := h.New(t)
			require.NotNil(t, s, "Harness.New returned a nil source")
			tc.run(t, &env{h: h, s: s})
		}})
	}
	conformance.Run(t, "imagetest", tests, h.Exceptions)
}

// cleanupTimeout bounds the removal of what one test put.
const cleanupTimeout = time.Minute

// env is what a test works with: the harness and its source.
type env struct {
	h Harness
	s image.Source
}

// sample returns the harness's i-th sample.
func (e *env) sample(t *testing.T, i int) (ovm.ImageRef, []byte) {
	t.Helper()
	ref, data := e.h.Sample(t, i)
	require.NoError(t, ref.Validate(), "Harness.Sample(%d) gave an invalid reference", i)
	require.NotEmpty(t, data, "Harness.Sample(%d) gave no bytes", i)
	return ref, data
}

// cleanup deletes ref when the test ends; an image already gone is fine.
func (e *env) cleanup(t *testing.T, ref ovm.ImageRef) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), cleanupTimeout)
		defer cancel()
		if err := e.s.Delete(ctx, ref); err != nil && !errors.Is(err, ovm.ErrNotFound) {
			t.Errorf("cleanup: Delete(%s): %v", ref, err)
		}
	})
}

// put stores data under ref with its digest, deleting it when the test
// ends, and checks the image Put reports.
func (e *env) put(t *testing.T, ref ovm.ImageRef, data []byte) image.Image {
	t.Helper()
	e.cleanup(t, ref)
	img, err := e.s.Put(t.Context(), ref, bytes.NewReader(data), Digest(data))
	require.NoError(t, err, "Put(%s, %d bytes): want an image", ref, len(data))
	checkImage(t, "Put", ref, img)
	return img
}

// Digest returns "sha256:<hex>" of data, the digest Put checks.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// checkImage checks what every reported image has.
func checkImage(t *testing.T, what string, ref ovm.ImageRef, img image.Image) {
	t.Helper()
	assert.Equal(t, ref, img.Ref, "%s(%s): got this Ref, want the reference", what, ref)
	assert.Positive(t, img.Size, "%s(%s): got Size %d, want the bytes stored", what, ref, img.Size)
	assert.Regexp(t, digestPattern, img.Digest, "%s(%s): got Digest %q, want sha256:<hex>", what, ref, img.Digest)
}

// sameImage checks that got reports the same image as want.
func sameImage(t *testing.T, what string, want, got image.Image) {
	t.Helper()
	assert.Equal(t, want.Ref, got.Ref, "%s: Ref", what)
	assert.Equal(t, want.Digest, got.Digest, "%s(%s): got Digest %s, want %s", what, want.Ref, got.Digest, want.Digest)
	assert.Equal(t, want.Size, got.Size, "%s(%s): got Size %d, want %d", what, want.Ref, got.Size, want.Size)
	assert.Equal(t, want.VirtualSize, got.VirtualSize, "%s(%s): VirtualSize", what, want.Ref)
	assert.Equal(t, want.Platform, got.Platform, "%s(%s): Platform", what, want.Ref)
}

// listed returns the images of List with ref.
func (e *env) listed(t *testing.T, ref ovm.ImageRef) []image.Image {
	t.Helper()
	all, err := e.s.List(t.Context())
	require.NoError(t, err, "List")
	var out []image.Image
	for _, img := range all {
		if img.Ref == ref {
			out = append(out, img)
		}
	}
	return out
}

// gone checks that ref has no image: Get and Open are ovm.ErrNotFound and
// List does not show it.
func (e *env) gone(t *testing.T, ref ovm.ImageRef) {
	t.Helper()
	_, err := e.s.Get(t.Context(), ref)
	require.ErrorIs(t, err, ovm.ErrNotFound, "Get(%s): want ovm.ErrNotFound, got %v", ref, err)
	rc, _, err := e.s.Open(t.Context(), ref)
	if err == nil {
		rc.Close()
	}
	require.ErrorIs(t, err, ovm.ErrNotFound, "Open(%s): want ovm.ErrNotFound, got %v", ref, err)
	assert.Empty(t, e.listed(t, ref), "List: got %s, want no image of that reference", ref)
}

// read opens ref and reads it all, checking the image Open reports.
func (e *env) read(t *testing.T, ref ovm.ImageRef) ([]byte, image.Image) {
	t.Helper()
	rc, img, err := e.s.Open(t.Context(), ref)
	require.NoError(t, err, "Open(%s)", ref)
	defer rc.Close()
	data, err := io.ReadAll(rc)
	require.NoError(t, err, "reading Open(%s)", ref)
	require.NoError(t, rc.Close(), "closing Open(%s)", ref)
	checkImage(t, "Open", ref, img)
	return data, img
}

// failingReader yields n bytes of data, then err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// errReader is the error the suite's failing readers return.
var errReader = errors.New("imagetest: the upload broke off")
