package library_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/image/imagetest"
	"github.com/openovm/ovm/image/library"
	"github.com/openovm/ovm/ovm"
)

// newLibrary opens a library on a new temporary directory.
func newLibrary(t *testing.T, opts library.Options) (*library.Library, string) {
	t.Helper()
	dir := t.TempDir()
	l, err := library.New(dir, opts)
	require.NoError(t, err, "New(%s)", dir)
	t.Cleanup(func() { l.Close() })
	return l, dir
}

// qemuImage makes an image of format and virtual size with qemu-img and
// returns its bytes; extra arguments go before the file name.
func qemuImage(t *testing.T, format string, size ovm.Bytes, extra ...string) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "img."+format)
	args := append([]string{"create", "-q", "-f", format}, extra...)
	args = append(args, p, fmt.Sprint(int64(size)))
	out, err := exec.CommandContext(t.Context(), "qemu-img", args...).CombinedOutput()
	require.NoError(t, err, "qemu-img %v: %s", args, out)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

func TestConformance(t *testing.T) {
	imagetest.Run(t, imagetest.Harness{
		New: func(t *testing.T) image.Source {
			l, _ := newLibrary(t, library.Options{})
			return l
		},
		// Distinct virtual sizes give distinct qcow2 headers.
		Sample: func(t *testing.T, i int) (ovm.ImageRef, []byte) {
			return ovm.Template(fmt.Sprintf("sample-%d.qcow2", i)), qemuImage(t, "qcow2", ovm.Bytes(i+1)*ovm.MiB)
		},
		Foreign: []ovm.ImageRef{
			ovm.ContainerImage("127.0.0.1:5000/busybox:1"),
			{Format: ovm.FormatRaw, Name: "disk.qcow2"},
			{Format: ovm.FormatQCOW2, Name: "disk.vmdk"},
		},
	})
}

// files lists every file under dir, hidden ones included.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return err
	}))
	return out
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestPutFormats(t *testing.T) {
	qcow2 := qemuImage(t, "qcow2", 4*ovm.MiB)
	vmdk := qemuImage(t, "vmdk", 2*ovm.MiB)
	raw := randomBytes(t, 64*1024)
	backed := func(t *testing.T) []byte {
		base := filepath.Join(t.TempDir(), "base.qcow2")
		require.NoError(t, os.WriteFile(base, qcow2, 0o644))
		return qemuImage(t, "qcow2", 4*ovm.MiB, "-F", "qcow2", "-b", base)
	}
	// A VMDK descriptor whose extent is another file.
	descriptor := []byte("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"monolithicFlat\"\n" +
		"RW 2048 FLAT \"/etc/hostname\" 0\n")
	tests := []struct {
		name        string
		ref         ovm.ImageRef
		data        func(t *testing.T) []byte
		wantVirtual ovm.Bytes
		wantReason  string // "": stored
	}{
		{name: "qcow2", ref: ovm.Template("a.qcow2"), data: func(*testing.T) []byte { return qcow2 }, wantVirtual: 4 * ovm.MiB},
		{name: "vmdk", ref: ovm.Template("a.vmdk"), data: func(*testing.T) []byte { return vmdk }, wantVirtual: 2 * ovm.MiB},
		{name: "raw", ref: ovm.Template("a.raw"), data: func(*testing.T) []byte { return raw }, wantVirtual: 64 * 1024},
		{name: "img is raw", ref: ovm.Template("a.img"), data: func(*testing.T) []byte { return raw }, wantVirtual: 64 * 1024},
		{name: "no extension is qcow2", ref: ovm.Template("debian"), data: func(*testing.T) []byte { return qcow2 }, wantVirtual: 4 * ovm.MiB},
		{name: "raw bytes named qcow2", ref: ovm.Template("b.qcow2"), data: func(*testing.T) []byte { return raw }, wantReason: "the bytes are a raw image, the name says qcow2"},
		{name: "qcow2 bytes named raw", ref: ovm.Template("b.raw"), data: func(*testing.T) []byte { return qcow2 }, wantReason: "the bytes are a qcow2 image, the name says raw"},
		{name: "backing file", ref: ovm.Template("c.qcow2"), data: backed, wantReason: "must not have a backing file"},
		{name: "extent elsewhere", ref: ovm.Template("d.vmdk"), data: func(*testing.T) []byte { return descriptor }, wantReason: "must not have extents in other files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, dir := newLibrary(t, library.Options{})
			data := tt.data(t)
			img, err := l.Put(t.Context(), tt.ref, bytes.NewReader(data), imagetest.Digest(data))
			if tt.wantReason != "" {
				require.ErrorIs(t, err, ovm.ErrInvalid, "Put: want ovm.ErrInvalid, got %v", err)
				require.Len(t, ovm.FieldsOf(err), 1, "Put: want one field, got %v", err)
				assert.Equal(t, "format", ovm.FieldsOf(err)[0].Field, "Put: field")
				assert.Contains(t, err.Error(), tt.wantReason, "Put: error")
				assert.Empty(t, files(t, dir), "files left after a refused Put")
				return
			}
			require.NoError(t, err, "Put")
			assert.Equal(t, image.Image{Ref: tt.ref, Size: ovm.Bytes(len(data)), VirtualSize: tt.wantVirtual,
				Digest: imagetest.Digest(data), UpdatedAt: img.UpdatedAt}, img, "Put: image")
			assert.WithinDuration(t, time.Now(), img.UpdatedAt, time.Minute, "Put: UpdatedAt")
			stored, err := os.ReadFile(filepath.Join(dir, tt.ref.Name))
			require.NoError(t, err, "reading the stored file")
			assert.True(t, bytes.Equal(data, stored), "the stored file: got other bytes than Put's")
		})
	}
}

func TestFailuresLeaveNoFile(t *testing.T) {
	data := qemuImage(t, "qcow2", ovm.MiB)
	ref := ovm.Template("team/a.qcow2")
	tests := []struct {
		name string
		put  func(t *testing.T, l *library.Library) error
		want error
	}{
		{name: "reader error", want: errBroke, put: func(t *testing.T, l *library.Library) error {
			_, err := l.Put(t.Context(), ref, &brokenReader{data: data[:1000]}, "")
			return err
		}},
		{name: "digest mismatch", want: ovm.ErrInvalid, put: func(t *testing.T, l *library.Library) error {
			_, err := l.Put(t.Context(), ref, bytes.NewReader(data), imagetest.Digest(data[1:]))
			return err
		}},
		{name: "cancelled", want: context.Canceled, put: func(t *testing.T, l *library.Library) error {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := l.Put(ctx, ref, bytes.NewReader(data), "")
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, dir := newLibrary(t, library.Options{})
			err := tt.put(t, l)
			require.ErrorIs(t, err, tt.want, "Put: got %v", err)
			assert.Empty(t, files(t, dir), "files left after a failed Put")
		})
	}
}

var errBroke = errors.New("connection reset")

// brokenReader yields data, then errBroke.
type brokenReader struct{ data []byte }

func (r *brokenReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errBroke
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestFilesCopiedIn(t *testing.T) {
	l, dir := newLibrary(t, library.Options{})
	qcow2 := qemuImage(t, "qcow2", 3*ovm.MiB)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "team"), 0o755))
	for name, data := range map[string][]byte{
		"team/copied.qcow2": qcow2,             // an operator's template
		"notes.qcow2":       []byte("hello\n"), // not a qcow2 image
		".hidden.qcow2":     qcow2,             // not a template name
		"bad name.qcow2":    qcow2,             // not a template name
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
	}
	require.NoError(t, os.Symlink("/etc/hostname", filepath.Join(dir, "escape.raw")))

	imgs, err := l.List(t.Context())
	require.NoError(t, err, "List")
	require.Len(t, imgs, 1, "List: got %v, want only team/copied.qcow2", imgs)
	assert.Equal(t, ovm.Template("team/copied.qcow2"), imgs[0].Ref, "List: ref")
	assert.Equal(t, imagetest.Digest(qcow2), imgs[0].Digest, "List: digest")
	assert.Equal(t, 3*ovm.MiB, imgs[0].VirtualSize, "List: virtual size")

	_, err = l.Get(t.Context(), ovm.Template("notes.qcow2"))
	assert.ErrorIs(t, err, ovm.ErrConflict, "Get of a file that is no qcow2 image: got %v", err)
	_, err = l.Get(t.Context(), ovm.Template("escape.raw"))
	assert.ErrorIs(t, err, ovm.ErrNotFound, "Get of a link out of the library: got %v", err)
}

func TestMetadata(t *testing.T) {
	l, dir := newLibrary(t, library.Options{})
	ref := ovm.Template("a.qcow2")
	first := qemuImage(t, "qcow2", ovm.MiB)
	_, err := l.Put(t.Context(), ref, bytes.NewReader(first), "")
	require.NoError(t, err, "Put")

	// Without qemu-img, the metadata still answers: List reads no file.
	noTool, err := library.New(dir, library.Options{QemuImg: "ovm-no-such-qemu-img"})
	require.NoError(t, err)
	t.Cleanup(func() { noTool.Close() })
	imgs, err := noTool.List(t.Context())
	require.NoError(t, err, "List from metadata without qemu-img")
	require.Len(t, imgs, 1)
	assert.Equal(t, imagetest.Digest(first), imgs[0].Digest, "List from metadata: digest")

	// An operator replaces the file: the metadata no longer describes it.
	second := qemuImage(t, "qcow2", 2*ovm.MiB)
	p := filepath.Join(dir, ref.Name)
	require.NoError(t, os.WriteFile(p, second, 0o644))
	later := time.Now().Add(time.Minute)
	require.NoError(t, os.Chtimes(p, later, later))

	_, err = noTool.Get(t.Context(), ref)
	require.ErrorIs(t, err, ovm.ErrUnavailable, "Get of a changed file without qemu-img: got %v", err)
	assert.Contains(t, err.Error(), "qemu-utils", "Get without qemu-img: want the package named")

	img, err := l.Get(t.Context(), ref)
	require.NoError(t, err, "Get of a changed file")
	assert.Equal(t, imagetest.Digest(second), img.Digest, "Get of a changed file: digest")
	assert.Equal(t, 2*ovm.MiB, img.VirtualSize, "Get of a changed file: virtual size")
	assert.Equal(t, later.UTC().Truncate(time.Second), img.UpdatedAt.Truncate(time.Second), "Get of a changed file: UpdatedAt")
	imgs, err = noTool.List(t.Context())
	require.NoError(t, err, "List after the metadata was written again")
	assert.Equal(t, imagetest.Digest(second), imgs[0].Digest, "List: digest after the change")
}

func TestResumableUpload(t *testing.T) {
	l, dir := newLibrary(t, library.Options{})
	ref := ovm.Template("team/up.qcow2")
	data := qemuImage(t, "qcow2", 8*ovm.MiB)
	half := ovm.Bytes(len(data) / 2)
	ctx := t.Context()

	have, err := l.Partial(ctx, ref)
	require.NoError(t, err)
	assert.Zero(t, have, "Partial before any upload")
	_, err = l.Commit(ctx, ref, "")
	require.ErrorIs(t, err, ovm.ErrNotFound, "Commit with no upload: got %v", err)

	// The connection breaks after 1000 bytes: they are kept.
	have, err = l.Append(ctx, ref, 0, &brokenReader{data: data[:1000]})
	require.ErrorIs(t, err, errBroke, "Append from a broken reader: got %v", err)
	assert.Equal(t, ovm.Bytes(1000), have, "Append from a broken reader: bytes held")
	have, err = l.Partial(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, ovm.Bytes(1000), have, "Partial after the break")

	_, err = l.Append(ctx, ref, 2000, bytes.NewReader(data[2000:]))
	require.ErrorIs(t, err, ovm.ErrConflict, "Append past the bytes held: got %v", err)

	// Resuming a little before the end drops what follows.
	have, err = l.Append(ctx, ref, 500, bytes.NewReader(data[500:half]))
	require.NoError(t, err, "Append from 500")
	assert.Equal(t, half, have, "Append from 500: bytes held")
	have, err = l.Append(ctx, ref, half, bytes.NewReader(data[half:]))
	require.NoError(t, err, "Append of the rest")
	assert.Equal(t, ovm.Bytes(len(data)), have, "Append of the rest: bytes held")
	_, err = l.Get(ctx, ref)
	require.ErrorIs(t, err, ovm.ErrNotFound, "Get before Commit: got %v", err)

	img, err := l.Commit(ctx, ref, imagetest.Digest(data))
	require.NoError(t, err, "Commit")
	assert.Equal(t, imagetest.Digest(data), img.Digest, "Commit: digest")
	assert.Equal(t, 8*ovm.MiB, img.VirtualSize, "Commit: virtual size")
	got, err := l.Get(ctx, ref)
	require.NoError(t, err, "Get after Commit")
	assert.Equal(t, img.Digest, got.Digest, "Get after Commit: digest")
	have, err = l.Partial(ctx, ref)
	require.NoError(t, err)
	assert.Zero(t, have, "Partial after Commit")
	assert.ElementsMatch(t, []string{"team/up.qcow2", "team/.up.qcow2.meta"}, files(t, dir), "files after Commit")
}

func TestUploadRefused(t *testing.T) {
	data := qemuImage(t, "qcow2", ovm.MiB)
	tests := []struct {
		name   string
		ref    ovm.ImageRef
		digest string
		want   string // field
	}{
		{name: "digest", ref: ovm.Template("a.qcow2"), digest: imagetest.Digest(data[1:]), want: "digest"},
		{name: "format", ref: ovm.Template("a.vmdk"), want: "format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, dir := newLibrary(t, library.Options{})
			_, err := l.Append(t.Context(), tt.ref, 0, bytes.NewReader(data))
			require.NoError(t, err, "Append")
			_, err = l.Commit(t.Context(), tt.ref, tt.digest)
			require.ErrorIs(t, err, ovm.ErrInvalid, "Commit: got %v", err)
			assert.Equal(t, tt.want, ovm.FieldsOf(err)[0].Field, "Commit: field (error %v)", err)
			assert.Empty(t, files(t, dir), "files after a refused Commit")
			err = l.Discard(t.Context(), tt.ref)
			require.ErrorIs(t, err, ovm.ErrNotFound, "Discard after a refused Commit: got %v", err)
		})
	}
}

func TestDiscard(t *testing.T) {
	l, dir := newLibrary(t, library.Options{})
	ref := ovm.Template("a.raw")
	_, err := l.Append(t.Context(), ref, 0, bytes.NewReader(randomBytes(t, 4096)))
	require.NoError(t, err, "Append")
	require.NoError(t, l.Discard(t.Context(), ref), "Discard")
	assert.Empty(t, files(t, dir), "files after Discard")
}

func TestInvalidUploads(t *testing.T) {
	l, _ := newLibrary(t, library.Options{})
	ctx := t.Context()
	bad := ovm.Template("../x.raw")
	_, err := l.Partial(ctx, bad)
	assert.ErrorIs(t, err, ovm.ErrInvalid, "Partial of a bad name")
	_, err = l.Append(ctx, bad, 0, strings.NewReader("x"))
	assert.ErrorIs(t, err, ovm.ErrInvalid, "Append to a bad name")
	_, err = l.Commit(ctx, bad, "")
	assert.ErrorIs(t, err, ovm.ErrInvalid, "Commit of a bad name")
	assert.ErrorIs(t, l.Discard(ctx, bad), ovm.ErrInvalid, "Discard of a bad name")
	_, err = l.Append(ctx, ovm.Template("a.raw"), -1, strings.NewReader("x"))
	assert.ErrorIs(t, err, ovm.ErrInvalid, "Append at a negative offset")
	_, err = l.Commit(ctx, ovm.Template("a.raw"), "sha1:00")
	assert.ErrorIs(t, err, ovm.ErrInvalid, "Commit with a malformed digest")
}

func TestNewMissingDir(t *testing.T) {
	_, err := library.New(filepath.Join(t.TempDir(), "absent"), library.Options{})
	require.ErrorIs(t, err, ovm.ErrUnavailable, "New of a missing directory: got %v", err)
}

func TestNameClashes(t *testing.T) {
	data := qemuImage(t, "qcow2", ovm.MiB)
	tests := []struct {
		name string
		have string // a template already stored
		ref  ovm.ImageRef
	}{
		{name: "a directory", have: "team/a.qcow2", ref: ovm.Template("team")},
		{name: "below a file", have: "a.qcow2", ref: ovm.Template("a.qcow2/b.qcow2")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLibrary(t, library.Options{})
			_, err := l.Put(t.Context(), ovm.Template(tt.have), bytes.NewReader(data), "")
			require.NoError(t, err, "Put(%s)", tt.have)
			_, err = l.Put(t.Context(), tt.ref, bytes.NewReader(data), "")
			require.ErrorIs(t, err, ovm.ErrConflict, "Put(%s): got %v", tt.ref, err)
			_, err = l.Append(t.Context(), tt.ref, 0, bytes.NewReader(data))
			require.ErrorIs(t, err, ovm.ErrConflict, "Append(%s): got %v", tt.ref, err)
			_, err = l.Get(t.Context(), ovm.Template(tt.have))
			require.NoError(t, err, "Get(%s): want it kept", tt.have)
		})
	}
}

// TestReadOnlyLibrary: where the metadata cannot be written (a read-only
// mount; here a non-empty directory in its place, which no rename
// replaces, also for root), Get still answers.
func TestReadOnlyLibrary(t *testing.T) {
	l, dir := newLibrary(t, library.Options{})
	data := qemuImage(t, "qcow2", ovm.MiB)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ro.qcow2"), data, 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, ".ro.qcow2.meta"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".ro.qcow2.meta", "x"), nil, 0o644))
	for range 2 {
		img, err := l.Get(t.Context(), ovm.Template("ro.qcow2"))
		require.NoError(t, err, "Get where the metadata cannot be written")
		assert.Equal(t, imagetest.Digest(data), img.Digest, "Get where the metadata cannot be written: digest")
	}
}

func TestPutNamesEveryField(t *testing.T) {
	l, _ := newLibrary(t, library.Options{})
	_, err := l.Put(t.Context(), ovm.ImageRef{Format: ovm.FormatRaw, Name: "../x.raw"}, strings.NewReader("x"), "md5:1")
	require.ErrorIs(t, err, ovm.ErrInvalid, "Put: got %v", err)
	var fields []string
	for _, f := range ovm.FieldsOf(err) {
		fields = append(fields, f.Field)
	}
	assert.Equal(t, []string{"name", "digest"}, fields, "Put: fields (error %v)", err)
}
