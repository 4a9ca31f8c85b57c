//go:build integration

package cli_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/hypervisor/libvirt"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// engineLibvirt is a go-libvirt connection of the test's own (through the
// driver's dialer, which knows the URI forms), to make and check things on
// the host independently of OVM.
type engineLibvirt struct{ l *golibvirt.Libvirt }

func newEngineLibvirt(t *testing.T, uri string, opts map[string]string) *engineLibvirt {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := libvirt.Dial(ctx, libvirt.Config{URI: uri, VirtType: "qemu",
		Templates: libvirt.PoolRef{Name: "ovm-templates", Path: opts["templates"]},
		Disks:     libvirt.PoolRef{Name: "ovm-disks", Path: opts["disks"]}})
	require.NoError(t, err, "dial %s", uri)
	t.Cleanup(func() { _ = d.Close() })
	return &engineLibvirt{l: d.Libvirt()}
}

func engineUUID(u golibvirt.UUID) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// state is a domain's state by the engine's own word; exists is false
// when libvirt does not know the domain.
func (h *engineLibvirt) state(t *testing.T, name string) (st golibvirt.DomainState, exists bool) {
	t.Helper()
	dom, err := h.l.DomainLookupByName(name)
	if err != nil {
		require.True(t, golibvirt.IsNotFound(err), "lookup domain %s: %v", name, err)
		return 0, false
	}
	s, _, err := h.l.DomainGetState(dom, 0)
	require.NoError(t, err, "state of %s", name)
	return golibvirt.DomainState(s), true
}

// removeDomain destroys and undefines a domain by name, if it exists.
func (h *engineLibvirt) removeDomain(name string) {
	dom, err := h.l.DomainLookupByName(name)
	if err != nil {
		return
	}
	_ = h.l.DomainDestroy(dom)
	_ = h.l.DomainUndefineFlags(dom, golibvirt.DomainUndefineSnapshotsMetadata|golibvirt.DomainUndefineManagedSave)
}

// volumes lists the volumes of the disk pool whose name holds id.
func (h *engineLibvirt) volumes(t *testing.T, id ovm.ID) []string {
	t.Helper()
	pool, err := h.l.StoragePoolLookupByName("ovm-disks")
	require.NoError(t, err, "the disk pool")
	require.NoError(t, libvirt.RefreshPool(t.Context(), h.l, pool))
	vols, _, err := h.l.StoragePoolListAllVolumes(pool, 1, 0)
	require.NoError(t, err)
	var out []string
	for _, v := range vols {
		if strings.Contains(v.Name, string(id)) {
			out = append(out, v.Name)
		}
	}
	return out
}

// removeVolumes deletes the disk pool's volumes whose name holds id.
func (h *engineLibvirt) removeVolumes(id ovm.ID) {
	pool, err := h.l.StoragePoolLookupByName("ovm-disks")
	if err != nil {
		return
	}
	vols, _, _ := h.l.StoragePoolListAllVolumes(pool, 1, 0)
	for _, v := range vols {
		if strings.Contains(v.Name, string(id)) {
			_ = h.l.StorageVolDelete(v, 0)
		}
	}
}

var engineTick = regexp.MustCompile(`OVM-TICK \d+`)

// TestEnginesLibvirtCLI: through the ovm CLI only, an administrator
// registers the test libvirtd by its URI with the host options (refused
// with an unknown option or a bad virtType), a domain defined and started
// beside OVM shows as discovered and is imported into a VDC, and a tenant
// creates a VM from the test template (direct kernel boot of the test
// kernel), reads the guest's serial console, stops, starts and deletes it;
// go-libvirt checks the host after each step and that nothing is left.
func TestEnginesLibvirtCLI(t *testing.T) {
	uri := engineEnv(t, "OVM_TEST_LIBVIRT_URI")
	kernel := engineEnv(t, "OVM_TEST_LIBVIRT_KERNEL")
	initrd := engineEnv(t, "OVM_TEST_LIBVIRT_INITRD")
	template := engineEnv(t, "OVM_TEST_LIBVIRT_TEMPLATE")
	shared := engineEnv(t, "OVM_TEST_LIBVIRT_SHARED")
	opts := map[string]string{
		"templates": filepath.Dir(template), "disks": shared,
		"kernel": kernel, "initrd": initrd, "cmdline": "console=ttyS0 quiet",
		// KVM guests hang at their first instruction in the test environment: emulate.
		"virtType": "qemu", "sharedStorage": shared,
	}
	optionFlags := func(extra ...string) []string {
		var fl []string
		for _, k := range []string{"templates", "disks", "kernel", "initrd", "cmdline", "virtType", "sharedStorage"} {
			fl = append(fl, "--option", k+"="+opts[k])
		}
		for _, kv := range extra {
			fl = append(fl, "--option", kv)
		}
		return fl
	}
	lv := newEngineLibvirt(t, uri, opts)
	e := newEngineCLI(t)
	e.setupAdmin()
	suffix := string(ovm.NewID().Short())
	register := func(name string, extra ...string) []string {
		return append([]string{"--context", "admin", "host", "register", name, "--kind", "kvm", "--endpoint", uri, "--pool", "pool1"},
			optionFlags(extra...)...)
	}

	t.Run("bad registrations", func(t *testing.T) {
		e.failIn("", 1, []string{"options.bridge", "unknown option"}, register("kvm-bad", "bridge=br0")...)
		// A later --option of the same key wins.
		e.failIn("", 1, []string{"options.virtType", "kvm"}, register("kvm-bad", "virtType=xen")...)
		e.failIn("", 1, []string{"options.disks", "absolute"}, register("kvm-bad", "disks=disks")...)
		e.failIn("", 1, []string{"endpoint", "qemu"}, "--context", "admin", "host", "register", "kvm-bad", "--kind", "kvm",
			"--endpoint", "xen:///system", "--pool", "pool1")
		assert.Empty(t, e.hosts(), "no host is recorded from a refused registration")
	})

	// A domain defined and started beside OVM.
	legacyName := "ovm-cli-legacy-" + suffix
	def := libvirtxml.Domain{Type: "qemu", Name: legacyName,
		Memory: &libvirtxml.DomainMemory{Value: 64, Unit: "MiB"},
		VCPU:   &libvirtxml.DomainVCPU{Value: 1},
		OS: &libvirtxml.DomainOS{Type: &libvirtxml.DomainOSType{Arch: "x86_64", Type: "hvm"},
			Kernel: kernel, Initrd: initrd, Cmdline: "console=ttyS0 quiet"}}
	x, err := def.Marshal()
	require.NoError(t, err)
	dom, err := lv.l.DomainDefineXML(x)
	require.NoError(t, err, "define the unmanaged domain")
	t.Cleanup(func() { lv.removeDomain(legacyName) })
	require.NoError(t, lv.l.DomainCreate(dom), "start the unmanaged domain")

	r := e.ok(register("kvm1")...)
	assert.Regexp(t, `Option virtType:\s+qemu`, r.stdout, "host register shows the options")
	hs := e.hosts()
	require.Len(t, hs, 1)
	assert.Equal(t, ovm.HostKVM, hs[0].Kind)
	assert.Equal(t, ovm.HostUp, hs[0].State, "host state: %s", hs[0].StateReason)
	assert.Positive(t, hs[0].Capacity.Memory, "capacity read from the host")
	assert.Equal(t, opts, hs[0].Options, "the options as registered")
	e.addTenant("acme")

	t.Run("import", func(t *testing.T) {
		d := e.sync("kvm1", func(d core.Discovered) bool { return d.NativeID == engineUUID(dom.UUID) })
		assert.Equal(t, legacyName, d.Name)
		assert.Equal(t, ovm.PowerRunning, d.Power)
		assert.Equal(t, ovm.TypeVM, d.Type)

		// By its name, which is not a valid instance name: --name gives one.
		r := e.ok("--context", "admin", "discovered", "import", legacyName, "--vdc", "acme", "--name", "legacy")
		assert.Regexp(t, `Power:\s+running`, r.stdout, "import shows the instance")
		legacy := e.instance("acme", "legacy")
		assert.Equal(t, ovm.PhaseReady, legacy.Status.Phase)
		assert.Equal(t, ovm.PowerRunning, legacy.Status.Power)
		st, _ := lv.state(t, legacyName)
		assert.Equal(t, golibvirt.DomainRunning, st, "the imported domain still runs")
	})

	t.Run("tenant vm", func(t *testing.T) {
		r := e.ok("--context", "acme", "instance", "create", "--name", "vm1", "--image", filepath.Base(template), "--cpu", "1",
			"--memory", "128Mi", "--start", "--wait")
		assert.Contains(t, r.stdout, "ready, running", "create --wait shows the instance as it ended")
		assert.Contains(t, r.stderr, "instance.create: succeeded", "create --wait shows the task's progress")
		vm1 := e.instance("acme", "vm1")
		assert.Equal(t, ovm.TypeVM, vm1.Spec.Type, "a .qcow2 image makes a VM")
		hvName := "vm1-" + string(vm1.ID.Short())
		t.Cleanup(func() {
			lv.removeDomain(hvName)
			lv.removeVolumes(vm1.ID)
		})
		st, exists := lv.state(t, hvName)
		require.True(t, exists, "domain %s on the host", hvName)
		assert.Equal(t, golibvirt.DomainRunning, st, "running after create")
		assert.NotEmpty(t, lv.volumes(t, vm1.ID), "the instance's disk in the disk pool")

		// The serial console shows the guest's own output: its /init
		// prints a counter once a second after booting.
		var (
			mu   sync.Mutex
			last engineResult
		)
		if !assert.Eventually(t, func() bool {
			r := e.run("--context", "acme", "instance", "console", "vm1", "--follow", "--max-seconds", "5")
			mu.Lock()
			last = r
			mu.Unlock()
			return r.code == 0 && engineTick.MatchString(r.stdout)
		}, 3*time.Minute, time.Second, "a line of the guest's counter on the console") {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("the last console read: %s", last)
		}

		e.failIn("", 1, []string{"the host kind cannot exec"}, "--context", "acme", "instance", "exec", "vm1", "--", "true")

		r = e.ok("--context", "acme", "instance", "stop", "vm1", "--wait")
		assert.Contains(t, r.stdout, "stopped: ready, stopped")
		st, _ = lv.state(t, hvName)
		assert.Equal(t, golibvirt.DomainShutoff, st, "shut off after stop")
		e.failIn("", 1, []string{"409"}, "--context", "acme", "instance", "console", "vm1")
		r = e.ok("--context", "acme", "instance", "start", "vm1", "--wait")
		assert.Contains(t, r.stdout, "started: ready, running")
		st, _ = lv.state(t, hvName)
		assert.Equal(t, golibvirt.DomainRunning, st, "running after start")

		e.ok("--context", "acme", "instance", "delete", "vm1", "legacy", "--wait")
		_, exists = lv.state(t, hvName)
		assert.False(t, exists, "domain %s left on the host", hvName)
		assert.Empty(t, lv.volumes(t, vm1.ID), "disks left in the pool")
		_, exists = lv.state(t, legacyName)
		assert.False(t, exists, "the imported domain, deleted through OVM, is gone from the host")
		assert.Empty(t, e.instances("acme"), "the tenant's instances after the deletes")
		e.failIn("", 1, []string{"vm1"}, "--context", "acme", "instance", "show", "vm1")
	})
}
