package core_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// connects counts the driver connections the service asks for.
type connects struct {
	mu sync.Mutex
	n  int
}

func (c *connects) observe(_ ovm.HostKind, method string, _ error, _ time.Duration) {
	if method == "Connect" {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
}

// take returns the count and starts again from zero.
func (c *connects) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = 0
	return n
}

// TestTaskStepsLoadTheirInstanceOnce: every step of an instance task runs
// on the instance and host one load read for the run; the load is where a
// step connects to the host, so each task connects once however many of
// its steps act on the host.
func TestTaskStepsLoadTheirInstanceOnce(t *testing.T) {
	var c connects
	f := newFixture(t, func(o *core.Options) { o.ObserveDriverCall = c.observe })
	vdc, _ := f.platform(t, ovm.PolicyPerformance, 1)
	ctx := t.Context()
	wait := func(it core.InstanceTask, err error) ovm.Task {
		t.Helper()
		require.NoError(t, err)
		done, err := f.svc.WaitTask(ctx, f.admin, it.Task.ID)
		require.NoError(t, err)
		require.Equal(t, ovm.TaskSucceeded, done.State, "task %+v", done)
		return done
	}
	c.take()
	var id ovm.ID
	for _, tt := range []struct {
		name      string
		run       func() ovm.Task
		wantSteps int
	}{
		{"create and start", func() ovm.Task {
			done := wait(f.svc.CreateInstance(ctx, f.admin, core.CreateInstance{VDCID: vdc.ID, Name: "web", Spec: spec(), Start: true}))
			id = done.TargetID
			return done
		}, 5},
		{"stop", func() ovm.Task { return wait(f.svc.InstanceAction(ctx, f.admin, id, core.OpStop, 0)) }, 2},
		{"delete", func() ovm.Task { return wait(f.svc.DeleteInstance(ctx, f.admin, id, 0)) }, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			task := tt.run()
			assert.Len(t, task.Steps, tt.wantSteps, "steps of the task")
			assert.Equal(t, 1, c.take(), "host connections (loads) of the task's run")
		})
	}
}
