package hypervisortest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// parallel runs fn(i) for i in [0, n) at once, while another goroutine
// lists the host until they are done and checks that no OVM id is listed
// twice. It returns each fn's error, and the listing's.
func parallel(ctx context.Context, d hypervisor.Driver, n int, fn func(i int) error) ([]error, error) {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	done := make(chan struct{})
	listed := make(chan error, 1)
	go func() {
		for {
			list, err := d.List(ctx)
			if err != nil {
				listed <- fmt.Errorf("List during the calls: %w", err)
				return
			}
			seen := map[ovm.ID]bool{}
			for _, inst := range list {
				if inst.OVMID != "" && seen[inst.OVMID] {
					listed <- fmt.Errorf("List during the calls: got id %s twice, want each once", inst.OVMID)
					return
				}
				seen[inst.OVMID] = true
			}
			select {
			case <-done:
				listed <- nil
				return
			default:
			}
		}
	}()
	wg.Wait()
	close(done)
	return errs, <-listed
}

func (s *suite) testConcurrent(t *testing.T) {
	d, ctx := s.setup(t)
	n := cmp.Or(s.h.Concurrency, DefaultConcurrency)
	specs := make([]hypervisor.CreateSpec, n)
	for i := range specs {
		specs[i] = s.spec(t, fmt.Sprintf("conc-%d", i))
		s.track(t, d, hypervisor.ByID(specs[i].ID))
	}

	errs, listErr := parallel(ctx, d, n, func(i int) error {
		ref := hypervisor.ByID(specs[i].ID)
		if _, err := d.Create(ctx, specs[i]); err != nil {
			return fmt.Errorf("create: %w", err)
		}
		if err := d.Start(ctx, ref); err != nil {
			return fmt.Errorf("start: %w", err)
		}
		_, err := d.Get(ctx, ref)
		return err
	})
	for i, err := range errs {
		require.NoError(t, err, "goroutine %d (%s) creating and starting: got an error, want none", i, specs[i].Name)
	}
	require.NoError(t, listErr)
	list, err := d.List(ctx)
	require.NoError(t, err, "List: got an error, want none")
	for _, spec := range specs {
		got := find(list, spec.ID)
		require.Len(t, got, 1, "List after the concurrent creates: instances with id %s: got %d, want 1", spec.ID, len(got))
		assert.Equal(t, ovm.PowerRunning, got[0].Power, "List: %s: Power: got %q, want %q", spec.Name, got[0].Power, ovm.PowerRunning)
		assert.Equal(t, spec.Name, got[0].Name, "List: %s: Name: got %q, want %q", spec.ID, got[0].Name, spec.Name)
	}

	errs, listErr = parallel(ctx, d, n, func(i int) error {
		ref := hypervisor.ByID(specs[i].ID)
		if err := d.Stop(ctx, ref, hypervisor.StopOptions{Force: true}); err != nil {
			return fmt.Errorf("stop: %w", err)
		}
		if err := d.Delete(ctx, ref); err != nil {
			return fmt.Errorf("delete: %w", err)
		}
		return nil
	})
	for i, err := range errs {
		require.NoError(t, err, "goroutine %d (%s) stopping and deleting: got an error, want none", i, specs[i].Name)
	}
	require.NoError(t, listErr)
	list, err = d.List(ctx)
	require.NoError(t, err, "List: got an error, want none")
	for _, spec := range specs {
		assert.Empty(t, find(list, spec.ID), "List after the concurrent deletes: got %s listed, want it gone", spec.Name)
	}
}

func (s *suite) testCancelled(t *testing.T) {
	d, live := s.setup(t)
	spec := s.spec(t, "cancel")
	inst := s.create(t, live, d, spec)
	ref := hypervisor.ByID(spec.ID)
	fresh := s.spec(t, "cancel-new")
	s.track(t, d, hypervisor.ByID(fresh.ID))

	type call struct {
		name string
		fn   func(context.Context) error
	}
	calls := []call{
		{"Ping", d.Ping},
		{"Info", func(ctx context.Context) error { _, err := d.Info(ctx); return err }},
		{"List", func(ctx context.Context) error { _, err := d.List(ctx); return err }},
		{"Get", func(ctx context.Context) error { _, err := d.Get(ctx, ref); return err }},
		{"Create", func(ctx context.Context) error { _, err := d.Create(ctx, fresh); return err }},
		{"Start", func(ctx context.Context) error { return d.Start(ctx, ref) }},
		{"Stop", func(ctx context.Context) error { return d.Stop(ctx, ref, hypervisor.StopOptions{Force: true}) }},
		{"Reboot", func(ctx context.Context) error { return d.Reboot(ctx, ref) }},
		{"Delete", func(ctx context.Context) error { return d.Delete(ctx, ref) }},
		{"Reconfigure", func(ctx context.Context) error {
			_, err := d.Reconfigure(ctx, ref, hypervisor.Resize{CPU: 2 * spec.Spec.CPU})
			return err
		}},
		{"Stats", func(ctx context.Context) error { _, err := d.Stats(ctx, ref); return err }},
	}
	if f, ok := d.(hypervisor.Snapshotter); ok {
		calls = append(calls,
			call{"CreateSnapshot", func(ctx context.Context) error { _, err := f.CreateSnapshot(ctx, ref, s.name("snap")); return err }},
			call{"ListSnapshots", func(ctx context.Context) error { _, err := f.ListSnapshots(ctx, ref); return err }})
	}
	if f, ok := d.(hypervisor.Executor); ok {
		calls = append(calls, call{"Exec", func(ctx context.Context) error {
			_, err := f.Exec(ctx, ref, hypervisor.ExecSpec{Command: []string{"true"}})
			return err
		}})
	}
	if f, ok := d.(hypervisor.Consoler); ok {
		calls = append(calls, call{"Console", func(ctx context.Context) error {
			c, err := f.Console(ctx, ref)
			if c != nil {
				_ = c.Close()
			}
			return err
		}})
	}
	if f, ok := d.(hypervisor.Registrar); ok {
		calls = append(calls, call{"Register", func(ctx context.Context) error { _, err := f.Register(ctx, fresh); return err }})
	}
	if f, ok := d.(hypervisor.Migrator); ok {
		calls = append(calls, call{"Migrate", func(ctx context.Context) error {
			return f.Migrate(ctx, ref, hypervisor.MigrationTarget{Kind: hypervisor.MigrateStorage,
				Pool: ovm.StoragePool{ID: ovm.NewID(), Name: "cancelled", Kind: ovm.StorageShared, Path: "/cancelled"}}, nil)
		}})
	}

	cancelled, cancel := context.WithCancel(live)
	cancel()
	expired, cancelExpired := context.WithDeadline(live, time.Now().Add(-time.Second))
	defer cancelExpired()
	for _, ctx := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"deadline exceeded", expired, context.DeadlineExceeded},
	} {
		for _, c := range calls {
			t.Run(ctx.name+" "+c.name, func(t *testing.T) {
				start := time.Now()
				err := c.fn(ctx.ctx)
				took := time.Since(start)
				require.Error(t, err, "%s with a %s context: got nil, want %v", c.name, ctx.name, ctx.want)
				assert.True(t, errors.Is(err, ctx.want), "%s with a %s context: got %v, want %v", c.name, ctx.name, err, ctx.want)
				assert.Less(t, took, Prompt, "%s with a %s context: took %s, want under %s", c.name, ctx.name, took, Prompt)
			})
		}
	}

	got, err := d.Get(live, ref)
	require.NoError(t, err, "Get after the cancelled calls: got an error, want the instance untouched")
	assert.Equal(t, inst.NativeID, got.NativeID, "after the cancelled calls: NativeID: got %q, want %q", got.NativeID, inst.NativeID)
	assert.Equal(t, ovm.PowerStopped, got.Power, "after the cancelled calls: Power: got %q, want %q", got.Power, ovm.PowerStopped)
	assert.Equal(t, spec.Spec.CPU, got.CPU, "after the cancelled Reconfigure: CPU: got %s, want %s", got.CPU, spec.Spec.CPU)
	_, err = d.Get(live, hypervisor.ByID(fresh.ID))
	wantKind(t, err, ovm.ErrNotFound, "Get the instance of the cancelled Create")
}
