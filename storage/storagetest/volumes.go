package storagetest

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

// vshape is what a volume must keep of its spec, and what two reads of one
// volume agree on.
type vshape struct {
	ID         ovm.ID
	Name       string
	Pool       ovm.ID
	Size       ovm.Bytes
	Source     ovm.ImageRef
	AttachedTo ovm.ID
}

func volShape(v ovm.Volume) vshape {
	return vshape{ID: v.ID, Name: v.Name, Pool: v.StoragePoolID, Size: v.Size, Source: v.Source, AttachedTo: v.AttachedTo}
}

// wantShape is the shape of a new volume made from spec, of size.
func wantShape(spec storage.VolumeSpec, size ovm.Bytes) vshape {
	return vshape{ID: spec.ID, Name: spec.Name, Pool: spec.PoolID, Size: size, Source: spec.From}
}

// testCreateBlankVolume creates a blank volume twice by id: the second
// create returns the first volume and the pool lists one.
func testCreateBlankVolume(t *testing.T, e *env) {
	p := e.pool(t)
	spec := volumeSpec(p, volSize)
	v, err := e.d.CreateVolume(t.Context(), spec)
	require.NoError(t, err, "CreateVolume(%s, %s blank)", spec.ID, volSize)
	assert.Equal(t, wantShape(spec, volSize), volShape(v), "CreateVolume: got the volume's shape, want the spec's")
	if formats := e.d.Capabilities().Formats; v.Format != "" && len(formats) > 0 {
		assert.Contains(t, formats, v.Format, "CreateVolume: got format %q, want one of Capabilities().Formats", v.Format)
	}

	again, err := e.d.CreateVolume(t.Context(), spec)
	require.NoError(t, err, "second CreateVolume(%s) with the same spec: want the existing volume", spec.ID)
	assert.Equal(t, volShape(v), volShape(again), "second CreateVolume: got a volume unlike the first")

	vols, err := e.d.ListVolumes(t.Context(), p.ID)
	require.NoError(t, err, "ListVolumes(%s)", p.ID)
	assert.Equal(t, []ovm.ID{spec.ID}, volumeIDs(vols), "ListVolumes after two creates of one volume: got these ids, want just it")
}

// testCreateVolumeFromImage makes volumes from the harness's image, at the
// image's size and larger; a driver without FromImage must refuse the
// image with ovm.ErrUnsupported and make nothing.
func testCreateVolumeFromImage(t *testing.T, e *env) {
	p := e.pool(t)
	if !e.d.Capabilities().FromImage {
		spec := volumeSpec(p, volSize)
		spec.From = ovm.Template("ovmst.qcow2")
		_, err := e.d.CreateVolume(t.Context(), spec)
		require.ErrorIs(t, err, ovm.ErrUnsupported, "CreateVolume from an image without Capabilities().FromImage")
		assertNoVolumes(t, e, p)
		return
	}
	require.NotNil(t, e.h.Image, "Capabilities().FromImage is true: want Harness.Image")
	img := e.h.Image(t)

	spec := volumeSpec(p, 0)
	spec.From = img
	v, err := e.d.CreateVolume(t.Context(), spec)
	require.NoError(t, err, "CreateVolume(%s) from image %s at its size", spec.ID, img)
	assert.Positive(t, v.Size, "CreateVolume from image %s with size 0: got size %s, want the image's (positive)", img, v.Size)
	assert.Equal(t, wantShape(spec, v.Size), volShape(v), "CreateVolume from image: got the volume's shape, want the spec's")

	again, err := e.d.CreateVolume(t.Context(), spec)
	require.NoError(t, err, "second CreateVolume(%s) from image: want the existing volume", spec.ID)
	assert.Equal(t, volShape(v), volShape(again), "second CreateVolume from image: got a volume unlike the first")

	// A volume larger than the image: its own size plus volSize.
	larger := volumeSpec(p, v.Size+volSize)
	larger.From = img
	w, err := e.d.CreateVolume(t.Context(), larger)
	require.NoError(t, err, "CreateVolume(%s) from image %s at %s", larger.ID, img, larger.Size)
	assert.Equal(t, wantShape(larger, larger.Size), volShape(w), "CreateVolume from image, larger: got the volume's shape, want the spec's")

	vols, err := e.d.ListVolumes(t.Context(), p.ID)
	require.NoError(t, err, "ListVolumes(%s)", p.ID)
	assert.ElementsMatch(t, []ovm.ID{spec.ID, larger.ID}, volumeIDs(vols), "ListVolumes: got these ids, want the two volumes made")
}

// testInvalidVolumeSpec spoils one field of a good spec at a time: each is
// ovm.ErrInvalid naming the field, and no volume is left behind.
func testInvalidVolumeSpec(t *testing.T, e *env) {
	p := e.pool(t)
	tests := []struct {
		name      string
		spoil     func(s *storage.VolumeSpec)
		wantField string
	}{
		{name: "id not a uuid", spoil: func(s *storage.VolumeSpec) { s.ID = "VOL-1" }, wantField: "id"},
		{name: "name not a dns label", spoil: func(s *storage.VolumeSpec) { s.Name = "Disk_1" }, wantField: "name"},
		{name: "no pool", spoil: func(s *storage.VolumeSpec) { s.PoolID = "" }, wantField: "poolId"},
		{name: "negative size", spoil: func(s *storage.VolumeSpec) { s.Size = -1 }, wantField: "sizeBytes"},
		{name: "blank and no size", spoil: func(s *storage.VolumeSpec) { s.Size = 0 }, wantField: "sizeBytes"},
		{name: "image of unknown format", spoil: func(s *storage.VolumeSpec) { s.From = ovm.ImageRef{Format: "iso", Name: "x.iso"} }, wantField: "from.format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good := volumeSpec(p, volSize)
			spec := good
			tt.spoil(&spec)
			_, err := e.d.CreateVolume(t.Context(), spec)
			require.ErrorIs(t, err, ovm.ErrInvalid, "CreateVolume with %s: want ovm.ErrInvalid", tt.name)
			assert.True(t, hasField(err, tt.wantField), "CreateVolume with %s: got fields %v, want %q among them (error: %v)",
				tt.name, fieldNames(err), tt.wantField, err)
			_, err = e.d.GetVolume(t.Context(), good.ID)
			assert.ErrorIs(t, err, ovm.ErrNotFound, "GetVolume(%s) after a refused create: want nothing made", good.ID)
			assertNoVolumes(t, e, p)
		})
	}
}

// assertNoVolumes checks that pool p holds no volume.
func assertNoVolumes(t *testing.T, e *env, p ovm.StoragePool) {
	t.Helper()
	vols, err := e.d.ListVolumes(t.Context(), p.ID)
	require.NoError(t, err, "ListVolumes(%s)", p.ID)
	assert.Empty(t, volumeIDs(vols), "ListVolumes(%s): got these volumes, want none", p.ID)
}

// testGetListVolumes makes three volumes in one pool and one in another:
// GetVolume finds each, ListVolumes the pool's own.
func testGetListVolumes(t *testing.T, e *env) {
	p, other := e.pool(t), e.pool(t)
	// Sizes 1, 2 and 3 × volSize, so that each volume is told by its size too.
	made := []ovm.Volume{e.volume(t, p, volSize), e.volume(t, p, 2*volSize), e.volume(t, p, 3*volSize)}
	elsewhere := e.volume(t, other, volSize)

	vols, err := e.d.ListVolumes(t.Context(), p.ID)
	require.NoError(t, err, "ListVolumes(%s)", p.ID)
	assert.ElementsMatch(t, volumeIDs(made), volumeIDs(vols), "ListVolumes(%s): got these ids, want the three made there", p.ID)
	assert.NotContains(t, volumeIDs(vols), elsewhere.ID, "ListVolumes(%s): got volume %s of pool %s", p.ID, elsewhere.ID, other.ID)
	for _, want := range made {
		got, err := e.d.GetVolume(t.Context(), want.ID)
		require.NoError(t, err, "GetVolume(%s)", want.ID)
		assert.Equal(t, volShape(want), volShape(got), "GetVolume(%s): got it unlike CreateVolume's answer", want.ID)
		i := slices.IndexFunc(vols, func(v ovm.Volume) bool { return v.ID == want.ID })
		if i >= 0 {
			assert.Equal(t, volShape(got), volShape(vols[i]), "ListVolumes: got volume %s unlike GetVolume's", want.ID)
		}
	}
	unknown := ovm.NewID()
	_, err = e.d.GetVolume(t.Context(), unknown)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "GetVolume(unknown %s)", unknown)
}

// testResizeVolume grows a volume, then refuses to shrink it.
func testResizeVolume(t *testing.T, e *env) {
	p := e.pool(t)
	v := e.volume(t, p, volSize)

	grown, err := e.d.ResizeVolume(t.Context(), v.ID, 2*volSize)
	require.NoError(t, err, "ResizeVolume(%s, %s → %s)", v.ID, volSize, 2*volSize)
	assert.Equal(t, 2*volSize, grown.Size, "ResizeVolume answer: got size %s, want %s", grown.Size, 2*volSize)
	got, err := e.d.GetVolume(t.Context(), v.ID)
	require.NoError(t, err, "GetVolume(%s)", v.ID)
	assert.Equal(t, 2*volSize, got.Size, "GetVolume after grow: got size %s, want %s", got.Size, 2*volSize)

	_, err = e.d.ResizeVolume(t.Context(), v.ID, volSize)
	require.ErrorIs(t, err, ovm.ErrInvalid, "ResizeVolume(%s, %s → %s) shrinks: want ovm.ErrInvalid", v.ID, 2*volSize, volSize)
	got, err = e.d.GetVolume(t.Context(), v.ID)
	require.NoError(t, err, "GetVolume(%s)", v.ID)
	assert.Equal(t, 2*volSize, got.Size, "GetVolume after a refused shrink: got size %s, want %s kept", got.Size, 2*volSize)

	unknown := ovm.NewID()
	_, err = e.d.ResizeVolume(t.Context(), unknown, volSize)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "ResizeVolume(unknown %s)", unknown)
}

// testDeleteVolume deletes a volume: it is gone, and deleting it again is
// ovm.ErrNotFound.
func testDeleteVolume(t *testing.T, e *env) {
	p := e.pool(t)
	v := e.volume(t, p, volSize)
	require.NoError(t, e.d.DeleteVolume(t.Context(), v.ID), "DeleteVolume(%s)", v.ID)

	_, err := e.d.GetVolume(t.Context(), v.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "GetVolume(%s) after delete", v.ID)
	assertNoVolumes(t, e, p)
	assert.ErrorIs(t, e.d.DeleteVolume(t.Context(), v.ID), ovm.ErrNotFound, "second DeleteVolume(%s)", v.ID)
}
