package core

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// A create task recorded before the pull step existed keeps its steps, so
// that a newer server resumes it instead of aborting it; a new task, and
// one recorded with the step, get the pull first.
func TestCreateStepsKeepWhatTheTaskRecorded(t *testing.T) {
	in, err := json.Marshal(createInput{InstanceID: ovm.NewID(), HostID: ovm.NewID(), Start: true})
	require.NoError(t, err)
	names := func(recorded ...string) []string {
		rec := &store.TaskRecord{Input: in}
		for _, n := range recorded {
			rec.Task.Steps = append(rec.Task.Steps, ovm.TaskStep{Name: n, State: ovm.StepPending})
		}
		steps, err := createHandler{}.Steps(rec)
		require.NoError(t, err)
		var out []string
		for _, s := range steps {
			out = append(out, s.Name)
		}
		return out
	}
	all := []string{stepPullImage, "create", stepCountDisks, "start", "record"}
	assert.Equal(t, all, names(), "a task being enqueued")
	assert.Equal(t, all, names(all...), "a task recorded with every step")
	withPull := []string{stepPullImage, "create", "start", "record"}
	assert.Equal(t, withPull, names(withPull...), "a task recorded with the pull, before disks were counted")
	assert.Equal(t, []string{"create", "start", "record"}, names("create", "start", "record"), "a task recorded without it")
	evac, err := evacuateHandler{}.Steps(&store.TaskRecord{Input: in})
	require.NoError(t, err)
	require.NotEmpty(t, evac)
	assert.Equal(t, stepPullImage, evac[0].Name, "a restart elsewhere pulls the image too")
}
