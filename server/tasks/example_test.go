package tasks_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
	"github.com/openovm/ovm/server/store/sqlstore"
	"github.com/openovm/ovm/server/tasks"
)

// resize is a task kind with two steps; the second fails, so the first
// one's compensation runs.
type resize struct{}

func (resize) Steps(t *store.TaskRecord) ([]tasks.Step, error) {
	return []tasks.Step{{
		Name: "stop",
		Do:   func(ctx context.Context, r *tasks.Run) error { return nil },
		Undo: func(ctx context.Context, r *tasks.Run) error { return nil }, // start it again
	}, {
		Name: "reconfigure",
		Do: func(ctx context.Context, r *tasks.Run) error {
			return errors.New("esx: A specified parameter was not correct: memoryMB")
		},
	}}, nil
}

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "ovm-tasks-example")
	defer os.RemoveAll(dir)
	st, err := sqlstore.OpenSQLite(ctx, dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()

	e := tasks.New(st, tasks.Options{})
	e.Register("instance.resize", resize{})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- e.Run(runCtx) }()

	// The task is recorded in the transaction that records the change.
	var task ovm.Task
	err = st.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		task, err = e.Enqueue(ctx, tx, tasks.Spec{Kind: "instance.resize", TargetID: ovm.NewID()})
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	e.Kick()

	final, err := e.Wait(ctx, task.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(final.State)
	for _, s := range final.Steps {
		fmt.Println(s.Name, s.State)
	}
	fmt.Println(final.Error)
	stop()
	fmt.Println(<-done)
	// Output:
	// rolled-back
	// stop compensated
	// reconfigure failed
	// step reconfigure failed: esx: A specified parameter was not correct: memoryMB
	// <nil>
}
