package esxi

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

// failNext makes the host fail the next call of method with fault and text.
func (h *simHost) failNext(method string, fault types.BaseMethodFault, text string) {
	h.model.Service.AddFaultRule(&simulator.FaultInjectionRule{
		MethodName: method, ObjectType: "*", ObjectName: "*", Probability: 1,
		FaultType: simulator.FaultTypeCustom, Fault: fault, Message: text, MaxCount: 1, Enabled: true,
	})
}

// TestDatastoreFull: the host refuses the VM for want of space after its
// boot disk was copied from the template. The error is a conflict with the
// host's text, and the copy is removed again: nothing half-made is left.
func TestDatastoreFull(t *testing.T) {
	h := newHost(t)
	admin := h.admin(t)
	h.makeTemplate(t, admin)
	d := h.dial(t)
	before := vmNames(t, admin)
	const text = "There is not enough space on the file system for the selected operation."
	h.failNext("CreateVM_Task", &types.NoDiskSpace{Datastore: h.ds}, text)

	spec := vmSpec("full")
	_, err := d.Create(t.Context(), spec)
	require.ErrorIs(t, err, ovm.ErrConflict, "Create on a full datastore: got %v, want a conflict", err)
	assert.Contains(t, err.Error(), text, "Create on a full datastore: got %q, want the host's text", err)
	assert.ElementsMatch(t, before, vmNames(t, admin), "vms after the refused create: got the first list, want the second")
	assert.False(t, dsFileExists(t, admin, h.ds, "full/full.vmdk"), "the copied boot disk: got it left on the datastore, want it removed")
	assert.False(t, dsFileExists(t, admin, h.ds, "full"), "the vm's directory: got it left on the datastore, want it removed")

	// The same spec goes through once the host has room.
	inst, err := d.Create(t.Context(), spec)
	require.NoError(t, err, "Create after the fault: got an error, want the vm")
	t.Cleanup(func() { _ = d.Delete(context.Background(), hypervisor.RefOf(inst)) })
	assert.True(t, dsFileExists(t, admin, h.ds, "full/full.vmdk"), "boot disk: got none, want the template's copy")
}

// TestVolumeNoDiskSpace: the host refuses a VMDK for want of space: a
// conflict naming the pool, with the host's text, and no volume left.
func TestVolumeNoDiskSpace(t *testing.T) {
	h := newHost(t)
	s := h.dial(t).Storage()
	dir := filepath.Join(t.TempDir(), "vols")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	p, err := s.CreatePool(t.Context(), storage.PoolSpec{ID: ovm.NewID(), Name: "vols", Kind: ovm.StorageLocal, Path: dir})
	require.NoError(t, err, "CreatePool")
	t.Cleanup(func() { _ = s.DeletePool(context.Background(), p.ID) })
	const text = "Insufficient disk space on datastore 'vols'."
	h.failNext("CreateVirtualDisk_Task", &types.NoDiskSpace{Datastore: "vols"}, text)

	spec := storage.VolumeSpec{ID: ovm.NewID(), Name: "data", PoolID: p.ID, Size: 64 * ovm.MiB}
	_, err = s.CreateVolume(t.Context(), spec)
	require.ErrorIs(t, err, ovm.ErrConflict, "CreateVolume on a full datastore: got %v, want a conflict", err)
	assert.Contains(t, err.Error(), "vols", "CreateVolume: got %q, want the pool named", err)
	assert.Contains(t, err.Error(), text, "CreateVolume: got %q, want the host's text", err)
	vols, err := s.ListVolumes(t.Context(), p.ID)
	require.NoError(t, err, "ListVolumes")
	assert.Empty(t, vols, "ListVolumes after the refused create: got %v, want none", vols)
	assert.False(t, dsFileExists(t, h.admin(t), "vols", volumesDir+"/"+string(spec.ID)), "volume directory: got it left, want it removed")
}

// TestDuplicateNames: names taken on the host are conflicts with a clear
// error, and nothing is made.
func TestDuplicateNames(t *testing.T) {
	h := newHost(t)
	admin := h.admin(t)
	h.makeTemplate(t, admin)
	d := h.dial(t)
	ctx := t.Context()

	t.Run("vm named like an existing vm", func(t *testing.T) {
		first := vmSpec("web")
		_, err := d.Create(ctx, first)
		require.NoError(t, err, "Create web")
		t.Cleanup(func() { _ = d.Delete(context.Background(), hypervisor.ByID(first.ID)) })
		before := vmNames(t, admin)
		_, err = d.Create(ctx, vmSpec("web"))
		require.ErrorIs(t, err, ovm.ErrConflict, "Create with a taken name: got %v, want a conflict", err)
		assert.Contains(t, err.Error(), `the name "web" is taken`, "Create with a taken name: got %q", err)
		assert.ElementsMatch(t, before, vmNames(t, admin), "vms after the refused create: got the first, want the second")
		assert.False(t, dsFileExists(t, admin, h.ds, "web_1"), "a second vm directory: got one, want none")
	})
	t.Run("network named like an existing port group", func(t *testing.T) {
		// The operator's port group: one of another OVM network of the name
		// is not a conflict (see TestNetworkSameName).
		require.NoError(t, object.NewHostNetworkSystem(d.c.client, d.c.netSystem).AddPortGroup(ctx,
			types.HostPortGroupSpec{Name: "mgmt", VswitchName: d.c.vswitch(), Policy: types.HostNetworkPolicy{}}), "add port group mgmt")
		other := ovm.Network{ID: ovm.NewID(), Name: "mgmt", Subnet: mustPrefix("10.9.1.0/24")}
		_, err := d.Network().CreateNetwork(ctx, other)
		require.ErrorIs(t, err, ovm.ErrConflict, "CreateNetwork with a taken port group name: got %v, want a conflict", err)
		assert.Contains(t, err.Error(), `a port group named "mgmt" exists`, "CreateNetwork: got %q", err)
		_, err = d.Network().GetNetwork(ctx, other.ID)
		assert.ErrorIs(t, err, ovm.ErrNotFound, "GetNetwork of the refused network: got %v, want not found", err)
	})
	t.Run("pool named like an existing pool", func(t *testing.T) {
		s := d.Storage()
		dir := filepath.Join(t.TempDir(), "p1")
		require.NoError(t, os.MkdirAll(dir, 0o755))
		p, err := s.CreatePool(ctx, storage.PoolSpec{ID: ovm.NewID(), Name: "p1", Kind: ovm.StorageLocal, Path: dir})
		require.NoError(t, err, "CreatePool p1")
		t.Cleanup(func() { _ = s.DeletePool(context.Background(), p.ID) })
		other := storage.PoolSpec{ID: ovm.NewID(), Name: "p1", Kind: ovm.StorageLocal, Path: dir}
		_, err = s.CreatePool(ctx, other)
		require.ErrorIs(t, err, ovm.ErrConflict, "CreatePool with a taken name: got %v, want a conflict", err)
		_, err = s.GetPool(ctx, other.ID)
		assert.ErrorIs(t, err, ovm.ErrNotFound, "GetPool of the refused pool: got %v, want not found", err)
	})
}

// mustPrefix parses a prefix of the test.
func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// TestDelayedHost: a host slower than the caller's deadline; the call
// returns at the deadline, unavailable, with the context's error.
func TestDelayedHost(t *testing.T) {
	h := newHost(t, func(m *simulator.Model) {
		m.DelayConfig.MethodDelay = map[string]int{"PowerOnVM_Task": 3000}
	})
	h.makeTemplate(t, h.admin(t))
	d := h.dial(t)
	spec := vmSpec("slow")
	_, err := d.Create(t.Context(), spec)
	require.NoError(t, err, "Create")
	t.Cleanup(func() {
		ctx := context.Background()
		time.Sleep(3 * time.Second) // let the delayed power-on finish on the host
		_ = d.Stop(ctx, hypervisor.ByID(spec.ID), hypervisor.StopOptions{Force: true})
		_ = d.Delete(ctx, hypervisor.ByID(spec.ID))
	})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = d.Start(ctx, hypervisor.ByID(spec.ID))
	took := time.Since(start)
	require.ErrorIs(t, err, ovm.ErrUnavailable, "Start on a slow host: got %v, want unavailable", err)
	assert.ErrorIs(t, err, context.DeadlineExceeded, "Start on a slow host: got %v, want the deadline in the chain", err)
	assert.Less(t, took, 2*time.Second, "Start on a slow host: took %s, want about the 300ms deadline", took)
}

// setLicences replaces the host's licences, as an administrator would.
func (h *simHost) setLicences(ls []types.LicenseManagerLicenseInfo) {
	lm := h.model.Map().Get(*h.model.ServiceContent.LicenseManager).(*simulator.LicenseManager)
	h.model.Map().WithLock(h.model.Service.Context, lm, func() { lm.Licenses = ls })
}

// TestFreeLicenceHost: a host on the free licence is reported read-only with
// the reason, and every change is refused up front, before the host is
// asked; once the host has another licence it takes changes again.
func TestFreeLicenceHost(t *testing.T) {
	h := newHost(t)
	admin := h.admin(t)
	h.makeTemplate(t, admin)
	h.setLicences([]types.LicenseManagerLicenseInfo{{LicenseKey: "HG00K-03H8K-48929-8K1NP-3LUJ4", EditionKey: "esxBasic", Name: "VMware vSphere 7 Hypervisor"}})
	d := h.dial(t)
	ctx := t.Context()

	info, err := d.Info(ctx)
	require.NoError(t, err, "Info of a free host")
	assert.True(t, info.ReadOnly, "Info.ReadOnly of a free host: got false, want true")
	assert.Contains(t, info.ReadOnlyReason, licenceText, "Info.ReadOnlyReason: got %q, want the host's own words", info.ReadOnlyReason)
	list, err := d.List(ctx)
	require.NoError(t, err, "List on a free host: reading works")

	before := vmNames(t, admin)
	s, n := d.Storage(), d.Network()
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"create", func() error { _, err := d.Create(ctx, vmSpec("free")); return err }},
		{"start", func() error { return d.Start(ctx, hypervisor.ByNative(list[0].NativeID)) }},
		{"stop", func() error {
			return d.Stop(ctx, hypervisor.ByNative(list[0].NativeID), hypervisor.StopOptions{Force: true})
		}},
		{"reconfigure", func() error {
			_, err := d.Reconfigure(ctx, hypervisor.ByNative(list[0].NativeID), hypervisor.Resize{Memory: 128 * ovm.MiB})
			return err
		}},
		{"snapshot", func() error { _, err := d.CreateSnapshot(ctx, hypervisor.ByNative(list[0].NativeID), "s1"); return err }},
		{"create pool", func() error {
			_, err := s.CreatePool(ctx, storage.PoolSpec{ID: ovm.NewID(), Name: "p", Kind: ovm.StorageLocal, Path: t.TempDir()})
			return err
		}},
		{"create network", func() error {
			_, err := n.CreateNetwork(ctx, ovm.Network{ID: ovm.NewID(), Name: "n", Subnet: mustPrefix("10.8.0.0/24")})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			require.ErrorIs(t, err, ovm.ErrUnsupported, "%s on a free host: got %v, want unsupported", tt.name, err)
			assert.Contains(t, err.Error(), "free licence", "%s on a free host: got %q, want the reason", tt.name, err)
		})
	}
	assert.ElementsMatch(t, before, vmNames(t, admin), "vms after the refused calls: got the first, want the second")
	got, err := d.Get(ctx, hypervisor.ByNative(list[0].NativeID))
	require.NoError(t, err)
	assert.Equal(t, list[0].Power, got.Power, "power of %s after the refused stop: got %q, want %q", got.Name, got.Power, list[0].Power)

	h.setLicences([]types.LicenseManagerLicenseInfo{simulator.EvalLicense})
	info, err = d.Info(ctx)
	require.NoError(t, err, "Info after the licence changed")
	assert.False(t, info.ReadOnly, "Info.ReadOnly after the licence changed: got true (%s), want false", info.ReadOnlyReason)
	spec := vmSpec("licensed")
	_, err = d.Create(ctx, spec)
	require.NoError(t, err, "Create once licensed: got an error, want the vm")
	require.NoError(t, d.Delete(ctx, hypervisor.ByID(spec.ID)), "Delete")
}
