package core

import (
	"context"
	"maps"
	"net/netip"
	"slices"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// instanceRecord is a stored instance with what the service keeps about it.
type instanceRecord struct {
	ovm.Instance
	// Reserved is what the instance holds of its VDC's quota; it is
	// released exactly once, in the transaction that zeroes it.
	Reserved ovm.Usage `json:"reserved"`
	// Held is what the instance holds on its host (see hostHold).
	Held hostHold `json:"held,omitzero"`
	// PendingTask is the task acting on the instance, if any.
	PendingTask ovm.ID `json:"pendingTask,omitempty"`
	// Resize is the resize in flight, undone if its task fails.
	Resize *resizeState `json:"resize,omitempty"`
	// Claim is the claim of the object an imported instance holds on its
	// host, dropped with the instance.
	Claim ovm.ID `json:"claim,omitempty"`
	// Migration is the move in flight, if any (see migrate.go).
	Migration *migration `json:"migration,omitempty"`
	// PoolHeld is what the disks made for the instance hold of the storage
	// pool they are in (chargeBootPool).
	PoolHeld poolHold `json:"poolHeld,omitzero"`
}

// resizeState is a resize in flight.
type resizeState struct {
	OldCPU    ovm.MilliCPU `json:"oldCpuMilli"`
	OldMemory ovm.Bytes    `json:"oldMemoryBytes"`
	Delta     ovm.Usage    `json:"delta"`
}

// view is the instance as p may see it: tenants never see its host or
// native id.
func view(p auth.Principal, inst ovm.Instance) ovm.Instance {
	if !p.Admin() {
		inst.Status.HostID, inst.Status.NativeID = "", ""
	}
	return inst
}

// InstanceTask is an instance and the task that acts on it (zero when the
// change needed none).
type InstanceTask = apitypes.InstanceTask

// CreateInstance is the input of a new instance.
type CreateInstance = apitypes.InstanceCreate

// cloneSpec copies the parts of a spec a transaction attempt changes.
func cloneSpec(s ovm.InstanceSpec) ovm.InstanceSpec {
	s.NICs = slices.Clone(s.NICs)
	s.Disks = slices.Clone(s.Disks)
	s.Labels = maps.Clone(s.Labels)
	return s
}

// validateInstance checks a name and a spec, naming fields with prefix.
func validateInstance(name string, spec ovm.InstanceSpec, prefix string, f *ovm.Fields) {
	if r := ovm.ValidateName(name); r != "" {
		f.Add(prefix+"name", r)
	}
	f.Merge(prefix+"spec", spec.Validate())
	for i, d := range spec.Disks {
		if !d.VolumeID.IsZero() && spec.Type != ovm.TypeContainer {
			f.Addf(prefix+"spec.disks["+itoa(i)+"].volumeId", "volumes are given at create to containers; attach one to a VM with attach-volume once it exists")
		}
	}
}

// CreateInstance validates, reserves quota, allocates addresses, places and
// records an instance in one transaction, with the instance.create task
// that makes it on its host.
func (s *Service) CreateInstance(ctx context.Context, p auth.Principal, in CreateInstance) (InstanceTask, error) {
	var f ovm.Fields
	validateInstance(in.Name, in.Spec, "", &f)
	if err := f.Err("invalid instance"); err != nil {
		return InstanceTask{}, err
	}
	vdc, err := resolveVDC(p, in.VDCID, true)
	if err != nil {
		return InstanceTask{}, err
	}
	if err := s.checkChefAtCreate(ctx, in); err != nil {
		return InstanceTask{}, err
	}
	var out InstanceTask
	defer s.placing.lock(vdc)()
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		return idempotent(ctx, tx, p, "instance.create", in.IdempotencyKey, in, &out, func() error {
			v, err := s.tenantVDC(ctx, tx, p, vdc)
			if err != nil {
				return err
			}
			// The name is checked by the record's insert (a unique
			// index): reading it first would make every create conflict
			// with the updates of the instances named next to it. A
			// create refused earlier reads it, so that a taken name is
			// still what it is told first.
			err = s.createInstance(ctx, tx, p, v, in, &out)
			if err != nil && ovm.KindOf(err) != ovm.KindConflict {
				if taken := nameFree(ctx, tx, store.KindInstance, vdc, in.Name, "name"); ovm.KindOf(taken) == ovm.KindConflict {
					return taken
				}
			}
			return err
		})
	})
	return s.answered(ctx, p, out, err)
}

// createInstance places and records a new instance of in in v, in tx.
func (s *Service) createInstance(ctx context.Context, tx store.Tx, p auth.Principal, v ovm.VDC, in CreateInstance, out *InstanceTask) error {
	spec := cloneSpec(in.Spec)
	req, err := request(ctx, tx, in.Name, spec, in.PlacementGroup)
	if err != nil {
		return err
	}
	reqs := []placement.Request{req}
	res, fl, err := s.place(ctx, tx, v, reqs)
	if err != nil {
		return err
	}
	if res[0].Err != nil {
		return noRoom(p, res[0].Err, req)
	}
	id := ovm.NewID()
	if err := claimVolumes(ctx, tx, v.ID, id, spec, res[0].HostID); err != nil {
		return err
	}
	inst, task, err := s.recordInstance(ctx, tx, v, id, in.Name, spec, "", in.PlacementGroup, res[0].HostID, fl.limit[res[0].HostID], in.Start)
	*out = InstanceTask{Instance: inst, Task: &task}
	if err == nil && in.Chef != nil {
		err = s.enrolAtCreate(ctx, tx, inst, task.ID, *in.Chef)
	}
	return err
}

// tenantVDC reads the VDC an object is created in.
func (s *Service) tenantVDC(ctx context.Context, tx store.Tx, p auth.Principal, vdc ovm.ID) (ovm.VDC, error) {
	r, err := getVisible(ctx, tx, p, store.KindVDC, vdc)
	if err != nil {
		if p.Admin() {
			return ovm.VDC{}, fieldNotFound(err, "vdcId")
		}
		return ovm.VDC{}, err
	}
	return decode[ovm.VDC](r)
}

// nameFree checks that no object of kind is named name in the VDC.
func nameFree(ctx context.Context, tx store.Tx, kind store.Kind, vdc ovm.ID, name, field string) error {
	_, err := tx.GetByName(ctx, kind, vdc, name)
	switch {
	case err == nil:
		return nameTaken(kind, name, field)
	case ovm.KindOf(err) == ovm.KindNotFound:
		return nil
	}
	return err
}

// nameTaken is the conflict of a name an object of kind has in the VDC.
func nameTaken(kind store.Kind, name, field string) error {
	return &ovm.Error{Kind: ovm.KindConflict, Message: "name taken",
		Fields: []ovm.FieldError{{Field: field, Reason: "a " + string(kind) + " named " + name + " exists in the vdc"}}}
}

// recordInstance reserves the quota, the host allocation (within limit)
// and the addresses of a placed instance,
// enqueues its instance.create task and records it, in tx.
func (s *Service) recordInstance(ctx context.Context, tx store.Tx, v ovm.VDC, id ovm.ID, name string, spec ovm.InstanceSpec,
	vappID, group, hostID ovm.ID, limit ovm.Resources, start bool) (ovm.Instance, ovm.Task, error) {
	usage := ovm.UsageOf(spec)
	if err := tx.Reserve(ctx, v.ID, usage); err != nil {
		return ovm.Instance{}, ovm.Task{}, err
	}
	var held hostHold
	if err := setHold(ctx, tx, &held, instanceHold(hostID, spec, group), limit); err != nil {
		return ovm.Instance{}, ovm.Task{}, hostFull(err, name)
	}
	if err := allocateNICs(ctx, newIPAMs(tx, v.ID), id, &spec, "spec."); err != nil {
		return ovm.Instance{}, ovm.Task{}, err
	}
	deliver, err := s.checkCatalogTemplate(ctx, tx, v.ID, spec.Image)
	if err != nil {
		return ovm.Instance{}, ovm.Task{}, err
	}
	task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskInstanceCreate, VDCID: v.ID, TargetID: id, HostID: hostID,
		Input: createInput{InstanceID: id, HostID: hostID, Start: start, Deliver: deliver}})
	if err != nil {
		return ovm.Instance{}, ovm.Task{}, err
	}
	now := s.now()
	var addrs []netip.Addr
	for _, n := range spec.NICs {
		addrs = append(addrs, n.IP)
	}
	inst := instanceRecord{
		Instance: ovm.Instance{ID: id, Name: name, VDCID: v.ID, VAppID: vappID, Spec: spec, CreatedAt: now,
			Status: ovm.InstanceStatus{Phase: ovm.PhaseCreating, Power: ovm.PowerStopped, HostID: hostID, Addresses: addrs, UpdatedAt: now}},
		Reserved:    usage,
		Held:        held,
		PendingTask: task.ID,
	}
	rec := store.Record{Kind: store.KindInstance, ID: id, VDCID: v.ID, ParentID: vappID, HostID: hostID, Name: name}
	if err := setData(&rec, inst); err != nil {
		return ovm.Instance{}, ovm.Task{}, err
	}
	if err := tx.Insert(ctx, &rec); err != nil {
		if ovm.KindOf(err) == ovm.KindConflict {
			// A new id: the name is taken.
			return ovm.Instance{}, ovm.Task{}, nameTaken(store.KindInstance, name, "name")
		}
		return ovm.Instance{}, ovm.Task{}, err
	}
	return inst.Instance, task, nil
}

// GetInstance returns an instance the principal may see and its version.
func (s *Service) GetInstance(ctx context.Context, p auth.Principal, id ovm.ID) (ovm.Instance, int64, error) {
	var inst ovm.Instance
	var ver int64
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindInstance, id)
		if err != nil {
			return err
		}
		inst, err = s.decoded.instance(r)
		ver = r.Version
		return err
	})
	if err != nil {
		return ovm.Instance{}, 0, err
	}
	inst = view(p, inst)
	s.tenantInstances(ctx, p, &inst)
	return inst, ver, nil
}

// ListInstances lists the instances of the principal's VDC (or any, for an
// administrator).
func (s *Service) ListInstances(ctx context.Context, p auth.Principal, o ListOptions) (Page[ovm.Instance], error) {
	pg, err := listVisible(ctx, s, p, store.KindInstance, o, func(r store.Record) (ovm.Instance, error) {
		inst, err := decode[instanceRecord](r)
		return view(p, inst.Instance), err
	})
	if err != nil {
		return pg, err
	}
	items := make([]*ovm.Instance, len(pg.Items))
	for i := range pg.Items {
		items[i] = &pg.Items[i]
	}
	s.tenantInstances(ctx, p, items...)
	return pg, nil
}

// busy refuses a change while another task acts on the instance.
func busy(ctx context.Context, tx store.Tx, inst instanceRecord) error {
	return taskInProgress(ctx, tx, "instance", inst.Name, inst.PendingTask)
}

// taskInProgress refuses a change of an object (what, named name) while
// its pending task has not ended.
func taskInProgress(ctx context.Context, tx store.Tx, what, name string, pending ovm.ID) error {
	if pending == "" {
		return nil
	}
	t, err := tx.GetTask(ctx, pending)
	switch {
	case ovm.KindOf(err) == ovm.KindNotFound:
		return nil
	case err != nil:
		return err
	case t.Task.State.Final():
		return nil
	}
	return conflictf("%s %s has a %s task in progress (%s)", what, name, t.Task.Kind, t.Task.ID)
}

// The power operations of InstanceAction.
const (
	OpStart  = apitypes.ActionStart
	OpStop   = apitypes.ActionStop
	OpReboot = apitypes.ActionReboot
)

// InstanceAction starts, stops or reboots an instance through a task. A
// transition the instance's state does not allow (start a running
// instance) is ovm.ErrConflict.
func (s *Service) InstanceAction(ctx context.Context, p auth.Principal, id ovm.ID, op string, ifVersion int64) (InstanceTask, error) {
	want := map[string]ovm.PowerState{OpStart: ovm.PowerStopped, OpStop: ovm.PowerRunning, OpReboot: ovm.PowerRunning}
	if _, ok := want[op]; !ok {
		return InstanceTask{}, invalid("invalid action", "action", "must be start, stop or reboot")
	}
	var out InstanceTask
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, inst, err := readyInstance(ctx, tx, p, id, ifVersion, op)
		if err != nil {
			return err
		}
		if err := busy(ctx, tx, inst); err != nil {
			return err
		}
		if inst.Status.Power != want[op] {
			return conflictf("cannot %s instance %s: it is %s", op, inst.Name, inst.Status.Power)
		}
		task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskInstancePower, VDCID: inst.VDCID, TargetID: id,
			HostID: inst.Status.HostID, Input: powerInput{InstanceID: id, HostID: inst.Status.HostID, Op: op}})
		if err != nil {
			return err
		}
		inst.PendingTask = task.ID
		if err := save(ctx, tx, &r, inst); err != nil {
			return err
		}
		out = InstanceTask{Instance: inst.Instance, Task: &task}
		return nil
	})
	return s.answered(ctx, p, out, err)
}

// DeleteInstance deletes an instance through a task that stops it, deletes
// it on its host, releases its quota and addresses and removes its record.
func (s *Service) DeleteInstance(ctx context.Context, p auth.Principal, id ovm.ID, ifVersion int64) (InstanceTask, error) {
	var out InstanceTask
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := getVisible(ctx, tx, p, store.KindInstance, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		task, inst, err := s.deleteInstance(ctx, tx, r)
		out = InstanceTask{Instance: inst.Instance, Task: &task}
		return err
	})
	return s.answered(ctx, p, out, err)
}

// deleteInstance marks an instance deleting and enqueues its delete task.
func (s *Service) deleteInstance(ctx context.Context, tx store.Tx, r store.Record) (ovm.Task, instanceRecord, error) {
	inst, err := decode[instanceRecord](r)
	if err != nil {
		return ovm.Task{}, inst, err
	}
	if inst.Status.Phase == ovm.PhaseDeleting {
		return ovm.Task{}, inst, conflictf("instance %s is being deleted", inst.Name)
	}
	if err := busy(ctx, tx, inst); err != nil {
		return ovm.Task{}, inst, err
	}
	task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskInstanceDelete, VDCID: inst.VDCID, TargetID: inst.ID,
		HostID: inst.Status.HostID, Input: deleteInput{InstanceID: inst.ID, HostID: inst.Status.HostID}})
	if err != nil {
		return ovm.Task{}, inst, err
	}
	inst.PendingTask = task.ID
	inst.Status.Phase = ovm.PhaseDeleting
	inst.Status.UpdatedAt = s.now()
	return task, inst, save(ctx, tx, &r, inst)
}

// UpdateInstance is a change of an instance; nil fields are unchanged.
type UpdateInstance = apitypes.InstancePatch

// UpdateInstance changes an instance's labels (at once) and its size
// (through an instance.resize task; the quota delta is reserved now and
// given back if the task fails).
func (s *Service) UpdateInstance(ctx context.Context, p auth.Principal, id ovm.ID, in UpdateInstance, ifVersion int64) (InstanceTask, error) {
	var out InstanceTask
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		out = InstanceTask{}
		r, err := getVisible(ctx, tx, p, store.KindInstance, id)
		if err != nil {
			return err
		}
		if err := checkVersion(r, ifVersion); err != nil {
			return err
		}
		inst, err := decode[instanceRecord](r)
		if err != nil {
			return err
		}
		next := cloneSpec(inst.Spec)
		if in.CPU != nil {
			next.CPU = *in.CPU
		}
		if in.Memory != nil {
			next.Memory = *in.Memory
		}
		if in.Labels != nil {
			next.Labels = maps.Clone(*in.Labels)
		}
		// The body's fields are the spec's own (cpuMilli, memoryBytes,
		// labels): an error names them as the request gave them.
		var f ovm.Fields
		f.Merge("", next.Validate())
		if err := f.Err("invalid instance"); err != nil {
			return err
		}
		resize := next.CPU != inst.Spec.CPU || next.Memory != inst.Spec.Memory
		if resize {
			if inst.Status.Phase != ovm.PhaseReady {
				return conflictf("cannot resize instance %s: it is %s", inst.Name, inst.Status.Phase)
			}
			if err := busy(ctx, tx, inst); err != nil {
				return err
			}
			delta := ovm.UsageOf(next).Sub(ovm.UsageOf(inst.Spec))
			if err := tx.Reserve(ctx, inst.VDCID, delta); err != nil {
				return err
			}
			if inst.Held.HostID != "" {
				limit, err := allocatable(ctx, tx, inst.Held.HostID)
				if err != nil {
					return err
				}
				grow := ovm.Resources{CPU: delta.CPU, Memory: delta.Memory}
				if err := growHold(ctx, tx, &inst.Held, grow, limit); err != nil {
					return hostFull(err, inst.Name)
				}
			}
			task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskInstanceResize, VDCID: inst.VDCID, TargetID: id,
				HostID: inst.Status.HostID, Input: resizeInput{InstanceID: id, HostID: inst.Status.HostID,
					OldCPU: inst.Spec.CPU, OldMemory: inst.Spec.Memory, CPU: next.CPU, Memory: next.Memory}})
			if err != nil {
				return err
			}
			inst.Resize = &resizeState{OldCPU: inst.Spec.CPU, OldMemory: inst.Spec.Memory, Delta: delta}
			inst.Reserved = inst.Reserved.Add(delta)
			inst.PendingTask = task.ID
			out.Task = &task
		}
		inst.Spec = next
		if err := save(ctx, tx, &r, inst); err != nil {
			return err
		}
		out.Instance = inst.Instance
		return nil
	})
	return s.answered(ctx, p, out, err)
}
