package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

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
}

// ImageConversion asks for a conversion; ConversionTask is its task.
type (
	ImageConversion = apitypes.ImageConversion
	ConversionTask  = apitypes.ConversionTask
)

// toTemplateInput is the input of an image.to-template task.
type toTemplateInput struct {
	Source     string `json:"source"`
	RegistryID ovm.ID `json:"registryId"`
	Arch       string `json:"arch,omitempty"`
	TemplateID ovm.ID `json:"templateId"`
	Name       string `json:"name"` // the template's name in the catalog
	File       string `json:"file"` // its disk's file in the library
	VDCID      ovm.ID `json:"vdcId,omitempty"`
}

// toContainerInput is the input of an image.to-container task.
type toContainerInput struct {
	TemplateID ovm.ID   `json:"templateId"`
	RegistryID ovm.ID   `json:"registryId"`
	Repository string   `json:"repository"`
	Tag        string   `json:"tag"`
	VDCID      ovm.ID   `json:"vdcId,omitempty"` // whose quota the pushed image counts against
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
	tname := t.Name
	if tname == "" {
		f.Add("target.name", "is required: the new template's name")
	} else {
		if !strings.HasSuffix(tname, ".qcow2") {
			tname += ".qcow2"
		}
		checkTemplateName(f, "target.name", tname, ovm.FormatQCOW2)
		if t.VDCID == "" && p.Admin() && strings.HasPrefix(tname, privatePrefix) {
			f.Add("target.name", "must not start with "+privatePrefix+" (the library's names of private images)")
		}
	}
	notHere(f, "to-template", map[string]bool{"target.registryId": t.RegistryID != "", "target.repository": t.Repository != "",
		"target.tag": t.Tag != "", "cmd": len(in.Cmd) > 0, "env": len(in.Env) > 0})
	if t.VDCID != "" && !t.VDCID.Valid() {
		f.Add("target.vdcId", "must be a lower-case UUID")
	}
	return func(ctx context.Context, tx store.Tx) (tasks.Spec, error) {
		vdc, err := resolveVDC(p, t.VDCID, false)
		if err != nil {
			return tasks.Spec{}, err
		}
		if err := s.convertLibrary(); err != nil {
			return tasks.Spec{}, err
		}
		if err := s.checkBoot(); err != nil {
			return tasks.Spec{}, err
		}
		if vdc != "" {
			if _, err := s.tenantVDC(ctx, tx, p, vdc); err != nil {
				return tasks.Spec{}, targetField(err)
			}
		}
		reg, err := registryOfRef(ctx, tx, ref)
		if err != nil {
			return tasks.Spec{}, err
		}
		if err := nameFree(ctx, tx, kindImage, vdc, tname, "target.name"); err != nil {
			return tasks.Spec{}, err
		}
		file := templateFile(vdc, tname)
		switch _, err := s.o.Library.Get(ctx, ovm.ImageRef{Format: ovm.FormatQCOW2, Name: file}); {
		case err == nil || ovm.KindOf(err) == ovm.KindConflict: // a template, or a file that is none
			return tasks.Spec{}, &ovm.Error{Kind: ovm.KindConflict, Message: "name taken",
				Fields: []ovm.FieldError{{Field: "target.name", Reason: "the template library has a file named " + file}}}
		case ovm.KindOf(err) != ovm.KindNotFound:
			return tasks.Spec{}, err
		}
		id := ovm.NewID()
		return tasks.Spec{Kind: TaskImageToTemplate, VDCID: vdc, TargetID: id, Input: toTemplateInput{Source: in.Source,
			RegistryID: reg.ID, Arch: in.Arch, TemplateID: id, Name: tname, File: file, VDCID: vdc}}, nil
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
	}
	tag := t.Tag
	if tag == "" {
		tag = "latest"
	}
	if t.RegistryID != "" && !t.RegistryID.Valid() {
		f.Add("target.registryId", "must be a lower-case UUID")
	}
	notHere(f, "to-container", map[string]bool{"target.name": t.Name != "", "target.vdcId": t.VDCID != ""})
	checkEnv(f, in.Env)
	return func(ctx context.Context, tx store.Tx) (tasks.Spec, error) {
		if err := s.convertLibrary(); err != nil {
			return tasks.Spec{}, err
		}
		tmpl, err := conversionTemplate(ctx, tx, p, ovm.ID(in.Source))
		if err != nil {
			return tasks.Spec{}, err
		}
		repo, vdc, err := writableRepository(p, t.Repository)
		if err != nil {
			return tasks.Spec{}, targetField(err)
		}
		reg, err := registryIn(ctx, tx, t.RegistryID)
		if err != nil {
			return tasks.Spec{}, err
		}
		c, err := s.registryConn(reg)
		if err != nil {
			return tasks.Spec{}, err
		}
		if err := c.tag(repo, tag); err != nil {
			return tasks.Spec{}, targetField(err)
		}
		taskVDC := vdc
		if p.Admin() {
			taskVDC = tmpl.VDCID
		}
		return tasks.Spec{Kind: TaskImageToContainer, VDCID: taskVDC, TargetID: tmpl.ID, Input: toContainerInput{TemplateID: tmpl.ID,
			RegistryID: reg.ID, Repository: repo, Tag: tag, VDCID: vdc, Cmd: in.Cmd, Env: in.Env, Arch: in.Arch}}, nil
	}
}

// targetField names an invalid field of the registry's checks as the
// conversion's target.
func targetField(err error) error {
	var e *ovm.Error
	if !errors.As(err, &e) || e.Kind != ovm.KindInvalid {
		return err
	}
	out := *e
	out.Fields = slices.Clone(e.Fields)
	for i := range out.Fields {
		out.Fields[i].Field = "target." + out.Fields[i].Field
	}
	return &out
}

// checkBoot refuses a conversion to a template when the server lacks a
// boot file it needs, naming the setting.
func (s *Service) checkBoot() error {
	b := s.o.Convert.Boot
	if b.Kernel == "" {
		return conflictf("the server has no kernel for converted disks: set --convert-kernel (OVM_CONVERT_KERNEL) to a guest kernel image")
	}
	busybox := b.Busybox
	if busybox == "" {
		busybox = "/bin/busybox"
	}
	files := [][2]string{{"--convert-kernel", b.Kernel}, {"--convert-busybox", busybox}}
	for _, m := range b.Modules {
		files = append(files, [2]string{"--convert-modules", m})
	}
	for _, f := range files {
		if _, err := os.Stat(f[1]); err != nil {
			return conflictf("the server cannot read a boot file of converted disks (%s %s): %v", f[0], f[1], err)
		}
	}
	return nil
}

// checkEnv notes the environment entries that are not KEY=value.
func checkEnv(f *ovm.Fields, env []string) {
	for i, e := range env {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			f.Add(fmt.Sprintf("env[%d]", i), "must be KEY=value")
		}
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

// convertLibrary refuses conversions on a server without a template
// library.
func (s *Service) convertLibrary() error {
	if err := s.needLibrary(); err != nil {
		return err
	}
	if s.o.LibraryDir == "" {
		return ovm.Errorf(ovm.KindUnsupported, "this server has no template library directory for conversions")
	}
	return nil
}

// bootFiles are the library's files of a converted template's kernel and
// initramfs, hidden beside its disk file (the library lists neither).
func bootFiles(file string) (kernel, initrd string) {
	base := "." + strings.TrimSuffix(file, ".qcow2")
	return base + ".vmlinuz", base + ".initrd"
}

// convTemplate is what a conversion reads of a catalog template.
type convTemplate struct {
	ID    ovm.ID
	VDCID ovm.ID
	Name  string
	File  string // the disk's file in the library
}

// conversionTemplate reads a ready template the principal may see: a
// platform-wide one or one of its VDC (another VDC's is not found).
func conversionTemplate(ctx context.Context, tx store.Tx, p auth.Principal, id ovm.ID) (convTemplate, error) {
	img, _, err := imageVisible(ctx, tx, p, id)
	if err != nil {
		return convTemplate{}, err
	}
	if img.Kind != apitypes.ImageTemplate {
		return convTemplate{}, ovm.NotFound("template", id)
	}
	if img.Phase != apitypes.ImageReady {
		return convTemplate{}, conflictf("template %s is %s, not ready", img.Name, img.Phase)
	}
	return convTemplate{ID: id, VDCID: img.VDCID, Name: img.Name, File: img.File}, nil
}

// registryIn reads a registry: id, or the default registry when id is
// empty.
func registryIn(ctx context.Context, tx store.Tx, id ovm.ID) (registryRecord, error) {
	if id != "" {
		r, _, err := getAs[registryRecord](ctx, tx, kindRegistry, id)
		return r, err
	}
	rs, err := registries(ctx, tx)
	if err != nil {
		return registryRecord{}, err
	}
	for _, v := range rs {
		if v.Default {
			return v, nil
		}
	}
	return registryRecord{}, ovm.Errorf(ovm.KindNotFound, "no default registry: an administrator registers one first")
}

// registries reads every registry record.
func registries(ctx context.Context, tx store.Tx) ([]registryRecord, error) {
	rs, err := listAll(ctx, tx, store.Filter{Kind: kindRegistry})
	if err != nil {
		return nil, err
	}
	out := make([]registryRecord, 0, len(rs))
	for _, r := range rs {
		v, err := decode[registryRecord](r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// registryOfRef reads the registry an image reference is in: one OVM
// knows, whose credentials pull it.
func registryOfRef(ctx context.Context, tx store.Tx, ref name.Reference) (registryRecord, error) {
	host := ref.Context().RegistryStr()
	rs, err := registries(ctx, tx)
	if err != nil {
		return registryRecord{}, err
	}
	for _, v := range rs {
		if reg, err := name.NewRegistry(v.Address); err == nil && reg.RegistryStr() == host {
			return v, nil
		}
	}
	return registryRecord{}, &ovm.Error{Kind: ovm.KindNotFound, Message: "registry " + host + " not found",
		Fields: []ovm.FieldError{{Field: "source", Reason: "is in registry " + host + ", which OVM does not know"}}}
}
