package fake

import (
	"context"
	"fmt"
	"io"
	"maps"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

var _ hypervisor.TemplateDelivery = (*Driver)(nil)

// TemplateDigest returns the digest template name was delivered with.
func (d *Driver) TemplateDigest(ctx context.Context, name string) (string, bool, error) {
	if err := d.gate(ctx, MethodTemplateDigest); err != nil {
		return "", false, err
	}
	if err := ovm.Template(name).Validate(); err != nil {
		return "", false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	digest, ok := d.templates[name]
	return digest, ok, nil
}

// DeliverTemplate reads r to its end, checks it against size and digest,
// and keeps the template's digest; the host keeps no bytes. A delivery
// that fails (FailNext, the reader, a mismatch) removes the template of
// that name, as a driver that writes in place does.
func (d *Driver) DeliverTemplate(ctx context.Context, name, digest string, size ovm.Bytes, r io.Reader, progress hypervisor.Progress) error {
	if err := d.gate(ctx, MethodDeliverTemplate); err != nil {
		return err
	}
	if err := hypervisor.CheckDelivery(name, digest, size); err != nil {
		return err
	}
	d.mu.Lock()
	delete(d.templates, name)
	d.mu.Unlock()
	src := hypervisor.NewDeliveryReader(ctx, r, size, progress, 0)
	defer src.Close()
	if _, err := io.Copy(io.Discard, src); err != nil {
		return fmt.Errorf("fake host %s: deliver template %s: %w", d.name, name, err)
	}
	if err := src.Verify(digest); err != nil {
		return fmt.Errorf("fake host %s: deliver template %s: %w", d.name, name, err)
	}
	d.mu.Lock()
	d.templates[name] = digest
	d.mu.Unlock()
	if progress != nil {
		progress(100, fmt.Sprintf("template %s delivered", name))
	}
	return nil
}

// Templates returns the digests of the templates delivered to the host, by
// name.
func (d *Driver) Templates() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.templates)
}
