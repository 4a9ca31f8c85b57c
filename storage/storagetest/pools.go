package storagetest

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

// testCapabilities checks that the announced facets are the implemented
// ones and that the harness gives what the announced facets need.
func testCapabilities(t *testing.T, e *env) {
	caps := e.d.Capabilities()
	_, isAttacher := e.d.(storage.Attacher)
	assert.Equal(t, isAttacher, caps.Attach,
		"Capabilities().Attach = %v, want %v: it must say whether %T implements storage.Attacher", caps.Attach, isAttacher, e.d)
	_, isSnapshotter := e.d.(storage.Snapshotter)
	assert.Equal(t, isSnapshotter, caps.Snapshots,
		"Capabilities().Snapshots = %v, want %v: it must say whether %T implements storage.Snapshotter", caps.Snapshots, isSnapshotter, e.d)

	require.NotEmpty(t, caps.PoolKinds, "Capabilities().PoolKinds: want at least one pool kind")
	for _, k := range caps.PoolKinds {
		assert.Contains(t, []ovm.StoragePoolKind{ovm.StorageLocal, ovm.StorageShared, ovm.StorageNFS}, k,
			"Capabilities().PoolKinds has %q: want only ovm's pool kinds", k)
	}
	spec := e.poolSpec(t)
	assert.Contains(t, caps.PoolKinds, spec.Kind,
		"Harness.Pool gives a %q pool: want a kind among Capabilities().PoolKinds %v", spec.Kind, caps.PoolKinds)
	for _, f := range caps.Formats {
		assert.NoError(t, ovm.ImageRef{Format: f, Name: "x"}.Validate(),
			"Capabilities().Formats has %q: want only ovm's image formats", f)
	}
	if caps.FromImage {
		assert.NotNil(t, e.h.Image, "Capabilities().FromImage is true: want Harness.Image to give an image")
	}
	if caps.Attach {
		assert.NotNil(t, e.h.AttachTarget, "Capabilities().Attach is true: want Harness.AttachTarget to give an instance")
	}
}

// shape is what a pool must keep of its spec.
type shape struct {
	ID                   ovm.ID
	Name                 string
	Kind                 ovm.StoragePoolKind
	Path, Server, Export string
}

func specShape(s storage.PoolSpec) shape {
	return shape{ID: s.ID, Name: s.Name, Kind: s.Kind, Path: s.Path, Server: s.Server, Export: s.Export}
}

func poolShape(p ovm.StoragePool) shape {
	return shape{ID: p.ID, Name: p.Name, Kind: p.Kind, Path: p.Path, Server: p.Server, Export: p.Export}
}

// testCreatePoolIdempotent creates one pool twice by id: the second create
// returns the first pool and the list shows it once.
func testCreatePoolIdempotent(t *testing.T, e *env) {
	spec := e.poolSpec(t)
	first := e.createPool(t, spec)
	assert.Equal(t, specShape(spec), poolShape(first), "CreatePool: got the pool's shape, want the spec's")

	again, err := e.d.CreatePool(t.Context(), spec)
	require.NoError(t, err, "second CreatePool(%s) with the same spec: want the existing pool", spec.ID)
	assert.Equal(t, poolShape(first), poolShape(again), "second CreatePool: got a pool unlike the first")

	pools, err := e.d.ListPools(t.Context())
	require.NoError(t, err, "ListPools")
	assert.Equal(t, 1, countPools(pools, spec.ID), "ListPools after two creates of pool %s: got that many, want 1", spec.ID)
}

// testGetListPools makes two pools and finds each by GetPool and ListPools.
func testGetListPools(t *testing.T, e *env) {
	specs := []storage.PoolSpec{e.poolSpec(t), e.poolSpec(t)}
	for _, spec := range specs {
		e.createPool(t, spec)
	}
	pools, err := e.d.ListPools(t.Context())
	require.NoError(t, err, "ListPools")
	for _, spec := range specs {
		got, err := e.d.GetPool(t.Context(), spec.ID)
		require.NoError(t, err, "GetPool(%s): want the pool just made", spec.ID)
		assert.Equal(t, specShape(spec), poolShape(got), "GetPool(%s): got the pool's shape, want the spec's", spec.ID)
		assert.Equal(t, 1, countPools(pools, spec.ID), "ListPools: got pool %s that many times, want 1", spec.ID)
		i := slices.IndexFunc(pools, func(p ovm.StoragePool) bool { return p.ID == spec.ID })
		if i >= 0 {
			assert.Equal(t, poolShape(got), poolShape(pools[i]), "ListPools: got pool %s unlike GetPool's", spec.ID)
		}
	}
}

// testInvalidPoolSpec spoils one field of a good spec at a time: each is
// ovm.ErrInvalid naming the field, and no pool is left behind.
func testInvalidPoolSpec(t *testing.T, e *env) {
	badPath := func(s *storage.PoolSpec) { s.Path = "relative/dir" }
	pathField := "path"
	if s := e.poolSpec(t); s.Kind == ovm.StorageNFS {
		badPath = func(s *storage.PoolSpec) { s.Export = "relative/export" }
		pathField = "export"
	}
	tests := []struct {
		name      string
		spoil     func(s *storage.PoolSpec)
		wantField string
	}{
		{name: "no id", spoil: func(s *storage.PoolSpec) { s.ID = "" }, wantField: "id"},
		{name: "id not a uuid", spoil: func(s *storage.PoolSpec) { s.ID = "POOL-1" }, wantField: "id"},
		{name: "name not a dns label", spoil: func(s *storage.PoolSpec) { s.Name = "Bad_Name" }, wantField: "name"},
		{name: "unknown kind", spoil: func(s *storage.PoolSpec) { s.Kind = "ceph" }, wantField: "kind"},
		{name: "relative " + pathField, spoil: badPath, wantField: pathField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := e.poolSpec(t)
			good := spec
			tt.spoil(&spec)
			_, err := e.d.CreatePool(t.Context(), spec)
			if err == nil {
				t.Cleanup(func() { e.removePool(t, spec.ID) })
			}
			require.ErrorIs(t, err, ovm.ErrInvalid, "CreatePool with %s: want ovm.ErrInvalid", tt.name)
			assert.True(t, hasField(err, tt.wantField), "CreatePool with %s: got fields %v, want %q among them (error: %v)",
				tt.name, fieldNames(err), tt.wantField, err)

			pools, err := e.d.ListPools(t.Context())
			require.NoError(t, err, "ListPools")
			for _, p := range pools {
				assert.False(t, p.ID == good.ID || p.Name == good.Name || p.Name == spec.Name,
					"ListPools after a refused CreatePool: got pool %s %q, want nothing left behind", p.ID, p.Name)
			}
		})
	}
}

// testDeleteEmptyPool deletes a pool: it is gone, and deleting it again is
// ovm.ErrNotFound.
func testDeleteEmptyPool(t *testing.T, e *env) {
	p := e.pool(t)
	require.NoError(t, e.d.DeletePool(t.Context(), p.ID), "DeletePool(%s) of an empty pool", p.ID)

	_, err := e.d.GetPool(t.Context(), p.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "GetPool(%s) after delete: want ovm.ErrNotFound", p.ID)
	pools, err := e.d.ListPools(t.Context())
	require.NoError(t, err, "ListPools")
	assert.Zero(t, countPools(pools, p.ID), "ListPools after delete: got pool %s, want it gone", p.ID)
	assert.ErrorIs(t, e.d.DeletePool(t.Context(), p.ID), ovm.ErrNotFound, "second DeletePool(%s): want ovm.ErrNotFound", p.ID)
}

// testDeletePoolWithVolumes refuses to delete a pool that holds a volume
// and keeps both.
func testDeletePoolWithVolumes(t *testing.T, e *env) {
	p := e.pool(t)
	v := e.volume(t, p, volSize)

	err := e.d.DeletePool(t.Context(), p.ID)
	require.ErrorIs(t, err, ovm.ErrConflict, "DeletePool(%s) holding volume %s: want ovm.ErrConflict", p.ID, v.ID)
	_, err = e.d.GetPool(t.Context(), p.ID)
	assert.NoError(t, err, "GetPool(%s) after a refused delete: want the pool kept", p.ID)
	_, err = e.d.GetVolume(t.Context(), v.ID)
	assert.NoError(t, err, "GetVolume(%s) after a refused pool delete: want the volume kept", v.ID)
}

// testUnknownPool uses a pool id no pool has: every call is
// ovm.ErrNotFound, and no volume is made.
func testUnknownPool(t *testing.T, e *env) {
	unknown := ovm.NewID()
	_, err := e.d.GetPool(t.Context(), unknown)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "GetPool(unknown %s)", unknown)
	assert.ErrorIs(t, e.d.DeletePool(t.Context(), unknown), ovm.ErrNotFound, "DeletePool(unknown %s)", unknown)
	_, err = e.d.ListVolumes(t.Context(), unknown)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "ListVolumes(unknown pool %s)", unknown)

	spec := volumeSpec(ovm.StoragePool{ID: unknown}, volSize)
	_, err = e.d.CreateVolume(t.Context(), spec)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "CreateVolume in unknown pool %s", unknown)
	_, err = e.d.GetVolume(t.Context(), spec.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "GetVolume(%s) after a create in an unknown pool: want nothing made", spec.ID)
}
