package fake

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// CommitImage records the instance committed as ref, with a digest of the
// instance and the reference (each commit another one); Committed reads it
// back. The fake host has no registry: nothing is pushed anywhere.
func (d *Driver) CommitImage(ctx context.Context, r hypervisor.Ref, ref string, _ hypervisor.RegistryAuth) (string, error) {
	if err := d.gate(ctx, MethodCommitImage); err != nil {
		return "", err
	}
	if ref == "" || strings.ContainsAny(ref, " \t\n") {
		return "", ovm.Invalid("invalid image reference", ovm.FieldError{Field: "ref", Reason: "must be registry/repository:tag", Value: ref})
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	rec, err := d.lookupLocked(r)
	if err != nil {
		return "", err
	}
	if d.commits == nil {
		d.commits = map[string]string{}
	}
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d", rec.inst.NativeID, ref, len(d.commits)))))
	d.commits[ref] = digest
	return digest, nil
}

// Committed returns the digest CommitImage last recorded for ref.
func (d *Driver) Committed(ref string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	digest, ok := d.commits[ref]
	return digest, ok
}
