package fake_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
	"github.com/openovm/ovm/storage/fake"
	"github.com/openovm/ovm/storage/storagetest"
)

// harness runs the conformance suite on fake drivers made with opts.
func harness(opts fake.Options) storagetest.Harness {
	return storagetest.Harness{
		New: func(*testing.T) storage.Driver { return fake.New(opts) },
		Pool: func(_ *testing.T, name string) storage.PoolSpec {
			return storage.PoolSpec{ID: ovm.NewID(), Name: name, Kind: ovm.StorageLocal, Path: "/var/lib/ovm/fake/" + name}
		},
		Image:        func(*testing.T) ovm.ImageRef { return ovm.Template("debian-12.qcow2") },
		AttachTarget: func(*testing.T) ovm.ID { return ovm.NewID() },
	}
}

func TestConformance(t *testing.T) {
	limitedID := ovm.NewID()
	const limit = 256 * ovm.MiB

	reported := harness(fake.Options{})

	limited := harness(fake.Options{PoolCapacity: map[ovm.ID]ovm.Bytes{limitedID: limit}})
	limited.LimitedPool = func(_ *testing.T, name string) (storage.PoolSpec, ovm.Bytes) {
		// Each test has its own driver, so one id serves them all.
		return storage.PoolSpec{ID: limitedID, Name: name, Kind: ovm.StorageLocal, Path: "/var/lib/ovm/small"}, limit
	}

	shared := harness(fake.Options{
		Capacity: 10 * ovm.GiB,
		Images:   map[ovm.ImageRef]ovm.Bytes{ovm.Template("debian-12.qcow2"): 2 * ovm.GiB},
		Now:      func() time.Time { return time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC) },
	})
	shared.Pool = func(_ *testing.T, name string) storage.PoolSpec {
		return storage.PoolSpec{ID: ovm.NewID(), Name: name, Kind: ovm.StorageNFS, Server: "nfs.example", Export: "/export/" + name}
	}

	tests := []struct {
		name string
		h    storagetest.Harness
	}{
		{name: "reported capacity", h: reported},
		{name: "limited pool", h: limited},
		{name: "nfs pools and known images", h: shared},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { storagetest.Run(t, tt.h) })
	}
}

// fixture is a fake with a pool holding volume vol (with snapshot snap) and
// volume spare, and an empty pool.
type fixture struct {
	d          *fake.Driver
	pool       ovm.StoragePool
	empty      ovm.StoragePool
	vol, spare ovm.Volume
	snap       ovm.Snapshot
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	fx := &fixture{d: fake.New(fake.Options{})}
	var err error
	fx.pool, err = fx.d.CreatePool(ctx, poolSpec("main"))
	require.NoError(t, err, "CreatePool(main)")
	fx.empty, err = fx.d.CreatePool(ctx, poolSpec("empty"))
	require.NoError(t, err, "CreatePool(empty)")
	fx.vol, err = fx.d.CreateVolume(ctx, volSpec(fx.pool.ID, "vol", ovm.GiB))
	require.NoError(t, err, "CreateVolume(vol)")
	fx.spare, err = fx.d.CreateVolume(ctx, volSpec(fx.pool.ID, "spare", ovm.GiB))
	require.NoError(t, err, "CreateVolume(spare)")
	fx.snap, err = fx.d.CreateSnapshot(ctx, fx.vol.ID, "snap")
	require.NoError(t, err, "CreateSnapshot(vol)")
	return fx
}

func poolSpec(name string) storage.PoolSpec {
	return storage.PoolSpec{ID: ovm.NewID(), Name: name, Kind: ovm.StorageLocal, Path: "/srv/" + name}
}

func volSpec(pool ovm.ID, name string, size ovm.Bytes) storage.VolumeSpec {
	return storage.VolumeSpec{ID: ovm.NewID(), Name: name, PoolID: pool, Size: size}
}

// calls holds one successful call of every method FailNext accepts, on a
// fresh fixture.
func calls() map[string]func(ctx context.Context, fx *fixture) error {
	return map[string]func(ctx context.Context, fx *fixture) error{
		fake.MethodCreatePool: func(ctx context.Context, fx *fixture) error {
			_, err := fx.d.CreatePool(ctx, poolSpec("new"))
			return err
		},
		fake.MethodGetPool: func(ctx context.Context, fx *fixture) error {
			_, err := fx.d.GetPool(ctx, fx.pool.ID)
			return err
		},
		fake.MethodListPools: func(ctx context.Context, fx *fixture) error {
			_, err := fx.d.ListPools(ctx)
			return err
		},
		fake.MethodDeletePool: func(ctx context.Context, fx *fixture) error { return fx.d.DeletePool(ctx, fx.empty.ID) },
		fake.MethodCreateVolume: func(ctx context.Context, fx *fixture) error {
			_, err := fx.d.CreateVolume(ctx, volSpec(fx.pool.ID, "new", ovm.GiB))
			return err
		},
		fake.MethodGetVolume: func(ctx context.Context, fx *fixture) error {
			_, err := fx.d.GetVolume(ctx, fx.vol.ID)
			return err
		},
		fake.MethodListVolumes: func(ctx context.Context, fx *fixture) error {
			_, err := fx.d.ListVolumes(ctx, fx.pool.ID)
			return err
		},
		fake.MethodResizeVolume: func(ctx context.Context, fx *fixture) error {
			_, err := fx.d.ResizeVolume(ctx, fx.vol.ID, 2*ovm.GiB)
			return err
		},
		fake.MethodDeleteVolume: func(ctx context.Context, fx *fixture) error { return fx.d.DeleteVolume(ctx, fx.spare.ID) },
		fake.MethodAttachVolume: func(ctx context.Context, fx *fixture) error {
			return fx.d.AttachVolume(ctx, fx.spare.ID, ovm.NewID())
		},
		fake.MethodDetachVolume: func(ctx context.Context, fx *fixture) error { return fx.d.DetachVolume(ctx, fx.vol.ID) },
		fake.MethodCreateSnapshot: func(ctx context.Context, fx *fixture) error {
			_, err := fx.d.CreateSnapshot(ctx, fx.vol.ID, "another")
			return err
		},
		fake.MethodListSnapshots: func(ctx context.Context, fx *fixture) error {
			_, err := fx.d.ListSnapshots(ctx, fx.vol.ID)
			return err
		},
		fake.MethodRevertSnapshot: func(ctx context.Context, fx *fixture) error {
			return fx.d.RevertSnapshot(ctx, fx.vol.ID, fx.snap.ID)
		},
		fake.MethodDeleteSnapshot: func(ctx context.Context, fx *fixture) error {
			return fx.d.DeleteSnapshot(ctx, fx.vol.ID, fx.snap.ID)
		},
	}
}

func TestCallsCoverEveryMethod(t *testing.T) {
	var got []string
	for m := range calls() {
		got = append(got, m)
	}
	assert.ElementsMatch(t, fake.Methods(), got, "calls(): got these methods, want one call per fake.Methods()")
}

// state is everything the fake holds, read through its own methods.
type state struct {
	Pools     []ovm.StoragePool
	Volumes   []ovm.Volume
	Snapshots map[ovm.ID][]ovm.Snapshot
}

func dump(t *testing.T, d *fake.Driver) state {
	t.Helper()
	ctx := t.Context()
	pools, err := d.ListPools(ctx)
	require.NoError(t, err, "ListPools")
	vols, err := d.ListVolumes(ctx, "")
	require.NoError(t, err, "ListVolumes(all)")
	s := state{Pools: pools, Volumes: vols, Snapshots: map[ovm.ID][]ovm.Snapshot{}}
	for _, v := range vols {
		s.Snapshots[v.ID], err = d.ListSnapshots(ctx, v.ID)
		require.NoError(t, err, "ListSnapshots(%s)", v.ID)
	}
	return s
}

func TestFailNext(t *testing.T) {
	for method, call := range calls() {
		t.Run(method, func(t *testing.T) {
			fx := newFixture(t)
			before := dump(t, fx.d)
			first, second := errors.New("injected first"), ovm.Errorf(ovm.KindUnavailable, "injected second")
			fx.d.FailNext(method, first)
			fx.d.FailNext(method, second)

			assert.Same(t, first, call(t.Context(), fx), "%s after FailNext twice: got another error, want the first injected", method)
			assert.Same(t, second, call(t.Context(), fx), "%s, second call: got another error, want the second injected", method)
			assert.Equal(t, before, dump(t, fx.d), "%s failed by FailNext: got the state changed, want it untouched", method)
			assert.NoError(t, call(t.Context(), fx), "%s, third call: want the queue empty and the call to work", method)
		})
	}
}

func TestFailNextOnlyThatMethod(t *testing.T) {
	fx := newFixture(t)
	injected := errors.New("injected")
	fx.d.FailNext(fake.MethodDeleteVolume, injected)

	_, err := fx.d.GetVolume(t.Context(), fx.vol.ID)
	require.NoError(t, err, "GetVolume while DeleteVolume has a failure queued: want it untouched")
	assert.Same(t, injected, fx.d.DeleteVolume(t.Context(), fx.spare.ID), "DeleteVolume: got another error, want the injected one")
}

func TestFailNextRefusesBadArguments(t *testing.T) {
	tests := []struct {
		name   string
		method string
		err    error
	}{
		{name: "unknown method", method: "Format", err: errors.New("x")},
		{name: "capabilities cannot fail", method: "Capabilities", err: errors.New("x")},
		{name: "nil error", method: fake.MethodGetPool, err: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fake.New(fake.Options{})
			assert.Panics(t, func() { d.FailNext(tt.method, tt.err) }, "FailNext(%q, %v): want a panic", tt.method, tt.err)
		})
	}
}

func TestSetUnreachable(t *testing.T) {
	for method, call := range calls() {
		t.Run(method, func(t *testing.T) {
			fx := newFixture(t)
			before := dump(t, fx.d)
			injected := errors.New("queued")
			fx.d.FailNext(method, injected)
			fx.d.SetUnreachable(true)

			err := call(t.Context(), fx)
			require.ErrorIs(t, err, ovm.ErrUnavailable, "%s while unreachable", method)
			assert.Contains(t, err.Error(), method, "%s while unreachable: got %q, want the method named", method, err)
			assert.True(t, fx.d.Capabilities().Snapshots, "Capabilities while unreachable: want them still announced")

			fx.d.SetUnreachable(false)
			assert.Same(t, injected, call(t.Context(), fx), "%s once reachable: want the failure queued before kept", method)
			assert.Equal(t, before, dump(t, fx.d), "%s while unreachable: got the state changed, want it kept", method)
			assert.NoError(t, call(t.Context(), fx), "%s once reachable and the queue empty", method)
		})
	}
}

func TestCanceledContext(t *testing.T) {
	for method, call := range calls() {
		t.Run(method, func(t *testing.T) {
			fx := newFixture(t)
			before := dump(t, fx.d)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			assert.ErrorIs(t, call(ctx, fx), context.Canceled, "%s with a canceled context", method)
			assert.Equal(t, before, dump(t, fx.d), "%s with a canceled context: got the state changed", method)
		})
	}
}
