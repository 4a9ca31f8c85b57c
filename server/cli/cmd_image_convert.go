package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// imageConvertCommand is `ovm image convert`.
func imageConvertCommand() *command {
	return &command{name: "convert", summary: "Convert a container image into a VM template or a template into a container image",
		run: (*app).imageConvert}
}

// imageConversion is what `ovm image convert` shows: the task and, once it
// succeeded, what it made.
type imageConversion struct {
	Task   *ovm.Task                  `json:"task"`
	Result *apitypes.ConversionResult `json:"result,omitempty"`
}

func (a *app) imageConvert(path string, args []string) error {
	f := a.flags(path, "--to template --from IMAGE-REF --name NAME [--vdc VDC] | --to container --from TEMPLATE --repository REPO [--tag TAG] [--registry ID] [--cmd JSON] [--env K=V]... ; [--arch ARCH] [--wait=false]",
		"Convert in a task, showing its progress: a container image of a registry OVM knows into a bootable VM template\n"+
			"(--to template), or a template's root filesystem into a container image pushed to a registry (--to container).")
	to := f.String("to", "", "`template` or `container`")
	from := f.String("from", "", "the container image reference (to template) or the template's name or `ID` (to container)")
	nm := f.String("name", "", "the new template's `NAME` (to template)")
	vdcRef := f.String("vdc", "", "make a private template of this `VDC` (to template), or look the template up in it (to container; administrators)")
	repo := f.String("repository", "", "the `REPOSITORY` pushed to (to container)")
	tag := f.String("tag", "", "the `TAG` pushed (to container; default latest)")
	reg := f.String("registry", "", "the registry `ID` pushed to (to container; default: the default registry)")
	cmd := f.String("cmd", "", "the image's default command as a JSON array, such as '[\"/bin/sh\",\"-c\",\"date\"]' (to container)")
	var env []string
	f.Func("env", "`KEY=VALUE` of the image's environment, repeatable (to container)", func(v string) error { env = append(env, v); return nil })
	arch := f.String("arch", "", "the architecture, amd64 or arm64 (default: the server's)")
	wait := f.Bool("wait", true, "follow the task and show its progress")
	if _, err := f.parseN(args); err != nil {
		return err
	}
	in := apitypes.ImageConversion{Source: *from, Env: env, Arch: *arch, IdempotencyKey: newKey(),
		Target: apitypes.ConversionTarget{Name: *nm, Repository: *repo, Tag: *tag, RegistryID: ovm.ID(*reg)}}
	switch *to {
	case "template":
		in.Direction = apitypes.ConvertToTemplate
	case "container":
		in.Direction = apitypes.ConvertToContainer
	default:
		return f.fail("--to: %q: want template or container", *to)
	}
	if *cmd != "" {
		if err := json.Unmarshal([]byte(*cmd), &in.Cmd); err != nil {
			return f.fail("--cmd: not a JSON array of strings: %v", err)
		}
	}
	cl, vdc, err := a.clientIn(*vdcRef)
	if err != nil {
		return err
	}
	if in.Direction == apitypes.ConvertToTemplate {
		in.Target.VDCID = vdc
	} else if in.Source != "" && !ovm.ID(in.Source).Valid() {
		id, err := a.resolve("image", in.Source, vdc)
		if err != nil {
			return err
		}
		in.Source = string(id)
	}
	ct, err := cl.ConvertImage(a.ctx, in)
	if err != nil {
		return err
	}
	if err := a.waitTask(&ct.Task, *wait, "converted", func() {}); err != nil {
		return err
	}
	out := imageConversion{Task: ct.Task}
	if ct.Task != nil && len(ct.Task.Result) > 0 {
		var r apitypes.ConversionResult
		if json.Unmarshal(ct.Task.Result, &r) == nil {
			out.Result = &r
		}
	}
	return a.show(out, func(w io.Writer) {
		switch r := out.Result; {
		case r != nil && r.TemplateID != "":
			fmt.Fprintf(w, "Template %s (%s) made, %s.\n", r.Template, r.TemplateID, r.Size)
		case r != nil && r.Reference != "":
			fmt.Fprintf(w, "Pushed %s (%s).\n", r.Reference, r.Size)
		case ct.Task != nil:
			fmt.Fprintln(w, "Conversion under way.")
		}
		followTask(w, ct.Task, *wait)
	})
}
