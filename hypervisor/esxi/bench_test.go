package esxi

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// benchDelay is the simulator's delay per call, so that it answers like a
// host across a network rather than in-process.
const benchDelay = 5 // ms

// BenchmarkCreatePowerOn creates and powers on a VM through the driver
// (via=ovm) and with the same govmomi calls made directly (via=govmomi:
// CreateVM_Task and PowerOnVM_Task, each waited for), on one simulated host
// that delays every call by benchDelay ms. Each reports the median time of
// one create+power-on in ms/op; via=govmomi, run second, also reports the
// ratio of the medians (x-ovm/govmomi). The driver's extra cost is one
// property read before the create (idempotency by id and the name check).
func BenchmarkCreatePowerOn(b *testing.B) {
	h := newHost(b, func(m *simulator.Model) { m.DelayConfig.Delay = benchDelay })
	h.cfg.ImageLibrary = "" // blank disks: the same calls on both paths
	d := h.dial(b)
	medians := map[string]float64{}
	n := 0
	spec := func() hypervisor.CreateSpec {
		n++
		s := vmSpec(fmt.Sprintf("bench-%d", n))
		s.NICs = nil
		return s
	}
	destroy := func(ref types.ManagedObjectReference) {
		vm := object.NewVirtualMachine(d.c.client, ref)
		ctx := context.Background()
		if t, err := vm.PowerOff(ctx); err == nil {
			_ = t.Wait(ctx)
		}
		if t, err := vm.Destroy(ctx); err == nil {
			_ = t.Wait(ctx)
		}
	}
	run := func(b *testing.B, name string, op func(ctx context.Context, s hypervisor.CreateSpec) types.ManagedObjectReference) {
		samples := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			s := spec()
			start := time.Now()
			ref := op(b.Context(), s)
			samples = append(samples, time.Since(start))
			b.StopTimer()
			destroy(ref)
			d.c.forget(s.ID)
			b.StartTimer()
		}
		slices.Sort(samples)
		med := float64(samples[len(samples)/2]) / float64(time.Millisecond)
		medians[name] = med
		b.ReportMetric(med, "ms/op")
	}

	b.Run("via=ovm", func(b *testing.B) {
		run(b, "ovm", func(ctx context.Context, s hypervisor.CreateSpec) types.ManagedObjectReference {
			inst, err := d.Create(ctx, s)
			require.NoError(b, err, "Create")
			require.NoError(b, d.Start(ctx, hypervisor.ByID(s.ID)), "Start")
			return vmRef(inst.NativeID)
		})
	})
	b.Run("via=govmomi", func(b *testing.B) {
		c := d.c
		run(b, "govmomi", func(ctx context.Context, s hypervisor.CreateSpec) types.ManagedObjectReference {
			opts, note := identity(s, time.Now())
			dir := fmt.Sprintf("[%s] %s", c.defaultDS, s.Name)
			cs := types.VirtualMachineConfigSpec{
				Name: s.Name, GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest64),
				NumCPUs: int32(s.Spec.CPU.VCPUs()), MemoryMB: int64(s.Spec.Memory / ovm.MiB),
				CpuHotAddEnabled: types.NewBool(true), MemoryHotAddEnabled: types.NewBool(true),
				Annotation: note, ExtraConfig: opts,
				Files:        &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("%s/%s.vmx", dir, s.Name)},
				DeviceChange: devices([]diskPlan{{path: dir + "/" + s.Name + ".vmdk", size: s.Spec.Disks[0].Size, create: true}}, nil),
			}
			task, err := object.NewFolder(c.client, c.vmFolder.Reference()).CreateVM(ctx, cs, c.rpool, c.hostSys)
			require.NoError(b, err, "CreateVM")
			info, err := task.WaitForResult(ctx, nil)
			require.NoError(b, err, "CreateVM task")
			ref := info.Result.(types.ManagedObjectReference)
			task, err = object.NewVirtualMachine(c.client, ref).PowerOn(ctx)
			require.NoError(b, err, "PowerOn")
			require.NoError(b, task.Wait(ctx), "PowerOn task")
			return ref
		})
		if o, g := medians["ovm"], medians["govmomi"]; o > 0 && g > 0 {
			b.ReportMetric(o/g, "x-ovm/govmomi")
			b.Logf("median create+power-on: ovm %.1fms, govmomi %.1fms, ratio %.3f (target <= 1.2)", o, g, o/g)
		}
	})
}
