package core

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// The task kinds of the host monitor.
const (
	// TaskInstanceEvacuate recreates and starts an instance of a failed
	// (and fenced) host on the host placement chose for it.
	TaskInstanceEvacuate = "instance.evacuate"
	// TaskInstanceStopStale forces off the stale copy of an instance on a
	// host that came back after the instance was restarted elsewhere.
	TaskInstanceStopStale = "instance.stop-stale"
)

// MonitorHost is a host as the host monitor sees it: the host (without its
// credentials) and whether its pool has HA enabled.
type MonitorHost struct {
	ovm.Host
	HAEnabled bool
	rec       hostRecord
}

// ListHosts returns every host with its pool's HA setting, in id order.
func (y *System) ListHosts(ctx context.Context) ([]MonitorHost, error) {
	s := y.s
	var out []MonitorHost
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		out = nil
		haOn := map[ovm.ID]bool{}
		prs, err := listAll(ctx, tx, store.Filter{Kind: store.KindPool})
		if err != nil {
			return err
		}
		for _, r := range prs {
			p, err := decode[ovm.ResourcePool](r)
			if err != nil {
				return err
			}
			haOn[p.ID] = p.HAEnabled
		}
		hrs, err := listAll(ctx, tx, store.Filter{Kind: store.KindHost})
		if err != nil {
			return err
		}
		for _, r := range hrs {
			h, err := decode[hostRecord](r)
			if err != nil {
				return err
			}
			out = append(out, MonitorHost{Host: h.Host, HAEnabled: haOn[h.PoolID], rec: h})
		}
		return nil
	})
	return out, err
}

// PingHost probes a host through its driver's Ping, bounded by ctx.
func (y *System) PingHost(ctx context.Context, h MonitorHost) error {
	s := y.s
	conn, err := s.connect(ctx, h.rec)
	if err != nil {
		return hostError(h.Host, err)
	}
	start := time.Now()
	err = conn.Hypervisor.Ping(ctx)
	s.observe(h.Kind, "Ping", err, start)
	if err != nil {
		return hostError(h.Host, err)
	}
	return nil
}

// SetHostState records a host's health as the monitor sees it, in a
// transaction that first runs guard. A host in maintenance keeps that state
// (an administrator set it) unless state is maintenance too; a host entering
// maintenance keeps it until its drain ends. Setting the
// state a host already has with the same reason writes nothing.
func (y *System) SetHostState(ctx context.Context, hostID ovm.ID, state ovm.HostState, reason string, guard Guard) error {
	s := y.s
	switch state {
	case ovm.HostUp, ovm.HostSuspect, ovm.HostFailed, ovm.HostMaintenance:
	default:
		return invalid("invalid host state", "state", fmt.Sprintf("must be %q, %q, %q or %q, not %q",
			ovm.HostUp, ovm.HostSuspect, ovm.HostFailed, ovm.HostMaintenance, state))
	}
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		h, r, err := getAs[hostRecord](ctx, tx, store.KindHost, hostID)
		if err != nil {
			return err
		}
		if h.State.InMaintenance() && (state != ovm.HostMaintenance || h.State == ovm.HostEnteringMaintenance) {
			return nil // an administrator's maintenance, or a drain under way, is not the monitor's to change
		}
		if h.ReadOnly && state == ovm.HostUp {
			reason = h.StateReason // a read-only host keeps saying why
		}
		if h.State == state && h.StateReason == reason {
			return nil
		}
		h.State, h.StateReason = state, reason
		return save(ctx, tx, &r, h)
	})
}

// EvacuateHost carries out the evacuation of a failed host, in one
// transaction that first runs guard: planner (the controllers pass
// ha.PlanEvacuation) plans it from the pool's hosts as placement sees them,
// the pool's policy and round-robin cursor (the placement instance create
// uses), then it records the plan. Each restart is an instance.evacuate task that recreates and
// starts the instance on its new host, which the instance record names at
// once; lost instances (local storage, no room) become phase lost, and
// when the fence did not confirm every instance becomes phase unknown and
// nothing restarts. Instances a task acts on are left out of the plan.
// The host must be recorded failed (ovm.ErrConflict otherwise).
func (y *System) EvacuateHost(ctx context.Context, hostID ovm.ID, fence ha.FenceResult, planner Planner, guard Guard) (ha.Plan, error) {
	s := y.s
	var plan ha.Plan
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		h, _, err := getAs[hostRecord](ctx, tx, store.KindHost, hostID)
		if err != nil {
			return err
		}
		pool, _, err := getAs[ovm.ResourcePool](ctx, tx, store.KindPool, h.PoolID)
		if err != nil {
			return err
		}
		shared, err := sharedPools(ctx, tx)
		if err != nil {
			return err
		}
		fl, err := s.snapshot(ctx, tx, pool.ID, nil, snapshotOptions{PoolOnly: true, Groups: true, Sharing: shared})
		if err != nil {
			return err
		}
		hosts := fl.hosts
		rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindInstance, AllVDCs: true, HostID: hostID})
		if err != nil {
			return err
		}
		recs := map[ovm.ID]store.Record{}
		var insts []ha.Instance
		for _, r := range rs {
			inst, err := decode[instanceRecord](r)
			if err != nil {
				return err
			}
			if !evacuable(inst) {
				continue
			}
			hi, err := haInstance(ctx, tx, inst)
			if err != nil {
				return err
			}
			recs[inst.ID] = r
			insts = append(insts, hi)
		}
		plan, err = planner(ha.Evacuation{Host: hostID, Pool: pool.ID, Policy: pool.Policy, Hosts: hosts,
			Instances: insts, Fence: fence, Cursor: fl.cursor, At: s.now()})
		if err != nil {
			return err
		}
		if plan.Cursor != fl.cursor {
			if err := saveCursor(ctx, tx, pool.ID, plan.Cursor); err != nil {
				return err
			}
		}
		names := map[ovm.ID]string{}
		for _, ph := range hosts {
			names[ph.ID] = ph.Name
		}
		return s.recordPlan(ctx, tx, plan, recs, h.Host, names)
	})
	if err != nil {
		return ha.Plan{}, err
	}
	if len(plan.Restarts) > 0 {
		s.tasks.Kick()
	}
	return plan, nil
}

// evacuable reports whether an instance of a failed host takes part in its
// evacuation: it exists on the host (or was left there by an earlier
// evacuation) and no task acts on it.
func evacuable(inst instanceRecord) bool {
	if inst.PendingTask != "" {
		return false
	}
	switch inst.Status.Phase {
	case ovm.PhaseReady, ovm.PhaseUnknown, ovm.PhaseLost:
		return true
	}
	return false
}

// recordPlan records an evacuation plan in tx: the restart tasks and the
// phases of the instances left behind.
func (s *Service) recordPlan(ctx context.Context, tx store.Tx, plan ha.Plan, recs map[ovm.ID]store.Record, host ovm.Host, names map[ovm.ID]string) error {
	now := s.now()
	change := func(id ovm.ID, fn func(r *store.Record, inst *instanceRecord) error) error {
		r := recs[id]
		inst, err := decode[instanceRecord](r)
		if err != nil {
			return err
		}
		if err := fn(&r, &inst); err != nil {
			return err
		}
		inst.Status.UpdatedAt = now
		return save(ctx, tx, &r, inst)
	}
	for _, rs := range plan.Restarts {
		err := change(rs.Instance, func(r *store.Record, inst *instanceRecord) error {
			task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskInstanceEvacuate, VDCID: inst.VDCID, TargetID: inst.ID, HostID: rs.To,
				Input: evacuateInput{createInput: createInput{InstanceID: inst.ID, HostID: rs.To, Start: true}, From: rs.From}})
			if err != nil {
				return err
			}
			// The instance's share moves with it; the plan checked the room.
			next := inst.Held
			next.HostID = rs.To
			if err := setHold(ctx, tx, &inst.Held, next, ovm.Resources{}); err != nil {
				return err
			}
			r.HostID = rs.To
			inst.Status.HostID, inst.Status.NativeID = rs.To, ""
			inst.Status.Phase, inst.Status.Power = ovm.PhaseCreating, ovm.PowerStopped
			inst.Status.Message = fmt.Sprintf("restarting on host %s: host %s failed (%s by %s)", names[rs.To], host.Name, plan.Fence.Outcome, plan.Fence.Method)
			inst.PendingTask = task.ID
			return nil
		})
		if err != nil {
			return err
		}
	}
	mark := func(os []ha.Outcome, phase ovm.Phase, prefix string) error {
		for _, o := range os {
			err := change(o.Instance, func(_ *store.Record, inst *instanceRecord) error {
				if phase != "" {
					inst.Status.Phase = phase
				}
				if inst.Status.Power != ovm.PowerUnknown {
					inst.PowerAtFailure = inst.Status.Power
				}
				inst.Status.Power = ovm.PowerUnknown
				inst.Status.Message = fmt.Sprintf("host %s failed: %s%s", host.Name, prefix, o.Reason)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	notRestarted := make([]ha.Outcome, len(plan.NotRestarted))
	for i, n := range plan.NotRestarted {
		notRestarted[i] = n.Outcome
	}
	for _, m := range []struct {
		os     []ha.Outcome
		phase  ovm.Phase
		prefix string
	}{
		{plan.Lost, ovm.PhaseLost, "not restarted: "},
		{notRestarted, ovm.PhaseLost, "not restarted: "},
		{plan.Unknown, ovm.PhaseUnknown, "it may still run there, not restarted: "},
		{plan.Skipped, "", "not restarted: "},
	} {
		if err := mark(m.os, m.phase, m.prefix); err != nil {
			return err
		}
	}
	return nil
}

// sharedPools returns the recorded storage pools that are shared.
func sharedPools(ctx context.Context, tx store.Tx) ([]ovm.StoragePool, error) {
	rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindStoragePool})
	if err != nil {
		return nil, err
	}
	var out []ovm.StoragePool
	for _, r := range rs {
		sp, err := decode[ovm.StoragePool](r)
		if err != nil {
			return nil, err
		}
		if sp.Kind.Shared() {
			out = append(out, sp)
		}
	}
	return out, nil
}

// haInstance describes an instance for the evacuation planner. A disk is on
// shared storage when it names (or its volume is on) a recorded storage
// pool that is shared; any other disk is on its host's local storage, and
// keeps the instance there. An instance without disks has nothing on its
// host but what its image gives it, and can restart anywhere its image runs.
func haInstance(ctx context.Context, tx store.Tx, inst instanceRecord) (ha.Instance, error) {
	demand := inst.Spec.Demand()
	if inst.Held.HostID != "" {
		demand = inst.Held.Resources // with the disks learnt at create
	}
	out := ha.Instance{ID: inst.ID, Name: inst.Name, HostID: inst.Status.HostID, Demand: demand,
		Kinds: inst.Spec.Image.HostKinds(), HA: inst.Spec.HA}
	for _, d := range inst.Spec.Disks {
		poolID := d.StoragePoolID
		if !d.VolumeID.IsZero() {
			v, _, err := getAs[volumeRecord](ctx, tx, store.KindVolume, d.VolumeID)
			if err != nil && ovm.KindOf(err) != ovm.KindNotFound {
				return ha.Instance{}, err
			}
			poolID = v.StoragePoolID
		}
		shared := false
		if !poolID.IsZero() {
			sp, _, err := getAs[ovm.StoragePool](ctx, tx, store.KindStoragePool, poolID)
			switch {
			case err == nil:
				shared = sp.Kind.Shared()
			case ovm.KindOf(err) != ovm.KindNotFound:
				return ha.Instance{}, err
			}
		}
		switch {
		case !shared:
			out.LocalStorage = true
		case !slices.Contains(out.SharedStorage, poolID):
			out.SharedStorage = append(out.SharedStorage, poolID)
		}
	}
	if inst.VAppID.IsZero() && inst.Held.Group != "" {
		out.Group = inst.Held.Group // a scaling group's anti-affinity
	}
	if !inst.VAppID.IsZero() {
		app, _, err := getAs[vappRecord](ctx, tx, store.KindVApp, inst.VAppID)
		switch {
		case err == nil && app.AntiAffinity:
			out.Group = inst.VAppID
		case err != nil && ovm.KindOf(err) != ovm.KindNotFound:
			return ha.Instance{}, err
		}
	}
	return out, nil
}

// ReconcileHost compares what a host that came back runs with where the
// store has each instance, by reconcile (the controllers pass ha.Reconcile).
// In a transaction that first runs guard it records the instances the
// store still has on the host that were found there again (unknown or
// lost: ready again, with the power the host reports). It returns the reconciliation: the caller stops its Stops
// (StopStaleCopies) and lets the host take work once MayMarkUp is set.
func (y *System) ReconcileHost(ctx context.Context, h MonitorHost, reconcile Reconciler, guard Guard) (ha.Reconciliation, error) {
	s := y.s
	found, err := s.listHost(ctx, h.rec)
	if err != nil {
		return ha.Reconciliation{}, err
	}
	var out ha.Reconciliation
	err = s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		in := ha.Return{Host: h.ID, At: s.now()}
		seen := map[ovm.ID]bool{}
		for _, f := range found {
			in.Found = append(in.Found, ha.Found{NativeID: f.NativeID, ID: f.OVMID, Name: f.Name, Power: f.Power})
			if !f.Managed() || seen[f.OVMID] {
				continue
			}
			inst, _, err := getAs[instanceRecord](ctx, tx, store.KindInstance, f.OVMID)
			switch {
			case ovm.KindOf(err) == ovm.KindNotFound:
				continue
			case err != nil:
				return err
			}
			seen[f.OVMID] = true
			in.Records = append(in.Records, ha.Record{Instance: inst.ID, HostID: inst.Status.HostID})
		}
		rs, err := listAll(ctx, tx, store.Filter{Kind: store.KindInstance, AllVDCs: true, HostID: h.ID})
		if err != nil {
			return err
		}
		for _, r := range rs {
			if !seen[r.ID] {
				seen[r.ID] = true
				in.Records = append(in.Records, ha.Record{Instance: r.ID, HostID: r.HostID})
			}
		}
		if out, err = reconcile(in); err != nil {
			return err
		}
		for _, f := range out.Recovered {
			r, err := tx.Get(ctx, store.KindInstance, f.ID)
			if err != nil {
				return err
			}
			inst, err := decode[instanceRecord](r)
			if err != nil {
				return err
			}
			if inst.PendingTask != "" || (inst.Status.Phase != ovm.PhaseUnknown && inst.Status.Phase != ovm.PhaseLost) {
				continue
			}
			inst.Status.Phase, inst.Status.Power, inst.Status.NativeID = ovm.PhaseReady, f.Power, f.NativeID
			inst.Status.Message = fmt.Sprintf("found again on host %s after it came back", h.Name)
			inst.Status.UpdatedAt = s.now()
			wasRunning := inst.PowerAtFailure == ovm.PowerRunning
			inst.PowerAtFailure = ""
			if inst.Spec.HA.Enabled && wasRunning && f.Power == ovm.PowerStopped {
				// Not restarted elsewhere (no fence, no room): the host
				// that came back runs it again, as HA promised.
				task, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskInstancePower, VDCID: inst.VDCID, TargetID: inst.ID,
					HostID: h.ID, Input: powerInput{InstanceID: inst.ID, HostID: h.ID, Op: OpStart}})
				if err != nil {
					return err
				}
				inst.PendingTask = task.ID
				inst.Status.Message = fmt.Sprintf("found stopped on host %s after it came back: HA starts it again", h.Name)
			}
			if err := save(ctx, tx, &r, inst); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// StopStaleCopies enqueues, in a transaction that first runs guard, one
// instance.stop-stale task per stale copy on a host that came back: each
// forces its copy off (and never deletes it: on shared storage its disks
// are the running copy's).
func (y *System) StopStaleCopies(ctx context.Context, hostID ovm.ID, stops []ha.Stop, guard Guard) ([]ovm.Task, error) {
	s := y.s
	var out []ovm.Task
	err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		out = nil
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		for _, st := range stops {
			var vdc ovm.ID
			inst, _, err := getAs[instanceRecord](ctx, tx, store.KindInstance, st.Instance)
			switch {
			case err == nil:
				vdc = inst.VDCID
			case ovm.KindOf(err) != ovm.KindNotFound:
				return err
			}
			t, err := s.tasks.Enqueue(ctx, tx, tasks.Spec{Kind: TaskInstanceStopStale, VDCID: vdc, TargetID: st.Instance, HostID: hostID,
				Input: stopStaleInput{InstanceID: st.Instance, HostID: hostID, NativeID: st.NativeID}})
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	if err == nil && len(out) > 0 {
		s.tasks.Kick()
	}
	return out, err
}

// The inputs of the monitor's task kinds.
type (
	evacuateInput struct {
		createInput
		From ovm.ID `json:"fromHostId"`
	}
	stopStaleInput struct {
		InstanceID ovm.ID `json:"instanceId"`
		HostID     ovm.ID `json:"hostId"`
		NativeID   string `json:"nativeId"`
	}
)

// evacuateHandler is the instance.evacuate task kind: the steps of a
// create that starts the instance, on the host the evacuation chose. A
// restart that fails leaves the instance lost on its failed host; its
// quota stays reserved (the instance still exists).
type evacuateHandler struct{ s *Service }

// Steps returns the steps of an evacuate task (tasks.Handler).
func (h evacuateHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	return createHandler(h).Steps(t)
}

// Finish marks an instance whose restart failed lost, back on its failed
// host; a restarted instance's snapshots follow it (see
// evacuatedSnapshots).
func (h evacuateHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	var in evacuateInput
	if err := r.Input(&in); err != nil {
		return err
	}
	if state == ovm.TaskSucceeded {
		return h.s.evacuatedSnapshots(ctx, r, in)
	}
	t := r.Task()
	return h.s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		inst, rec, err := getAs[instanceRecord](ctx, tx, store.KindInstance, in.InstanceID)
		switch {
		case ovm.KindOf(err) == ovm.KindNotFound:
			return nil
		case err != nil:
			return err
		}
		if inst.PendingTask != t.ID {
			return nil
		}
		if inst.Held.HostID != "" {
			back := inst.Held
			back.HostID = in.From
			if err := setHold(ctx, tx, &inst.Held, back, ovm.Resources{}); err != nil {
				return err
			}
		}
		rec.HostID = in.From
		inst.Status.HostID, inst.Status.NativeID = in.From, ""
		inst.Status.Phase, inst.Status.Power = ovm.PhaseLost, ovm.PowerUnknown
		inst.Status.Message = "restart after its host failed did not succeed: " + causeText(cause)
		inst.Status.UpdatedAt = h.s.now()
		inst.PendingTask = ""
		return save(ctx, tx, &rec, inst)
	})
}

// stopStaleHandler is the instance.stop-stale task kind.
type stopStaleHandler struct{ s *Service }

// Steps returns the one step of a stop-stale task (tasks.Handler).
func (h stopStaleHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[stopStaleInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	return []tasks.Step{{
		Name: "force-off",
		Do: func(ctx context.Context, r *tasks.Run) error {
			var host hostRecord
			err := s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
				var err error
				host, _, err = getAs[hostRecord](ctx, tx, store.KindHost, in.HostID)
				return err
			})
			if err != nil {
				return ignore(err, ovm.KindNotFound)
			}
			conn, err := s.connect(ctx, host)
			if err != nil {
				return err
			}
			hv := observed{Driver: conn.Hypervisor, s: s}
			if err := forceOff(ctx, hv, hypervisor.ByNative(in.NativeID)); err != nil {
				return err
			}
			r.Logf(slog.LevelInfo, "forced off the stale copy %s on host %s", in.NativeID, host.Name)
			return nil
		},
	}}, nil
}
