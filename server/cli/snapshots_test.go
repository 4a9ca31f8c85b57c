package cli_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/esxisim"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// esxiTenantCLI is a CLI with a simulated ESXi host esxi1 registered in
// pool1 and a tenant acme.
func esxiTenantCLI(t *testing.T) (*esxisim.Host, *engineCLI) {
	t.Helper()
	sim := esxisim.Start(t, engineESXiUser, engineESXiPassword)
	e := newEngineCLI(t)
	e.setupAdmin()
	e.okIn(engineESXiPassword+"\n", "--context", "admin", "host", "register", "esxi1", "--kind", "esxi", "--endpoint", sim.Endpoint(),
		"--pool", "pool1", "--username", engineESXiUser, "--password-stdin", "--thumbprint", sim.Thumbprint)
	e.addTenant("acme")
	return sim, e
}

// TestSnapshotsCLI: through the ovm CLI only, a tenant takes two snapshots
// of a VM on a simulated ESXi host, lists and shows them, reverts to the
// first and deletes them; govmomi's own client checks the VM's snapshot
// tree after each step. Bad command lines exit 2, unknown snapshots 1.
func TestSnapshotsCLI(t *testing.T) {
	sim, e := esxiTenantCLI(t)
	e.ok("--context", "acme", "instance", "create", "--name", "vm1", "--image", "tiny.vmdk", "--cpu", "1", "--memory", "64Mi", "--start", "--wait")
	vm1 := e.instance("acme", "vm1")
	hvName := "vm1-" + string(vm1.ID.Short())
	t.Cleanup(func() { sim.Remove(t, hvName) })
	// current returns the name (the OVM id) of the snapshot the VM runs
	// from, and how many it has.
	current := func() (string, int) {
		t.Helper()
		tree, cur := sim.Snapshots(t, hvName)
		return cur, len(tree)
	}

	r := e.ok("--context", "acme", "snapshot", "create", "first", "--instance", "vm1", "--wait")
	assert.Contains(t, r.stdout, "Snapshot first")
	assert.Contains(t, r.stderr, "snapshot.create: succeeded", "--wait shows the task's progress")
	e.ok("--context", "acme", "snapshot", "create", "second", "--instance", "vm1", "--wait")
	var pg apitypes.Page[apitypes.SnapshotInfo]
	e.json(&pg, "--context", "acme", "snapshot", "list", "--instance", "vm1")
	require.Len(t, pg.Items, 2)
	ids := map[string]ovm.ID{}
	for _, s := range pg.Items {
		ids[s.Name] = s.ID
		assert.Equal(t, ovm.PhaseReady, s.Phase)
		assert.Equal(t, vm1.ID, s.InstanceID)
	}
	cur, n := current()
	assert.Equal(t, 2, n, "two snapshots on the host")
	assert.Equal(t, string(ids["second"]), cur, "the VM runs from the second")
	assert.Regexp(t, `first\s+`+string(ids["first"])+`\s+instance `+string(vm1.ID), e.ok("--context", "acme", "snapshot", "list").stdout,
		"the VDC's snapshots")
	r = e.ok("--context", "acme", "snapshot", "show", "first", "--instance", "vm1")
	assert.Regexp(t, `Phase:\s+ready`, r.stdout)
	assert.Regexp(t, `Memory:\s+false`, r.stdout, "ESXi snapshots hold no memory")

	r = e.ok("--context", "acme", "snapshot", "revert", "first", "--instance", "vm1", "--wait")
	assert.Contains(t, r.stdout, "Reverted instance "+string(vm1.ID)+" to snapshot first")
	cur, _ = current()
	assert.Equal(t, string(ids["first"]), cur, "the VM runs from the first after the revert")

	t.Run("bad command lines", func(t *testing.T) {
		e.failIn("", 2, []string{"--instance or --volume is required"}, "--context", "acme", "snapshot", "create", "x")
		e.failIn("", 2, []string{"not both"}, "--context", "acme", "snapshot", "create", "x", "--instance", "vm1", "--volume", "v")
		e.failIn("", 1, []string{"no snapshot named \"nope\""}, "--context", "acme", "snapshot", "revert", "nope", "--instance", "vm1")
		e.failIn("", 1, []string{"409", "has a snapshot named first"}, "--context", "acme", "snapshot", "create", "first", "--instance", "vm1")
		_, n := current()
		assert.Equal(t, 2, n, "nothing changed on the host")
	})

	e.ok("--context", "acme", "snapshot", "delete", "second", "--instance", "vm1", "--wait")
	e.ok("--context", "acme", "snapshot", "rm", string(ids["first"]), "--instance", "vm1", "--wait")
	_, n = current()
	assert.Equal(t, 0, n, "no snapshot left on the host")
	e.json(&pg, "--context", "acme", "snapshot", "list")
	assert.Empty(t, pg.Items)
}
