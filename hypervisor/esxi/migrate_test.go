package esxi

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/vim25"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// coldPair is two simulated hosts and a running VM on the first.
type coldPair struct {
	h1, h2   *simHost
	a1, a2   *vim25.Client
	src, dst *Driver
	spec     hypervisor.CreateSpec
	ref      hypervisor.Ref
}

// newColdPair starts two simulated hosts and runs a VM named name on the
// first, removed from both when t ends.
func newColdPair(t *testing.T, name string) coldPair {
	t.Helper()
	p := coldPair{h1: newHost(t), h2: newHost(t)}
	p.a1, p.a2 = p.h1.admin(t), p.h2.admin(t)
	p.h1.makeTemplate(t, p.a1)
	p.src, p.dst = p.h1.dial(t), p.h2.dial(t)
	p.spec = vmSpec(name)
	_, err := p.src.Create(t.Context(), p.spec)
	require.NoError(t, err, "Create")
	t.Cleanup(func() {
		for _, d := range []*Driver{p.src, p.dst} {
			_ = d.Stop(context.Background(), hypervisor.ByID(p.spec.ID), hypervisor.StopOptions{Force: true})
			_ = d.Delete(context.Background(), hypervisor.ByID(p.spec.ID))
		}
	})
	p.ref = hypervisor.ByID(p.spec.ID)
	require.NoError(t, p.src.Start(t.Context(), p.ref))
	return p
}

// TestColdMigration moves a running VM between two ESX simulators: it is
// powered off, its files copied, registered on the other host under the
// same OVM id and powered on there; nothing of it is left on the first.
// A live migration is refused as unsupported, with the reason.
func TestColdMigration(t *testing.T) {
	p := newColdPair(t, "mover")
	h1, h2, a1, a2, src, dst, spec, ref := p.h1, p.h2, p.a1, p.a2, p.src, p.dst, p.spec, p.ref
	ctx := t.Context()

	assert.True(t, src.Capabilities().ColdMigration, "Capabilities.ColdMigration")
	assert.False(t, src.Capabilities().LiveMigration, "Capabilities.LiveMigration")
	err := src.Migrate(ctx, ref, hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive, Destination: dst}, nil)
	require.ErrorIs(t, err, ovm.ErrUnsupported, "live migration on a standalone host: got %v", err)
	assert.Contains(t, err.Error(), "vCenter")

	var seen []int
	require.NoError(t, src.Migrate(ctx, ref, hypervisor.MigrationTarget{Kind: hypervisor.MigrateCold, Destination: dst},
		func(p int, _ string) { seen = append(seen, p) }), "cold Migrate")
	assert.Equal(t, 100, seen[len(seen)-1], "last progress: got %v", seen)
	assert.Greater(t, len(seen), 3, "progress reports: got %v", seen)

	got, err := dst.Get(ctx, ref)
	require.NoError(t, err, "Get on the destination")
	assert.Equal(t, spec.ID, got.OVMID, "the OVM id travels with the VM")
	assert.Equal(t, ovm.PowerRunning, got.Power, "power on the destination")
	assert.Equal(t, spec.Spec.Memory, got.Memory)
	assert.True(t, dsFileExists(t, a2, h2.ds, "mover/mover.vmx"), "the VMX on the destination's datastore")
	_, err = src.Get(ctx, ref)
	require.ErrorIs(t, err, ovm.ErrNotFound, "Get on the source after the move: got %v", err)
	assert.False(t, dsFileExists(t, a1, h1.ds, "mover"), "the VM's directory left on the source")
	assert.NotContains(t, vmNames(t, a1), "mover")

	// Cancelled before it starts: nothing moves, the VM keeps running.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	err = dst.Migrate(cctx, ref, hypervisor.MigrationTarget{Kind: hypervisor.MigrateCold, Destination: src}, nil)
	require.Error(t, err, "a cancelled migration")
	got, err = dst.Get(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, ovm.PowerRunning, got.Power, "after the cancelled migration")
	assert.NotContains(t, vmNames(t, a1), "mover", "nothing registered on the other host")
}

// TestColdMigrationSnapshots moves a VM with a snapshot between two ESX
// simulators: its files move, but the simulator keeps snapshots in memory
// and does not rebuild them from the files it registers, so the move is
// refused and undone, naming the snapshot; the VM runs on at the source
// with its snapshot, and nothing is left on the destination.
func TestColdMigrationSnapshots(t *testing.T) {
	p := newColdPair(t, "snapmover")
	h2, a2, src, dst, ref := p.h2, p.a2, p.src, p.dst, p.ref
	ctx := t.Context()
	snap, err := src.CreateSnapshot(ctx, ref, "kept")
	require.NoError(t, err, "CreateSnapshot")

	err = src.Migrate(ctx, ref, hypervisor.MigrationTarget{Kind: hypervisor.MigrateCold, Destination: dst}, nil)
	require.ErrorIs(t, err, ovm.ErrConflict, "a cold migration whose snapshots the destination does not restore: got %v", err)
	assert.Contains(t, err.Error(), "(kept)", "the lost snapshot named")
	assert.Contains(t, err.Error(), "undone")

	got, err := src.Get(ctx, ref)
	require.NoError(t, err, "Get on the source after the refused move")
	assert.Equal(t, ovm.PowerRunning, got.Power, "the VM runs again at the source")
	list, err := src.ListSnapshots(ctx, ref)
	require.NoError(t, err)
	require.Len(t, list, 1, "the source keeps its snapshot")
	assert.Equal(t, snap.ID, list[0].ID)
	require.NoError(t, src.RevertSnapshot(ctx, ref, snap.ID), "the snapshot still reverts at the source")
	assert.NotContains(t, vmNames(t, a2), "snapmover", "nothing registered on the destination")
	assert.False(t, dsFileExists(t, a2, h2.ds, "snapmover"), "no copy left on the destination's datastore")
}
