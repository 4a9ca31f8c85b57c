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
// the limits the import gave an object that had none (zero: unchanged).
type importInput struct {
	InstanceID ovm.ID       `json:"instanceId"`
	HostID     ovm.ID       `json:"hostId"`
	CPU        ovm.MilliCPU `json:"cpuMilli,omitempty"`
	Memory     ovm.Bytes    `json:"memoryBytes,omitempty"`
}

// importHandler is the instance.import task kind: write the instance's id
// on the object where the engine can (the claim in the store holds the
// object where it cannot), apply the limits the import gave, and record
// the instance settled. Its steps are idempotent and undo nothing: the
// import itself is committed, and a failed step leaves the instance
// managed with the failure in its message.
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
			if _, err := tg.hv.Reconfigure(ctx, ref(tg.inst), hypervisor.Resize{CPU: in.CPU, Memory: in.Memory}); err != nil {
				return err
			}
			r.Logf(slog.LevelInfo, "applied the imported limits (%d milli-vCPU, %s)", tg.inst.Spec.CPU, tg.inst.Spec.Memory)
			return nil
		},
	}, {
		Name: "record",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return s.update(ctx, in.InstanceID, func(_ context.Context, _ store.Tx, inst *instanceRecord) error {
				inst.PendingTask, inst.Status.Message = "", ""
				return nil
			})
		},
	}}, nil
}

// Finish clears a failed import task from its instance with its error;
// the instance stays imported (its claim holds the object).
func (h importHandler) Finish(ctx context.Context, r *tasks.Run, state ovm.TaskState, cause error) error {
	if state == ovm.TaskSucceeded {
		return nil
	}
	t := r.Task()
	return h.s.update(ctx, t.TargetID, func(_ context.Context, _ store.Tx, inst *instanceRecord) error {
		if inst.PendingTask == t.ID {
			inst.PendingTask = ""
		}
		inst.Status.Message = "import: " + causeText(cause)
		return nil
	})
}
