package fake_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/hypervisor/hypervisortest"
	"github.com/openovm/ovm/ovm"
)

// harness runs the conformance suite on fakes made with opts. Each sub-test
// gets a fresh host; MakeUnmanaged seeds the host New made last, which is
// the sub-test's own since sub-tests run one after the other.
func harness(opts fake.Options) hypervisortest.Harness {
	var current *fake.Driver
	return hypervisortest.Harness{
		New: func(t *testing.T) hypervisor.Driver {
			current = fake.New(opts)
			return current
		},
		NewPeer: func(t *testing.T) hypervisor.Driver {
			peer := opts
			peer.Name = opts.Name + "-peer"
			return fake.New(peer)
		},
		Spec: func(t *testing.T, name string) hypervisor.CreateSpec {
			return hypervisor.CreateSpec{
				ID:    ovm.NewID(),
				Name:  name,
				VDCID: ovm.NewID(),
				Spec: ovm.InstanceSpec{
					Type:   ovm.TypeVM,
					CPU:    ovm.CPUs(1),
					Memory: 256 * ovm.MiB,
					Image:  ovm.Template("debian-12.qcow2"),
				},
			}
		},
		MakeUnmanaged: func(t *testing.T, name string) string {
			d := current
			inst, err := d.AddUnmanaged(name, ovm.InstanceSpec{}, false)
			require.NoError(t, err, "AddUnmanaged %s: got an error, want none", name)
			t.Cleanup(func() {
				_ = d.Stop(context.Background(), hypervisor.ByNative(inst.NativeID), hypervisor.StopOptions{Force: true})
				_ = d.Delete(context.Background(), hypervisor.ByNative(inst.NativeID))
			})
			return inst.NativeID
		},
	}
}

func TestConformance(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts fake.Options
	}{
		{"default", fake.Options{Name: "fake-1"}},
		{"no live resize", fake.Options{Name: "fake-2", Kind: ovm.HostKVM, NoLiveResize: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hypervisortest.Run(t, harness(tt.opts))
		})
	}
}

// fixture is a fake host with one stopped managed instance.
type fixture struct {
	d    *fake.Driver
	spec hypervisor.CreateSpec
	inst hypervisor.Instance
	ref  hypervisor.Ref
}

// vmSpec is a valid spec for a VM of the given size.
func vmSpec(name string, cpus int64, mem ovm.Bytes) hypervisor.CreateSpec {
	return hypervisor.CreateSpec{ID: ovm.NewID(), Name: name, Spec: ovm.InstanceSpec{
		Type: ovm.TypeVM, CPU: ovm.CPUs(cpus), Memory: mem, Image: ovm.Template("debian-12.qcow2"),
	}}
}

func newFixture(t *testing.T, opts fake.Options) fixture {
	t.Helper()
	d := fake.New(opts)
	spec := vmSpec("web", 1, ovm.GiB)
	inst, err := d.Create(t.Context(), spec)
	require.NoError(t, err, "Create: got an error, want none")
	return fixture{d: d, spec: spec, inst: inst, ref: hypervisor.ByID(spec.ID)}
}

// everyCall returns a call of each method on f's instance, keyed by method
// name (fake.MethodReceive is exercised through Migrate).
func (f fixture) everyCall(peer *fake.Driver) map[string]func(context.Context) error {
	d, ref := f.d, f.ref
	pool := ovm.StoragePool{ID: ovm.NewID(), Name: "nfs", Kind: ovm.StorageNFS}
	return map[string]func(context.Context) error{
		fake.MethodPing:        d.Ping,
		fake.MethodInfo:        func(ctx context.Context) error { _, err := d.Info(ctx); return err },
		fake.MethodList:        func(ctx context.Context) error { _, err := d.List(ctx); return err },
		fake.MethodGet:         func(ctx context.Context) error { _, err := d.Get(ctx, ref); return err },
		fake.MethodCreate:      func(ctx context.Context) error { _, err := d.Create(ctx, vmSpec("other", 1, ovm.GiB)); return err },
		fake.MethodStart:       func(ctx context.Context) error { return d.Start(ctx, ref) },
		fake.MethodStop:        func(ctx context.Context) error { return d.Stop(ctx, ref, hypervisor.StopOptions{}) },
		fake.MethodReboot:      func(ctx context.Context) error { return d.Reboot(ctx, ref) },
		fake.MethodDelete:      func(ctx context.Context) error { return d.Delete(ctx, ref) },
		fake.MethodReconfigure: func(ctx context.Context) error { _, err := d.Reconfigure(ctx, ref, hypervisor.Resize{}); return err },
		fake.MethodStats:       func(ctx context.Context) error { _, err := d.Stats(ctx, ref); return err },
		fake.MethodCreateSnapshot: func(ctx context.Context) error {
			_, err := d.CreateSnapshot(ctx, ref, "snap-"+ovm.NewID().Short())
			return err
		},
		fake.MethodListSnapshots:  func(ctx context.Context) error { _, err := d.ListSnapshots(ctx, ref); return err },
		fake.MethodRevertSnapshot: func(ctx context.Context) error { return d.RevertSnapshot(ctx, ref, ovm.NewID()) },
		fake.MethodDeleteSnapshot: func(ctx context.Context) error { return d.DeleteSnapshot(ctx, ref, ovm.NewID()) },
		fake.MethodMigrate: func(ctx context.Context) error {
			return d.Migrate(ctx, ref, hypervisor.MigrationTarget{Kind: hypervisor.MigrateSharedNothing, Destination: peer, Pool: pool}, nil)
		},
		fake.MethodConsole: func(ctx context.Context) error {
			c, err := d.Console(ctx, ref)
			if c != nil {
				_ = c.Close()
			}
			return err
		},
		fake.MethodExec: func(ctx context.Context) error {
			_, err := d.Exec(ctx, ref, hypervisor.ExecSpec{Command: []string{"true"}})
			return err
		},
		fake.MethodRegister: func(ctx context.Context) error { _, err := d.Register(ctx, vmSpec("reg", 1, ovm.GiB)); return err },
		fake.MethodMark:     func(ctx context.Context) error { _, err := d.Mark(ctx, ref, ovm.NewID(), ovm.NewID()); return err },
		fake.MethodCommitImage: func(ctx context.Context) error {
			_, err := d.CommitImage(ctx, ref, "registry.test/x:1", hypervisor.RegistryAuth{})
			return err
		},
		fake.MethodTemplateDigest: func(ctx context.Context) error {
			_, _, err := d.TemplateDigest(ctx, "debian-12.qcow2")
			return err
		},
		fake.MethodDeliverTemplate: func(ctx context.Context) error {
			// The SHA-256 of "ovm".
			const digest = "sha256:e2723afb5d041c99786de217a2f3ac0612bce1ba555cdb2538ef6e4938135dfc"
			return d.DeliverTemplate(ctx, "debian-12.qcow2", digest, 3, strings.NewReader("ovm"), nil)
		},
	}
}

func TestEveryMethodIsCovered(t *testing.T) {
	f := newFixture(t, fake.Options{})
	calls := f.everyCall(fake.New(fake.Options{Name: "peer"}))
	for _, m := range fake.Methods() {
		if m == fake.MethodReceive {
			continue
		}
		assert.Contains(t, calls, m, "everyCall: got no call of %s, want one", m)
	}
	// Methods lists the 23 calls of everyCall and Receive.
	assert.Len(t, fake.Methods(), len(calls)+1, "Methods: got %d names, want %d", len(fake.Methods()), len(calls)+1)
}

func TestUnreachable(t *testing.T) {
	f := newFixture(t, fake.Options{Name: "dead"})
	peer := fake.New(fake.Options{Name: "peer"})
	f.d.SetUnreachable(true)
	for method, call := range f.everyCall(peer) {
		t.Run(method, func(t *testing.T) {
			before := f.d.Calls(method)
			err := call(t.Context())
			require.ErrorIs(t, err, ovm.ErrUnavailable, "%s on an unreachable host: got %v, want unavailable", method, err)
			assert.Contains(t, err.Error(), "unreachable", "%s: got %q, want it to say unreachable", method, err)
			assert.Equal(t, before+1, f.d.Calls(method), "Calls(%s): got %d, want %d", method, f.d.Calls(method), before+1)
		})
	}
	f.d.SetUnreachable(false)
	require.NoError(t, f.d.Ping(t.Context()), "Ping after the host came back: got an error, want none")
	got, err := f.d.Get(t.Context(), f.ref)
	require.NoError(t, err, "Get after the host came back: got an error, want none")
	assert.Equal(t, f.inst, got, "instance after the outage: got the first, want it unchanged")
}

func TestFailNext(t *testing.T) {
	injected := errors.New("injected")
	f := newFixture(t, fake.Options{})
	peer := fake.New(fake.Options{Name: "peer"})
	for method, call := range f.everyCall(peer) {
		t.Run(method, func(t *testing.T) {
			f.d.FailNext(method, injected)
			err := call(t.Context())
			require.ErrorIs(t, err, injected, "%s after FailNext: got %v, want the injected error", method, err)
			err = call(t.Context())
			assert.NotErrorIs(t, err, injected, "%s the second time: got the injected error again, want it used up", method)
		})
	}

	t.Run("queued in order", func(t *testing.T) {
		d := fake.New(fake.Options{})
		first, second := errors.New("first"), errors.New("second")
		d.FailNext(fake.MethodPing, first)
		d.FailNext(fake.MethodPing, nil) // lets one call through
		d.FailNext(fake.MethodPing, second)
		for i, want := range []error{first, nil, second, nil} {
			got := d.Ping(t.Context())
			if want == nil {
				require.NoError(t, got, "Ping #%d: got %v, want nil", i+1, got)
				continue
			}
			require.ErrorIs(t, got, want, "Ping #%d: got %v, want %v", i+1, got, want)
		}
	})
	t.Run("other methods unaffected", func(t *testing.T) {
		d := fake.New(fake.Options{})
		d.FailNext(fake.MethodInfo, injected)
		require.NoError(t, d.Ping(t.Context()), "Ping with an Info failure queued: got an error, want none")
		_, err := d.Info(t.Context())
		require.ErrorIs(t, err, injected, "Info: got %v, want the injected error", err)
	})
	t.Run("receive refuses a migration", func(t *testing.T) {
		f := newFixture(t, fake.Options{Name: "src"})
		dest := fake.New(fake.Options{Name: "dest"})
		require.NoError(t, f.d.Start(t.Context(), f.ref))
		dest.FailNext(fake.MethodReceive, injected)
		err := f.d.Migrate(t.Context(), f.ref, hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive, Destination: dest}, nil)
		require.ErrorIs(t, err, injected, "Migrate to a refusing host: got %v, want the injected error", err)
		got, err := f.d.Get(t.Context(), f.ref)
		require.NoError(t, err, "Get on the source: got an error, want the instance still there")
		assert.Equal(t, ovm.PowerRunning, got.Power, "source power after the refused migration: got %q, want %q", got.Power, ovm.PowerRunning)
	})
	t.Run("unknown method panics", func(t *testing.T) {
		d := fake.New(fake.Options{})
		assert.PanicsWithValue(t, `fake: FailNext: unknown method "Pong"`, func() { d.FailNext("Pong", injected) },
			"FailNext with a misspelt method: got no panic or another value, want the panic naming it")
	})
}

func TestLatency(t *testing.T) {
	t.Run("every call waits", func(t *testing.T) {
		d := fake.New(fake.Options{})
		const lat = 30 * time.Millisecond
		d.SetLatency(lat)
		start := time.Now()
		require.NoError(t, d.Ping(t.Context()), "Ping with latency: got an error, want none")
		took := time.Since(start)
		assert.GreaterOrEqual(t, took, lat, "Ping with latency %s: took %s, want at least the latency", lat, took)
	})
	t.Run("bounded by the context", func(t *testing.T) {
		d := fake.New(fake.Options{})
		d.SetLatency(time.Hour)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := d.List(ctx)
		took := time.Since(start)
		require.ErrorIs(t, err, context.DeadlineExceeded, "List with an hour of latency and a 20ms deadline: got %v, want deadline exceeded", err)
		assert.Less(t, took, 10*time.Second, "List: took %s, want about the 20ms deadline", took)
	})
	t.Run("removed", func(t *testing.T) {
		d := fake.New(fake.Options{})
		d.SetLatency(time.Hour)
		d.SetLatency(0)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		require.NoError(t, d.Ping(ctx), "Ping after the latency was removed: got an error, want none")
	})
}

func TestCallsAndClose(t *testing.T) {
	d := fake.New(fake.Options{})
	for range 3 {
		require.NoError(t, d.Ping(t.Context()))
	}
	d.SetUnreachable(true)
	require.Error(t, d.Ping(t.Context()))
	d.SetUnreachable(false)
	// Three good pings and one failed: 4.
	assert.Equal(t, 4, d.Calls(fake.MethodPing), "Calls(Ping): got %d, want 4", d.Calls(fake.MethodPing))
	assert.Equal(t, 0, d.Calls(fake.MethodInfo), "Calls(Info): got %d, want 0", d.Calls(fake.MethodInfo))

	require.NoError(t, d.Close(), "Close: got an error, want none")
	require.NoError(t, d.Close(), "second Close: got an error, want none")
	err := d.Ping(t.Context())
	require.ErrorIs(t, err, ovm.ErrUnavailable, "Ping after Close: got %v, want unavailable", err)
	assert.Contains(t, err.Error(), "closed", "Ping after Close: got %q, want it to say closed", err)
}

// TestTemplateDisk: a VM that declares no disk gets a copy of its template
// of Options.TemplateDisk, and every instance reports the disks made for it.
func TestTemplateDisk(t *testing.T) {
	tests := []struct {
		name string
		spec ovm.InstanceSpec
		want ovm.Bytes
	}{
		{"vm without disks: the template's copy", ovm.InstanceSpec{Type: ovm.TypeVM, CPU: 1000, Memory: 64 * ovm.MiB, Image: ovm.Template("t.qcow2")}, ovm.GiB},
		{"vm with a disk: that disk", ovm.InstanceSpec{Type: ovm.TypeVM, CPU: 1000, Memory: 64 * ovm.MiB, Image: ovm.Template("t.qcow2"),
			Disks: []ovm.DiskSpec{{Size: 5 * ovm.GiB}}}, 5 * ovm.GiB},
		{"container: nothing", ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 100, Memory: 16 * ovm.MiB, Image: ovm.ContainerImage("busybox:1")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fake.New(fake.Options{TemplateDisk: ovm.GiB})
			got, err := d.Create(t.Context(), hypervisor.CreateSpec{ID: ovm.NewID(), Name: "i1", Spec: tt.spec})
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Disk, "made by Create")
			again, err := d.Get(t.Context(), hypervisor.ByNative(got.NativeID))
			require.NoError(t, err)
			assert.Equal(t, tt.want, again.Disk, "read by Get")
		})
	}
}
