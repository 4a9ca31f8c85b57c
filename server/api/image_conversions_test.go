package api

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image/convert"
	"github.com/openovm/ovm/image/library"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// convertEnv is an API whose conversions have a template library and a
// default registry.
type convertEnv struct {
	*env
	lib, scratch, registry string
}

// fakeKernel is a kernel file that is not one: these tests never boot.
func fakeKernel(t *testing.T) convert.Boot {
	t.Helper()
	k := filepath.Join(t.TempDir(), "vmlinuz")
	require.NoError(t, os.WriteFile(k, []byte("not a kernel"), 0o644))
	return convert.Boot{Kernel: k}
}

// newConvertEnv is a convertEnv with the boot files boot and a registry
// record of an address nothing answers on.
func newConvertEnv(t *testing.T, boot convert.Boot) convertEnv {
	t.Helper()
	e := newConvertEnvWith(t, t.TempDir(), boot)
	e.registry = "registry.test:5000"
	id := ovm.NewID()
	rec, err := store.NewRecord("registry", id, "", "test", apitypes.Registry{ID: id, Name: "test", Address: e.registry, Default: true})
	require.NoError(t, err)
	require.NoError(t, e.st.Tx(context.Background(), func(ctx context.Context, tx store.Tx) error { return tx.Insert(ctx, &rec) }))
	return e
}

// newConvertEnvWith is an API whose conversions boot with boot and keep
// their templates in a library in lib.
func newConvertEnvWith(t *testing.T, lib string, boot convert.Boot) convertEnv {
	t.Helper()
	l, err := library.New(lib, library.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	scratch := t.TempDir()
	e := newEnv(t, openSQLite(t), func(o *core.Options) {
		o.Library, o.LibraryDir = l, lib
		o.Convert = core.ConvertOptions{Boot: boot, Scratch: scratch}
	})
	return convertEnv{env: e, lib: lib, scratch: scratch}
}

// seedTemplate records a catalog template of vdc (empty: platform-wide)
// in the given phase, its file an empty one in the library.
func (e convertEnv) seedTemplate(vdc ovm.ID, name string, phase apitypes.ImagePhase) ovm.ID {
	e.t.Helper()
	require.NoError(e.t, os.WriteFile(filepath.Join(e.lib, name), nil, 0o644))
	return e.recordTemplate(vdc, name, phase)
}

// recordTemplate records a catalog template of a file of the library.
func (e convertEnv) recordTemplate(vdc ovm.ID, name string, phase apitypes.ImagePhase) ovm.ID {
	e.t.Helper()
	id := ovm.NewID()
	img := struct {
		apitypes.Image
		File string `json:"file"`
	}{apitypes.Image{ID: id, Name: name, Kind: apitypes.ImageTemplate, Format: ovm.FormatQCOW2, VDCID: vdc, Phase: phase,
		HostKinds: []ovm.HostKind{ovm.HostKVM}}, name}
	rec, err := store.NewRecord("image", id, vdc, name, img)
	require.NoError(e.t, err)
	require.NoError(e.t, e.st.Tx(context.Background(), func(ctx context.Context, tx store.Tx) error { return tx.Insert(ctx, &rec) }))
	return id
}

// TestImageConversionValidation: bad requests are 422 problems naming
// the field, before anything is recorded.
func TestImageConversionValidation(t *testing.T) {
	e := newConvertEnv(t, fakeKernel(t))
	tmpl := string(e.seedTemplate("", "base.qcow2", apitypes.ImageReady))
	ref := e.registry + "/app:1"
	cases := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no direction", map[string]any{"source": ref, "target": map[string]any{"name": "a"}}, "direction"},
		{"bad direction", map[string]any{"direction": "sideways", "source": ref, "target": map[string]any{"name": "a"}}, "direction"},
		{"to-template without source", map[string]any{"direction": "to-template", "source": "", "target": map[string]any{"name": "a"}}, "source"},
		{"to-template bad reference", map[string]any{"direction": "to-template", "source": "Not A Reference::", "target": map[string]any{"name": "a"}}, "source"},
		{"to-template without name", map[string]any{"direction": "to-template", "source": ref, "target": map[string]any{}}, "target.name"},
		{"to-template bad name", map[string]any{"direction": "to-template", "source": ref, "target": map[string]any{"name": "../etc"}}, "target.name"},
		{"to-template with a repository", map[string]any{"direction": "to-template", "source": ref, "target": map[string]any{"name": "a", "repository": "x"}}, "target.repository"},
		{"bad arch", map[string]any{"direction": "to-template", "source": ref, "target": map[string]any{"name": "a"}, "arch": "sparc"}, "arch"},
		{"to-container source not an id", map[string]any{"direction": "to-container", "source": "base.qcow2", "target": map[string]any{"repository": "app"}}, "source"},
		{"to-container without repository", map[string]any{"direction": "to-container", "source": tmpl, "target": map[string]any{}}, "target.repository"},
		{"to-container bad repository", map[string]any{"direction": "to-container", "source": tmpl, "target": map[string]any{"repository": "Upper/Case"}}, "target.repository"},
		{"to-container bad tag", map[string]any{"direction": "to-container", "source": tmpl, "target": map[string]any{"repository": "app", "tag": "bad tag"}}, "target.tag"},
		{"to-container with a name", map[string]any{"direction": "to-container", "source": tmpl, "target": map[string]any{"repository": "app", "name": "x"}}, "target.name"},
		{"to-container bad env", map[string]any{"direction": "to-container", "source": tmpl, "target": map[string]any{"repository": "app"}, "env": []string{"A=1", "=x"}}, "env[1]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", "/v1/image-conversions", e.admin, c.body)
			require.Equal(t, http.StatusUnprocessableEntity, r.status, "got %s", r)
			p := problemOf(t, r)
			assert.True(t, hasLocation(p.Errors, c.field), "problem %s names %s", r, c.field)
		})
	}
	var pg core.Page[ovm.Task]
	e.must(http.StatusOK, "GET", "/v1/tasks?limit=1000", e.admin, nil).decode(t, &pg)
	for _, tk := range pg.Items {
		assert.NotContains(t, tk.Kind, "image.", "no conversion task for a bad request")
	}
}

func hasLocation(errs []*huma.ErrorDetail, field string) bool {
	for _, d := range errs {
		if d.Location == field || strings.HasSuffix(d.Location, "."+field) || strings.Contains(d.Message, "property "+field+" ") {
			return true
		}
	}
	return false
}

// TestImageConversionWithoutBootFiles: a conversion to a template on a
// server without --convert-kernel, or whose boot files it cannot read, is
// a 409 naming the setting.
func TestImageConversionWithoutBootFiles(t *testing.T) {
	kernel := fakeKernel(t).Kernel
	missing := filepath.Join(t.TempDir(), "missing")
	cases := []struct {
		name string
		boot convert.Boot
		want string
	}{
		{"no kernel", convert.Boot{}, "--convert-kernel"},
		{"unreadable kernel", convert.Boot{Kernel: missing}, "--convert-kernel"},
		{"no busybox", convert.Boot{Kernel: kernel, Busybox: missing}, "--convert-busybox"},
		{"no module", convert.Boot{Kernel: kernel, Modules: []string{missing}}, "--convert-modules"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newConvertEnv(t, c.boot)
			r := e.must(http.StatusConflict, "POST", "/v1/image-conversions", e.admin, map[string]any{"direction": "to-template",
				"source": e.registry + "/app:1", "target": map[string]any{"name": "app"}})
			assert.Contains(t, problemOf(t, r).Detail, c.want, "the problem names the setting")
		})
	}
}

// TestImageConversionNotFound: unknown registries and templates, and
// another VDC's templates, VDC and namespace, are 404s; an administrator
// naming an unknown VDC is a 422 naming target.vdcId.
func TestImageConversionNotFound(t *testing.T) {
	e := newConvertEnv(t, fakeKernel(t))
	pl := e.setupPlatform(1)
	a := e.newTenant("a", pl.pool, quota)
	b := e.newTenant("b", pl.pool, quota)
	bTmpl := string(e.seedTemplate(b.vdc, "b-private.qcow2", apitypes.ImageReady))
	aNS := "vdc-" + a.vdc.Short() + "/"
	bNS := "vdc-" + b.vdc.Short() + "/"
	toTemplate := func(source string, target map[string]any) map[string]any {
		return map[string]any{"direction": "to-template", "source": source, "target": target}
	}
	toContainer := func(source string, target map[string]any) map[string]any {
		return map[string]any{"direction": "to-container", "source": source, "target": target}
	}
	cases := []struct {
		name   string
		token  string
		body   map[string]any
		status int
	}{
		{"unknown registry", a.token, toTemplate("elsewhere.test/app:1", map[string]any{"name": "x"}), 404},
		{"another VDC as target", a.token, toTemplate(e.registry+"/app:1", map[string]any{"name": "x", "vdcId": b.vdc}), 404},
		{"unknown VDC (admin)", e.admin, toTemplate(e.registry+"/app:1", map[string]any{"name": "x", "vdcId": ovm.NewID()}), 422},
		{"unknown template", a.token, toContainer(string(ovm.NewID()), map[string]any{"repository": aNS + "app"}), 404},
		{"another VDC's template", a.token, toContainer(bTmpl, map[string]any{"repository": aNS + "app"}), 404},
		{"unknown registry id", e.admin, toContainer(bTmpl, map[string]any{"repository": "app", "registryId": ovm.NewID()}), 404},
		{"another VDC's namespace", a.token, toContainer(string(e.seedTemplate("", "pub.qcow2", apitypes.ImageReady)), map[string]any{"repository": bNS + "app"}), 404},
		{"template not ready", e.admin, toContainer(string(e.seedTemplate("", "up.qcow2", apitypes.ImageUploading)), map[string]any{"repository": "app"}), 409},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.do("POST", "/v1/image-conversions", c.token, c.body)
			require.Equal(t, c.status, r.status, "got %s", r)
			p := problemOf(t, r)
			assert.NotContains(t, p.Detail, "b-private", "nothing of the other VDC is named")
		})
	}
}

// TestImageConversionNameTaken: a template name the VDC's catalog or the
// library's files have is a 409 naming target.name.
func TestImageConversionNameTaken(t *testing.T) {
	e := newConvertEnv(t, fakeKernel(t))
	pl := e.setupPlatform(1)
	a := e.newTenant("a", pl.pool, quota)
	e.seedTemplate(a.vdc, "mine.qcow2", apitypes.ImageReady)
	require.NoError(t, os.WriteFile(filepath.Join(e.lib, "vdc-"+string(a.vdc)+"-kept.qcow2"), nil, 0o644)) // a private template's file
	for _, name := range []string{"mine", "kept"} {
		r := e.must(http.StatusConflict, "POST", "/v1/image-conversions", a.token, map[string]any{"direction": "to-template",
			"source": e.registry + "/app:1", "target": map[string]any{"name": name}})
		assert.True(t, hasLocation(problemOf(t, r).Errors, "target.name"), "problem %s names target.name", r)
	}
}

// TestImageConversionTask: an accepted conversion answers 202 with its
// task in the tenant's VDC, which the tenant follows; a template whose
// file is no disk fails the task with the reason, and nothing is left.
func TestImageConversionTask(t *testing.T) {
	e := newConvertEnv(t, fakeKernel(t))
	pl := e.setupPlatform(1)
	a := e.newTenant("a", pl.pool, quota)
	tmpl := e.seedTemplate("", "pub.qcow2", apitypes.ImageReady)
	var ct apitypes.ConversionTask
	e.must(http.StatusAccepted, "POST", "/v1/image-conversions", a.token, map[string]any{"direction": "to-container",
		"source": tmpl, "target": map[string]any{"repository": "vdc-" + a.vdc.Short() + "/app", "tag": "1"}}).decode(t, &ct)
	require.NotNil(t, ct.Task)
	assert.Equal(t, core.TaskImageToContainer, ct.Task.Kind)
	assert.Equal(t, a.vdc, ct.Task.VDCID, "the task is the tenant's")
	done := e.waitTask(a.token, ct.Task.ID)
	assert.NotEqual(t, ovm.TaskSucceeded, done.State, "an empty file converts to nothing: %+v", done)
	assert.Contains(t, done.Error, "filesystem", "the failure says why")
	assert.Empty(t, done.Result, "no result for a failed conversion")
	entries, err := os.ReadDir(e.scratch)
	require.NoError(t, err)
	assert.Empty(t, entries, "scratch space left behind")
}
