package core

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

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
func (s *Service) converter(r *tasks.Run, opts []remote.Option) *convert.Converter {
	var logged atomic.Int64 // the last step named in the log
	return &convert.Converter{Scratch: s.o.Convert.Scratch, Remote: opts, Progress: func(p convert.Progress) {
		r.Progress(conversionPercent(p))
		if logged.Swap(int64(p.Index)) != int64(p.Index) {
			r.Logf(slog.LevelInfo, "conversion step %d of %d: %s", p.Index, p.Steps, p.Step)
		}
	}}
}

// conversionPercent is how far a conversion is at a report, 0 to 100: the
// steps done and the bytes of the current one when it knows its total.
func conversionPercent(p convert.Progress) int {
	if p.Steps <= 0 {
		return 0
	}
	pct := int64(0)
	if p.Total > 0 {
		pct = min(max(p.Done, 0)*100/p.Total, 100)
	}
	return min(max((p.Index-1)*100+int(pct), 0)/p.Steps, 100)
}

// scratchDir is a conversion task's own scratch directory.
func (s *Service) scratchDir(id ovm.ID) string {
	dir := s.o.Convert.Scratch
	if dir == "" {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "ovm-conversion-"+string(id))
}

// registryOptions are the registry options (credentials, transport) of
// the registry a task recorded.
func (s *Service) registryOptions(ctx context.Context, id ovm.ID) ([]remote.Option, *registryConn, error) {
	_, c, err := s.registryByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return c.remoteOptions(), c, nil
}

// remoteOptions are the registry calls' credentials and, for an insecure
// registry, a transport that does not verify its certificate.
func (c *registryConn) remoteOptions() []remote.Option {
	auth := authn.Anonymous
	if c.cfg.Username != "" {
		auth = &authn.Basic{Username: c.cfg.Username, Password: c.cfg.Password}
	}
	o := []remote.Option{remote.WithAuth(auth)}
	if c.cfg.Insecure {
		t := remote.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the administrator asked for it
		o = append(o, remote.WithTransport(t))
	}
	return o
}

// toTemplateHandler runs image.to-template: convert into the task's
// scratch directory, put the disk into the template library with the
// kernel and initramfs beside it, record the ready template (charging a
// private one to its VDC's disk quota). A failure removes the scratch, the
// library's files and the record, and releases the quota.
type toTemplateHandler struct{ s *Service }

type toTemplateState struct {
	Size        ovm.Bytes `json:"size"`        // the disk file's bytes
	VirtualSize ovm.Bytes `json:"virtualSize"` // the disk's virtual size
	Cmdline     string    `json:"cmdline"`
	Digest      string    `json:"digest"`
}

func (h toTemplateHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	s := h.s
	var in toTemplateInput
	if err := json.Unmarshal(t.Input, &in); err != nil {
		return nil, fmt.Errorf("core: decode the input of task %s: %w", t.Task.ID, err)
	}
	dir := s.scratchDir(t.Task.ID)
	ref := ovm.ImageRef{Format: ovm.FormatQCOW2, Name: in.File}
	kernel, initrd := bootFiles(in.File)
	return []tasks.Step{{
		Name: "convert",
		Do: func(ctx context.Context, r *tasks.Run) error {
			opts, _, err := s.registryOptions(ctx, in.RegistryID)
			if err != nil {
				return err
			}
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("scratch: %w", err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("scratch: %w", err)
			}
			disk, err := s.converter(r, opts).ImageToDisk(ctx, convert.ToDisk{Image: in.Source, Arch: in.Arch, Dir: dir, Boot: s.o.Convert.Boot})
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
		Undo: func(context.Context, *tasks.Run) error { return os.RemoveAll(dir) },
	}, {
		Name: "store",
		Do: func(ctx context.Context, r *tasks.Run) error {
			var st toTemplateState
			if err := r.State(&st); err != nil {
				return err
			}
			// A file of the name is another template's, unless it is this
			// conversion's disk (an earlier run of the step put it).
			switch have, err := s.o.Library.Get(ctx, ref); {
			case err == nil && have.Digest != st.Digest:
				return ovm.Errorf(ovm.KindConflict, "the template library has a file named %s", in.File)
			case err != nil && ovm.KindOf(err) != ovm.KindNotFound:
				return err
			case err != nil:
				f, err := os.Open(filepath.Join(dir, "disk.qcow2"))
				if err != nil {
					return fmt.Errorf("converted disk: %w", err)
				}
				_, err = s.o.Library.Put(ctx, ref, f, st.Digest)
				_ = f.Close()
				if err != nil {
					return err
				}
			}
			lib := s.o.LibraryDir
			for _, m := range [][2]string{{"vmlinuz", kernel}, {"initrd.gz", initrd}} {
				if err := moveInto(filepath.Join(dir, m[0]), filepath.Join(lib, m[1])); err != nil {
					return err
				}
			}
			return nil
		},
		Undo: func(ctx context.Context, r *tasks.Run) error {
			if err := ignore(s.o.Library.Delete(ctx, ref), ovm.KindNotFound); err != nil {
				return err
			}
			return s.removeBootFiles(in.File)
		},
	}, {
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			var st toTemplateState
			if err := r.State(&st); err != nil {
				return err
			}
			err := s.st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
				switch _, err := tx.Get(ctx, kindImage, in.TemplateID); {
				case err == nil:
					return nil
				case ovm.KindOf(err) != ovm.KindNotFound:
					return err
				}
				img := imageRecord{Image: Image{ID: in.TemplateID, Name: in.Name, Kind: apitypes.ImageTemplate, Format: ovm.FormatQCOW2,
					VDCID: in.VDCID, Phase: apitypes.ImageReady, Size: st.Size, VirtualSize: st.VirtualSize, Digest: st.Digest,
					HostKinds: []ovm.HostKind{ovm.HostKVM}, OSType: "linux", CreatedAt: s.now(), UpdatedAt: s.now(),
					Boot: &apitypes.ImageBoot{Kernel: kernel, Initrd: initrd, Cmdline: st.Cmdline}}, File: in.File}
				if in.VDCID != "" {
					img.Reserved = ovm.Usage{Disk: st.Size}
					if err := tx.Reserve(ctx, in.VDCID, img.Reserved); err != nil {
						return ovm.Wrap(ovm.KindQuotaExceeded, err, "template %s takes %s, more disk than the vdc's quota has left", in.Name, st.Size)
					}
				}
				rec := store.Record{Kind: kindImage, ID: img.ID, VDCID: in.VDCID, Name: in.Name}
				if err := setData(&rec, img); err != nil {
					return err
				}
				return tx.Insert(ctx, &rec)
			})
			if err != nil {
				return err
			}
			return r.SetResult(apitypes.ConversionResult{TemplateID: in.TemplateID, Template: in.Name, Size: st.Size})
		},
		Undo: func(ctx context.Context, r *tasks.Run) error {
			return s.st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
				img, rec, err := getAs[imageRecord](ctx, tx, kindImage, in.TemplateID)
				switch {
				case ovm.KindOf(err) == ovm.KindNotFound:
					return nil
				case err != nil:
					return err
				}
				if in.VDCID != "" && img.Reserved != (ovm.Usage{}) {
					if err := tx.Reserve(ctx, in.VDCID, ovm.Usage{}.Sub(img.Reserved)); err != nil {
						return err
					}
				}
				return tx.Delete(ctx, kindImage, in.TemplateID, rec.Version)
			})
		},
	}}, nil
}

// Finish removes the task's scratch directory, whatever the outcome.
func (h toTemplateHandler) Finish(_ context.Context, r *tasks.Run, _ ovm.TaskState, _ error) error {
	return os.RemoveAll(h.s.scratchDir(r.Task().ID))
}

// removeBootFiles removes the kernel and initramfs kept beside a converted
// template's disk file (none is success).
func (s *Service) removeBootFiles(file string) error {
	if s.o.LibraryDir == "" {
		return nil
	}
	kernel, initrd := bootFiles(file)
	for _, n := range []string{kernel, initrd} {
		if err := os.Remove(filepath.Join(s.o.LibraryDir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// moveInto moves a small converted file (a kernel, an initramfs) into
// the library, readable by the hypervisors: copied beside dst and renamed
// over it, since the scratch space may be another filesystem. A file
// already at dst is another template's unless src is gone (an earlier run
// of the step moved it): then the move is done.
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
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("converted file %s: %w", filepath.Base(src), err)
	}
	part := dst + ".part"
	if err := os.WriteFile(part, b, 0o644); err != nil {
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

// toContainerHandler runs image.to-container: read the template's root
// filesystem and push it as a one-layer image, then hold its size on the
// VDC's disk quota for a tenant's namespace (the pushed tag is deleted
// again when that fails), and record the pushed reference and digest as
// the task's result.
type toContainerHandler struct{ s *Service }

type toContainerState struct {
	Reference string    `json:"reference"`
	Digest    string    `json:"digest"`
	Size      ovm.Bytes `json:"size"`
}

func (h toContainerHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	s := h.s
	var in toContainerInput
	if err := json.Unmarshal(t.Input, &in); err != nil {
		return nil, fmt.Errorf("core: decode the input of task %s: %w", t.Task.ID, err)
	}
	return []tasks.Step{{
		Name: "convert",
		Do: func(ctx context.Context, r *tasks.Run) error {
			opts, c, err := s.registryOptions(ctx, in.RegistryID)
			if err != nil {
				return err
			}
			var tmpl convTemplate
			err = s.view(ctx, func(ctx context.Context, tx store.Tx) error {
				var err error
				tmpl, err = conversionTemplate(ctx, tx, auth.Principal{Role: auth.RoleAdmin}, in.TemplateID)
				return err
			})
			if err != nil {
				return err
			}
			pushed, err := s.converter(r, opts).DiskToImage(ctx, convert.ToImage{Disk: filepath.Join(s.o.LibraryDir, tmpl.File),
				Image: c.Reference(in.Repository, in.Tag), Cmd: in.Cmd, Env: in.Env, Arch: in.Arch})
			if err != nil {
				return err
			}
			r.Logf(slog.LevelInfo, "pushed %s", pushed.Ref)
			return r.SetState(toContainerState{Reference: pushed.Ref, Digest: pushed.Digest, Size: pushed.Size})
		},
		Undo: func(ctx context.Context, r *tasks.Run) error {
			_, c, err := s.registryOptions(ctx, in.RegistryID)
			if err != nil {
				return err
			}
			return ignore(c.DeleteTag(ctx, in.Repository, in.Tag), ovm.KindNotFound)
		},
	}, {
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			var st toContainerState
			if err := r.State(&st); err != nil {
				return err
			}
			vdc := in.VDCID
			if vdc == "" { // an administrator's image in a VDC's namespace counts for that VDC, as its pushes do
				vdc = s.namespaceVDC(ctx, in.Repository)
			}
			if vdc != "" {
				if err := s.reserveImage(ctx, vdc, in.RegistryID, in.Repository, in.Tag, st.Digest, st.Size); err != nil {
					return err
				}
			}
			return r.SetResult(apitypes.ConversionResult{Reference: st.Reference, Digest: st.Digest, Size: st.Size})
		},
	}}, nil
}
