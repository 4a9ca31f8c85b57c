package docker

import (
	"context"
	"errors"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

var _ hypervisor.ImagePuller = (*Driver)(nil)

// EnsureImage makes sure an image is on the host, pulling it from its
// registry when it is missing (hypervisor.ImagePuller). See Images.Ensure.
func (d *Driver) EnsureImage(ctx context.Context, ref ovm.ImageRef, progress hypervisor.Progress) (bool, error) {
	return d.Images().Ensure(ctx, ref, progress)
}

// Ensure makes sure ref is on the host: an image already there is left
// alone (pulled false), a missing one is pulled with Pull, reporting
// progress (pulled true). A failed pull is the error Pull returns (its
// kind, the engine's and registry's text such as "manifest unknown"),
// saying the image is not on the host. Only oci images run on a docker
// host: another format is ovm.ErrInvalid.
func (m *Images) Ensure(ctx context.Context, ref ovm.ImageRef, progress hypervisor.Progress) (bool, error) {
	if ref.Format != ovm.FormatOCI {
		return false, ovm.Invalid("docker host "+m.c.name+": invalid image",
			ovm.FieldError{Field: "spec.image.format", Reason: "a docker host runs oci images, not " + string(ref.Format), Value: string(ref.Format)})
	}
	_, err := m.Get(ctx, ref)
	switch {
	case err == nil:
		return false, nil
	case ovm.KindOf(err) != ovm.KindNotFound:
		return false, err
	}
	if err := m.Pull(ctx, ref.Name, progress); err != nil {
		return false, pullFailed(err, m.c.name, ref.Name)
	}
	return true, nil
}

// pullFailed rewords an error of Pull so that it says the image is missing
// and why it could not be pulled, keeping the kind, the fields and the
// engine's error (with the registry's text).
func pullFailed(err error, host, ref string) error {
	msg := "docker host " + host + ": image " + ref + " is not on the host and could not be pulled"
	var e *ovm.Error
	if !errors.As(err, &e) {
		return ovm.Wrap(ovm.KindOf(err), err, "%s", msg)
	}
	out := &ovm.Error{Kind: e.Kind, Message: msg, Err: e.Err}
	for _, f := range e.Fields {
		if f.Field == "ref" {
			f.Field = "spec.image.name"
		}
		out.Fields = append(out.Fields, f)
	}
	if out.Err == nil {
		out.Err = errors.New(e.Message)
	}
	return out
}
