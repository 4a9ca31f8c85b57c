package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// The inputs of the instance task kinds.
type (
	createInput struct {
		InstanceID ovm.ID `json:"instanceId"`
		HostID     ovm.ID `json:"hostId"`
		Start      bool   `json:"start"`
		// Deliver is set when the instance boots from a template of the
		// image catalog: the task delivers it to the host first.
		Deliver bool `json:"deliver,omitempty"`
	}
	powerInput struct {
		InstanceID ovm.ID `json:"instanceId"`
		HostID     ovm.ID `json:"hostId"`
		Op         string `json:"op"`
	}
	deleteInput struct {
		InstanceID ovm.ID `json:"instanceId"`
		HostID     ovm.ID `json:"hostId"`
	}
	resizeInput struct {
		InstanceID ovm.ID       `json:"instanceId"`
		HostID     ovm.ID       `json:"hostId"`
		OldCPU     ovm.MilliCPU `json:"oldCpuMilli"`
		OldMemory  ovm.Bytes    `json:"oldMemoryBytes"`
		CPU        ovm.MilliCPU `json:"cpuMilli"`
		Memory     ovm.Bytes    `json:"memoryBytes"`
	}
)

// createState is what the create step learns.
type createState struct {
	NativeID string `json:"nativeId,omitempty"`
	// Disk is the size of the disks the host made for the instance.
	Disk ovm.Bytes `json:"diskBytes,omitempty"`
}

// input decodes a task's input.
func input[T any](t *store.TaskRecord) (T, error) {
	var v T
	if err := json.Unmarshal(t.Input, &v); err != nil {
		return v, fmt.Errorf("core: decode the input of task %s: %w", t.Task.ID, err)
	}
	return v, nil
}

// target is what a step needs of an instance: its record, its host's
// driver and the networks of its NICs.
type target struct {
	inst instanceRecord
	host hostRecord
	nets map[ovm.ID]ovm.Network
	hv   hypervisor.Driver
	// puller is the driver's image facet; nil when it has none.
	puller hypervisor.ImagePuller
	// net is the host's network driver; nil when its kind has none.
	net network.Driver
	// lib is the driver's template library facet; nil when it has none.
	lib hypervisor.TemplateLibrary
	// delivery is the driver's template delivery facet; nil when it has
	// none.
	delivery hypervisor.TemplateDelivery
}

// load reads an instance, its host and its networks, and connects to the
// host. A missing instance is ovm.ErrNotFound.
func (s *Service) load(ctx context.Context, instID, hostID ovm.ID) (target, error) {
	// Each record is a view of its own: one statement, one round trip, no
	// transaction around them. They need no common snapshot: the task
	// names the host, and an instance with a task pending keeps its spec.
	t := target{nets: map[ovm.ID]ovm.Network{}}
	var err error
	if t.inst, err = viewAs[instanceRecord](ctx, s, store.KindInstance, instID); err != nil {
		return t, err
	}
	host := hostID
	if host == "" {
		host = t.inst.Status.HostID
	}
	if t.host, err = viewAs[hostRecord](ctx, s, store.KindHost, host); err != nil {
		return t, err
	}
	for _, n := range t.inst.Spec.NICs {
		if _, ok := t.nets[n.NetworkID]; ok {
			continue
		}
		if t.nets[n.NetworkID], err = viewAs[ovm.Network](ctx, s, store.KindNetwork, n.NetworkID); err != nil {
			return t, err
		}
	}
	conn, err := s.connect(ctx, t.host)
	if err != nil {
		return t, err
	}
	t.hv = observed{Driver: conn.Hypervisor, s: s}
	t.net = conn.Network
	if p, ok := conn.Hypervisor.(hypervisor.ImagePuller); ok {
		t.puller = p
	}
	if l, ok := conn.Hypervisor.(hypervisor.TemplateLibrary); ok {
		t.lib = l
	}
	if d, ok := conn.Hypervisor.(hypervisor.TemplateDelivery); ok {
		t.delivery = d
	}
	return t, nil
}

// loadOnce returns a function that loads an instance's target (load) when
// a step of a run first asks for it and hands the same target to the run's
// later steps and compensations: a handler's Steps is called once per run,
// so each run (a resumed task included) reads the instance and its host
// once, and no more. A failed load is not kept: the next ask tries again.
func (s *Service) loadOnce(instID, hostID ovm.ID) func(ctx context.Context) (target, error) {
	var (
		mu     sync.Mutex
		loaded *target
	)
	return func(ctx context.Context) (target, error) {
		mu.Lock()
		defer mu.Unlock()
		if loaded != nil {
			return *loaded, nil
		}
		t, err := s.load(ctx, instID, hostID)
		if err != nil {
			return t, err
		}
		loaded = &t
		return t, nil
	}
}

// hvName is the instance's name on its host: its name and the start of its
// id, so that two VDCs' instances of one name can share a host.
func hvName(inst ovm.Instance) string {
	name := inst.Name
	if len(name) > 54 {
		name = name[:54]
	}
	for len(name) > 0 && name[len(name)-1] == '-' {
		name = name[:len(name)-1]
	}
	return name + "-" + inst.ID.Short()
}

// ref is how a step names the instance on its host.
func ref(inst instanceRecord) hypervisor.Ref {
	return hypervisor.Ref{ID: inst.ID, NativeID: inst.Status.NativeID}
}

// update changes an instance record in a transaction of its own; a missing
// instance is left alone.
func (s *Service) update(ctx context.Context, id ovm.ID, change func(ctx context.Context, tx store.Tx, inst *instanceRecord) error) error {
	return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		inst, r, err := getAs[instanceRecord](ctx, tx, store.KindInstance, id)
		switch {
		case ovm.KindOf(err) == ovm.KindNotFound:
			return nil
		case err != nil:
			return err
		}
		switch err := change(ctx, tx, &inst); {
		case errors.Is(err, errNoChange):
			return nil
		case err != nil:
			return err
		}
		inst.Status.UpdatedAt = s.now()
		return save(ctx, tx, &r, inst)
	})
}

// errNoChange, returned by the change of update, leaves the instance as it
// is: nothing is written.
var errNoChange = errors.New("no change")

// ignore returns nil for errors of the given kinds.
func ignore(err error, kinds ...ovm.Kind) error {
	for _, k := range kinds {
		if err != nil && ovm.KindOf(err) == k {
			return nil
		}
	}
	return err
}

// ensurePower brings an instance to a power state idempotently: a
// transition refused because the instance is already there is success.
func ensurePower(ctx context.Context, hv hypervisor.Driver, r hypervisor.Ref, op string) error {
	var err error
	want := ovm.PowerRunning
	switch op {
	case OpStart:
		err = hv.Start(ctx, r)
	case OpStop:
		want = ovm.PowerStopped
		err = hv.Stop(ctx, r, hypervisor.StopOptions{Timeout: 30 * time.Second})
	case OpReboot:
		return hv.Reboot(ctx, r)
	default:
		return fmt.Errorf("core: unknown power operation %q", op)
	}
	if err != nil && errors.Is(err, ovm.ErrConflict) {
		if got, gerr := hv.Get(ctx, r); gerr == nil && got.Power == want {
			return nil
		}
	}
	return err
}

// forceOff stops an instance at once, if it exists and runs.
func forceOff(ctx context.Context, hv hypervisor.Driver, r hypervisor.Ref) error {
	got, err := hv.Get(ctx, r)
	if err != nil {
		return ignore(err, ovm.KindNotFound)
	}
	if got.Power != ovm.PowerRunning && got.Power != ovm.PowerPaused {
		return nil
	}
	return ignore(hv.Stop(ctx, r, hypervisor.StopOptions{Force: true}), ovm.KindNotFound, ovm.KindConflict)
}

// createHandler is the instance.create task kind: pull the image onto the
// host when the host keeps images and lacks it, create on the host (by OVM
// id, idempotent), start when asked, record the instance ready.
type createHandler struct{ s *Service }

// stepPullImage is the name of the create step that pulls the image.
const stepPullImage = "pull image"

// Steps returns the steps of a create task (tasks.Handler).
func (h createHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[createInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	load := s.loadOnce(in.InstanceID, in.HostID)
	var steps []tasks.Step
	if recordedWith(t, stepPullImage) {
		steps = append(steps, tasks.Step{
			Name: stepPullImage,
			Do: func(ctx context.Context, r *tasks.Run) error {
				return s.pullImage(ctx, r, load)
			},
		})
	}
	if in.Deliver {
		steps = append(steps, tasks.Step{
			Name: stepDeliverTemplate,
			Do: func(ctx context.Context, r *tasks.Run) error {
				return s.deliverTemplate(ctx, r, load)
			},
		})
	}
	steps = append(steps, tasks.Step{
		Name: "create",
		Do: func(ctx context.Context, r *tasks.Run) error {
			tg, err := load(ctx)
			if err != nil {
				return err
			}
			spec := hypervisor.CreateSpec{ID: tg.inst.ID, Name: hvName(tg.inst.Instance), VDCID: tg.inst.VDCID, Spec: tg.inst.Spec}
			if err := s.hostTemplateName(ctx, &spec, tg.inst); err != nil {
				return err
			}
			got, err := s.createOnHost(ctx, r, tg, spec)
			if err != nil {
				// The step has no compensation when it fails: give back
				// what it reserved on the host.
				return errors.Join(err, releaseAddresses(ctx, r, tg))
			}
			r.Logf(slog.LevelInfo, "created %s", spec.Name)
			return r.SetState(createState{NativeID: got.NativeID, Disk: got.Disk})
		},
		Undo: func(ctx context.Context, r *tasks.Run) error {
			tg, err := load(ctx)
			if err != nil {
				return ignore(err, ovm.KindNotFound)
			}
			ref := hypervisor.ByID(in.InstanceID)
			if err := forceOff(ctx, tg.hv, ref); err != nil {
				return err
			}
			if err := ignore(tg.hv.Delete(ctx, ref), ovm.KindNotFound); err != nil {
				return err
			}
			return releaseAddresses(ctx, r, tg)
		},
	})
	if recordedWith(t, stepCountDisks) {
		steps = append(steps, tasks.Step{
			Name: stepCountDisks,
			Do: func(ctx context.Context, r *tasks.Run) error {
				var st createState
				if err := r.State(&st); err != nil {
					return err
				}
				return s.countDisks(ctx, in.InstanceID, st.Disk)
			},
		})
	}
	if in.Start {
		steps = append(steps, tasks.Step{
			Name: "start",
			Do: func(ctx context.Context, r *tasks.Run) error {
				tg, err := load(ctx)
				if err != nil {
					return err
				}
				return ensurePower(ctx, tg.hv, hypervisor.ByID(in.InstanceID), OpStart)
			},
			Undo: func(ctx context.Context, r *tasks.Run) error {
				tg, err := load(ctx)
				if err != nil {
					return ignore(err, ovm.KindNotFound)
				}
				return forceOff(ctx, tg.hv, hypervisor.ByID(in.InstanceID))
			},
		})
	}
	steps = append(steps, tasks.Step{
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			var st createState
			if err := r.State(&st); err != nil {
				return err
			}
			return s.update(ctx, in.InstanceID, func(_ context.Context, _ store.Tx, inst *instanceRecord) error {
				inst.Status.Phase, inst.Status.NativeID, inst.Status.Message = ovm.PhaseReady, st.NativeID, ""
				inst.Status.Power = ovm.PowerStopped
				if in.Start {
					inst.Status.Power = ovm.PowerRunning
				}
				inst.PendingTask = ""
				return nil
			})
		},
	})
	return steps, nil
}

// createOnHost makes the networks, volumes, template and seed of an
// instance ready on its host and creates it there.
func (s *Service) createOnHost(ctx context.Context, r *tasks.Run, tg target, spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	var err error
	if spec.NICs, err = s.realiseNetworks(ctx, r, tg); err != nil {
		return hypervisor.Instance{}, err
	}
	if spec.Disks, err = s.volumeAttachments(ctx, tg.inst, tg.host.ID); err != nil {
		return hypervisor.Instance{}, err
	}
	if err := s.useTemplateLibrary(ctx, tg); err != nil {
		return hypervisor.Instance{}, err
	}
	if err := s.chefSeed(ctx, r, tg.hv.Capabilities(), &spec); err != nil {
		return hypervisor.Instance{}, err
	}
	return tg.hv.Create(ctx, spec)
}

// stepCountDisks is the name of the create step that counts the disks the
// host made.
const stepCountDisks = "count disks"

// countDisks charges what the host made for an instance beyond what its
// spec declared (a VM's boot disk, copied from its template, whose size
// only the host knows) to the VDC's disk quota and the host's allocation,
// with guarded updates in one transaction. Over quota, or no room left on
// the host, fails the step: the create's compensation deletes the
// instance on its host and Finish gives back what it holds. The charge is
// kept in Reserved and Held, so running the step again charges nothing
// more.
func (s *Service) countDisks(ctx context.Context, id ovm.ID, made ovm.Bytes) error {
	if made <= 0 {
		return nil // nothing made beyond volumes: nothing to write
	}
	return s.update(ctx, id, func(ctx context.Context, tx store.Tx, inst *instanceRecord) error {
		charged, err := chargeBootPool(ctx, tx, inst, made)
		if err != nil {
			return err
		}
		extra := made - inst.Reserved.Disk
		if extra <= 0 && charged {
			return nil
		}
		if extra <= 0 {
			return errNoChange // counted already (a step run again, an evacuation)
		}
		if err := tx.Reserve(ctx, inst.VDCID, ovm.Usage{Disk: extra}); err != nil {
			return fmt.Errorf("the disks made for instance %s take %s: %w", inst.Name, made, err)
		}
		inst.Reserved.Disk += extra
		if inst.Held.HostID == "" {
			return nil
		}
		limit, err := allocatable(ctx, tx, inst.Held.HostID)
		if err != nil {
			return err
		}
		if err := growHold(ctx, tx, &inst.Held, ovm.Resources{Disk: extra}, ovm.Resources{Disk: limit.Disk}); err != nil {
			return hostFull(err, fmt.Sprintf("the %s of disks of instance %s", made, inst.Name))
		}
		return nil
	})
}

// recordedWith reports whether a task has the step name: true for a task
// being enqueued (no steps recorded yet), and for one recorded with it; a
// task recorded by an older server without the step keeps its steps.
func recordedWith(t *store.TaskRecord, name string) bool {
	if len(t.Task.Steps) == 0 {
		return true
	}
	for _, st := range t.Task.Steps {
		if st.Name == name {
			return true
		}
	}
	return false
}

// pullImage is the "pull image" step of a create: on a host whose driver
// keeps images (hypervisor.ImagePuller), it makes sure the instance's image
// is there, pulling it when it is missing and reporting the pull's progress
// in the task's progress and log. Other hosts, and images already there,
// make it do nothing; it checks the host every time it runs, so a resumed
// task checks again. A failed pull fails the step with the registry's text
// and leaves no image; the step has no compensation (an image pulled for a
// create that fails later stays on the host, where other instances may
// already use it).
func (s *Service) pullImage(ctx context.Context, r *tasks.Run, load func(ctx context.Context) (target, error)) error {
	tg, err := load(ctx)
	if err != nil {
		return err
	}
	img := tg.inst.Spec.Image
	if tg.puller == nil || img.Format != ovm.FormatOCI {
		return nil
	}
	rep := &pullReport{r: r, image: img.Name, host: tg.host.Name, logged: -1}
	start := time.Now()
	pulled, err := tg.puller.EnsureImage(ctx, img, rep.report)
	s.observe(tg.hv.Kind(), "EnsureImage", err, start)
	if err != nil {
		return err // the driver's error names the host and the image
	}
	if pulled {
		rep.report(100, "")
		r.Logf(slog.LevelInfo, "pulled image %s onto host %s", img.Name, tg.host.Name)
	} else {
		r.Logf(slog.LevelInfo, "image %s is already on host %s", img.Name, tg.host.Name)
	}
	r.Progress(100)
	return nil
}

// pullLogEvery is the step, in percent, at which a pull's progress is
// written to the task's log.
const pullLogEvery = 25

// pullReport turns a pull's progress into the task's progress and a few
// lines of its log: the start, every pullLogEvery percent, the end.
type pullReport struct {
	r           *tasks.Run
	image, host string
	mu          sync.Mutex
	last        int // the highest percent reported
	logged      int // the highest percent logged; -1 before the start
}

func (p *pullReport) report(percent int, msg string) {
	percent = min(max(percent, 0), 100)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.logged < 0 {
		p.r.Logf(slog.LevelInfo, "pulling image %s onto host %s", p.image, p.host)
		p.logged = 0
	}
	if percent < p.last {
		return
	}
	p.last = percent
	p.r.Progress(percent)
	if percent/pullLogEvery > p.logged/pullLogEvery || (percent == 100 && p.logged < 100) {
		p.logged = percent
		if msg != "" && percent < 100 {
			p.r.Logf(slog.LevelInfo, "pull of image %s: %d%% (%s)", p.image, percent, msg)
		} else {
			p.r.Logf(slog.LevelInfo, "pull of image %s: %d%%", p.image, percent)
		}
	}
}

// Finish releases a failed create's quota and addresses and marks the
// instance failed. The release happens once: Reserved is zeroed with it.
func (h createHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	t := r.Task()
	return h.s.update(ctx, t.TargetID, func(ctx context.Context, tx store.Tx, inst *instanceRecord) error {
		if err := releaseInstance(ctx, tx, inst); err != nil {
			return err
		}
		inst.Status.Phase, inst.Status.Power = ovm.PhaseFailed, ovm.PowerUnknown
		inst.Status.Message = causeText(cause)
		if inst.PendingTask == t.ID {
			inst.PendingTask = ""
		}
		return nil
	})
}

// releaseInstance gives back an instance's quota, host allocation and
// addresses, once.
func releaseInstance(ctx context.Context, tx store.Tx, inst *instanceRecord) error {
	if inst.Reserved != (ovm.Usage{}) {
		if err := tx.Reserve(ctx, inst.VDCID, ovm.Usage{}.Sub(inst.Reserved)); err != nil {
			return err
		}
		inst.Reserved = ovm.Usage{}
	}
	if err := setHold(ctx, tx, &inst.Held, hostHold{}, ovm.Resources{}); err != nil {
		return err
	}
	if err := chargePool(ctx, tx, inst.PoolHeld.PoolID, -inst.PoolHeld.Bytes); err != nil {
		return err
	}
	inst.PoolHeld = poolHold{}
	if err := dropClaim(ctx, tx, inst.Claim); err != nil {
		return err
	}
	inst.Claim = ""
	return tx.ReleaseOwner(ctx, inst.ID)
}

func causeText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// powerHandler is the instance.power task kind: start, stop or reboot, then
// record the power state.
type powerHandler struct{ s *Service }

// Steps returns the steps of a power task (tasks.Handler).
func (h powerHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[powerInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	load := s.loadOnce(in.InstanceID, in.HostID)
	return []tasks.Step{{
		Name: in.Op,
		Do: func(ctx context.Context, r *tasks.Run) error {
			tg, err := load(ctx)
			if err != nil {
				return err
			}
			return ensurePower(ctx, tg.hv, ref(tg.inst), in.Op)
		},
	}, {
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return s.update(ctx, in.InstanceID, func(_ context.Context, _ store.Tx, inst *instanceRecord) error {
				inst.Status.Power = ovm.PowerRunning
				if in.Op == OpStop {
					inst.Status.Power = ovm.PowerStopped
				}
				inst.Status.Message = ""
				inst.PendingTask = ""
				return nil
			})
		},
	}}, nil
}

// Finish clears a failed power task from its instance with its error.
func (h powerHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	t := r.Task()
	return h.s.update(ctx, t.TargetID, func(_ context.Context, _ store.Tx, inst *instanceRecord) error {
		if inst.PendingTask == t.ID {
			inst.PendingTask = ""
		}
		inst.Status.Message = causeText(cause)
		return nil
	})
}

// deleteHandler is the instance.delete task kind: stop, delete on the host,
// release the quota and addresses and remove the record.
type deleteHandler struct{ s *Service }

// Steps returns the steps of a delete task (tasks.Handler).
func (h deleteHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[deleteInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	load := s.loadOnce(in.InstanceID, in.HostID)
	onHost := func(fn func(ctx context.Context, tg target) error) func(ctx context.Context, r *tasks.Run) error {
		return func(ctx context.Context, r *tasks.Run) error {
			if in.HostID == "" {
				return nil
			}
			tg, err := load(ctx)
			if err != nil {
				return ignore(err, ovm.KindNotFound)
			}
			return fn(ctx, tg)
		}
	}
	return []tasks.Step{{
		Name: "stop",
		Do:   onHost(func(ctx context.Context, tg target) error { return forceOff(ctx, tg.hv, ref(tg.inst)) }),
	}, {
		Name: "delete",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return onHost(func(ctx context.Context, tg target) error {
				if err := ignore(tg.hv.Delete(ctx, ref(tg.inst)), ovm.KindNotFound); err != nil {
					return err
				}
				return releaseAddresses(ctx, r, tg)
			})(ctx, r)
		},
	}, {
		Name: "release",
		Do: func(ctx context.Context, r *tasks.Run) error {
			if err := s.unenrolDeleted(ctx, r, in.InstanceID); err != nil {
				return err
			}
			return s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
				inst, rec, err := getAs[instanceRecord](ctx, tx, store.KindInstance, in.InstanceID)
				switch {
				case ovm.KindOf(err) == ovm.KindNotFound:
					return nil
				case err != nil:
					return err
				}
				if err := releaseInstance(ctx, tx, &inst); err != nil {
					return err
				}
				if err := dropSnapshots(ctx, tx, inst.VDCID, inst.ID); err != nil {
					return err
				}
				return tx.Delete(ctx, store.KindInstance, rec.ID, 0)
			})
		},
	}}, nil
}

// Finish marks an instance whose delete failed as failed, with the error.
func (h deleteHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	t := r.Task()
	return h.s.update(ctx, t.TargetID, func(_ context.Context, _ store.Tx, inst *instanceRecord) error {
		if inst.PendingTask == t.ID {
			inst.PendingTask = ""
		}
		inst.Status.Phase, inst.Status.Message = ovm.PhaseFailed, "delete failed: "+causeText(cause)
		return nil
	})
}

// resizeHandler is the instance.resize task kind.
type resizeHandler struct{ s *Service }

// Steps returns the steps of a resize task (tasks.Handler).
func (h resizeHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[resizeInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	load := s.loadOnce(in.InstanceID, in.HostID)
	reconf := func(cpu ovm.MilliCPU, mem ovm.Bytes) func(ctx context.Context, r *tasks.Run) error {
		return func(ctx context.Context, r *tasks.Run) error {
			tg, err := load(ctx)
			if err != nil {
				return err
			}
			res, err := tg.hv.Reconfigure(ctx, ref(tg.inst), hypervisor.Resize{CPU: cpu, Memory: mem})
			if err == nil && !res.Live {
				r.Logf(slog.LevelInfo, "the new size applies at the next boot")
			}
			return err
		}
	}
	return []tasks.Step{
		{Name: "reconfigure", Do: reconf(in.CPU, in.Memory), Undo: reconf(in.OldCPU, in.OldMemory)},
		{Name: "record", Do: func(ctx context.Context, r *tasks.Run) error {
			return s.update(ctx, in.InstanceID, func(_ context.Context, _ store.Tx, inst *instanceRecord) error {
				inst.Resize, inst.PendingTask = nil, ""
				return nil
			})
		}},
	}, nil
}

// Finish puts back the old size and gives back the reserved delta of a
// failed resize, once (the resize state is cleared with it).
func (h resizeHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	t := r.Task()
	return h.s.update(ctx, t.TargetID, func(ctx context.Context, tx store.Tx, inst *instanceRecord) error {
		if inst.Resize != nil {
			if err := tx.Reserve(ctx, inst.VDCID, ovm.Usage{}.Sub(inst.Resize.Delta)); err != nil {
				return err
			}
			inst.Reserved = inst.Reserved.Sub(inst.Resize.Delta)
			if inst.Held.HostID != "" {
				back := ovm.Resources{CPU: inst.Resize.Delta.CPU, Memory: inst.Resize.Delta.Memory}
				if err := growHold(ctx, tx, &inst.Held, ovm.Resources{}.Sub(back), ovm.Resources{}); err != nil {
					return err
				}
			}
			inst.Spec.CPU, inst.Spec.Memory = inst.Resize.OldCPU, inst.Resize.OldMemory
			inst.Resize = nil
		}
		if inst.PendingTask == t.ID {
			inst.PendingTask = ""
		}
		inst.Status.Message = "resize failed: " + causeText(cause)
		return nil
	})
}

// observed reports every call of a hypervisor driver to the service's
// ObserveDriverCall.
type observed struct {
	hypervisor.Driver
	s *Service
}

// Create calls the driver and reports the call.
func (o observed) Create(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	start := time.Now()
	i, err := o.Driver.Create(ctx, spec)
	o.s.observe(o.Kind(), "Create", err, start)
	return i, err
}

// Get calls the driver and reports the call.
func (o observed) Get(ctx context.Context, r hypervisor.Ref) (hypervisor.Instance, error) {
	start := time.Now()
	i, err := o.Driver.Get(ctx, r)
	o.s.observe(o.Kind(), "Get", err, start)
	return i, err
}

// Start calls the driver and reports the call.
func (o observed) Start(ctx context.Context, r hypervisor.Ref) error {
	start := time.Now()
	err := o.Driver.Start(ctx, r)
	o.s.observe(o.Kind(), "Start", err, start)
	return err
}

// Stop calls the driver and reports the call.
func (o observed) Stop(ctx context.Context, r hypervisor.Ref, opts hypervisor.StopOptions) error {
	start := time.Now()
	err := o.Driver.Stop(ctx, r, opts)
	o.s.observe(o.Kind(), "Stop", err, start)
	return err
}

// Reboot calls the driver and reports the call.
func (o observed) Reboot(ctx context.Context, r hypervisor.Ref) error {
	start := time.Now()
	err := o.Driver.Reboot(ctx, r)
	o.s.observe(o.Kind(), "Reboot", err, start)
	return err
}

// Delete calls the driver and reports the call.
func (o observed) Delete(ctx context.Context, r hypervisor.Ref) error {
	start := time.Now()
	err := o.Driver.Delete(ctx, r)
	o.s.observe(o.Kind(), "Delete", err, start)
	return err
}

// Reconfigure calls the driver and reports the call.
func (o observed) Reconfigure(ctx context.Context, r hypervisor.Ref, rs hypervisor.Resize) (hypervisor.ResizeResult, error) {
	start := time.Now()
	res, err := o.Driver.Reconfigure(ctx, r, rs)
	o.s.observe(o.Kind(), "Reconfigure", err, start)
	return res, err
}

// List calls the driver and reports the call.
func (o observed) List(ctx context.Context) ([]hypervisor.Instance, error) {
	start := time.Now()
	l, err := o.Driver.List(ctx)
	o.s.observe(o.Kind(), "List", err, start)
	return l, err
}
