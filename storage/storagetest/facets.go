package storagetest

import (
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

// testAttachDetach attaches a volume to the harness's instance, refuses to
// delete it while attached, detaches it and deletes it.
func testAttachDetach(t *testing.T, e *env) {
	a := e.attacher(t)
	if a == nil {
		return
	}
	require.NotNil(t, e.h.AttachTarget, "Capabilities().Attach is true: want Harness.AttachTarget")
	target := e.h.AttachTarget(t)
	p := e.pool(t)
	v := e.volume(t, p, volSize)

	require.NoError(t, a.AttachVolume(t.Context(), v.ID, target), "AttachVolume(%s, %s)", v.ID, target)
	got, err := e.d.GetVolume(t.Context(), v.ID)
	require.NoError(t, err, "GetVolume(%s)", v.ID)
	assert.Equal(t, target, got.AttachedTo, "GetVolume after attach: got AttachedTo %q, want %q", got.AttachedTo, target)

	err = e.d.DeleteVolume(t.Context(), v.ID)
	require.ErrorIs(t, err, ovm.ErrConflict, "DeleteVolume(%s) while attached to %s: want ovm.ErrConflict", v.ID, target)
	_, err = e.d.GetVolume(t.Context(), v.ID)
	require.NoError(t, err, "GetVolume(%s) after a refused delete: want the volume kept", v.ID)

	require.NoError(t, a.DetachVolume(t.Context(), v.ID), "DetachVolume(%s)", v.ID)
	got, err = e.d.GetVolume(t.Context(), v.ID)
	require.NoError(t, err, "GetVolume(%s)", v.ID)
	assert.Empty(t, got.AttachedTo, "GetVolume after detach: got AttachedTo %q, want none", got.AttachedTo)
	require.NoError(t, e.d.DeleteVolume(t.Context(), v.ID), "DeleteVolume(%s) once detached", v.ID)

	unknown := ovm.NewID()
	assert.ErrorIs(t, a.AttachVolume(t.Context(), unknown, target), ovm.ErrNotFound, "AttachVolume(unknown %s)", unknown)
}

// testSnapshots takes a snapshot, grows the volume, reverts and expects the
// old size back (the suite cannot write data generically, so the size is
// what tells the states apart); then deletes the snapshot, and checks that
// deleting a volume takes its snapshots with it.
func testSnapshots(t *testing.T, e *env) {
	s := e.snapshotter(t)
	if s == nil {
		return
	}
	p := e.pool(t)
	v := e.volume(t, p, volSize)

	snapName := name("snap")
	snap, err := s.CreateSnapshot(t.Context(), v.ID, snapName)
	require.NoError(t, err, "CreateSnapshot(%s, %q)", v.ID, snapName)
	assert.True(t, snap.ID.Valid(), "CreateSnapshot: got id %q, want an OVM id", snap.ID)
	assert.Equal(t, snapName, snap.Name, "CreateSnapshot: got name %q, want %q", snap.Name, snapName)
	assert.Equal(t, v.ID, snap.Of, "CreateSnapshot: got Of %q, want the volume %q", snap.Of, v.ID)
	assertSnapshots(t, s, v.ID, snap.ID)

	_, err = e.d.ResizeVolume(t.Context(), v.ID, 2*volSize)
	require.NoError(t, err, "ResizeVolume(%s, %s) after the snapshot", v.ID, 2*volSize)
	require.NoError(t, s.RevertSnapshot(t.Context(), v.ID, snap.ID), "RevertSnapshot(%s, %s)", v.ID, snap.ID)
	got, err := e.d.GetVolume(t.Context(), v.ID)
	require.NoError(t, err, "GetVolume(%s)", v.ID)
	assert.Equal(t, volSize, got.Size, "GetVolume after revert: got size %s, want %s, the size at the snapshot", got.Size, volSize)

	require.NoError(t, s.DeleteSnapshot(t.Context(), v.ID, snap.ID), "DeleteSnapshot(%s, %s)", v.ID, snap.ID)
	assertSnapshots(t, s, v.ID)
	got, err = e.d.GetVolume(t.Context(), v.ID)
	require.NoError(t, err, "GetVolume(%s) after the snapshot's delete: want the volume kept", v.ID)
	assert.Equal(t, volSize, got.Size, "GetVolume after the snapshot's delete: got size %s, want %s", got.Size, volSize)
	assert.ErrorIs(t, s.DeleteSnapshot(t.Context(), v.ID, snap.ID), ovm.ErrNotFound, "second DeleteSnapshot(%s, %s)", v.ID, snap.ID)

	w := e.volume(t, p, volSize)
	_, err = s.CreateSnapshot(t.Context(), w.ID, name("snap"))
	require.NoError(t, err, "CreateSnapshot(%s)", w.ID)
	require.NoError(t, e.d.DeleteVolume(t.Context(), w.ID), "DeleteVolume(%s) with a snapshot", w.ID)
	_, err = s.ListSnapshots(t.Context(), w.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "ListSnapshots(%s) of a deleted volume", w.ID)
}

// assertSnapshots checks that volume's snapshots are exactly want.
func assertSnapshots(t *testing.T, s storage.Snapshotter, volume ovm.ID, want ...ovm.ID) {
	t.Helper()
	snaps, err := s.ListSnapshots(t.Context(), volume)
	require.NoError(t, err, "ListSnapshots(%s)", volume)
	got := make([]ovm.ID, 0, len(snaps))
	for _, sn := range snaps {
		got = append(got, sn.ID)
		assert.Equal(t, volume, sn.Of, "ListSnapshots(%s): got snapshot %s of %q", volume, sn.ID, sn.Of)
	}
	if want == nil {
		want = []ovm.ID{}
	}
	assert.ElementsMatch(t, want, got, "ListSnapshots(%s): got these ids, want these", volume)
}

// testUnknownSnapshot names snapshots and volumes that do not exist, and a
// snapshot of another volume: each is ovm.ErrNotFound.
func testUnknownSnapshot(t *testing.T, e *env) {
	s := e.snapshotter(t)
	if s == nil {
		return
	}
	p := e.pool(t)
	v, other := e.volume(t, p, volSize), e.volume(t, p, volSize)
	otherSnap, err := s.CreateSnapshot(t.Context(), other.ID, name("snap"))
	require.NoError(t, err, "CreateSnapshot(%s)", other.ID)

	unknownSnap, unknownVol := ovm.NewID(), ovm.NewID()
	assert.ErrorIs(t, s.RevertSnapshot(t.Context(), v.ID, unknownSnap), ovm.ErrNotFound, "RevertSnapshot(%s, unknown %s)", v.ID, unknownSnap)
	assert.ErrorIs(t, s.DeleteSnapshot(t.Context(), v.ID, unknownSnap), ovm.ErrNotFound, "DeleteSnapshot(%s, unknown %s)", v.ID, unknownSnap)
	assert.ErrorIs(t, s.RevertSnapshot(t.Context(), v.ID, otherSnap.ID), ovm.ErrNotFound,
		"RevertSnapshot(%s, %s) with a snapshot of volume %s", v.ID, otherSnap.ID, other.ID)
	assert.ErrorIs(t, s.DeleteSnapshot(t.Context(), v.ID, otherSnap.ID), ovm.ErrNotFound,
		"DeleteSnapshot(%s, %s) with a snapshot of volume %s", v.ID, otherSnap.ID, other.ID)
	_, err = s.CreateSnapshot(t.Context(), unknownVol, name("snap"))
	assert.ErrorIs(t, err, ovm.ErrNotFound, "CreateSnapshot(unknown volume %s)", unknownVol)
	_, err = s.ListSnapshots(t.Context(), unknownVol)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "ListSnapshots(unknown volume %s)", unknownVol)
	assertSnapshots(t, s, other.ID, otherSnap.ID)
}

// testPoolFull asks a pool for more than it has free: a volume one MiB
// larger than the free space, and a resize to that size, are both
// ovm.ErrConflict naming the pool, and leave nothing changed. The pool is
// the harness's LimitedPool with its capacity, or a pool from Pool with the
// capacity the driver reports.
func testPoolFull(t *testing.T, e *env) {
	var p ovm.StoragePool
	var free ovm.Bytes
	if e.h.LimitedPool != nil {
		n := name("full")
		spec, capacity := e.h.LimitedPool(t, n)
		if spec.ID.IsZero() {
			spec.ID = ovm.NewID()
		}
		if spec.Name == "" {
			spec.Name = n
		}
		p = e.createPool(t, spec)
		free = capacity - p.Used
	} else {
		p = e.pool(t)
		if p.Capacity <= 0 {
			t.Fatal("the driver reports no pool capacity: the harness must give a LimitedPool so that a full pool can be tested")
		}
		free = p.Capacity - p.Used
	}
	// The volume that fits: volSize, or half the free space (whole MiB) in a
	// smaller pool.
	small := min(volSize, free/2/ovm.MiB*ovm.MiB)
	require.GreaterOrEqual(t, small, ovm.MiB, "pool %s has %s free: want at least 2MiB to test", p.ID, free)
	over := free + ovm.MiB

	spec := volumeSpec(p, over)
	_, err := e.d.CreateVolume(t.Context(), spec)
	require.ErrorIs(t, err, ovm.ErrConflict, "CreateVolume of %s in pool %s with %s free: want ovm.ErrConflict", over, p.ID, free)
	assertNamesPool(t, err, p)
	_, err = e.d.GetVolume(t.Context(), spec.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound, "GetVolume(%s) after a refused create: want nothing made", spec.ID)
	assertNoVolumes(t, e, p)

	v := e.volume(t, p, small)
	_, err = e.d.ResizeVolume(t.Context(), v.ID, over)
	require.ErrorIs(t, err, ovm.ErrConflict, "ResizeVolume(%s, %s → %s) in pool %s with %s free: want ovm.ErrConflict",
		v.ID, small, over, p.ID, free)
	assertNamesPool(t, err, p)
	got, err := e.d.GetVolume(t.Context(), v.ID)
	require.NoError(t, err, "GetVolume(%s)", v.ID)
	assert.Equal(t, small, got.Size, "GetVolume after a refused resize: got size %s, want %s kept", got.Size, small)
}

// assertNamesPool checks that a full pool's error says which pool is full.
func assertNamesPool(t *testing.T, err error, p ovm.StoragePool) {
	t.Helper()
	msg := err.Error()
	assert.True(t, strings.Contains(msg, p.Name) || strings.Contains(msg, p.ID.String()),
		"error %q: want it to name the full pool (%q or %s)", msg, p.Name, p.ID)
}

// concurrency is how many volumes ConcurrentCreates makes at once.
const concurrency = 8

// testConcurrentCreates creates distinct volumes in one pool from
// concurrency goroutines: all succeed and the pool lists each once.
func testConcurrentCreates(t *testing.T, e *env) {
	p := e.pool(t)
	specs := make([]storage.VolumeSpec, concurrency)
	errs := make([]error, concurrency)
	for i := range specs {
		specs[i] = volumeSpec(p, volSize)
	}
	var wg sync.WaitGroup
	for i := range specs {
		wg.Go(func() { _, errs[i] = e.d.CreateVolume(t.Context(), specs[i]) })
	}
	wg.Wait()

	want := make([]ovm.ID, 0, concurrency)
	for i, spec := range specs {
		assert.NoError(t, errs[i], "concurrent CreateVolume(%s) #%d of %d", spec.ID, i, concurrency)
		want = append(want, spec.ID)
	}
	vols, err := e.d.ListVolumes(t.Context(), p.ID)
	require.NoError(t, err, "ListVolumes(%s)", p.ID)
	assert.ElementsMatch(t, want, volumeIDs(vols), "ListVolumes after %d concurrent creates: got these ids, want each once", concurrency)
}
