package core

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
	storfake "github.com/openovm/ovm/storage/fake"
)

// The snapshot step runs again after a crash (the engine took the
// snapshot, the step was not recorded done): it finds the snapshot by its
// OVM id and takes no second one, on an instance and on a volume; a
// snapshot the engine no longer has is not found, so a delete step that
// runs again is done.
func TestTakeSnapshotRunsAgain(t *testing.T) {
	ctx := t.Context()
	hv := fake.New(fake.Options{Name: "h1"})
	inst, err := hv.Create(ctx, hypervisor.CreateSpec{ID: ovm.NewID(), Name: "vm1",
		Spec: ovm.InstanceSpec{Type: ovm.TypeVM, CPU: 1000, Memory: 64 * ovm.MiB, Image: ovm.Template("t.qcow2")}})
	require.NoError(t, err)
	require.NoError(t, hv.Start(ctx, hypervisor.RefOf(inst)))
	st := storfake.New(storfake.Options{})
	pool, err := st.CreatePool(ctx, storage.PoolSpec{ID: ovm.NewID(), Name: "p1", Kind: ovm.StorageLocal, Path: "/pool"})
	require.NoError(t, err)
	vol, err := st.CreateVolume(ctx, storage.VolumeSpec{ID: ovm.NewID(), Name: "v1", PoolID: pool.ID, Size: ovm.GiB})
	require.NoError(t, err)

	for _, tt := range []struct {
		name string
		tg   snapshotTarget
	}{
		{"instance", snapshotTarget{hv: hv, ref: hypervisor.RefOf(inst), memory: true,
			facet: instanceSnapshots{sn: hv, ref: hypervisor.RefOf(inst)}}},
		{"volume", snapshotTarget{facet: volumeSnapshots{sn: st, id: vol.ID}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.tg.sn = snapshotRecord{SnapshotInfo: SnapshotInfo{ID: ovm.NewID(), Name: "s1"}}
			first, took, err := takeSnapshot(ctx, tt.tg)
			require.NoError(t, err)
			assert.True(t, took, "the first run takes the snapshot")
			assert.NotEmpty(t, first.NativeID)
			assert.Equal(t, tt.tg.hv != nil, first.Memory, "a running instance's snapshot holds its memory where the engine can")
			again, took, err := takeSnapshot(ctx, tt.tg)
			require.NoError(t, err)
			assert.False(t, took, "the run again takes none")
			assert.Equal(t, first, again, "and finds the first")
			list, err := tt.tg.facet.ListSnapshots(ctx)
			require.NoError(t, err)
			assert.Len(t, list, 1, "one snapshot on the engine")

			require.NoError(t, tt.tg.facet.DeleteSnapshot(ctx, ovm.ID(first.NativeID)))
			_, err = findSnapshot(ctx, tt.tg.facet, tt.tg.sn, "")
			assert.Equal(t, ovm.KindNotFound, ovm.KindOf(err), "a deleted snapshot is not found: %v", err)
		})
	}
}

// A host whose driver lacks the snapshot facet, and a container, are
// ovm.ErrUnsupported (501) with a message that says what is not offered.
func TestSnapshotFacets(t *testing.T) {
	hv := fake.New(fake.Options{Name: "h1"})
	st := storfake.New(storfake.Options{})
	vm := instanceRecord{Instance: ovm.Instance{Name: "vm1", Spec: ovm.InstanceSpec{Type: ovm.TypeVM}}}
	ctr := instanceRecord{Instance: ovm.Instance{Name: "c1", Spec: ovm.InstanceSpec{Type: ovm.TypeContainer}}}
	vol := volumeRecord{Volume: ovm.Volume{Name: "data"}}
	for _, tt := range []struct {
		name string
		err  func() error
		text string // "" when the facet is there
	}{
		{"a VM on a host with snapshots", func() error { _, err := hypervisorSnapshots(observed{Driver: hv}, vm); return err }, ""},
		{"a container", func() error { _, err := hypervisorSnapshots(hv, ctr); return err }, "snapshots are not offered for containers"},
		{"a VM on a host without them", func() error { _, err := hypervisorSnapshots(struct{ hypervisor.Driver }{hv}, vm); return err },
			"takes no snapshots"},
		{"a volume on storage with snapshots", func() error { _, err := storageSnapshots(st, ovm.HostKVM, vol); return err }, ""},
		{"a volume on storage without them", func() error {
			_, err := storageSnapshots(struct{ storage.Driver }{st}, ovm.HostESXi, vol)
			return err
		}, "esxi hosts take no volume snapshots"},
		{"a volume on a host without storage", func() error { _, err := storageSnapshots(nil, ovm.HostDocker, vol); return err },
			"docker hosts take no volume snapshots"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			if tt.text == "" {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, ovm.KindUnsupported, ovm.KindOf(err), "kind of %v", err)
			assert.ErrorContains(t, err, tt.text)
		})
	}
}
