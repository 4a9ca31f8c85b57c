package core

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	"github.com/openovm/ovm/image/convert"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// registerConversionTasks registers the image conversion task kinds.
func (s *Service) registerConversionTasks() {
	s.tasks.Register(TaskImageToTemplate, toTemplateHandler{s})
	s.tasks.Register(TaskImageToContainer, toContainerHandler{s})
}

// converter is a Converter working in the task's scratch space, reporting
// its progress as the running step's and using the registry's options.
func (s *Service) converter(r *tasks.Run, reg convRegistry) *convert.Converter {
	return &convert.Converter{Scratch: s.o.Convert.Scratch, Remote: reg.Remote, Progress: func(p convert.Progress) {
		pct := 0
		if p.Total > 0 {
			pct = int(min(p.Done*100/p.Total, 100))
		}
		if p.Steps > 0 {
			r.Progress(((p.Index-1)*100 + pct) / p.Steps)
		}
		if p.Done == 0 {
			r.Logf(slog.LevelInfo, "conversion step %d of %d: %s", p.Index, p.Steps, p.Step)
		}
	}}
}

// scratchDir is a conversion task's own scratch directory.
func (s *Service) scratchDir(id ovm.ID) string {
	dir := s.o.Convert.Scratch
	if dir == "" {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "ovm-conversion-"+string(id))
}

// conversionRegistryByID resolves the registry a task recorded.
func (s *Service) conversionRegistryByID(ctx context.Context, id ovm.ID) (convRegistry, error) {
	var reg convRegistry
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		reg, err = s.conversionRegistry(ctx, tx, auth.Principal{Role: auth.RoleAdmin}, id)
		return err
	})
	return reg, err
}

// toTemplateHandler runs image.to-template: convert into the task's
// scratch directory, move the disk, kernel and initramfs into the template
// library, record the template (charging a private one to its VDC's disk
// quota). A failure removes the scratch, the library's files and the
// record, and releases the quota.
type toTemplateHandler struct{ s *Service }

type toTemplateState struct {
	Size        ovm.Bytes `json:"size"`        // the disk file's bytes
	VirtualSize ovm.Bytes `json:"virtualSize"` // the disk's virtual size
	Cmdline     string    `json:"cmdline"`
	Digest      string    `json:"digest,omitempty"`
}

func (h toTemplateHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	s := h.s
	scratch := func(r *tasks.Run) string { return s.scratchDir(r.Task().ID) }
	return []tasks.Step{{
		Name: "convert",
		Do: func(ctx context.Context, r *tasks.Run) error {
			var in toTemplateInput
			if err := r.Input(&in); err != nil {
				return err
			}
			reg, err := s.conversionRegistryByID(ctx, in.RegistryID)
			if err != nil {
				return err
			}
			dir := scratch(r)
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("scratch: %w", err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("scratch: %w", err)
			}
			disk, err := s.converter(r, reg).ImageToDisk(ctx, convert.ToDisk{Image: in.Source, Arch: in.Arch, Dir: dir, Boot: s.o.Convert.Boot})
			if err != nil {
				return err
			}
			fi, err := os.Stat(disk.Disk)
			if err != nil {
				return fmt.Errorf("converted disk: %w", err)
			}
			digest, err := fileDigest(disk.Disk)
			if err != nil {
				return err
			}
			return r.SetState(toTemplateState{Size: ovm.Bytes(fi.Size()), VirtualSize: disk.Size, Cmdline: disk.Cmdline, Digest: digest})
		},
		Undo: func(_ context.Context, r *tasks.Run) error { return os.RemoveAll(scratch(r)) },
	}, {
		Name: "store",
		Do: func(_ context.Context, r *tasks.Run) error {
			var in toTemplateInput
			if err := r.Input(&in); err != nil {
				return err
			}
			lib, err := s.templateLibrary()
			if err != nil {
				return err
			}
			disk, kernel, initrd := templateFiles(in.Name)
			dir := scratch(r)
			for _, m := range [][2]string{{"disk.qcow2", disk}, {"vmlinuz", kernel}, {"initrd.gz", initrd}} {
				if err := moveInto(filepath.Join(dir, m[0]), filepath.Join(lib, m[1])); err != nil {
					return err
				}
			}
			return nil
		},
		Undo: func(_ context.Context, r *tasks.Run) error {
			var in toTemplateInput
			if err := r.Input(&in); err != nil {
				return err
			}
			lib, err := s.templateLibrary()
			if err != nil {
				return err
			}
			disk, kernel, initrd := templateFiles(in.Name)
			for _, n := range []string{disk, kernel, initrd} {
				if err := os.Remove(filepath.Join(lib, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
			return nil
		},
	}, {
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			var in toTemplateInput
			var st toTemplateState
			if err := r.Input(&in); err != nil {
				return err
			}
			if err := r.State(&st); err != nil {
				return err
			}
			disk, kernel, initrd := templateFiles(in.Name)
			err := s.st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
				switch _, err := tx.Get(ctx, kindImage, in.TemplateID); {
				case err == nil:
					return nil
				case ovm.KindOf(err) != ovm.KindNotFound:
					return err
				}
				if in.VDCID != "" {
					if err := tx.Reserve(ctx, in.VDCID, ovm.Usage{Disk: st.Size}); err != nil {
						return err
					}
				}
				img := apitypes.Image{ID: in.TemplateID, Name: disk, Kind: apitypes.ImageTemplate, Format: ovm.FormatQCOW2,
					VDCID: in.VDCID, Phase: apitypes.ImageReady, Size: st.Size, VirtualSize: st.VirtualSize, Digest: st.Digest,
					HostKinds: []ovm.HostKind{ovm.HostKVM}, OSType: "linux",
					Boot: &apitypes.ImageBoot{Kernel: kernel, Initrd: initrd, Cmdline: st.Cmdline}}
				rec, err := store.NewRecord(kindImage, in.TemplateID, in.VDCID, disk, img)
				if err != nil {
					return err
				}
				return tx.Insert(ctx, &rec)
			})
			if err != nil {
				return err
			}
			return r.SetResult(apitypes.ConversionResult{TemplateID: in.TemplateID, Template: disk, Size: st.Size})
		},
		Undo: func(ctx context.Context, r *tasks.Run) error {
			var in toTemplateInput
			if err := r.Input(&in); err != nil {
				return err
			}
			return s.st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
				rec, err := tx.Get(ctx, kindImage, in.TemplateID)
				switch {
				case ovm.KindOf(err) == ovm.KindNotFound:
					return nil
				case err != nil:
					return err
				}
				img, err := decode[apitypes.Image](rec)
				if err != nil {
					return err
				}
				if in.VDCID != "" {
					if err := tx.Reserve(ctx, in.VDCID, ovm.Usage{Disk: -img.Size}); err != nil {
						return err
					}
				}
				return tx.Delete(ctx, kindImage, in.TemplateID, 0)
			})
		},
	}}, nil
}

// Finish removes the task's scratch directory, whatever the outcome.
func (h toTemplateHandler) Finish(_ context.Context, r *tasks.Run, _ ovm.TaskState, _ error) error {
	return os.RemoveAll(h.s.scratchDir(r.Task().ID))
}

// moveInto moves a converted file into the library, readable by the
// hypervisors. A file already at dst is another template's unless src is
// gone (an earlier run of the step moved it): then the move is done.
func moveInto(src, dst string) error {
	_, serr := os.Stat(src)
	_, derr := os.Lstat(dst)
	switch {
	case errors.Is(serr, fs.ErrNotExist) && derr == nil:
		return nil
	case serr != nil:
		return fmt.Errorf("converted file %s: %w", filepath.Base(src), serr)
	case derr == nil:
		return ovm.Errorf(ovm.KindConflict, "the template library has a file named %s", filepath.Base(dst))
	}
	if err := os.Chmod(src, 0o644); err != nil {
		return fmt.Errorf("template library: %w", err)
	}
	err := os.Rename(src, dst)
	if err == nil || !errors.Is(err, syscall.EXDEV) {
		if err != nil {
			return fmt.Errorf("template library: %w", err)
		}
		return nil
	}
	part := dst + ".part"
	if err := copyFileTo(src, part); err != nil {
		_ = os.Remove(part)
		return fmt.Errorf("template library: %w", err)
	}
	if err := os.Rename(part, dst); err != nil {
		return fmt.Errorf("template library: %w", err)
	}
	return os.Remove(src)
}

// fileDigest is sha256:<hex> of a file.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("digest: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func copyFileTo(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// toContainerHandler runs image.to-container: read the template's root
// filesystem, push it as a one-layer image, and record the pushed
// reference and digest as the task's result.
type toContainerHandler struct{ s *Service }

func (h toContainerHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	s := h.s
	return []tasks.Step{{
		Name: "convert",
		Do: func(ctx context.Context, r *tasks.Run) error {
			var in toContainerInput
			if err := r.Input(&in); err != nil {
				return err
			}
			reg, err := s.conversionRegistryByID(ctx, in.RegistryID)
			if err != nil {
				return err
			}
			var tmpl convTemplate
			err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
				var err error
				tmpl, err = s.conversionTemplate(ctx, tx, auth.Principal{Role: auth.RoleAdmin}, in.TemplateID)
				return err
			})
			if err != nil {
				return err
			}
			pushed, err := s.converter(r, reg).DiskToImage(ctx, convert.ToImage{Disk: tmpl.Path, Image: in.Reference,
				Cmd: in.Cmd, Env: in.Env, Arch: in.Arch})
			if err != nil {
				return err
			}
			r.Logf(slog.LevelInfo, "pushed %s", pushed.Ref)
			return r.SetResult(apitypes.ConversionResult{Reference: pushed.Ref, Digest: pushed.Digest, Size: pushed.Size})
		},
	}}, nil
}
