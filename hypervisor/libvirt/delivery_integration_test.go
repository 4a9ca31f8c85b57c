//go:build integration

package libvirt_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/libvirt"
	"github.com/openovm/ovm/ovm"
)

// libraryDriver is a driver taking templates from a template library pool
// of its own under the test pool directory, removed when t ends.
func libraryDriver(t testing.TB, e testEnv) (*libvirt.Driver, ovm.StoragePool) {
	t.Helper()
	d := dial(t, e, e.uri)
	id := ovm.NewID()
	pool := ovm.StoragePool{ID: id, Name: "ovm-lib-" + id.Short(), Kind: ovm.StorageShared, Path: filepath.Join(e.pools, "lib-"+id.Short())}
	d.UseTemplateLibrary(pool)
	t.Cleanup(func() {
		removePool(t, e, e.uri, pool.Name)
		_ = os.RemoveAll(pool.Path)
		_ = d.Close()
	})
	return d, pool
}

// TestDeliverTemplate delivers templates into a library pool on the real
// libvirtd: the file holds the bytes, the digest reads back, progress goes
// up to 100, a second delivery replaces, and every failed delivery leaves
// neither template nor digest.
func TestDeliverTemplate(t *testing.T) {
	e := env(t)
	d, pool := libraryDriver(t, e)
	dir := pool.Path
	ctx := t.Context()
	data := make([]byte, 9*ovm.MiB+123) // more than one stream message
	_, _ = rand.Read(data)

	var percents []int
	err := d.DeliverTemplate(ctx, "deliver.raw", hypervisor.DigestOf(data), ovm.Bytes(len(data)), iotest.HalfReader(bytesReader(data)),
		func(p int, _ string) { percents = append(percents, p) })
	require.NoError(t, err, "DeliverTemplate: got an error, want none")
	got, err := os.ReadFile(filepath.Join(dir, "deliver.raw"))
	require.NoError(t, err, "read the delivered file")
	assert.True(t, string(got) == string(data), "delivered file: got %d bytes that differ from the %d sent", len(got), len(data))
	require.NotEmpty(t, percents, "progress: got no report, want some")
	assert.Equal(t, 100, percents[len(percents)-1], "last progress: got %d, want 100", percents[len(percents)-1])
	for i := 1; i < len(percents); i++ {
		assert.GreaterOrEqual(t, percents[i], percents[i-1], "progress went back: %v", percents)
	}
	digest, ok, err := d.TemplateDigest(ctx, "deliver.raw")
	require.NoError(t, err)
	assert.True(t, ok, "TemplateDigest: got ok=false, want the delivered digest")
	assert.Equal(t, hypervisor.DigestOf(data), digest, "TemplateDigest: got %s, want %s", digest, hypervisor.DigestOf(data))

	other := []byte(strings.Repeat("ovm", 1000))
	require.NoError(t, d.DeliverTemplate(ctx, "deliver.raw", hypervisor.DigestOf(other), ovm.Bytes(len(other)), bytesReader(other), nil), "deliver again")
	got, err = os.ReadFile(filepath.Join(dir, "deliver.raw"))
	require.NoError(t, err)
	assert.Equal(t, other, got, "replaced file: got other bytes than the second delivery's")
	digest, _, err = d.TemplateDigest(ctx, "deliver.raw")
	require.NoError(t, err)
	assert.Equal(t, hypervisor.DigestOf(other), digest, "TemplateDigest after the replacement")

	// Images that would make qemu-img read host files when it copies the
	// template: refused.
	backed := qemuImg(t, "-f", "qcow2", "-b", "/etc/hostname", "-F", "raw")
	vmdk := qemuImg(t, "-f", "vmdk")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	boom := errors.New("source broke")
	for _, tt := range []struct {
		name    string
		ctx     context.Context
		digest  string
		size    int
		r       io.Reader
		wantErr error
	}{
		{"failing reader", ctx, hypervisor.DigestOf(data), len(data), io.MultiReader(bytesReader(data[:5*ovm.MiB]), iotest.ErrReader(boom)), boom},
		{"wrong digest", ctx, hypervisor.DigestOf(other), len(data), bytesReader(data), ovm.ErrInvalid},
		{"short source", ctx, hypervisor.DigestOf(data), len(data) + 10, bytesReader(data), ovm.ErrInvalid},
		{"long source", ctx, hypervisor.DigestOf(data[:len(data)-1]), len(data) - 1, bytesReader(data), ovm.ErrInvalid},
		{"context done", cancelled, hypervisor.DigestOf(data), len(data), bytesReader(data), context.Canceled},
		{"bad digest", ctx, "md5:abc", len(data), bytesReader(data), ovm.ErrInvalid},
		{"bad name", ctx, hypervisor.DigestOf(data), len(data), bytesReader(data), ovm.ErrInvalid},
		{"qcow2 with a backing file", ctx, hypervisor.DigestOf(backed), len(backed), bytesReader(backed), ovm.ErrInvalid},
		{"vmdk", ctx, hypervisor.DigestOf(vmdk), len(vmdk), bytesReader(vmdk), ovm.ErrInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			name := "failed-" + strings.ReplaceAll(tt.name, " ", "-") + ".raw"
			if tt.name == "bad name" {
				name = "../" + name
			}
			err := d.DeliverTemplate(tt.ctx, name, tt.digest, ovm.Bytes(tt.size), tt.r, nil)
			require.ErrorIs(t, err, tt.wantErr, "DeliverTemplate: got %v, want %v", err, tt.wantErr)
			for _, f := range []string{name, name + hypervisor.DigestSuffix} {
				_, err := os.Stat(filepath.Join(dir, f))
				assert.True(t, os.IsNotExist(err), "%s after the failed delivery: got %v, want no such file", f, err)
			}
			if tt.name != "bad name" {
				_, ok, err := d.TemplateDigest(ctx, name)
				require.NoError(t, err)
				assert.False(t, ok, "TemplateDigest after the failed delivery: got ok=true, want false")
			}
		})
	}
}

// TestTemplateDigestHandCopied: a template copied in by hand, without a
// digest sidecar, is not a delivered one; a missing one neither.
func TestTemplateDigestHandCopied(t *testing.T) {
	e := env(t)
	d, pool := libraryDriver(t, e)
	dir := pool.Path
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "by-hand.raw"), []byte("x"), 0o644))
	for _, name := range []string{"by-hand.raw", "missing.raw"} {
		_, ok, err := d.TemplateDigest(t.Context(), name)
		require.NoError(t, err, "TemplateDigest %s", name)
		assert.False(t, ok, "TemplateDigest %s: got ok=true, want false", name)
	}
}

// qemuImg makes a 1 MiB image with `qemu-img create args` and returns it.
func qemuImg(t *testing.T, args ...string) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "image")
	args = append(append([]string{"create", "-q"}, args...), p, "1M")
	out, err := exec.Command("qemu-img", args...).CombinedOutput()
	require.NoError(t, err, "qemu-img %v: %s", args, out)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

func bytesReader(b []byte) io.Reader { return strings.NewReader(string(b)) }
