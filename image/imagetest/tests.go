package imagetest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/ovm"
)

func testPutGetList(t *testing.T, e *env) {
	ref, data := e.sample(t, 0)
	put := e.put(t, ref, data)

	got, err := e.s.Get(t.Context(), ref)
	require.NoError(t, err, "Get(%s) after Put", ref)
	sameImage(t, "Get", put, got)

	listed := e.listed(t, ref)
	require.Len(t, listed, 1, "List: got %d images of %s, want 1", len(listed), ref)
	sameImage(t, "List", put, listed[0])
}

func testOpenRoundTrip(t *testing.T, e *env) {
	ref, data := e.sample(t, 0)
	put := e.put(t, ref, data)

	opened, img := e.read(t, ref)
	sameImage(t, "Open", put, img)
	require.NotEmpty(t, opened, "Open(%s): got no bytes", ref)

	// The bytes Open gave, put under another reference, are the same image.
	other, _ := e.sample(t, 1)
	again := e.put(t, other, opened)
	assert.Equal(t, put.Digest, again.Digest, "Put(%s) of Open(%s)'s bytes: got Digest %s, want %s", other, ref, again.Digest, put.Digest)
	assert.Equal(t, put.Size, again.Size, "Put(%s) of Open(%s)'s bytes: Size", other, ref)
}

func testDigestMismatch(t *testing.T, e *env) {
	ref, data := e.sample(t, 0)
	_, other := e.sample(t, 1)
	e.cleanup(t, ref)

	tests := []struct {
		name   string
		data   []byte
		digest string
	}{
		{name: "other bytes", data: other, digest: Digest(data)},
		{name: "truncated bytes", data: data[:len(data)/2], digest: Digest(data)},
		{name: "malformed digest", data: data, digest: "md5:0123"},
		{name: "digest without algorithm", data: data, digest: Digest(data)[len("sha256:"):]},
	}
	check := func(t *testing.T, want *image.Image) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := e.s.Put(t.Context(), ref, bytes.NewReader(tt.data), tt.digest)
				require.ErrorIs(t, err, ovm.ErrInvalid, "Put(%s) of bytes not of digest %q: want ovm.ErrInvalid, got %v", ref, tt.digest, err)
				if want == nil {
					e.gone(t, ref)
					return
				}
				got, err := e.s.Get(t.Context(), ref)
				require.NoError(t, err, "Get(%s) after a refused replace: want the image kept", ref)
				sameImage(t, "Get after a refused replace", *want, got)
			})
		}
	}
	t.Run("new", func(t *testing.T) { check(t, nil) })
	put := e.put(t, ref, data)
	t.Run("replace", func(t *testing.T) { check(t, &put) })
}

func testFailedPut(t *testing.T, e *env) {
	ref, data := e.sample(t, 0)
	_, other := e.sample(t, 1)
	e.cleanup(t, ref)

	for _, digest := range []string{"", Digest(data)} {
		r := &failingReader{data: data[:len(data)/2], err: errReader}
		_, err := e.s.Put(t.Context(), ref, r, digest)
		require.ErrorIs(t, err, errReader, "Put(%s) from a reader that fails (digest %q): want the reader's error, got %v", ref, digest, err)
		e.gone(t, ref)
	}

	put := e.put(t, ref, data)
	r := &failingReader{data: other[:len(other)/2], err: errReader}
	_, err := e.s.Put(t.Context(), ref, r, "")
	require.ErrorIs(t, err, errReader, "replacing Put(%s) from a reader that fails: want the reader's error, got %v", ref, err)
	got, err := e.s.Get(t.Context(), ref)
	require.NoError(t, err, "Get(%s) after a failed replace: want the image kept", ref)
	sameImage(t, "Get after a failed replace", put, got)
}

func testReplace(t *testing.T, e *env) {
	ref, data := e.sample(t, 0)
	_, other := e.sample(t, 1)
	first := e.put(t, ref, data)
	second := e.put(t, ref, other)
	assert.NotEqual(t, first.Digest, second.Digest, "Put(%s) of other bytes: got the first image's digest again", ref)

	got, err := e.s.Get(t.Context(), ref)
	require.NoError(t, err, "Get(%s) after a replace", ref)
	sameImage(t, "Get after a replace", second, got)
	listed := e.listed(t, ref)
	require.Len(t, listed, 1, "List after a replace: got %d images of %s, want 1", len(listed), ref)
	sameImage(t, "List after a replace", second, listed[0])
	_, img := e.read(t, ref)
	sameImage(t, "Open after a replace", second, img)
}

func testDelete(t *testing.T, e *env) {
	ref, data := e.sample(t, 0)
	keep, keepData := e.sample(t, 1)
	e.put(t, ref, data)
	kept := e.put(t, keep, keepData)

	require.NoError(t, e.s.Delete(t.Context(), ref), "Delete(%s)", ref)
	e.gone(t, ref)
	err := e.s.Delete(t.Context(), ref)
	require.ErrorIs(t, err, ovm.ErrNotFound, "second Delete(%s): want ovm.ErrNotFound, got %v", ref, err)

	got, err := e.s.Get(t.Context(), keep)
	require.NoError(t, err, "Get(%s) after deleting %s: want it kept", keep, ref)
	sameImage(t, "Get of the other image", kept, got)
}

func testUnknownRef(t *testing.T, e *env) {
	ref, _ := e.sample(t, 0)
	e.gone(t, ref)
	err := e.s.Delete(t.Context(), ref)
	require.ErrorIs(t, err, ovm.ErrNotFound, "Delete(%s) never put: want ovm.ErrNotFound, got %v", ref, err)
}

func testInvalidRefs(t *testing.T, e *env) {
	_, data := e.sample(t, 0)
	refs := []ovm.ImageRef{
		{},
		{Format: ovm.FormatQCOW2, Name: "../escape.qcow2"},
		{Format: ovm.FormatQCOW2, Name: "/etc/passwd"},
		{Format: ovm.FormatRaw, Name: "dir/../../x.raw"},
		{Format: ovm.FormatQCOW2, Name: "bad\nname.qcow2"},
		{Format: "zip", Name: "archive.zip"},
		{Format: ovm.FormatOCI, Name: "Upper/Case::tag"},
	}
	refs = append(refs, e.h.Foreign...)
	for _, ref := range refs {
		t.Run(fmt.Sprintf("%q", ref.String()), func(t *testing.T) {
			_, err := e.s.Get(t.Context(), ref)
			assert.ErrorIs(t, err, ovm.ErrInvalid, "Get: want ovm.ErrInvalid, got %v", err)
			_, err = e.s.Put(t.Context(), ref, bytes.NewReader(data), "")
			assert.ErrorIs(t, err, ovm.ErrInvalid, "Put: want ovm.ErrInvalid, got %v", err)
			rc, _, err := e.s.Open(t.Context(), ref)
			if err == nil {
				rc.Close()
			}
			assert.ErrorIs(t, err, ovm.ErrInvalid, "Open: want ovm.ErrInvalid, got %v", err)
			err = e.s.Delete(t.Context(), ref)
			assert.ErrorIs(t, err, ovm.ErrInvalid, "Delete: want ovm.ErrInvalid, got %v", err)
		})
	}
}

func testConcurrentPuts(t *testing.T, e *env) {
	const n = 8
	refs := make([]ovm.ImageRef, n)
	datas := make([][]byte, n)
	for i := range n {
		refs[i], datas[i] = e.sample(t, i)
		e.cleanup(t, refs[i])
	}
	imgs := make([]image.Image, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			imgs[i], errs[i] = e.s.Put(t.Context(), refs[i], bytes.NewReader(datas[i]), Digest(datas[i]))
		})
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i], "concurrent Put(%s)", refs[i])
		got, err := e.s.Get(t.Context(), refs[i])
		require.NoError(t, err, "Get(%s) after concurrent Puts", refs[i])
		sameImage(t, "Get after concurrent Puts", imgs[i], got)
	}
	all, err := e.s.List(t.Context())
	require.NoError(t, err, "List after concurrent Puts")
	for i := range n {
		count := 0
		for _, img := range all {
			if img.Ref == refs[i] {
				count++
			}
		}
		assert.Equal(t, 1, count, "List after concurrent Puts: got %d images of %s, want 1", count, refs[i])
	}
}
