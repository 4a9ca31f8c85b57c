package hypervisortest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// filler is n bytes of a repeating pattern, different for each seed.
func filler(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

// deliver delivers data as template name and checks the progress reports.
func deliver(t *testing.T, ctx context.Context, td hypervisor.TemplateDelivery, name string, data []byte) {
	t.Helper()
	var percents []int
	err := td.DeliverTemplate(ctx, name, hypervisor.DigestOf(data), ovm.Bytes(len(data)), iotest.HalfReader(bytes.NewReader(data)),
		func(p int, _ string) { percents = append(percents, p) })
	require.NoError(t, err, "DeliverTemplate %s: got an error, want none", name)
	require.NotEmpty(t, percents, "DeliverTemplate %s: progress: got no report, want some", name)
	for i, p := range percents {
		assert.False(t, p < 0 || p > 100 || (i > 0 && p < percents[i-1]), "DeliverTemplate %s: progress: got %v, want 0 to 100, never going back", name, percents)
	}
	assert.Equal(t, 100, percents[len(percents)-1], "DeliverTemplate %s: last progress: got %d, want 100", name, percents[len(percents)-1])
}

// wantDigest checks what TemplateDigest says of name.
func wantDigest(t *testing.T, ctx context.Context, td hypervisor.TemplateDelivery, name, want, after string) {
	t.Helper()
	got, ok, err := td.TemplateDigest(ctx, name)
	require.NoError(t, err, "TemplateDigest %s after %s: got an error, want none", name, after)
	if want == "" {
		assert.False(t, ok, "TemplateDigest %s after %s: got %q, true, want none", name, after, got)
		return
	}
	assert.True(t, ok, "TemplateDigest %s after %s: got ok=false, want %s", name, after, want)
	assert.Equal(t, want, got, "TemplateDigest %s after %s: got %s, want %s", name, after, got, want)
}

func (s *suite) testTemplateDelivery(t *testing.T) {
	d, ctx := s.setup(t)
	td, ok := facet[hypervisor.TemplateDelivery](t, d, false, "TemplateDelivery")
	if !ok {
		return
	}
	ext, data := ".raw", filler(64*1024, 0)
	if s.h.Template != nil {
		var sample string
		sample, data = s.h.Template(t)
		require.NotEmpty(t, data, "Harness.Template: got no bytes, want a template's")
		ext = path.Ext(sample)
	}
	name, failed := s.name("tmpl")+ext, s.name("tmpl-failed")+ext
	if s.h.RemoveTemplate != nil {
		t.Cleanup(func() {
			s.h.RemoveTemplate(t, name)
			s.h.RemoveTemplate(t, failed)
		})
	}
	// Sectors of made-up raw disk contents, unlike data.
	junk := filler(8*1024, 0x5a)

	wantDigest(t, ctx, td, name, "", "nothing was delivered")
	deliver(t, ctx, td, name, junk)
	wantDigest(t, ctx, td, name, hypervisor.DigestOf(junk), "the delivery")
	deliver(t, ctx, td, name, data)
	wantDigest(t, ctx, td, name, hypervisor.DigestOf(data), "a second delivery of the same name")

	boom := errors.New("the source broke")
	broken := io.MultiReader(bytes.NewReader(data[:len(data)/2]), iotest.ErrReader(boom))
	err := td.DeliverTemplate(ctx, failed, hypervisor.DigestOf(data), ovm.Bytes(len(data)), broken, nil)
	require.ErrorIs(t, err, boom, "DeliverTemplate from a failing reader: got %v, want the reader's error", err)
	wantDigest(t, ctx, td, failed, "", "a delivery whose reader failed")
	err = td.DeliverTemplate(ctx, failed, hypervisor.DigestOf(junk), ovm.Bytes(len(data)), bytes.NewReader(data), nil)
	wantKind(t, err, ovm.ErrInvalid, "DeliverTemplate of bytes unlike the digest")
	wantDigest(t, ctx, td, failed, "", "a delivery of bytes unlike the digest")
	err = td.DeliverTemplate(ctx, failed, "md5:0", ovm.Bytes(len(data)), bytes.NewReader(data), nil)
	wantKind(t, err, ovm.ErrInvalid, "DeliverTemplate with a malformed digest")

	if s.h.Template == nil {
		return
	}
	// The failed template is not there to make an instance from; the
	// delivered one is.
	spec := s.spec(t, "from-failed")
	spec.Spec.Image = ovm.Template(failed)
	s.track(t, d, hypervisor.ByID(spec.ID))
	_, err = d.Create(ctx, spec)
	wantKind(t, err, ovm.ErrNotFound, "Create from a template whose delivery failed")
	spec = s.spec(t, "from-tmpl")
	spec.Spec.Image = ovm.Template(name)
	s.started(t, ctx, d, spec)
	wantPower(t, ctx, d, hypervisor.ByID(spec.ID), ovm.PowerRunning, "Start of an instance made from the delivered template")
}
