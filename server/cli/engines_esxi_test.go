package cli_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/internal/esxisim"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// The simulated ESXi host's credentials.
const (
	engineESXiUser     = "root"
	engineESXiPassword = "ovm-cli-esxi-pw"
)

// TestEnginesESXiCLI: through the ovm CLI only, an administrator
// registers a simulated standalone ESXi host by its endpoint (refused with
// a wrong password or an unknown option), a VM the host already had shows
// as discovered and is imported into a VDC, and a tenant creates, stops,
// starts and deletes a VM; govmomi's own client checks the host after
// each step and that nothing OVM made is left.
func TestEnginesESXiCLI(t *testing.T) {
	sim := esxisim.Start(t, engineESXiUser, engineESXiPassword)
	e := newEngineCLI(t)
	e.setupAdmin()
	reg := func(name string, extra ...string) []string {
		return append([]string{"--context", "admin", "host", "register", name, "--kind", "esxi", "--endpoint", sim.Endpoint(),
			"--pool", "pool1", "--username", engineESXiUser, "--password-stdin", "--thumbprint", sim.Thumbprint}, extra...)
	}

	t.Run("bad registrations", func(t *testing.T) {
		r := e.failIn("wrong-password\n", 1, []string{"esxi-bad", sim.Server.URL.Host, "wrong user name or password", "422"}, reg("esxi-bad")...)
		assert.NotContains(t, r.stderr, "wrong-password", "the password is not echoed")
		e.failIn(engineESXiPassword+"\n", 1, []string{"options.datacenter", "unknown option"}, reg("esxi-bad", "--option", "datacenter=dc1")...)
		e.failIn(engineESXiPassword+"\n", 1, []string{"does not match the pinned thumbprint"},
			"--context", "admin", "host", "register", "esxi-bad", "--kind", "esxi", "--endpoint", sim.Endpoint(), "--pool", "pool1",
			"--username", engineESXiUser, "--password-stdin", "--thumbprint", strings.Repeat("ab", 32))
		// A malformed --option is the command line's fault: exit 2.
		e.failIn(engineESXiPassword+"\n", 2, []string{"KEY=VALUE"}, reg("esxi-bad", "--option", "vswitch")...)
		assert.Empty(t, e.hosts(), "no host is recorded from a refused registration")
	})

	r := e.okIn(engineESXiPassword+"\n", reg("esxi1", "--option", "vswitch=vSwitch0")...)
	assert.Contains(t, r.stdout, "esxi1")
	assert.Regexp(t, `Option vswitch:\s+vSwitch0`, r.stdout, "host register shows the option")
	assert.NotContains(t, r.stdout, engineESXiPassword, "the password is never shown")
	hs := e.hosts()
	require.Len(t, hs, 1)
	assert.Equal(t, ovm.HostESXi, hs[0].Kind)
	assert.Equal(t, ovm.HostUp, hs[0].State, "host state: %s", hs[0].StateReason)
	assert.Positive(t, hs[0].Capacity.CPU, "capacity read from the host")
	assert.Regexp(t, `esxi1\s+\S+\s+esxi\s+up\s`, e.ok("--context", "admin", "host", "list").stdout)
	e.addTenant("acme")

	var legacyName string // the imported VM's name on the host
	t.Run("import a VM the host had", func(t *testing.T) {
		before := sim.VMs(t)
		require.NotEmpty(t, before, "the simulator has VMs of its own")
		var name string
		for n := range before {
			name = n
			break
		}
		vm := before[name]
		if vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
			task, err := object.NewVirtualMachine(sim.Client, vm.Reference()).PowerOn(t.Context())
			require.NoError(t, err)
			require.NoError(t, task.Wait(t.Context()), "power on %s", name)
		}

		legacyName = name
		d := e.sync("esxi1", func(d apitypes.Discovered) bool { return d.Name == name })
		assert.Equal(t, vm.Reference().Value, d.NativeID, "native id is the VM's managed object id")
		assert.Equal(t, ovm.PowerRunning, d.Power)

		r := e.ok("--context", "admin", "discovered", "import", name, "--vdc", "acme", "--name", "legacy")
		assert.Regexp(t, `Power:\s+running`, r.stdout, "import shows the instance")
		assert.Regexp(t, `Image:\s+-\n`, r.stdout, "an imported VM has no image of OVM's")
		legacy := e.instance("acme", "legacy")
		assert.Equal(t, ovm.PhaseReady, legacy.Status.Phase)
		assert.Equal(t, ovm.PowerRunning, legacy.Status.Power)
		assert.Empty(t, legacy.Status.HostID, "a tenant does not see the host")
		assert.Equal(t, types.VirtualMachinePowerStatePoweredOn, sim.VMs(t)[name].Runtime.PowerState, "still running on the host")
		e.failIn("", 1, []string{"has no console"}, "--context", "acme", "instance", "console", "legacy")

		// Managed now: the tenant powers it off and on through OVM.
		e.ok("--context", "acme", "instance", "stop", "legacy", "--wait")
		assert.Equal(t, types.VirtualMachinePowerStatePoweredOff, sim.VMs(t)[name].Runtime.PowerState, "stopped on the host")
		e.ok("--context", "acme", "instance", "start", "legacy", "--wait")
		assert.Equal(t, types.VirtualMachinePowerStatePoweredOn, sim.VMs(t)[name].Runtime.PowerState, "running again on the host")
	})

	t.Run("tenant VM", func(t *testing.T) {
		r := e.ok("--context", "acme", "instance", "create", "--name", "vm1", "--image", "tiny.vmdk", "--cpu", "1", "--memory", "64Mi",
			"--start", "--wait")
		assert.Contains(t, r.stdout, "ready, running", "create --wait shows the instance as it ended")
		assert.Contains(t, r.stderr, "instance.create: succeeded", "create --wait shows the task's progress")
		vm1 := e.instance("acme", "vm1")
		assert.Equal(t, ovm.TypeVM, vm1.Spec.Type, "a .vmdk image makes a VM")
		hvName := "vm1-" + string(vm1.ID.Short())
		t.Cleanup(func() { sim.Remove(t, hvName) })
		vm, ok := sim.VMs(t)[hvName]
		require.True(t, ok, "VM %s on the host", hvName)
		assert.Equal(t, types.VirtualMachinePowerStatePoweredOn, vm.Runtime.PowerState)
		admin := e.instance("admin", string(vm1.ID))
		assert.Equal(t, hs[0].ID, admin.Status.HostID, "the administrator sees the host")
		assert.Equal(t, vm.Reference().Value, admin.Status.NativeID, "and the VM's managed object id")

		r = e.ok("--context", "acme", "instance", "stop", "vm1", "--wait")
		assert.Contains(t, r.stdout, "stopped: ready, stopped")
		assert.Equal(t, types.VirtualMachinePowerStatePoweredOff, sim.VMs(t)[hvName].Runtime.PowerState, "after stop")
		r = e.ok("--context", "acme", "instance", "start", "vm1", "--wait")
		assert.Contains(t, r.stdout, "started: ready, running")
		assert.Equal(t, types.VirtualMachinePowerStatePoweredOn, sim.VMs(t)[hvName].Runtime.PowerState, "after start")

		e.failIn("", 1, []string{"the host kind cannot exec"}, "--context", "acme", "instance", "exec", "vm1", "--", "hostname")
		// With a guest account the host runs commands through VMware Tools
		// guest operations: the simulator runs them only in VMs backed by a
		// container, which vm1 is not.
		creds := []string{"--context", "admin", "host", "credentials", "esxi1", "--username", engineESXiUser, "--password-stdin",
			"--thumbprint", sim.Thumbprint, "--guest-username", "root"}
		e.failIn(engineESXiPassword+"\n", 1, []string{"credentials.guestPassword"}, reg("esxi-bad", "--guest-username", "root")...)
		r = e.okIn(engineESXiPassword+"\nguest-secret\n", append(creds, "--guest-password-stdin")...)
		assert.NotContains(t, r.stdout, "guest-secret", "the guest password is never shown")
		e.failIn("", 1, []string{"guest operations are not available"}, "--context", "acme", "instance", "exec", "vm1", "--", "hostname")

		e.ok("--context", "acme", "instance", "delete", "vm1", "legacy", "--wait")
		_, ok = sim.VMs(t)[hvName]
		assert.False(t, ok, "VM %s left on the host", hvName)
		require.NotEmpty(t, legacyName)
		_, ok = sim.VMs(t)[legacyName]
		assert.False(t, ok, "the imported VM %s, deleted through OVM, is gone from the host", legacyName)
		assert.Empty(t, e.instances("acme"), "the tenant's instances after the deletes")
		e.failIn("", 1, []string{"vm1"}, "--context", "acme", "instance", "show", "vm1")
	})
}
