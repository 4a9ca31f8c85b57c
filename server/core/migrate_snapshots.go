package core

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// An instance's snapshots move with it: a migration of a kind its engine
// carries snapshots through (hypervisor.Capabilities.MigrationKeepsSnapshots)
// is allowed, any other kind is refused while the instance has snapshots;
// the record step moves the snapshot records (their host and their share of
// it) to the target, after asking the target's engine which of them arrived.

// instanceSnapshotRecords lists the records of an instance's snapshots.
func instanceSnapshotRecords(ctx context.Context, tx store.Tx, inst instanceRecord) ([]store.Record, error) {
	return listAll(ctx, tx, store.Filter{Kind: store.KindSnapshot, VDCID: inst.VDCID, ParentID: inst.ID})
}

// keepsSnapshots refuses a move of mode for an instance that has snapshots
// its engine would not carry.
func keepsSnapshots(ctx context.Context, tx store.Tx, inst instanceRecord, mode apitypes.MigrationMode, caps hypervisor.Capabilities) error {
	if slices.Contains(caps.MigrationKeepsSnapshots, hypervisor.MigrationKind(mode)) {
		return nil
	}
	rs, err := instanceSnapshotRecords(ctx, tx, inst)
	if err != nil || len(rs) == 0 {
		return err
	}
	keeps := "none"
	if len(caps.MigrationKeepsSnapshots) > 0 {
		keeps = fmt.Sprint(caps.MigrationKeepsSnapshots)
	}
	return conflictf("cannot migrate instance %s: it has %d snapshots, and a %s migration on its host kind does not carry them "+
		"(the kinds that do: %s); delete them first", inst.Name, len(rs), mode, keeps)
}

// snapshotsAt returns the engine ids and names of the snapshots an
// instance has on host to, or nil when it has no snapshot records or its
// engine cannot say.
func (s *Service) snapshotsAt(ctx context.Context, instID, to ovm.ID) (map[ovm.ID]bool, error) {
	var inst instanceRecord
	var host hostRecord
	var n int
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		if inst, _, err = getAs[instanceRecord](ctx, tx, store.KindInstance, instID); err != nil {
			return err
		}
		rs, err := instanceSnapshotRecords(ctx, tx, inst)
		n = len(rs)
		if err != nil || n == 0 {
			return err
		}
		host, _, err = getAs[hostRecord](ctx, tx, store.KindHost, to)
		return err
	})
	if err != nil || n == 0 {
		return nil, err
	}
	conn, err := s.connect(ctx, host)
	if err != nil {
		return nil, hostError(host.Host, err)
	}
	hs, err := hypervisorSnapshots(conn.Hypervisor, inst)
	if err != nil {
		return nil, err
	}
	list, err := hs.ListSnapshots(ctx, hypervisor.ByID(inst.ID))
	if err != nil {
		return nil, err
	}
	out := map[ovm.ID]bool{}
	for _, x := range list {
		out[x.ID], out[ovm.ID(x.Name)] = true, true
	}
	return out, nil
}

// moveSnapshots moves the records of an instance's snapshots, and their
// share of its host, to host to, in tx. With present (what the target's
// engine lists), a ready snapshot that is not there is marked failed with
// the reason (it did not come along in the move how names), and deleting
// it releases its quota.
func moveSnapshots(ctx context.Context, tx store.Tx, inst instanceRecord, to ovm.ID, how string, present map[ovm.ID]bool) error {
	return eachSnapshot(ctx, tx, inst.VDCID, inst.ID, func(r store.Record, sn snapshotRecord) error {
		if sn.Held.HostID != "" {
			if err := setHold(ctx, tx, &sn.Held, hostHold{HostID: to, Resources: sn.Held.Resources}, ovm.Resources{}); err != nil {
				return err
			}
		}
		sn.HostID, r.HostID = to, to
		if present != nil && sn.Phase == ovm.PhaseReady && !present[ovm.ID(sn.NativeID)] && !present[sn.ID] {
			sn.Phase = ovm.PhaseFailed
			sn.Message = fmt.Sprintf("the snapshot did not come along %s: its engine does not list it "+
				"where the instance runs now; delete it", how)
		}
		return save(ctx, tx, &r, sn)
	})
}

// evacuatedSnapshots moves the snapshot records of an instance restarted
// on another host after its host failed to that host: the ones its engine
// lists there (a re-registered VM whose host rebuilt its snapshot tree)
// stay ready, the others are marked failed (libvirt's snapshot metadata
// stayed with the failed daemon; a VM made again has none), so that they
// can be deleted and their quota released.
func (s *Service) evacuatedSnapshots(ctx context.Context, r *tasks.Run, in evacuateInput) error {
	present, err := s.snapshotsAt(ctx, in.InstanceID, in.HostID)
	if err != nil {
		r.Logf(slog.LevelWarn, "could not list the instance's snapshots where it runs now: %v", err)
		present = nil
	}
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		inst, _, err := getAs[instanceRecord](ctx, tx, store.KindInstance, in.InstanceID)
		if err != nil {
			return ignore(err, ovm.KindNotFound)
		}
		if inst.Status.HostID != in.HostID {
			return nil
		}
		return moveSnapshots(ctx, tx, inst, in.HostID, "when the instance was restarted on another host after its host failed", present)
	})
}
