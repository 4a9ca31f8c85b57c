package cli

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// TestStorageCommands registers a storage pool on the fake host h1, makes
// a volume in it as a tenant, attaches it to a stopped VM and detaches it,
// changes and deletes the pool; a tenant cannot see the pools.
func TestStorageCommands(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	r := h.ok("--context", "admin", "storage-pool", "register", "fast", "--kind", "local", "--host", "h1", "--path", "/srv/fast",
		"--capacity", "10Gi", "--wait")
	assert.Contains(t, r.stdout, "Storage pool fast")
	var pools apitypes.Page[apitypes.StoragePoolInfo]
	require.NoError(t, json.Unmarshal([]byte(h.ok("--context", "admin", "storage-pool", "list", "-o", "json").stdout), &pools))
	require.Len(t, pools.Items, 1)
	pool := pools.Items[0]
	assert.Equal(t, ovm.PhaseReady, pool.Phase)
	assert.Equal(t, 10*ovm.GiB, pool.DeclaredCapacity)
	show := h.ok("--context", "admin", "storage-pool", "show", "fast").stdout
	assert.Contains(t, show, "Declared capacity")
	h.fail(1, []string{"404"}, "storage-pool", "list")

	h.ok("volume", "create", "data", "--size", "1Gi", "--pool", string(pool.ID), "--wait")
	h.ok("instance", "create", "--name", "vm1", "--type", "vm", "--image", "tiny.qcow2", "--cpu", "1", "--memory", "256Mi", "--wait")
	r = h.ok("volume", "attach", "data", "--instance", "vm1", "--wait")
	assert.Contains(t, r.stdout, "attached")
	var v apitypes.VolumeInfo
	require.NoError(t, json.Unmarshal([]byte(h.ok("volume", "show", "data", "-o", "json").stdout), &v))
	assert.NotEmpty(t, v.AttachedTo, "attached to vm1")
	h.ok("volume", "detach", "data", "--wait")
	require.NoError(t, json.Unmarshal([]byte(h.ok("volume", "show", "data", "-o", "json").stdout), &v))

	h.ok("--context", "admin", "storage-pool", "update", "fast", "--templates=true", "--capacity", "20Gi")
	var got apitypes.StoragePoolInfo
	require.NoError(t, json.Unmarshal([]byte(h.ok("--context", "admin", "storage-pool", "show", "fast", "-o", "json").stdout), &got))
	assert.True(t, got.TemplateLibrary)
	assert.Equal(t, 20*ovm.GiB, got.DeclaredCapacity)
	assert.Equal(t, ovm.GiB, got.Allocated)
	h.fail(1, []string{"409", "holds 1 volumes"}, "--context", "admin", "storage-pool", "delete", "fast")
	h.ok("volume", "delete", "data", "--wait")
	h.ok("--context", "admin", "storage-pool", "delete", "fast", "--wait")
}
