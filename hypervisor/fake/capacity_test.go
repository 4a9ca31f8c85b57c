package fake_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
)

func TestCapacity(t *testing.T) {
	small := ovm.Resources{CPU: ovm.CPUs(4), Memory: 4 * ovm.GiB, Disk: 100 * ovm.GiB}
	tests := []struct {
		name       string
		overcommit ovm.Overcommit
		first      hypervisor.CreateSpec
		second     hypervisor.CreateSpec
		wantErr    string // "" when the second fits
	}{
		// 3GiB taken, 1GiB free: 2GiB does not fit.
		{"memory full", ovm.Overcommit{}, vmSpec("a", 1, 3*ovm.GiB), vmSpec("b", 1, 2*ovm.GiB), "memory: need 2GiB, 1GiB free"},
		// 3 vCPU taken, 1 free: 2 do not fit.
		{"cpu full", ovm.Overcommit{}, vmSpec("a", 3, ovm.GiB), vmSpec("b", 2, ovm.GiB), "cpu: need 2 vCPU, 1 vCPU free"},
		// Memory overcommitted twice: 8GiB allocatable, 3 taken, 5 free.
		{"memory overcommitted", ovm.Overcommit{Memory: 2}, vmSpec("a", 1, 3*ovm.GiB), vmSpec("b", 1, 5*ovm.GiB), ""},
		// 60GiB of disk taken, 40 free: 50 do not fit.
		{"disk full", ovm.Overcommit{}, withDisk(vmSpec("a", 1, ovm.GiB), 60*ovm.GiB), withDisk(vmSpec("b", 1, ovm.GiB), 50*ovm.GiB), "disk: need 50GiB, 40GiB free"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			d := fake.New(fake.Options{Name: "small", Capacity: small, Overcommit: tt.overcommit})
			_, err := d.Create(ctx, tt.first)
			require.NoError(t, err, "first Create: got an error, want none")
			_, err = d.Create(ctx, tt.second)
			if tt.wantErr == "" {
				require.NoError(t, err, "second Create: got an error, want it to fit")
				return
			}
			require.ErrorIs(t, err, ovm.ErrConflict, "second Create: got %v, want a conflict", err)
			assert.Contains(t, err.Error(), tt.wantErr, "second Create: got %q, want it to say %q", err, tt.wantErr)
			_, err = d.Get(ctx, hypervisor.ByID(tt.second.ID))
			require.ErrorIs(t, err, ovm.ErrNotFound, "Get the refused instance: got %v, want not found", err)

			// Deleting the first makes room.
			require.NoError(t, d.Delete(ctx, hypervisor.ByID(tt.first.ID)))
			_, err = d.Create(ctx, tt.second)
			require.NoError(t, err, "second Create after the first was deleted: got an error, want none")
		})
	}

	t.Run("info and resize", func(t *testing.T) {
		ctx := t.Context()
		d := fake.New(fake.Options{Name: "small", Capacity: small})
		a := vmSpec("a", 1, ovm.GiB)
		_, err := d.Create(ctx, a)
		require.NoError(t, err)
		_, err = d.AddUnmanaged("b", ovm.InstanceSpec{Memory: 2 * ovm.GiB}, true)
		require.NoError(t, err)
		info, err := d.Info(ctx)
		require.NoError(t, err)
		// a: 1 vCPU 1GiB; b: the default 1 vCPU and 2GiB.
		want := ovm.Resources{CPU: ovm.CPUs(2), Memory: 3 * ovm.GiB}
		assert.Equal(t, want, info.Allocated, "Info.Allocated: got %s, want %s", info.Allocated, want)
		assert.Equal(t, small, info.Capacity, "Info.Capacity: got %s, want %s", info.Capacity, small)
		// 3GiB taken, growing a from 1GiB to 3GiB needs 2GiB more, 1GiB is free.
		_, err = d.Reconfigure(ctx, hypervisor.ByID(a.ID), hypervisor.Resize{Memory: 3 * ovm.GiB})
		require.ErrorIs(t, err, ovm.ErrConflict, "Reconfigure beyond the host: got %v, want a conflict", err)
		assert.Contains(t, err.Error(), "memory: need 2GiB, 1GiB free", "Reconfigure beyond the host: got %q", err)
		// Growing it by the 1GiB left fits.
		_, err = d.Reconfigure(ctx, hypervisor.ByID(a.ID), hypervisor.Resize{Memory: 2 * ovm.GiB})
		require.NoError(t, err, "Reconfigure within the host: got an error, want none")
	})
}

func withDisk(spec hypervisor.CreateSpec, size ovm.Bytes) hypervisor.CreateSpec {
	spec.Spec.Disks = []ovm.DiskSpec{{Name: "root", Size: size}}
	return spec
}

// TestNeverOverCapacityNorOnTwoHosts drives two small hosts with random
// creates, starts, stops, deletes, resizes and migrations, and checks after
// every step that each host's allocations fit its capacity, equal the sum of
// what List shows, and that no OVM id is on both hosts.
func TestNeverOverCapacityNorOnTwoHosts(t *testing.T) {
	capacity := ovm.Resources{CPU: ovm.CPUs(8), Memory: 8 * ovm.GiB, Disk: 200 * ovm.GiB}
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		hosts := []*fake.Driver{
			fake.New(fake.Options{Name: "h0", Capacity: capacity, NoLiveResize: rapid.Bool().Draw(rt, "noLive0")}),
			fake.New(fake.Options{Name: "h1", Capacity: capacity}),
		}
		var ids []ovm.ID
		pool := ovm.StoragePool{ID: ovm.NewID(), Name: "nfs", Kind: ovm.StorageNFS}
		for step := range rapid.IntRange(1, 60).Draw(rt, "steps") {
			h := rapid.IntRange(0, 1).Draw(rt, "host")
			d := hosts[h]
			var ref hypervisor.Ref
			if len(ids) > 0 {
				ref = hypervisor.ByID(rapid.SampledFrom(ids).Draw(rt, "id"))
			}
			switch op := rapid.IntRange(0, 5).Draw(rt, "op"); {
			case op == 0 || len(ids) == 0:
				spec := vmSpec(fmt.Sprintf("i%d", step), rapid.Int64Range(1, 4).Draw(rt, "cpus"),
					ovm.Bytes(rapid.Int64Range(1, 8).Draw(rt, "gib"))*ovm.GiB)
				if _, err := d.Create(ctx, spec); err == nil {
					ids = append(ids, spec.ID)
				} else if !errors.Is(err, ovm.ErrConflict) {
					rt.Fatalf("step %d: Create: got %v, want nil or a conflict", step, err)
				}
			case op == 1:
				_ = d.Start(ctx, ref)
			case op == 2:
				_ = d.Stop(ctx, ref, hypervisor.StopOptions{Force: true})
			case op == 3:
				_ = d.Delete(ctx, ref)
			case op == 4:
				_, _ = d.Reconfigure(ctx, ref, hypervisor.Resize{
					CPU:    ovm.CPUs(rapid.Int64Range(0, 4).Draw(rt, "newCPUs")),
					Memory: ovm.Bytes(rapid.Int64Range(0, 8).Draw(rt, "newGiB")) * ovm.GiB,
				})
			case op == 5:
				kind := rapid.SampledFrom([]hypervisor.MigrationKind{hypervisor.MigrateLive, hypervisor.MigrateSharedNothing}).Draw(rt, "kind")
				_ = d.Migrate(ctx, ref, hypervisor.MigrationTarget{Kind: kind, Destination: hosts[1-h], Pool: pool}, nil)
			}
			checkHosts(rt, step, capacity, hosts)
		}
	})
}

// checkHosts checks the invariants of the property test.
func checkHosts(rt *rapid.T, step int, capacity ovm.Resources, hosts []*fake.Driver) {
	ctx := context.Background()
	where := map[ovm.ID]string{}
	for _, d := range hosts {
		info, err := d.Info(ctx)
		if err != nil {
			rt.Fatalf("step %d: Info: got %v, want nil", step, err)
		}
		if !info.Allocated.Fits(capacity) {
			rt.Fatalf("step %d: host %s allocated %s: got more than its capacity %s", step, d.Name(), info.Allocated, capacity)
		}
		list, err := d.List(ctx)
		if err != nil {
			rt.Fatalf("step %d: List: got %v, want nil", step, err)
		}
		var sum ovm.Resources
		for _, inst := range list {
			sum = sum.Add(ovm.Resources{CPU: inst.CPU, Memory: inst.Memory})
			if other, ok := where[inst.OVMID]; ok {
				rt.Fatalf("step %d: instance %s: got it on %s and %s, want it on one host", step, inst.OVMID, other, d.Name())
			}
			where[inst.OVMID] = d.Name()
		}
		// A running instance with a resize pending for its next boot holds
		// the larger of its two sizes, so allocations are at least the sum.
		if !sum.Fits(info.Allocated) {
			rt.Fatalf("step %d: host %s: allocated %s, want at least the listed sum %s", step, d.Name(), info.Allocated, sum)
		}
	}
}

// TestKnobsUnderLoad flips every fault knob from one goroutine while others
// create, start, stop and delete their own instances; run with -race. Every
// error must be one the knobs explain, and once the knobs are off the host
// must be consistent.
func TestKnobsUnderLoad(t *testing.T) {
	d := fake.New(fake.Options{Name: "busy"})
	injected := errors.New("injected")
	const workers, rounds = 6, 40
	ctx := t.Context()
	done := make(chan struct{})
	var flipper sync.WaitGroup
	flipper.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			d.SetUnreachable(i%3 == 0)
			d.SetLatency(time.Duration(i%2) * time.Microsecond)
			if i%16 == 0 {
				d.FailNext(fake.Methods()[i/16%len(fake.Methods())], injected)
			}
			_ = d.Calls(fake.MethodStart)
		}
	})
	explained := func(err error) bool {
		return err == nil || errors.Is(err, ovm.ErrUnavailable) || errors.Is(err, injected) ||
			errors.Is(err, ovm.ErrConflict) || errors.Is(err, ovm.ErrNotFound)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds*4)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				spec := vmSpec(fmt.Sprintf("w%d-r%d", w, r), 1, 128*ovm.MiB)
				ref := hypervisor.ByID(spec.ID)
				_, err1 := d.Create(ctx, spec)
				err2 := d.Start(ctx, ref)
				err3 := d.Stop(ctx, ref, hypervisor.StopOptions{Force: true})
				err4 := d.Delete(ctx, ref)
				for _, err := range []error{err1, err2, err3, err4} {
					if !explained(err) {
						errs <- err
					}
				}
			}
		})
	}
	wg.Wait()
	close(done)
	flipper.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("call under load: got %v, want nil or an error the knobs explain", err)
	}

	d.SetUnreachable(false)
	d.SetLatency(0)
	// Failures still queued are used up by the first calls.
	var list []hypervisor.Instance
	var info hypervisor.HostInfo
	var err error
	for range 1 << 20 {
		if list, err = d.List(ctx); !errors.Is(err, injected) {
			break
		}
	}
	require.NoError(t, err, "List with the knobs off: got an error, want none")
	for range 1 << 20 {
		if info, err = d.Info(ctx); !errors.Is(err, injected) {
			break
		}
	}
	require.NoError(t, err, "Info with the knobs off: got an error, want none")
	var sum ovm.Resources
	for _, inst := range list {
		sum = sum.Add(ovm.Resources{CPU: inst.CPU, Memory: inst.Memory})
	}
	assert.Equal(t, sum, info.Allocated, "Info.Allocated: got %s, want the sum of the %d listed instances %s", info.Allocated, len(list), sum)
}
