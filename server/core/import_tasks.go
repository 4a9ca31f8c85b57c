package core

import (
	"context"
	"log/slog"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/tasks"
)

// TaskInstanceImport is the task kind that finishes an import on the host.
const TaskInstanceImport = "instance.import"

// importInput is the input of an instance.import task: CPU and Memory are
// set when the import gave the object limits it had none of; the step
// applies the instance's recorded size then (a resize meanwhile wins).
type importInput struct {
	InstanceID ovm.ID       `json:"instanceId"`
	HostID     ovm.ID       `json:"hostId"`
	CPU        ovm.MilliCPU `json:"cpuMilli,omitempty"`
	Memory     ovm.Bytes    `json:"memoryBytes,omitempty"`
}

// importHandler is the instance.import task kind: write the instance's id
// on the object where the engine can (the claim in the store holds the
// object where it cannot) and apply the limits the import gave. The
// instance is usable meanwhile (the task holds no lock on it): its steps
// are idempotent and undo nothing, since the import itself is committed,
// and a failed step leaves the instance managed with the failure in its
// message.
type importHandler struct{ s *Service }

// Steps returns the steps of an import task (tasks.Handler).
func (h importHandler) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	in, err := input[importInput](t)
	if err != nil {
		return nil, err
	}
	s := h.s
	return []tasks.Step{{
		Name: "mark",
		Do: func(ctx context.Context, r *tasks.Run) error {
			tg, err := s.load(ctx, in.InstanceID, in.HostID)
			if err != nil {
				return err
			}
			conn, err := s.connect(ctx, tg.host)
			if err != nil {
				return err
			}
			m, ok := conn.Hypervisor.(hypervisor.Marker)
			if !ok {
				r.Logf(slog.LevelInfo, "the engine cannot mark %s with its OVM id: the platform's records map it to the instance", tg.inst.Status.NativeID)
				return nil
			}
			if _, err := m.Mark(ctx, ref(tg.inst), tg.inst.ID, tg.inst.VDCID); err != nil {
				return err
			}
			r.Logf(slog.LevelInfo, "marked %s with the instance's OVM id", tg.inst.Status.NativeID)
			return nil
		},
	}, {
		Name: "limit",
		Do: func(ctx context.Context, r *tasks.Run) error {
			if in.CPU == 0 && in.Memory == 0 {
				return nil
			}
			tg, err := s.load(ctx, in.InstanceID, in.HostID)
			if err != nil {
				return err
			}
			var size hypervisor.Resize
			if in.CPU != 0 {
				size.CPU = tg.inst.Spec.CPU
			}
			if in.Memory != 0 {
				size.Memory = tg.inst.Spec.Memory
			}
			if _, err := tg.hv.Reconfigure(ctx, ref(tg.inst), size); err != nil {
				return err
			}
			r.Logf(slog.LevelInfo, "applied the limits the import gave (%d milli-vCPU, %s)", tg.inst.Spec.CPU, tg.inst.Spec.Memory)
			return nil
		},
	}}, nil
}

// Finish writes a failed import task's error in its instance's message;
// the instance stays imported (its claim holds the object).
func (h importHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	return h.s.update(ctx, r.Task().TargetID, func(_ context.Context, _ store.Tx, inst *instanceRecord) error {
		inst.Status.Message = "import: " + causeText(cause)
		return nil
	})
}
