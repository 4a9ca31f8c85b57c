package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/apitypes"
)

// TestVolumeSnapshotsCLI: through the ovm CLI only, a tenant snapshots a
// volume on a simulated ESXi host's datastore (a directory of the test),
// the volume's extent is overwritten beside OVM, and a revert through the
// CLI brings the first content back; the snapshot is then deleted.
func TestVolumeSnapshotsCLI(t *testing.T) {
	_, e := esxiTenantCLI(t)
	dir := t.TempDir()
	e.ok("--context", "admin", "storage-pool", "register", "vsnap", "--kind", "local", "--host", "esxi1", "--path", dir, "--wait")
	var pools apitypes.Page[apitypes.StoragePoolInfo]
	e.json(&pools, "--context", "admin", "storage-pool", "list")
	require.Len(t, pools.Items, 1)
	e.ok("--context", "acme", "volume", "create", "data", "--size", "64Mi", "--pool", string(pools.Items[0].ID), "--wait")
	var v apitypes.VolumeInfo
	e.json(&v, "--context", "acme", "volume", "show", "data")
	extents, err := filepath.Glob(filepath.Join(dir, "ovm-volumes", string(v.ID), "*-flat.vmdk"))
	require.NoError(t, err)
	require.Len(t, extents, 1, "the volume's extent on the datastore")
	extent := extents[0]

	require.NoError(t, os.WriteFile(extent, []byte("first content"), 0o600))
	r := e.ok("--context", "acme", "snapshot", "create", "before", "--volume", "data", "--wait")
	assert.Contains(t, r.stderr, "snapshot.create: succeeded")
	require.NoError(t, os.WriteFile(extent, []byte("second content"), 0o600))
	r = e.ok("--context", "acme", "snapshot", "revert", "before", "--volume", "data", "--wait")
	assert.Contains(t, r.stdout, "Reverted volume "+string(v.ID)+" to snapshot before")
	var got []byte
	got, err = os.ReadFile(extent)
	require.NoError(t, err)
	assert.Equal(t, "first content", string(got), "the revert brought the first content back")

	e.ok("--context", "acme", "snapshot", "delete", "before", "--volume", "data", "--wait")
	var pg apitypes.Page[apitypes.SnapshotInfo]
	e.json(&pg, "--context", "acme", "snapshot", "list", "--volume", "data")
	assert.Empty(t, pg.Items)
	snaps, err := filepath.Glob(filepath.Join(dir, "ovm-volumes", string(v.ID), "snapshots", "*.vmdk"))
	require.NoError(t, err)
	assert.Empty(t, snaps, "the snapshot's copy is gone from the datastore")
}
