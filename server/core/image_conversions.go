package core

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/openovm/ovm/image/convert"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// The task kinds of image conversions.
const (
	TaskImageToTemplate  = "image.to-template"
	TaskImageToContainer = "image.to-container"
)

// ConvertOptions configure image conversions.
type ConvertOptions struct {
	// Boot is what makes a converted disk bootable: the guest kernel, the
	// modules its initramfs loads and a static busybox. Conversions to a
	// template need Boot.Kernel.
	Boot convert.Boot
	// Scratch is where conversions work (default: the system's temporary
	// directory).
	Scratch string
	// Library is the template library directory converted templates are
	// written to.
	Library string
	// Registry is the default registry (host[:port]), pushed to when a
	// conversion names no registry.
	Registry string
}

// ImageConversion asks for a conversion; ConversionTask is its task.
type (
	ImageConversion = apitypes.ImageConversion
	ConversionTask  = apitypes.ConversionTask
)

// templateName is a template's name: its disk is <name>.qcow2 in the
// library, its kernel and initramfs <name>.vmlinuz and <name>.initrd.
var templateName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// toTemplateInput is the input of an image.to-template task.
type toTemplateInput struct {
	Source     string `json:"source"`
	RegistryID ovm.ID `json:"registryId,omitempty"`
	Arch       string `json:"arch,omitempty"`
	TemplateID ovm.ID `json:"templateId"`
	Name       string `json:"name"`
	VDCID      ovm.ID `json:"vdcId,omitempty"`
}

// toContainerInput is the input of an image.to-container task.
type toContainerInput struct {
	TemplateID ovm.ID   `json:"templateId"`
	RegistryID ovm.ID   `json:"registryId,omitempty"`
	Reference  string   `json:"reference"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	Arch       string   `json:"arch,omitempty"`
}

// ConvertImage checks a conversion and enqueues its task: image.to-template
// makes a catalog template of a container image, image.to-container pushes
// a template's root filesystem as a container image.
func (s *Service) ConvertImage(ctx context.Context, p auth.Principal, in ImageConversion) (ConversionTask, error) {
	var out ConversionTask
	var f ovm.Fields
	if in.Arch != "" && in.Arch != "amd64" && in.Arch != "arm64" {
		f.Add("arch", "must be amd64 or arm64")
	}
	var check func(ctx context.Context, tx store.Tx) (tasks.Spec, error)
	switch in.Direction {
	case apitypes.ConvertToTemplate:
		check = s.toTemplate(p, in, &f)
	case apitypes.ConvertToContainer:
		check = s.toContainer(p, in, &f)
	default:
		f.Add("direction", "must be to-template or to-container")
	}
	if err := f.Err("invalid image conversion"); err != nil {
		return out, err
	}
	var id ovm.ID
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "image.convert", in.IdempotencyKey, in, &out, func() error {
			spec, err := check(ctx, tx)
			if err != nil {
				return err
			}
			t, err := s.tasks.Enqueue(ctx, tx, spec)
			if err != nil {
				return err
			}
			out, id = ConversionTask{Task: &t}, t.ID
			return nil
		})
	})
	if err != nil {
		return ConversionTask{}, err
	}
	if id != "" {
		s.tasks.Kick(id)
	}
	return out, nil
}

// toTemplate checks a conversion of a container image into a template.
func (s *Service) toTemplate(p auth.Principal, in ImageConversion, f *ovm.Fields) func(context.Context, store.Tx) (tasks.Spec, error) {
	t := in.Target
	var ref name.Reference
	if in.Source == "" {
		f.Add("source", "is required: a container image reference")
	} else if r, err := name.ParseReference(in.Source, name.StrictValidation); err != nil {
		f.Add("source", "is not a container image reference: "+err.Error())
	} else {
		ref = r
	}
	if t.Name == "" {
		f.Add("target.name", "is required: the new template's name")
	} else if !templateName.MatchString(t.Name) || strings.HasSuffix(t.Name, ".part") {
		f.Add("target.name", "must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	notHere(f, "to-template", map[string]bool{"target.registryId": t.RegistryID != "", "target.repository": t.Repository != "",
		"target.tag": t.Tag != "", "cmd": len(in.Cmd) > 0, "env": len(in.Env) > 0})
	if t.VDCID != "" && !t.VDCID.Valid() {
		f.Add("target.vdcId", "must be a lower-case UUID")
	}
	return func(ctx context.Context, tx store.Tx) (tasks.Spec, error) {
		if s.o.Convert.Boot.Kernel == "" {
			return tasks.Spec{}, conflictf("the server has no kernel for converted disks: set --convert-kernel (OVM_CONVERT_KERNEL) to a guest kernel image")
		}
		if _, err := os.Stat(s.o.Convert.Boot.Kernel); err != nil {
			return tasks.Spec{}, conflictf("the server cannot read its kernel for converted disks (--convert-kernel %s): %v", s.o.Convert.Boot.Kernel, err)
		}
		vdc, err := resolveVDC(p, t.VDCID, false)
		if err != nil {
			return tasks.Spec{}, err
		}
		if vdc != "" {
			if _, err := tx.Get(ctx, store.KindVDC, vdc); err != nil {
				return tasks.Spec{}, err
			}
		}
		reg, err := s.registryOfRef(ctx, tx, p, ref)
		if err != nil {
			return tasks.Spec{}, err
		}
		lib, err := s.templateLibrary()
		if err != nil {
			return tasks.Spec{}, err
		}
		if err := templateNameFree(ctx, tx, lib, vdc, t.Name); err != nil {
			return tasks.Spec{}, err
		}
		id := ovm.NewID()
		return tasks.Spec{Kind: TaskImageToTemplate, VDCID: vdc, TargetID: id, Input: toTemplateInput{Source: in.Source,
			RegistryID: reg.ID, Arch: in.Arch, TemplateID: id, Name: t.Name, VDCID: vdc}}, nil
	}
}

// toContainer checks a conversion of a template into a container image.
func (s *Service) toContainer(p auth.Principal, in ImageConversion, f *ovm.Fields) func(context.Context, store.Tx) (tasks.Spec, error) {
	t := in.Target
	if in.Source == "" {
		f.Add("source", "is required: the id of a template of the catalog")
	} else if !ovm.ID(in.Source).Valid() {
		f.Add("source", "must be the id (a lower-case UUID) of a template of the catalog")
	}
	if t.Repository == "" {
		f.Add("target.repository", "is required: the repository pushed to")
	} else if _, err := name.NewRepository("registry.invalid/"+t.Repository, name.StrictValidation); err != nil || strings.Contains(t.Repository, ":") {
		f.Add("target.repository", "is not a repository name: lower-case letters, digits and separators, parts joined by '/'")
	}
	tag := t.Tag
	if tag == "" {
		tag = "latest"
	}
	if _, err := name.NewTag("registry.invalid/x:"+tag, name.StrictValidation); err != nil {
		f.Add("target.tag", "is not a tag: up to 128 letters, digits, '_', '.' or '-'")
	}
	if t.RegistryID != "" && !t.RegistryID.Valid() {
		f.Add("target.registryId", "must be a lower-case UUID")
	}
	notHere(f, "to-container", map[string]bool{"target.name": t.Name != "", "target.vdcId": t.VDCID != ""})
	return func(ctx context.Context, tx store.Tx) (tasks.Spec, error) {
		tmpl, err := s.conversionTemplate(ctx, tx, p, ovm.ID(in.Source))
		if err != nil {
			return tasks.Spec{}, err
		}
		if !p.Admin() {
			ns := vdcNamespace(p.VDCID)
			if other, _, ok := strings.Cut(t.Repository, "/"); ok && strings.HasPrefix(other, "vdc-") && other+"/" != ns {
				return tasks.Spec{}, ovm.NotFound("repository", ovm.ID(t.Repository))
			}
			if !strings.HasPrefix(t.Repository, ns) {
				return tasks.Spec{}, invalid("invalid image conversion", "target.repository", "must be under the VDC's namespace "+ns)
			}
		}
		reg, err := s.conversionRegistry(ctx, tx, p, t.RegistryID)
		if err != nil {
			return tasks.Spec{}, err
		}
		vdc := p.VDCID
		if p.Admin() {
			vdc = tmpl.VDCID
		}
		return tasks.Spec{Kind: TaskImageToContainer, VDCID: vdc, TargetID: tmpl.ID, Input: toContainerInput{TemplateID: tmpl.ID,
			RegistryID: reg.ID, Reference: reg.Host + "/" + t.Repository + ":" + tag, Cmd: in.Cmd, Env: in.Env, Arch: in.Arch}}, nil
	}
}

// notHere notes the fields set that the direction does not use.
func notHere(f *ovm.Fields, dir string, set map[string]bool) {
	for _, k := range []string{"target.name", "target.vdcId", "target.registryId", "target.repository", "target.tag", "cmd", "env"} {
		if set[k] {
			f.Add(k, "is not used by "+dir+" conversions")
		}
	}
}

// vdcNamespace is a VDC's namespace in a registry.
func vdcNamespace(vdc ovm.ID) string { return "vdc-" + vdc.Short() + "/" }

// templateFiles are the library's file names of a template.
func templateFiles(name string) (disk, kernel, initrd string) {
	return name + ".qcow2", name + ".vmlinuz", name + ".initrd"
}

// templateNameFree refuses a name the catalog or the library has.
func templateNameFree(ctx context.Context, tx store.Tx, lib string, vdc ovm.ID, name string) error {
	disk, kernel, initrd := templateFiles(name)
	switch _, err := tx.GetByName(ctx, kindImage, vdc, disk); {
	case err == nil:
		return &ovm.Error{Kind: ovm.KindConflict, Message: "name taken",
			Fields: []ovm.FieldError{{Field: "target.name", Reason: "the catalog has a template named " + disk}}}
	case ovm.KindOf(err) != ovm.KindNotFound:
		return err
	}
	for _, n := range []string{disk, kernel, initrd} {
		if _, err := os.Lstat(filepath.Join(lib, n)); !errors.Is(err, fs.ErrNotExist) {
			return &ovm.Error{Kind: ovm.KindConflict, Message: "name taken",
				Fields: []ovm.FieldError{{Field: "target.name", Reason: "the template library has a file named " + n}}}
		}
	}
	return nil
}

// convTemplate is what a conversion reads of a catalog template.
type convTemplate struct {
	ID    ovm.ID
	VDCID ovm.ID
	Name  string
	Path  string // the disk file
}

// convRegistry is a registry conversions pull from and push to.
type convRegistry struct {
	ID     ovm.ID
	Host   string
	Remote []remote.Option
}

// templateLibrary is the directory of the template library.
func (s *Service) templateLibrary() (string, error) {
	if s.o.Convert.Library == "" {
		return "", ovm.Errorf(ovm.KindUnavailable, "the server has no template library")
	}
	return s.o.Convert.Library, nil
}

// conversionTemplate reads a ready template the principal may see: a
// platform-wide one or one of its VDC (another VDC's is not found).
func (s *Service) conversionTemplate(ctx context.Context, tx store.Tx, p auth.Principal, id ovm.ID) (convTemplate, error) {
	r, err := tx.Get(ctx, kindImage, id)
	if err != nil {
		return convTemplate{}, err
	}
	if r.VDCID != "" && !p.CanSeeVDC(r.VDCID) {
		return convTemplate{}, ovm.NotFound("template", id)
	}
	img, err := decode[apitypes.Image](r)
	if err != nil {
		return convTemplate{}, err
	}
	if img.Kind != apitypes.ImageTemplate {
		return convTemplate{}, ovm.NotFound("template", id)
	}
	if img.Phase != apitypes.ImageReady {
		return convTemplate{}, conflictf("template %s is %s, not ready", img.Name, img.Phase)
	}
	lib, err := s.templateLibrary()
	if err != nil {
		return convTemplate{}, err
	}
	return convTemplate{ID: id, VDCID: r.VDCID, Name: img.Name, Path: filepath.Join(lib, img.Name)}, nil
}

// conversionRegistry resolves a registry by id; empty is the default
// registry.
func (s *Service) conversionRegistry(_ context.Context, _ store.Tx, _ auth.Principal, id ovm.ID) (convRegistry, error) {
	if id != "" || s.o.Convert.Registry == "" {
		if id == "" {
			return convRegistry{}, ovm.Errorf(ovm.KindUnavailable, "the server has no default registry")
		}
		return convRegistry{}, ovm.NotFound("registry", id)
	}
	return convRegistry{Host: s.o.Convert.Registry}, nil
}

// registryOfRef resolves the registry an image reference is in: one OVM
// knows, whose credentials pull it.
func (s *Service) registryOfRef(ctx context.Context, tx store.Tx, p auth.Principal, ref name.Reference) (convRegistry, error) {
	host := ref.Context().RegistryStr()
	if s.o.Convert.Registry == "" || host != s.o.Convert.Registry {
		return convRegistry{}, &ovm.Error{Kind: ovm.KindNotFound, Message: "registry " + host + " not found",
			Fields: []ovm.FieldError{{Field: "source", Reason: "is in registry " + host + ", which OVM does not know"}}}
	}
	return s.conversionRegistry(ctx, tx, p, "")
}
