package core

import (
	"context"
	"fmt"
	"slices"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// TaskInstanceMigrate moves an instance to another host or storage pool.
const TaskInstanceMigrate = "instance.migrate"

// InstanceMigrate asks for an instance to move.
type InstanceMigrate = apitypes.InstanceMigrate

// migration is an instance's move in flight, kept in its record from the
// request until its task ends.
type migration struct {
	Task   ovm.ID                 `json:"task"`
	Mode   apitypes.MigrationMode `json:"mode"`
	From   ovm.ID                 `json:"from"`
	To     ovm.ID                 `json:"to"` // From for a storage migration
	PoolID ovm.ID                 `json:"poolId,omitempty"`
	// Hold is what the instance holds on To while it moves (taken when
	// the migration is asked, so that placement counts it): the record
	// step releases the source's share and keeps this one, in one
	// transaction; a migration that does not happen releases it.
	Hold hostHold `json:"hold,omitzero"`
	// CancelledBy names who asked to cancel; the task's migrate step
	// stops the move when it sees it.
	CancelledBy string `json:"cancelledBy,omitempty"`
}

// MigrateInstance moves an instance through an instance.migrate task: the
// mode is what the instance's host can do when in leaves it out, and
// placement picks the target host in the instance's resource pool when
// in names none (its problem lists each host's reason when none fits).
// Only administrators name a host or a storage pool. The instance's share
// of the target host is taken now, in the transaction that records the
// migration.
func (s *Service) MigrateInstance(ctx context.Context, p auth.Principal, id ovm.ID, in InstanceMigrate, ifVersion int64) (InstanceTask, error) {
	if err := checkMigrate(p, in); err != nil {
		return InstanceTask{}, err
	}
	// The source host's capabilities decide what the move can be; they
	// are read before the transaction, which calls no driver.
	var src hostRecord
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		_, inst, err := visibleInstance(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if inst.Status.HostID == "" {
			return conflictf("instance %s is on no host", inst.Name)
		}
		src, _, err = getAs[hostRecord](ctx, tx, store.KindHost, inst.Status.HostID)
		return err
	})
	if err != nil {
		return InstanceTask{}, err
	}
	caps, err := s.capabilities(ctx, src)
	if err != nil {
		return InstanceTask{}, err
	}
	var out InstanceTask
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, inst, err := readyInstance(ctx, tx, p, id, ifVersion, "migrate")
		if err != nil {
			return err
		}
		if err := busy(ctx, tx, inst); err != nil {
			return err
		}
		if inst.Status.HostID != src.ID {
			return conflictf("instance %s moved while the migration was asked; ask again", inst.Name)
		}
		it := &moveItem{r: r, inst: inst, in: in}
		if err := s.prepareMove(ctx, tx, it, src, caps); err != nil {
			return err
		}
		if err := s.placeMoves(ctx, tx, p, src, []*moveItem{it}); err != nil {
			return err
		}
		if it.err != nil {
			return it.err
		}
		task, err := s.recordMove(ctx, tx, it, src)
		if err != nil {
			return err
		}
		out = InstanceTask{Instance: it.inst.Instance, Task: &task}
		return nil
	})
	return s.answered(ctx, p, out, err)
}

// answered is what a change of an instance answers p: the instance as p
// may see it (the task engine woken for its task).
func (s *Service) answered(ctx context.Context, p auth.Principal, out InstanceTask, err error) (InstanceTask, error) {
	if err != nil {
		return InstanceTask{}, err
	}
	if out.Task != nil {
		s.tasks.Kick(out.Task.ID)
	}
	out.Instance = view(p, out.Instance)
	s.tenantInstances(ctx, p, &out.Instance)
	return out, nil
}

// visibleInstance reads an instance the principal may see.
func visibleInstance(ctx context.Context, tx store.Tx, p auth.Principal, id ovm.ID) (store.Record, instanceRecord, error) {
	r, err := getVisible(ctx, tx, p, store.KindInstance, id)
	if err != nil {
		return r, instanceRecord{}, err
	}
	inst, err := decode[instanceRecord](r)
	return r, inst, err
}

// readyInstance reads an instance the principal may see at version
// ifVersion (0: any), and refuses op unless it is ready.
func readyInstance(ctx context.Context, tx store.Tx, p auth.Principal, id ovm.ID, ifVersion int64, op string) (store.Record, instanceRecord, error) {
	r, inst, err := visibleInstance(ctx, tx, p, id)
	if err != nil {
		return r, inst, err
	}
	if err := checkVersion(r, ifVersion); err != nil {
		return r, inst, err
	}
	if inst.Status.Phase != ovm.PhaseReady {
		return r, inst, conflictf("cannot %s instance %s: it is %s", op, inst.Name, inst.Status.Phase)
	}
	return r, inst, nil
}

// checkMigrate checks a migration request's fields: tenants never name a
// host or a storage pool.
func checkMigrate(p auth.Principal, in InstanceMigrate) error {
	var f ovm.Fields
	if in.Mode != "" && !slices.Contains(apitypes.MigrationModes, in.Mode) {
		f.Addf("mode", "must be live, shared-nothing, storage or cold, not %q", in.Mode)
	}
	if !p.Admin() {
		if in.HostID != "" {
			f.Add("hostId", "only administrators choose a host: leave it out and placement picks one")
		}
		if in.StoragePoolID != "" {
			f.Add("storagePoolId", "only administrators choose a storage pool")
		}
	}
	if in.HostID != "" && !in.HostID.Valid() {
		f.Add("hostId", "must be an OVM id (a lower-case UUID)")
	}
	if in.StoragePoolID != "" && !in.StoragePoolID.Valid() {
		f.Add("storagePoolId", "must be an OVM id (a lower-case UUID)")
	}
	return f.Err("invalid migration")
}

// capabilities connects to a host and returns what its driver announces.
func (s *Service) capabilities(ctx context.Context, h hostRecord) (hypervisor.Capabilities, error) {
	conn, err := s.connect(ctx, h)
	if err != nil {
		return hypervisor.Capabilities{}, hostError(h.Host, err)
	}
	return conn.Hypervisor.Capabilities(), nil
}

// CancelMigration asks the migration in flight of an instance to stop: its
// task aborts the move (libvirt aborts its migration job; a cold move
// undoes what it did) and the instance keeps running where it was. A
// cancel that arrives once the instance runs on its new host changes
// nothing. It answers the migration's task.
func (s *Service) CancelMigration(ctx context.Context, p auth.Principal, id ovm.ID) (InstanceTask, error) {
	var out InstanceTask
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, inst, err := visibleInstance(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if inst.Migration == nil {
			return conflictf("instance %s is not migrating", inst.Name)
		}
		t, err := tx.GetTask(ctx, inst.Migration.Task)
		if err != nil {
			return err
		}
		if inst.Migration.CancelledBy == "" {
			inst.Migration.CancelledBy = p.Name
			inst.Status.UpdatedAt = s.now()
			if err := save(ctx, tx, &r, inst); err != nil {
				return err
			}
		}
		out = InstanceTask{Instance: inst.Instance, Task: &t.Task}
		return nil
	})
	return s.answered(ctx, p, out, err)
}

// moveItem is one instance's move being planned.
type moveItem struct {
	r    store.Record
	inst instanceRecord
	in   InstanceMigrate
	// Filled by prepareMove.
	mode    apitypes.MigrationMode
	pool    ovm.StoragePool
	req     placement.Request
	vdcPool ovm.ID
	// Filled by placeMoves.
	to     ovm.ID
	toName string
	limit  ovm.Resources
	// err says why the instance cannot move (placement found no host).
	err error
}

// prepareMove decides an instance's migration mode from what it asks and
// what its host can do, and builds its placement request.
func (s *Service) prepareMove(ctx context.Context, tx store.Tx, it *moveItem, src hostRecord, caps hypervisor.Capabilities) error {
	inst := it.inst
	hi, err := haInstance(ctx, tx, inst)
	if err != nil {
		return err
	}
	if it.mode, err = migrationMode(inst, it.in, src, caps, hi.LocalStorage); err != nil {
		return err
	}
	if err := keepsSnapshots(ctx, tx, inst, it.mode, caps); err != nil {
		return err
	}
	if !it.in.StoragePoolID.IsZero() {
		if it.pool, _, err = getAs[ovm.StoragePool](ctx, tx, store.KindStoragePool, it.in.StoragePoolID); err != nil {
			return fieldNotFound(err, "storagePoolId")
		}
	}
	switch it.mode {
	case apitypes.MigrationStorage, apitypes.MigrationSharedNothing:
		if it.pool.ID.IsZero() {
			return invalid("invalid migration", "storagePoolId", fmt.Sprintf("is required by a %s migration", it.mode))
		}
		if it.mode == apitypes.MigrationStorage {
			if !it.in.HostID.IsZero() {
				return invalid("invalid migration", "hostId", "a storage migration keeps the instance on its host: leave it out")
			}
			if !reachesStorage(src.Host, it.pool) {
				return invalid("invalid migration", "storagePoolId", fmt.Sprintf("host %s does not reach storage pool %s", src.Name, it.pool.Name))
			}
			return nil
		}
	}
	v, _, err := getAs[ovm.VDC](ctx, tx, store.KindVDC, inst.VDCID)
	if err != nil {
		return err
	}
	it.vdcPool = v.PoolID
	req, err := request(ctx, tx, inst.Name, inst.Spec, hi.Group)
	if err != nil {
		return err
	}
	// The demand is the spec's, as at create: the disks the host made
	// beyond it are in the hold the move takes on the target, within
	// the target's disk capacity where it reports one.
	req.Kinds = []ovm.HostKind{src.Kind} // a move stays on the engine it runs on
	req.Exclude = []ovm.ID{src.ID}
	if it.mode == apitypes.MigrationSharedNothing && !slices.Contains(req.SharedStorage, it.pool.ID) {
		req.SharedStorage = append(req.SharedStorage, it.pool.ID)
	}
	it.req = req
	return nil
}

// migrationMode is the mode of an instance's move: what in asks, checked
// against what its host announces, or the best the host can do.
func migrationMode(inst instanceRecord, in InstanceMigrate, src hostRecord, caps hypervisor.Capabilities, local bool) (apitypes.MigrationMode, error) {
	unsupported := func(format string, args ...any) error {
		msg := fmt.Sprintf(format, args...)
		if caps.MigrationNote != "" {
			msg += " (" + caps.MigrationNote + ")"
		}
		return ovm.Errorf(ovm.KindUnsupported, "%s", msg)
	}
	if inst.Spec.Type == ovm.TypeContainer {
		if in.Mode != "" && in.Mode != apitypes.MigrationCold {
			return "", invalid("invalid migration", "mode", "a container moves only cold: it is recreated on the other host from its image")
		}
		if len(inst.Spec.Disks) == 0 || local {
			return "", unsupported("container %s cannot move: it has no volumes on a shared storage pool, and recreated elsewhere it would lose its data", inst.Name)
		}
		return apitypes.MigrationCold, nil
	}
	mode := in.Mode
	if mode == "" {
		switch {
		case !in.StoragePoolID.IsZero() && caps.SharedNothingMigration:
			mode = apitypes.MigrationSharedNothing
		case caps.LiveMigration:
			mode = apitypes.MigrationLive
		case caps.ColdMigration:
			mode = apitypes.MigrationCold
		default:
			return "", unsupported("host %s cannot migrate instance %s", src.Name, inst.Name)
		}
	}
	can := map[apitypes.MigrationMode]bool{
		apitypes.MigrationLive: caps.LiveMigration, apitypes.MigrationSharedNothing: caps.SharedNothingMigration,
		apitypes.MigrationStorage: caps.StorageMigration, apitypes.MigrationCold: caps.ColdMigration,
	}
	if !can[mode] {
		alt := ""
		if caps.ColdMigration {
			alt = "; ask for a cold migration"
		}
		return "", unsupported("host %s (%s) cannot do a %s migration%s", src.Name, src.Kind, mode, alt)
	}
	if mode != apitypes.MigrationCold && inst.Status.Power != ovm.PowerRunning {
		return "", conflictf("a %s migration moves a running instance; instance %s is %s", mode, inst.Name, inst.Status.Power)
	}
	return mode, nil
}

// placeMoves chooses the target host of each item that moves to another
// host: the one it names (checked by placement's filters, its reason
// naming the field), or placement's choice in the instance's resource
// pool, each seeing the earlier choices of the batch. An item that finds
// no host gets its reason in err; a host the request names badly fails
// the whole call.
func (s *Service) placeMoves(ctx context.Context, tx store.Tx, p auth.Principal, src hostRecord, items []*moveItem) error {
	byPool := map[ovm.ID][]*moveItem{}
	var pools []ovm.ID
	for _, it := range items {
		if it.err != nil || it.mode == apitypes.MigrationStorage {
			continue
		}
		if _, ok := byPool[it.vdcPool]; !ok {
			pools = append(pools, it.vdcPool)
		}
		byPool[it.vdcPool] = append(byPool[it.vdcPool], it)
	}
	for _, pool := range pools {
		its := byPool[pool]
		reqs := make([]placement.Request, len(its))
		for i, it := range its {
			reqs[i] = it.req
		}
		fl, err := s.snapshot(ctx, tx, pool, reqs, snapshotOptions{Groups: true})
		if err != nil {
			return err
		}
		cur := fl.cursor
		for _, it := range its {
			scope := fl.scope
			if named := it.in.HostID; !named.IsZero() {
				h, _, err := getAs[hostRecord](ctx, tx, store.KindHost, named)
				if err != nil {
					return fieldNotFound(err, "hostId")
				}
				if h.ID == src.ID {
					return invalid("invalid migration", "hostId", "is the host the instance is on")
				}
				if !slices.ContainsFunc(fl.hosts, func(x placement.Host) bool { return x.ID == h.ID }) {
					return invalid("invalid migration", "hostId", fmt.Sprintf("host %s is outside the placement scope of resource pool %s, where the instance's VDC runs", h.Name, fl.pool.Name))
				}
				scope = ovm.Scope{Kind: ovm.ScopeHosts, HostIDs: []ovm.ID{h.ID}}
			}
			d, err := fl.f.Place(it.req, fl.policy, scope, cur)
			if err == nil {
				err = fl.f.Assign(d.HostID, it.req.Demand, it.req.Group)
			}
			if err != nil {
				if !it.in.HostID.IsZero() {
					return invalid("invalid migration", "hostId", err.Error())
				}
				it.err = noRoom(p, err, it.req)
				continue
			}
			cur = d.Cursor
			it.to, it.limit = d.HostID, fl.limit[d.HostID]
			if h, ok := fl.f.Host(d.HostID); ok {
				it.toName = h.Name
			}
		}
		if cur != fl.cursor {
			if err := saveCursor(ctx, tx, fl.pool.ID, cur); err != nil {
				return err
			}
		}
	}
	return nil
}

// recordMove records a planned move in tx: the instance's share of its
// target host, its instance.migrate task (on its source host, whose
// parallel work it counts against) and the migration in its record.
func (s *Service) recordMove(ctx context.Context, tx store.Tx, it *moveItem, src hostRecord) (ovm.Task, error) {
	inst := &it.inst
	m := &migration{Mode: it.mode, From: src.ID, To: src.ID, PoolID: it.pool.ID}
	toName := src.Name
	if it.mode != apitypes.MigrationStorage {
		m.To, toName = it.to, it.toName
		hold := inst.Held
		if hold.HostID == "" {
			hold = instanceHold(m.To, inst.Spec, it.req.Group)
		}
		hold.HostID = m.To
		if err := setHold(ctx, tx, &m.Hold, hold, it.limit); err != nil {
			return ovm.Task{}, hostFull(err, inst.Name)
		}
	}
	in := migrateInput{InstanceID: inst.ID, Mode: it.mode, From: m.From, To: m.To, PoolID: m.PoolID,
		Recreate: inst.Spec.Type == ovm.TypeContainer, Start: inst.Status.Power == ovm.PowerRunning}
	task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskInstanceMigrate, VDCID: inst.VDCID, TargetID: inst.ID, HostID: src.ID, Input: in})
	if err != nil {
		return ovm.Task{}, err
	}
	m.Task = task.ID
	inst.Migration = m
	inst.PendingTask = task.ID
	inst.Status.Message = fmt.Sprintf("moving (%s) from host %s to host %s", it.mode, src.Name, toName)
	if it.mode == apitypes.MigrationStorage {
		inst.Status.Message = fmt.Sprintf("moving its disks to storage pool %s on host %s", it.pool.Name, src.Name)
	}
	inst.Status.UpdatedAt = s.now()
	return task, save(ctx, tx, &it.r, *inst)
}
