package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// stepDeliverTemplate is the name of the create step that delivers the
// instance's template from the catalog to its host.
const stepDeliverTemplate = "deliver template"

// catalogTemplate returns the catalog's template an instance of vdc boots
// from when its image names one: the VDC's private image of that name,
// else the platform's. found is false for a container image or a template
// the catalog does not hold (placed on the hosts by hand).
func catalogTemplate(ctx context.Context, tx store.Tx, vdc ovm.ID, ref ovm.ImageRef) (img imageRecord, found bool, err error) {
	if ref.Format == ovm.FormatOCI || ref.Name == "" {
		return imageRecord{}, false, nil
	}
	for _, scope := range []ovm.ID{vdc, ""} {
		r, err := tx.GetByName(ctx, kindImage, scope, ref.Name)
		switch {
		case ovm.KindOf(err) == ovm.KindNotFound:
			continue
		case err != nil:
			return imageRecord{}, false, err
		}
		img, err := decode[imageRecord](r)
		if err != nil {
			return imageRecord{}, false, err
		}
		if img.Format != ref.Format {
			continue
		}
		return img, true, nil
	}
	return imageRecord{}, false, nil
}

// checkCatalogTemplate tells whether an instance of vdc boots from a
// template of the catalog (which its create then delivers), refusing one
// that is not ready.
func (s *Service) checkCatalogTemplate(ctx context.Context, tx store.Tx, vdc ovm.ID, ref ovm.ImageRef) (bool, error) {
	if s.o.Library == nil {
		return false, nil
	}
	img, found, err := catalogTemplate(ctx, tx, vdc, ref)
	if err != nil || !found {
		return false, err
	}
	if img.Phase != apitypes.ImageReady {
		return false, invalid("the image is not ready", "spec.image.name",
			fmt.Sprintf("image %s is %s: finish its upload first", img.Name, img.Phase))
	}
	return true, nil
}

// instanceTemplate reads the catalog's template of an instance (see
// catalogTemplate) in a view of its own.
func (s *Service) instanceTemplate(ctx context.Context, inst instanceRecord) (img imageRecord, found bool, err error) {
	if s.o.Library == nil {
		return imageRecord{}, false, nil
	}
	err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		img, found, err = catalogTemplate(ctx, tx, inst.VDCID, inst.Spec.Image)
		return err
	})
	return img, found, err
}

// hostTemplateName is the name the host knows an instance's template by:
// the catalog's file name for a catalog template (a VDC's private image is
// prefixed by its VDC), the image's own name otherwise.
func (s *Service) hostTemplateName(ctx context.Context, spec *hypervisor.CreateSpec, inst instanceRecord) error {
	img, found, err := s.instanceTemplate(ctx, inst)
	if err != nil || !found {
		return err
	}
	spec.Spec.Image.Name = img.File
	return nil
}

// deliverTemplate is the "deliver template" step of a create: when the
// instance boots from a template of the catalog and its host's driver has
// hypervisor.TemplateDelivery, the template is sent from the library to the
// host unless the host has it with the catalog's digest already. The
// delivery's progress is the step's. Hosts without the facet take
// templates placed by hand, as before the catalog.
func (s *Service) deliverTemplate(ctx context.Context, r *tasks.Run, load func(ctx context.Context) (target, error)) error {
	tg, err := load(ctx)
	if err != nil {
		return err
	}
	img, found, err := s.instanceTemplate(ctx, tg.inst)
	if err != nil || !found {
		return err
	}
	if img.Phase != apitypes.ImageReady {
		return conflictf("image %s is %s, not ready: finish its upload first", img.Name, img.Phase)
	}
	td := tg.delivery
	if td == nil {
		r.Logf(slog.LevelInfo, "host %s takes templates placed by hand: %s is not delivered", tg.host.Name, img.Name)
		return nil
	}
	if err := s.useTemplateLibrary(ctx, tg); err != nil {
		return err
	}
	start := time.Now()
	have, ok, err := td.TemplateDigest(ctx, img.File)
	s.observe(tg.hv.Kind(), "TemplateDigest", err, start)
	if err != nil {
		return err
	}
	if ok && have == img.Digest {
		r.Logf(slog.LevelInfo, "template %s is on host %s already (%s)", img.Name, tg.host.Name, img.Digest)
		r.Progress(100)
		return nil
	}
	rc, got, err := s.o.Library.Open(ctx, img.fileRef())
	if err != nil {
		return fmt.Errorf("core: open template %s in the library: %w", img.Name, err)
	}
	defer rc.Close()
	if got.Digest != img.Digest {
		// The library hashes a file again once it changed: this one was
		// changed outside OVM after its upload.
		return ovm.Errorf(ovm.KindConflict, "template %s in the library has digest %s, not the %s it was uploaded with: upload it again",
			img.Name, got.Digest, img.Digest)
	}
	src, size := io.Reader(rc), img.Size
	if tg.host.Kind == ovm.HostESXi && img.Format == ovm.FormatVMDK {
		// An ESXi host keeps delivered templates as flat VMDKs (the disk's
		// raw contents); the catalog's VMDK is a hosted one (sparse or
		// stream-optimized).
		flat, n, err := s.flatDisk(ctx, img)
		if err != nil {
			return err
		}
		defer flat.Close()
		src, size = flat, n
		r.Logf(slog.LevelInfo, "template %s made flat for an ESXi host (%d bytes)", img.Name, n)
	}
	r.Logf(slog.LevelInfo, "delivering template %s (%d bytes) to host %s", img.Name, size, tg.host.Name)
	rep := &deliveryReport{r: r, logged: -1}
	start = time.Now()
	err = td.DeliverTemplate(ctx, img.File, img.Digest, size, hypervisor.Verified(src, got.Digest), rep.report)
	s.observe(tg.hv.Kind(), "DeliverTemplate", err, start)
	if err != nil {
		return err // the driver's error names the host and the template
	}
	r.Logf(slog.LevelInfo, "delivered template %s to host %s in %s", img.Name, tg.host.Name, time.Since(start).Round(time.Millisecond))
	r.Progress(100)
	return nil
}

// deliveryReport turns a delivery's progress into the step's progress and
// a log line every pullLogEvery percent.
type deliveryReport struct {
	r      *tasks.Run
	mu     sync.Mutex
	logged int
}

func (d *deliveryReport) report(percent int, _ string) {
	percent = min(max(percent, 0), 100)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.r.Progress(percent)
	if percent/pullLogEvery > d.logged/pullLogEvery && percent < 100 {
		d.logged = percent
		d.r.Logf(slog.LevelInfo, "delivery: %d%%", percent)
	}
}

// flatDisk converts a catalog VMDK into the disk's raw contents with
// qemu-img, in a temporary file removed when the returned file is closed.
// Its bytes derive from the library's checked file, so they are delivered
// under the template's digest.
func (s *Service) flatDisk(ctx context.Context, img imageRecord) (io.ReadCloser, ovm.Bytes, error) {
	if s.o.LibraryDir == "" {
		return nil, 0, ovm.Errorf(ovm.KindUnavailable, "the server has no template library directory to read %s from", img.Name)
	}
	tmp, err := os.CreateTemp("", "ovm-flat-*.raw")
	if err != nil {
		return nil, 0, fmt.Errorf("core: scratch file for template %s: %w", img.Name, err)
	}
	_ = tmp.Close()
	out, err := exec.CommandContext(ctx, "qemu-img", "convert", "-f", "vmdk", "-O", "raw",
		filepath.Join(s.o.LibraryDir, img.File), tmp.Name()).CombinedOutput()
	if err != nil {
		_ = os.Remove(tmp.Name())
		if errors.Is(err, exec.ErrNotFound) {
			return nil, 0, ovm.Wrap(ovm.KindUnavailable, err, "qemu-img is missing (package qemu-utils)")
		}
		return nil, 0, ovm.Wrap(ovm.KindInvalid, err, "template %s cannot be made flat: %s", img.Name, strings.TrimSpace(string(out)))
	}
	f, err := os.Open(tmp.Name())
	if err == nil {
		var st os.FileInfo
		if st, err = f.Stat(); err == nil {
			return removeOnClose{f}, ovm.Bytes(st.Size()), nil
		}
		_ = f.Close()
	}
	_ = os.Remove(tmp.Name())
	return nil, 0, fmt.Errorf("core: read the flat disk of template %s: %w", img.Name, err)
}

// removeOnClose is a scratch file removed when closed.
type removeOnClose struct{ *os.File }

func (f removeOnClose) Close() error {
	err := f.File.Close()
	return errors.Join(err, os.Remove(f.Name()))
}
