package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// The environment of the child process of TestKill9: the store's DSN and
// the directory where its steps leave their traces.
const (
	helperDSNEnv = "OVM_TASKS_HELPER_DSN"
	helperDirEnv = "OVM_TASKS_HELPER_DIR"
)

// TestMain makes the test binary, run with helperDSNEnv set, the child
// process of TestKill9: an engine that runs until it is killed.
func TestMain(m *testing.M) {
	if dsn := os.Getenv(helperDSNEnv); dsn != "" {
		os.Exit(helperProcess(dsn, os.Getenv(helperDirEnv)))
	}
	os.Exit(m.Run())
}

// helperProcess runs an engine whose "effects" task blocks in its second
// step, after that step's effect and a marker file, until the process is
// killed.
func helperProcess(dsn, dir string) int {
	ctx := context.Background()
	st, err := openDSN(ctx, dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 2
	}
	e := New(st, Options{Owner: "child", LeaseTTL: shortTTL, PollInterval: testPoll})
	e.Register("effects", effectsHandler(dir, "two"))
	if err := e.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
	}
	return 3 // Run only returns when something went wrong
}

// effectsHandler has three steps, each of which notes an attempt in the
// file "attempts" and applies its effect idempotently: it appends its name
// to the file "effects" unless its own effect file exists. The step named
// blockAt then writes the file "marker" and blocks forever.
func effectsHandler(dir, blockAt string) Handler {
	return handlerFunc(func(*store.TaskRecord) ([]Step, error) {
		var steps []Step
		for _, name := range []string{"one", "two", "three"} {
			steps = append(steps, Step{Name: name, Do: func(ctx context.Context, r *Run) error {
				if err := appendLine(filepath.Join(dir, "attempts"), name); err != nil {
					return err
				}
				switch _, err := os.Stat(filepath.Join(dir, "effect-"+name)); {
				case errors.Is(err, os.ErrNotExist):
					if err := appendLine(filepath.Join(dir, "effects"), name); err != nil {
						return err
					}
					if err := os.WriteFile(filepath.Join(dir, "effect-"+name), nil, 0o600); err != nil {
						return err
					}
				case err != nil:
					return err
				}
				if name == blockAt {
					if err := os.WriteFile(filepath.Join(dir, "marker"), nil, 0o600); err != nil {
						return err
					}
					select {} // until SIGKILL
				}
				return nil
			}})
		}
		return steps, nil
	})
}

// appendLine appends line to the file at path, synced.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		_ = f.Close()
		return err
	}
	return errors.Join(f.Sync(), f.Close())
}

// lines reads the lines of a file.
func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err, "read %s", path)
	return strings.Fields(string(b))
}

// TestKill9 kills (SIGKILL) a process in the middle of a task's step and
// checks that another engine finishes the task, resuming at that step,
// with each step's effect applied exactly once.
func TestKill9(t *testing.T) {
	forEachBackend(t, func(t *testing.T, dsn string) {
		dir := t.TempDir()
		st := openStore(t, dsn)
		e := New(st, testOptions("parent"))
		e.Register("effects", effectsHandler(dir, ""))
		task := enqueue(t, st, e, Spec{Kind: "effects"})

		// The child is this test binary; TestMain sends it to
		// helperProcess, and -test.run matches no test.
		var out bytes.Buffer
		child := exec.Command(os.Args[0], "-test.run=^$")
		child.Env = append(os.Environ(), helperDSNEnv+"="+dsn, helperDirEnv+"="+dir)
		child.Stdout, child.Stderr = &out, &out
		require.NoError(t, child.Start(), "start the child")
		killed := false
		t.Cleanup(func() {
			if !killed {
				_ = child.Process.Kill()
				_ = child.Wait()
			}
		})
		require.Eventually(t, func() bool {
			_, err := os.Stat(filepath.Join(dir, "marker"))
			return err == nil
		}, waitFor, testPoll, "the child never reached step two; its output:\n%s", &out)
		require.NoError(t, child.Process.Kill(), "SIGKILL the child")
		err := child.Wait()
		killed = true
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "the child's end: got %v, want killed", err)
		assert.Equal(t, "signal: killed", exit.Error(), "how the child ended")

		rec := getTask(t, st, task.ID)
		assert.Equal(t, ovm.TaskRunning, rec.Task.State, "state left by the child")
		assert.Equal(t, []ovm.StepState{ovm.StepDone, ovm.StepRunning, ovm.StepPending}, stepStates(rec.Task), "steps left by the child")
		assert.True(t, strings.HasPrefix(rec.LeaseOwner, "child/"), "lease owner: got %q, want the child's", rec.LeaseOwner)

		start(t, e)
		ctx, cancel := context.WithTimeout(t.Context(), waitFor)
		defer cancel()
		got, err := e.Wait(ctx, task.ID)
		require.NoError(t, err, "Wait")
		assert.Equal(t, ovm.TaskSucceeded, got.State, "final state; log:\n%s", logText(got))
		assert.Contains(t, logText(got), "info resumed on parent at step two", "log")
		// one ran in the child; two in the child (killed) and again in the
		// parent; three in the parent.
		assert.Equal(t, []string{"one", "two", "two", "three"}, lines(t, filepath.Join(dir, "attempts")), "attempts")
		assert.Equal(t, []string{"one", "two", "three"}, lines(t, filepath.Join(dir, "effects")), "effects: each exactly once")
	})
}
