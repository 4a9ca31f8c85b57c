//go:build integration

package cli_test

import (
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

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
	lv := libvirthost.Dial(t, uri, opts)
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
	dom := lv.StartUnmanaged(t, legacyName, kernel, initrd)

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
		d := e.sync("kvm1", func(d apitypes.Discovered) bool { return d.NativeID == libvirthost.UUIDText(dom.UUID) })
		assert.Equal(t, legacyName, d.Name)
		assert.Equal(t, ovm.PowerRunning, d.Power)
		assert.Equal(t, ovm.TypeVM, d.Type)

		// By its name, which is not a valid instance name: --name gives one.
		r := e.ok("--context", "admin", "discovered", "import", legacyName, "--vdc", "acme", "--name", "legacy")
		assert.Regexp(t, `Power:\s+running`, r.stdout, "import shows the instance")
		legacy := e.instance("acme", "legacy")
		assert.Equal(t, ovm.PhaseReady, legacy.Status.Phase)
		assert.Equal(t, ovm.PowerRunning, legacy.Status.Power)
		st, _ := lv.State(t, legacyName)
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
			lv.RemoveDomain(hvName)
			lv.RemoveVolumes(vm1.ID)
		})
		st, exists := lv.State(t, hvName)
		require.True(t, exists, "domain %s on the host", hvName)
		assert.Equal(t, golibvirt.DomainRunning, st, "running after create")
		assert.NotEmpty(t, lv.Volumes(t, vm1.ID), "the instance's disk in the disk pool")

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

		r = e.ok("--context", "acme", "instance", "exec", "vm1", "--", "cat", "/proc/sys/kernel/ostype")
		assert.Equal(t, "Linux\n", r.stdout, "exec through the guest agent")

		r = e.ok("--context", "acme", "instance", "stop", "vm1", "--wait")
		assert.Contains(t, r.stdout, "stopped: ready, stopped")
		st, _ = lv.State(t, hvName)
		assert.Equal(t, golibvirt.DomainShutoff, st, "shut off after stop")
		e.failIn("", 1, []string{"409"}, "--context", "acme", "instance", "console", "vm1")
		r = e.ok("--context", "acme", "instance", "start", "vm1", "--wait")
		assert.Contains(t, r.stdout, "started: ready, running")
		st, _ = lv.State(t, hvName)
		assert.Equal(t, golibvirt.DomainRunning, st, "running after start")

		e.ok("--context", "acme", "instance", "delete", "vm1", "legacy", "--wait")
		_, exists = lv.State(t, hvName)
		assert.False(t, exists, "domain %s left on the host", hvName)
		assert.Empty(t, lv.Volumes(t, vm1.ID), "disks left in the pool")
		_, exists = lv.State(t, legacyName)
		assert.False(t, exists, "the imported domain, deleted through OVM, is gone from the host")
		assert.Empty(t, e.instances("acme"), "the tenant's instances after the deletes")
		e.failIn("", 1, []string{"vm1"}, "--context", "acme", "instance", "show", "vm1")
	})
}
