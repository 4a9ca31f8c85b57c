package esxisim

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Snapshots returns the snapshots of the VM named name by snapshot name
// (the whole tree), and the name of the one the VM runs from ("" when it
// has none), by the host's own word.
func (h *Host) Snapshots(t testing.TB, name string) (map[string]types.ManagedObjectReference, string) {
	t.Helper()
	vm, ok := h.VMs(t)[name]
	require.True(t, ok, "VM %s on the host", name)
	var got mo.VirtualMachine
	require.NoError(t, object.NewVirtualMachine(h.Client, vm.Reference()).Properties(t.Context(), vm.Reference(), []string{"snapshot"}, &got))
	out := map[string]types.ManagedObjectReference{}
	if got.Snapshot == nil {
		return out, ""
	}
	cur := ""
	var walk func([]types.VirtualMachineSnapshotTree)
	walk = func(ts []types.VirtualMachineSnapshotTree) {
		for _, s := range ts {
			out[s.Name] = s.Snapshot
			if got.Snapshot.CurrentSnapshot != nil && s.Snapshot == *got.Snapshot.CurrentSnapshot {
				cur = s.Name
			}
			walk(s.ChildSnapshotList)
		}
	}
	walk(got.Snapshot.RootSnapshotList)
	return out, cur
}
