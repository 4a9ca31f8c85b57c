//go:build integration

package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image/convert"
	"github.com/openovm/ovm/image/convert/converttest"
	"github.com/openovm/ovm/image/library"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/secrets"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// newRealConvertEnv is an API converting with the test guest's kernel,
// the real registry as its default registry, scratch space in a temporary
// directory and a template library the real libvirtd reads.
func newRealConvertEnv(t *testing.T, marker string) convertEnv {
	t.Helper()
	lib := filepath.Join(converttest.Getenv(t, "OVM_TEST_LIBVIRT_SHARED"), "convert-api-"+marker)
	require.NoError(t, os.Mkdir(lib, 0o777))
	require.NoError(t, os.Chmod(lib, 0o777))
	t.Cleanup(func() { _ = os.RemoveAll(lib) })
	e := newConvertEnvWith(t, lib, converttest.Boot(t))
	e.registry = converttest.Getenv(t, "OVM_TEST_REGISTRY")
	e.must(http.StatusCreated, "POST", "/v1/registries", e.admin, map[string]any{"name": "test", "address": e.registry, "default": true})
	return e
}

// convert posts a conversion and waits for its task (conversions take
// longer than waitTask's bound).
func (e convertEnv) convert(token string, body map[string]any) ovm.Task {
	e.t.Helper()
	var ct apitypes.ConversionTask
	e.must(http.StatusAccepted, "POST", "/v1/image-conversions", token, body).decode(e.t, &ct)
	deadline := time.Now().Add(4 * time.Minute)
	for {
		var tk ovm.Task
		e.must(http.StatusOK, "GET", "/v1/tasks/"+string(ct.Task.ID), token, nil).decode(e.t, &tk)
		if tk.State.Final() {
			return tk
		}
		require.True(e.t, time.Now().Before(deadline), "conversion %s still %s (%d%%)", tk.ID, tk.State, tk.Progress)
		time.Sleep(200 * time.Millisecond)
	}
}

// storedTemplate is a catalog template record: the image and its file in
// the library.
type storedTemplate struct {
	apitypes.Image
	File string `json:"file"`
}

// template reads a catalog template record (ok false when there is none).
func (e convertEnv) template(id ovm.ID) (img storedTemplate, ok bool) {
	e.t.Helper()
	err := e.st.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		r, err := tx.Get(ctx, "image", id)
		if err != nil {
			return err
		}
		return r.Decode(&img)
	})
	if ovm.KindOf(err) == ovm.KindNotFound {
		return img, false
	}
	require.NoError(e.t, err)
	return img, true
}

func conversionResult(t *testing.T, tk ovm.Task) apitypes.ConversionResult {
	t.Helper()
	var r apitypes.ConversionResult
	require.NoError(t, json.Unmarshal(tk.Result, &r), "task result %s", tk.Result)
	return r
}

// TestConvertToTemplateBootsOnLibvirt converts an image of the real
// registry into a tenant's template through the API, then boots the
// template's disk with its recorded kernel and initramfs on the real
// libvirtd and reads the entrypoint's output on the console.
func TestConvertToTemplateBootsOnLibvirt(t *testing.T) {
	marker := ovm.NewID().Short()
	e := newRealConvertEnv(t, marker)
	pl := e.setupPlatform(1)
	tn := e.newTenant("conv", pl.pool, quota)
	ref := converttest.PushImage(t, "ovm-convert-api", marker)

	start := time.Now()
	tk := e.convert(tn.token, map[string]any{"direction": "to-template", "source": ref, "target": map[string]any{"name": "app-" + marker}})
	require.Equal(t, ovm.TaskSucceeded, tk.State, "conversion task: %s %+v", tk.Error, tk.Log)
	t.Logf("to-template through the API: %s", time.Since(start).Round(time.Millisecond))
	assert.Equal(t, core.TaskImageToTemplate, tk.Kind)
	assert.Equal(t, 100, tk.Progress)
	var logged []string
	for _, l := range tk.Log {
		logged = append(logged, l.Message)
	}
	for _, step := range []string{"pull", "flatten", "mke2fs", "qemu-img", "boot"} {
		assert.True(t, slices.ContainsFunc(logged, func(m string) bool { return strings.HasSuffix(m, ": "+step) }), "the log shows step %s: %q", step, logged)
	}

	res := conversionResult(t, tk)
	img, ok := e.template(res.TemplateID)
	require.True(t, ok, "template record %s", res.TemplateID)
	assert.Equal(t, apitypes.ImageReady, img.Phase)
	assert.Equal(t, ovm.FormatQCOW2, img.Format)
	assert.Equal(t, tn.vdc, img.VDCID, "a tenant's template is its VDC's")
	assert.Equal(t, "app-"+marker+".qcow2", img.Name)
	require.NotNil(t, img.Boot, "boot files recorded")
	assert.Equal(t, img.Size, e.diskUsage(tn), "the VDC's disk quota counts the template's disk")
	var got apitypes.Image
	e.must(http.StatusOK, "GET", "/v1/images/"+string(res.TemplateID), tn.token, nil).decode(t, &got)
	assert.Equal(t, apitypes.ImageReady, got.Phase, "the catalog shows the template ready")
	fi, err := os.Stat(filepath.Join(e.lib, img.File))
	require.NoError(t, err)
	assert.Equal(t, fi.Size(), int64(img.Size))

	out := converttest.BootConsole(t, "ovm-convert-api-"+marker, convert.VMDisk{Disk: filepath.Join(e.lib, img.File),
		Kernel: filepath.Join(e.lib, img.Boot.Kernel), Initrd: filepath.Join(e.lib, img.Boot.Initrd), Cmdline: img.Boot.Cmdline}, e.lib)
	m := converttest.Entrypoint.FindStringSubmatch(out)
	require.NotNil(t, m, "console: no entrypoint output; got %q", converttest.TailOf(out))
	assert.Equal(t, []string{marker, "whiteout-applied", "/etc"}, m[1:], "entrypoint output: marker, whiteout, working directory")
	assert.Contains(t, out, "OVM-ENTRYPOINT-EXIT 0")

	e.must(http.StatusNoContent, "DELETE", "/v1/images/"+string(res.TemplateID), tn.token, nil)
	for _, f := range []string{img.File, img.Boot.Kernel, img.Boot.Initrd} {
		assert.NoFileExists(t, filepath.Join(e.lib, f), "deleting the template removes its files")
	}
	assert.Zero(t, e.diskUsage(tn), "deleting the template releases its quota")
}

// TestConvertToTemplateRollsBack: a conversion whose disk does not fit the
// VDC's disk quota, and one of an image for another architecture, fail
// their task with the reason and leave nothing: no record, no library
// file, no scratch, no quota held.
func TestConvertToTemplateRollsBack(t *testing.T) {
	marker := ovm.NewID().Short()
	e := newRealConvertEnv(t, marker)
	pl := e.setupPlatform(1)
	small := quota
	small.Disk = ovm.MiB
	tn := e.newTenant("small", pl.pool, small)
	ref := converttest.PushImage(t, "ovm-convert-api", marker)
	cases := []struct {
		name, arch, want string
	}{
		{"over quota", "", "quota"},
		{"another architecture", "arm64", "not linux/arm64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := map[string]any{"direction": "to-template", "source": ref, "target": map[string]any{"name": "big-" + marker}}
			if c.arch != "" {
				body["arch"] = c.arch
			}
			tk := e.convert(tn.token, body)
			require.Equal(t, ovm.TaskRolledBack, tk.State, "task %+v", tk)
			assert.Contains(t, strings.ToLower(tk.Error), c.want, "the failure says why")
			assert.Empty(t, tk.Result)
			_, ok := e.template(tk.TargetID)
			assert.False(t, ok, "no template record left")
			entries, err := os.ReadDir(e.lib)
			require.NoError(t, err)
			assert.Empty(t, entries, "no library file left")
			scratch, err := os.ReadDir(e.scratch)
			require.NoError(t, err)
			assert.Empty(t, scratch, "no scratch left")
			assert.Zero(t, e.diskUsage(tn), "no quota held")
		})
	}
}

// TestConvertToContainerRunsOnDocker converts a template (a disk written
// as a VM would) into an image pushed to the real registry under the
// tenant's namespace, then runs it on the real dockerd and reads the
// files the VM had; the registry lists the new tag. A template whose disk
// has no filesystem fails with the reason.
func TestConvertToContainerRunsOnDocker(t *testing.T) {
	marker := ovm.NewID().Short()
	e := newRealConvertEnv(t, marker)
	pl := e.setupPlatform(1)
	tn := e.newTenant("conv", pl.pool, quota)
	disk := converttest.Disk(t, t.TempDir(), marker)
	converttest.Sh(t, "cp", disk, filepath.Join(e.lib, "vm-"+marker+".qcow2"))
	tmpl := e.recordTemplate("", "vm-"+marker+".qcow2", apitypes.ImageReady)

	repo := "vdc-" + tn.vdc.Short() + "/conv-" + marker
	start := time.Now()
	tk := e.convert(tn.token, map[string]any{"direction": "to-container", "source": tmpl,
		"target": map[string]any{"repository": "conv-" + marker, "tag": "v1"}, // a tenant's goes under its namespace
		"cmd":    []string{"/bin/sh", "-c", "cat /etc/ovm-marker; stat -c '%u:%g %a' /etc/owned"}})
	require.Equal(t, ovm.TaskSucceeded, tk.State, "conversion task: %s %+v", tk.Error, tk.Log)
	t.Logf("to-container through the API: %s", time.Since(start).Round(time.Millisecond))
	res := conversionResult(t, tk)
	reg := converttest.Getenv(t, "OVM_TEST_REGISTRY")
	t.Cleanup(func() { converttest.DeleteImage(res.Reference) })
	assert.True(t, strings.HasPrefix(res.Reference, reg+"/"+repo+"@sha256:"), "pushed reference %q", res.Reference)
	assert.True(t, strings.HasSuffix(res.Reference, res.Digest), "reference %q has digest %q", res.Reference, res.Digest)
	assert.Equal(t, res.Size, e.diskUsage(tn), "the pushed image counts against the VDC's disk quota")

	r, err := name.NewRepository(reg + "/" + repo)
	require.NoError(t, err)
	tags, err := remote.List(r, remote.WithContext(t.Context()))
	require.NoError(t, err)
	assert.Contains(t, tags, "v1", "the registry lists the pushed tag")

	got := strings.Split(strings.TrimSpace(converttest.RunImage(t, reg+"/"+repo+":v1")), "\n")
	require.Len(t, got, 2, "container output %q", got)
	assert.Equal(t, marker, got[0], "the VM's file, read in the container")
	assert.Equal(t, "1000:1000 640", got[1], "owner and mode kept")

	blank := "blank-" + marker + ".qcow2"
	converttest.Sh(t, "qemu-img", "create", "-q", "-f", "qcow2", filepath.Join(e.lib, blank), "16M")
	bad := e.convert(e.admin, map[string]any{"direction": "to-container", "source": e.recordTemplate("", blank, apitypes.ImageReady),
		"target": map[string]any{"repository": "conv-" + marker + "-blank"}})
	require.Equal(t, ovm.TaskRolledBack, bad.State, "task %+v", bad)
	assert.Contains(t, bad.Error, "filesystem", "the failure says why")
	assert.Equal(t, res.Size, e.diskUsage(tn), "nothing more held")
}

// TestConvertResumesAfterCrash stops the server's task engine in the middle
// of a conversion (as a crash does: nothing more is written, the lease
// expires) and starts another: it resumes the conversion, which starts its
// step again from a clean scratch directory and ends with one template,
// its files in the library and no scratch left.
func TestConvertResumesAfterCrash(t *testing.T) {
	marker := ovm.NewID().Short()
	lib := filepath.Join(converttest.Getenv(t, "OVM_TEST_LIBVIRT_SHARED"), "convert-crash-"+marker)
	require.NoError(t, os.Mkdir(lib, 0o777))
	t.Cleanup(func() { _ = os.RemoveAll(lib) })
	l, err := library.New(lib, library.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	st, scratch := openSQLite(t), t.TempDir()
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	box, err := secrets.New(key)
	require.NoError(t, err)
	server := func() (*tasks.Engine, *core.Service) {
		eng := tasks.New(st, tasks.Options{PollInterval: 20 * time.Millisecond, LeaseTTL: time.Second, Workers: 2})
		svc, err := core.New(core.Options{Store: st, Tasks: eng, Drivers: drivers.NewRegistry(), Secrets: box, Argon2: cheap,
			Library: l, LibraryDir: lib, Convert: core.ConvertOptions{Boot: converttest.Boot(t), Scratch: scratch}})
		require.NoError(t, err)
		return eng, svc
	}
	admin := auth.Principal{Role: auth.RoleAdmin}
	ctx := t.Context()

	eng1, svc := server()
	ctx1, crash := context.WithCancel(ctx)
	done1 := make(chan struct{})
	go func() { _ = eng1.Run(ctx1); close(done1) }()
	_, err = svc.RegisterRegistry(ctx, admin, apitypes.RegistryCreate{Name: "test", Address: converttest.Getenv(t, "OVM_TEST_REGISTRY"), Default: true})
	require.NoError(t, err)
	ref := converttest.PushImage(t, "ovm-convert-api", marker)
	ct, err := svc.ConvertImage(ctx, admin, apitypes.ImageConversion{Direction: apitypes.ConvertToTemplate, Source: ref,
		Target: apitypes.ConversionTarget{Name: "crash-" + marker}})
	require.NoError(t, err)
	id := ct.Task.ID
	require.Eventually(t, func() bool {
		tk, err := svc.GetTask(ctx, admin, id)
		return err == nil && len(tk.Steps) > 0 && tk.Steps[0].State == ovm.StepRunning
	}, time.Minute, 5*time.Millisecond, "the convert step starts")
	crash()
	<-done1

	eng2, svc2 := server()
	ctx2, stop := context.WithCancel(ctx)
	done2 := make(chan struct{})
	go func() { _ = eng2.Run(ctx2); close(done2) }()
	t.Cleanup(func() { stop(); <-done2 })
	var tk ovm.Task
	require.Eventually(t, func() bool {
		tk, err = svc2.GetTask(ctx, admin, id)
		return err == nil && tk.State.Final()
	}, 3*time.Minute, 50*time.Millisecond, "the conversion resumes and ends")
	require.Equal(t, ovm.TaskSucceeded, tk.State, "resumed conversion: %s %+v", tk.Error, tk.Log)
	res := conversionResult(t, tk)
	page, err := svc2.ListImages(ctx, admin, core.ImageFilter{Kind: apitypes.ImageTemplate})
	require.NoError(t, err)
	var names []string
	for _, img := range page.Items {
		names = append(names, img.Name)
	}
	assert.Equal(t, []string{"crash-" + marker + ".qcow2"}, names, "one template")
	assert.FileExists(t, filepath.Join(lib, "crash-"+marker+".qcow2"))
	entries, err := os.ReadDir(scratch)
	require.NoError(t, err)
	assert.Empty(t, entries, "no scratch left")
	assert.Equal(t, res.Template, "crash-"+marker+".qcow2")
}
