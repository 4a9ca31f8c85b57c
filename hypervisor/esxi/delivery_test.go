package esxi

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// TestDeliverTemplate delivers a template to a simulated host: the flat
// VMDK, its descriptor and its digest are in the library, a VM boots from
// a copy of it, a second delivery replaces it, and failed deliveries leave
// nothing (a failed replacement leaves the old template with its digest).
func TestDeliverTemplate(t *testing.T) {
	h := newHost(t)
	d := h.dial(t)
	admin := h.admin(t)
	ctx := t.Context()
	disk := []byte(strings.Repeat("ovm-disk", 64*1024)) // 512 KiB of raw disk

	var percents []int
	err := d.DeliverTemplate(ctx, "delivered.vmdk", hypervisor.DigestOf(disk), ovm.Bytes(len(disk)), strings.NewReader(string(disk)),
		func(p int, _ string) { percents = append(percents, p) })
	require.NoError(t, err, "DeliverTemplate: got an error, want none")
	for _, f := range []string{"delivered.vmdk", "delivered-flat.vmdk", "delivered.vmdk.sha256"} {
		assert.True(t, dsFileExists(t, admin, h.ds, templateDir+"/"+f), "%s after the delivery: got no file, want one", f)
	}
	assert.False(t, dsFileExists(t, admin, h.ds, templateDir+"/delivered.vmdk"+hypervisor.PartialSuffix), "the partial upload is left behind")
	require.NotEmpty(t, percents)
	assert.Equal(t, 100, percents[len(percents)-1], "last progress: got %d, want 100", percents[len(percents)-1])
	n, err := d.c.diskCapacity(ctx, "[LocalDS_0] "+templateDir+"/delivered.vmdk")
	require.NoError(t, err, "read the delivered descriptor")
	assert.Equal(t, int64(len(disk)), n, "descriptor capacity: got %d, want %d", n, len(disk))
	flat, err := d.c.download(ctx, h.ds, templateDir+"/delivered-flat.vmdk")
	require.NoError(t, err)
	assert.True(t, string(flat) == string(disk), "flat extent: got %d bytes unlike the %d delivered", len(flat), len(disk))
	digest, ok, err := d.TemplateDigest(ctx, "delivered.vmdk")
	require.NoError(t, err)
	assert.True(t, ok && digest == hypervisor.DigestOf(disk), "TemplateDigest: got %q, %v, want %q, true", digest, ok, hypervisor.DigestOf(disk))

	spec := vmSpec("from-delivered")
	spec.Spec.Image = ovm.Template("delivered.vmdk")
	t.Cleanup(func() { deleteVM(t, d, spec) })
	_, err = d.Create(ctx, spec)
	require.NoError(t, err, "Create from the delivered template: got an error, want none")
	require.NoError(t, d.Start(ctx, hypervisor.ByID(spec.ID)), "Start the VM made from the delivered template")
	require.NoError(t, d.Stop(ctx, hypervisor.ByID(spec.ID), hypervisor.StopOptions{Force: true}), "Stop the VM made from the delivered template")

	other := []byte(strings.Repeat("x", 1024))
	require.NoError(t, d.DeliverTemplate(ctx, "delivered.vmdk", hypervisor.DigestOf(other), ovm.Bytes(len(other)), strings.NewReader(string(other)), nil), "deliver again")
	digest, _, err = d.TemplateDigest(ctx, "delivered.vmdk")
	require.NoError(t, err)
	assert.Equal(t, hypervisor.DigestOf(other), digest, "TemplateDigest after the replacement")

	boom := errors.New("source broke")
	for _, tt := range []struct {
		name, template, digest string
		size                   int
		r                      io.Reader
		wantErr                error
		keeps                  string // the digest a failed replacement keeps
	}{
		{"failing reader", "fresh.vmdk", hypervisor.DigestOf(disk), len(disk), io.MultiReader(strings.NewReader(string(disk[:4096])), iotest.ErrReader(boom)), boom, ""},
		{"failing replacement", "delivered.vmdk", hypervisor.DigestOf(disk), len(disk), io.MultiReader(strings.NewReader(string(disk[:4096])), iotest.ErrReader(boom)), boom, hypervisor.DigestOf(other)},
		{"short source", "fresh.vmdk", hypervisor.DigestOf(disk), len(disk) + 512, strings.NewReader(string(disk)), ovm.ErrInvalid, ""},
		{"wrong digest", "fresh.vmdk", hypervisor.DigestOf(other), len(disk), strings.NewReader(string(disk)), ovm.ErrInvalid, ""},
		{"not whole sectors", "fresh.vmdk", hypervisor.DigestOf(disk[:100]), 100, strings.NewReader(string(disk[:100])), ovm.ErrInvalid, ""},
		{"not a vmdk name", "fresh.qcow2", hypervisor.DigestOf(disk), len(disk), strings.NewReader(string(disk)), ovm.ErrInvalid, ""},
		{"sparse vmdk", "fresh.vmdk", hypervisor.DigestOf(disk), len(disk), strings.NewReader("KDMV" + string(disk[4:])), ovm.ErrInvalid, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := d.DeliverTemplate(ctx, tt.template, tt.digest, ovm.Bytes(tt.size), tt.r, nil)
			require.ErrorIs(t, err, tt.wantErr, "DeliverTemplate: got %v, want %v", err, tt.wantErr)
			digest, ok, err := d.TemplateDigest(ctx, tt.template)
			require.NoError(t, err)
			assert.Equal(t, tt.keeps, digest, "TemplateDigest after the failed delivery: got %q, want %q", digest, tt.keeps)
			assert.Equal(t, tt.keeps != "", ok, "TemplateDigest ok after the failed delivery")
			assert.False(t, dsFileExists(t, admin, h.ds, templateDir+"/"+tt.template+hypervisor.PartialSuffix), "the partial upload is left behind")
			if tt.keeps == "" {
				assert.False(t, dsFileExists(t, admin, h.ds, templateDir+"/"+tt.template), "%s after the failed delivery: got a file, want none", tt.template)
			}
		})
	}

	none := &Driver{c: &conn{cfg: Config{}}}
	err = none.DeliverTemplate(context.WithoutCancel(ctx), "x.vmdk", hypervisor.DigestOf(disk), ovm.Bytes(len(disk)), strings.NewReader(string(disk)), nil)
	assert.Error(t, err, "DeliverTemplate without a library: got nil, want an error")
}
