package fake_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
	"github.com/openovm/ovm/storage/fake"
)

// TestCapacityAccounting walks one pool of 10GiB through creates, resizes,
// a delete and a revert; each step says what it expects Used to be.
func TestCapacityAccounting(t *testing.T) {
	ctx := t.Context()
	p := poolSpec("acct")
	d := fake.New(fake.Options{PoolCapacity: map[ovm.ID]ovm.Bytes{p.ID: 10 * ovm.GiB}})
	_, err := d.CreatePool(ctx, p)
	require.NoError(t, err, "CreatePool")
	a, b, c := volSpec(p.ID, "a", 4*ovm.GiB), volSpec(p.ID, "b", 5*ovm.GiB), volSpec(p.ID, "c", 2*ovm.GiB)
	var snap ovm.Snapshot

	steps := []struct {
		name     string
		do       func(ctx context.Context) error
		wantErr  error // an ovm kind, or nil
		wantUsed ovm.Bytes
	}{
		{name: "create a 4GiB", do: create(d, a), wantUsed: 4 * ovm.GiB},                                      // 0 + 4
		{name: "create b 5GiB", do: create(d, b), wantUsed: 9 * ovm.GiB},                                      // 4 + 5
		{name: "create c 2GiB: 1GiB free", do: create(d, c), wantErr: ovm.ErrConflict, wantUsed: 9 * ovm.GiB}, // 9 + 2 > 10
		{name: "retry a: no change", do: create(d, a), wantUsed: 9 * ovm.GiB},                                 // idempotent
		{name: "grow a to 5GiB", do: resize(d, a.ID, 5*ovm.GiB), wantUsed: 10 * ovm.GiB},                      // 9 + (5-4)
		{name: "grow b to 6GiB: full", do: resize(d, b.ID, 6*ovm.GiB), wantErr: ovm.ErrConflict, wantUsed: 10 * ovm.GiB},
		{name: "shrink a to 1GiB", do: resize(d, a.ID, ovm.GiB), wantErr: ovm.ErrInvalid, wantUsed: 10 * ovm.GiB},
		{name: "delete a", do: func(ctx context.Context) error { return d.DeleteVolume(ctx, a.ID) }, wantUsed: 5 * ovm.GiB}, // 10 - 5
		{name: "snapshot b", do: func(ctx context.Context) (err error) {
			snap, err = d.CreateSnapshot(ctx, b.ID, "before")
			return err
		}, wantUsed: 5 * ovm.GiB}, // snapshots take no room
		{name: "grow b to 8GiB", do: resize(d, b.ID, 8*ovm.GiB), wantUsed: 8 * ovm.GiB}, // 5 + (8-5)
		{name: "revert b to 5GiB", do: func(ctx context.Context) error { return d.RevertSnapshot(ctx, b.ID, snap.ID) }, wantUsed: 5 * ovm.GiB},
		{name: "create c 2GiB now fits", do: create(d, c), wantUsed: 7 * ovm.GiB}, // 5 + 2
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.do(t.Context())
			if st.wantErr == nil {
				require.NoError(t, err, st.name)
			} else {
				require.ErrorIs(t, err, st.wantErr, st.name)
			}
			pool, err := d.GetPool(t.Context(), p.ID)
			require.NoError(t, err, "GetPool")
			assert.Equal(t, st.wantUsed, pool.Used, "after %s: got Used %s, want %s", st.name, pool.Used, st.wantUsed)
			assert.Equal(t, 10*ovm.GiB, pool.Capacity, "Capacity: got %s, want the configured 10GiB", pool.Capacity)
		})
	}
}

func create(d *fake.Driver, spec storage.VolumeSpec) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := d.CreateVolume(ctx, spec)
		return err
	}
}

func resize(d *fake.Driver, id ovm.ID, size ovm.Bytes) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := d.ResizeVolume(ctx, id, size)
		return err
	}
}

func TestPoolCapacityOptions(t *testing.T) {
	named := ovm.NewID()
	tests := []struct {
		name string
		opts fake.Options
		id   ovm.ID
		want ovm.Bytes
	}{
		{name: "zero options", opts: fake.Options{}, id: ovm.NewID(), want: fake.DefaultCapacity},
		{name: "capacity for every pool", opts: fake.Options{Capacity: 5 * ovm.GiB}, id: ovm.NewID(), want: 5 * ovm.GiB},
		{name: "per pool wins", opts: fake.Options{Capacity: 5 * ovm.GiB, PoolCapacity: map[ovm.ID]ovm.Bytes{named: ovm.GiB}}, id: named, want: ovm.GiB},
		{name: "per pool zero ignored", opts: fake.Options{Capacity: 5 * ovm.GiB, PoolCapacity: map[ovm.ID]ovm.Bytes{named: 0}}, id: named, want: 5 * ovm.GiB},
		{name: "negative capacity means default", opts: fake.Options{Capacity: -1}, id: ovm.NewID(), want: fake.DefaultCapacity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := poolSpec("p")
			spec.ID = tt.id
			p, err := fake.New(tt.opts).CreatePool(t.Context(), spec)
			require.NoError(t, err, "CreatePool")
			assert.Equal(t, tt.want, p.Capacity, "Capacity: got %s, want %s", p.Capacity, tt.want)
		})
	}
}

func TestCreatePoolConflicts(t *testing.T) {
	base := poolSpec("base")
	tests := []struct {
		name    string
		spec    func() storage.PoolSpec
		wantErr error
	}{
		{name: "same spec returns the pool", spec: func() storage.PoolSpec { return base }},
		{name: "same id, other path", spec: func() storage.PoolSpec {
			s := base
			s.Path = "/elsewhere"
			return s
		}, wantErr: ovm.ErrConflict},
		{name: "same id, other kind", spec: func() storage.PoolSpec {
			s := base
			s.Kind = ovm.StorageShared
			return s
		}, wantErr: ovm.ErrConflict},
		{name: "other id, same name", spec: func() storage.PoolSpec {
			s := base
			s.ID = ovm.NewID()
			return s
		}, wantErr: ovm.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fake.New(fake.Options{})
			_, err := d.CreatePool(t.Context(), base)
			require.NoError(t, err, "CreatePool(base)")
			_, err = d.CreatePool(t.Context(), tt.spec())
			if tt.wantErr == nil {
				require.NoError(t, err, "CreatePool")
			} else {
				require.ErrorIs(t, err, tt.wantErr, "CreatePool")
			}
			pools, err := d.ListPools(t.Context())
			require.NoError(t, err, "ListPools")
			assert.Len(t, pools, 1, "ListPools: got %d pools, want only base", len(pools))
		})
	}
}

func TestCreateVolumeFromImages(t *testing.T) {
	debian, alpine := ovm.Template("debian-12.qcow2"), ovm.Template("alpine.raw")
	opts := fake.Options{Images: map[ovm.ImageRef]ovm.Bytes{debian: 2 * ovm.GiB, alpine: 512 * ovm.MiB}}
	tests := []struct {
		name       string
		from       ovm.ImageRef
		size       ovm.Bytes
		format     ovm.ImageFormat
		wantErr    error
		wantField  string
		wantSize   ovm.Bytes
		wantFormat ovm.ImageFormat
	}{
		{name: "image size", from: debian, wantSize: 2 * ovm.GiB, wantFormat: ovm.FormatQCOW2},
		{name: "larger than the image", from: debian, size: 3 * ovm.GiB, wantSize: 3 * ovm.GiB, wantFormat: ovm.FormatQCOW2},
		{name: "raw image keeps raw", from: alpine, wantSize: 512 * ovm.MiB, wantFormat: ovm.FormatRaw},
		{name: "format asked wins", from: debian, format: ovm.FormatVMDK, wantSize: 2 * ovm.GiB, wantFormat: ovm.FormatVMDK},
		{name: "smaller than the image", from: debian, size: ovm.GiB, wantErr: ovm.ErrInvalid, wantField: "sizeBytes"},
		{name: "unknown image", from: ovm.Template("nope.qcow2"), wantErr: ovm.ErrNotFound},
		{name: "blank volume of a container format", size: ovm.GiB, format: ovm.FormatOCI, wantErr: ovm.ErrInvalid, wantField: "format"},
		{name: "blank volume, native format", size: ovm.GiB, wantSize: ovm.GiB, wantFormat: ovm.FormatQCOW2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := fake.New(opts)
			p, err := d.CreatePool(t.Context(), poolSpec("img"))
			require.NoError(t, err, "CreatePool")
			spec := volSpec(p.ID, "v", tt.size)
			spec.From, spec.Format = tt.from, tt.format
			v, err := d.CreateVolume(t.Context(), spec)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr, "CreateVolume")
				if tt.wantField != "" {
					require.NotEmpty(t, ovm.FieldsOf(err), "CreateVolume: want the field named")
					assert.Equal(t, tt.wantField, ovm.FieldsOf(err)[0].Field, "CreateVolume: got this field, want %q", tt.wantField)
				}
				return
			}
			require.NoError(t, err, "CreateVolume")
			assert.Equal(t, tt.wantSize, v.Size, "Size: got %s, want %s", v.Size, tt.wantSize)
			assert.Equal(t, tt.wantFormat, v.Format, "Format: got %q, want %q", v.Format, tt.wantFormat)
			assert.Equal(t, tt.from, v.Source, "Source: got %v, want %v", v.Source, tt.from)
		})
	}
}

func TestVolumeIDInAnotherPool(t *testing.T) {
	fx := newFixture(t)
	spec := storage.VolumeSpec{ID: fx.vol.ID, Name: fx.vol.Name, PoolID: fx.empty.ID, Size: fx.vol.Size}
	_, err := fx.d.CreateVolume(t.Context(), spec)
	require.ErrorIs(t, err, ovm.ErrConflict, "CreateVolume with the id of a volume of another pool")
}

func TestAttachSemantics(t *testing.T) {
	fx := newFixture(t)
	ctx := t.Context()
	one, two := ovm.NewID(), ovm.NewID()
	require.NoError(t, fx.d.AttachVolume(ctx, fx.vol.ID, one), "AttachVolume to one")
	assert.NoError(t, fx.d.AttachVolume(ctx, fx.vol.ID, one), "AttachVolume to one again: want no change")
	assert.ErrorIs(t, fx.d.AttachVolume(ctx, fx.vol.ID, two), ovm.ErrConflict, "AttachVolume to two while on one")
	err := fx.d.AttachVolume(ctx, fx.spare.ID, "INSTANCE")
	require.ErrorIs(t, err, ovm.ErrInvalid, "AttachVolume to a bad id")
	assert.Equal(t, "instanceId", ovm.FieldsOf(err)[0].Field, "AttachVolume to a bad id: got this field, want instanceId")

	require.NoError(t, fx.d.DetachVolume(ctx, fx.vol.ID), "DetachVolume")
	assert.NoError(t, fx.d.DetachVolume(ctx, fx.vol.ID), "DetachVolume again: want no change")
	assert.NoError(t, fx.d.AttachVolume(ctx, fx.vol.ID, two), "AttachVolume to two once detached")
	assert.ErrorIs(t, fx.d.DetachVolume(ctx, ovm.NewID()), ovm.ErrNotFound, "DetachVolume of an unknown volume")
}

func TestSnapshotSemantics(t *testing.T) {
	ctx := t.Context()
	p := poolSpec("snaps")
	// 4GiB pool: vol 1GiB with snapshot "small"; grown to 3GiB with
	// snapshot "big"; reverted to 1GiB; another 2GiB volume fills it to 3GiB.
	d := fake.New(fake.Options{PoolCapacity: map[ovm.ID]ovm.Bytes{p.ID: 4 * ovm.GiB}})
	_, err := d.CreatePool(ctx, p)
	require.NoError(t, err, "CreatePool")
	v, err := d.CreateVolume(ctx, volSpec(p.ID, "v", ovm.GiB))
	require.NoError(t, err, "CreateVolume")
	small, err := d.CreateSnapshot(ctx, v.ID, "small")
	require.NoError(t, err, "CreateSnapshot(small)")
	_, err = d.CreateSnapshot(ctx, v.ID, "small")
	assert.ErrorIs(t, err, ovm.ErrConflict, "CreateSnapshot with a taken name")
	_, err = d.CreateSnapshot(ctx, v.ID, "Not A Name")
	assert.ErrorIs(t, err, ovm.ErrInvalid, "CreateSnapshot with a bad name")

	_, err = d.ResizeVolume(ctx, v.ID, 3*ovm.GiB)
	require.NoError(t, err, "ResizeVolume to 3GiB")
	big, err := d.CreateSnapshot(ctx, v.ID, "big")
	require.NoError(t, err, "CreateSnapshot(big)")
	require.NoError(t, d.RevertSnapshot(ctx, v.ID, small.ID), "RevertSnapshot(small)")
	_, err = d.CreateVolume(ctx, volSpec(p.ID, "w", 2*ovm.GiB)) // 1 + 2 = 3 of 4GiB
	require.NoError(t, err, "CreateVolume(w)")

	// Back to big needs 3 - 1 = 2GiB more; 1GiB is free.
	err = d.RevertSnapshot(ctx, v.ID, big.ID)
	require.ErrorIs(t, err, ovm.ErrConflict, "RevertSnapshot(big) without room")
	got, err := d.GetVolume(ctx, v.ID)
	require.NoError(t, err, "GetVolume")
	assert.Equal(t, ovm.GiB, got.Size, "after a refused revert: got size %s, want 1GiB kept", got.Size)

	snaps, err := d.ListSnapshots(ctx, v.ID)
	require.NoError(t, err, "ListSnapshots")
	require.Len(t, snaps, 2, "ListSnapshots: got %d, want small and big", len(snaps))
	assert.Equal(t, []string{"small", "big"}, []string{snaps[0].Name, snaps[1].Name}, "ListSnapshots: want oldest first")
}

func TestNowStampsCreatedAt(t *testing.T) {
	at := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)
	tests := []struct {
		name string
		now  func() time.Time
		want time.Time
	}{
		{name: "clock given", now: func() time.Time { return at }, want: at},
		{name: "no clock: zero times", now: nil, want: time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			d := fake.New(fake.Options{Now: tt.now})
			p, err := d.CreatePool(ctx, poolSpec("p"))
			require.NoError(t, err, "CreatePool")
			v, err := d.CreateVolume(ctx, volSpec(p.ID, "v", ovm.GiB))
			require.NoError(t, err, "CreateVolume")
			s, err := d.CreateSnapshot(ctx, v.ID, "s")
			require.NoError(t, err, "CreateSnapshot")
			for what, got := range map[string]time.Time{"pool": p.CreatedAt, "volume": v.CreatedAt, "snapshot": s.CreatedAt} {
				assert.Equal(t, tt.want, got, "%s CreatedAt: got %v, want %v", what, got, tt.want)
			}
		})
	}
}

func TestListVolumesOfEveryPool(t *testing.T) {
	fx := newFixture(t)
	w, err := fx.d.CreateVolume(t.Context(), volSpec(fx.empty.ID, "another", ovm.GiB))
	require.NoError(t, err, "CreateVolume in the second pool")
	vols, err := fx.d.ListVolumes(t.Context(), "")
	require.NoError(t, err, "ListVolumes(all)")
	got := make([]ovm.ID, 0, len(vols))
	for _, v := range vols {
		got = append(got, v.ID)
	}
	// Sorted by name: another, spare, vol.
	assert.Equal(t, []ovm.ID{w.ID, fx.spare.ID, fx.vol.ID}, got, "ListVolumes(all): got these, want every volume by name")
}

// TestConcurrentMixedUse runs 8 goroutines that each make, grow, snapshot,
// revert and delete their own volumes while reading the pool, for the race
// detector to watch; the pool ends empty.
func TestConcurrentMixedUse(t *testing.T) {
	const workers, rounds = 8, 20
	d := fake.New(fake.Options{})
	p, err := d.CreatePool(t.Context(), poolSpec("busy"))
	require.NoError(t, err, "CreatePool")

	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() { errs[w] = churn(t.Context(), d, p.ID, rounds) })
	}
	wg.Wait()
	for w, err := range errs {
		assert.NoError(t, err, "worker %d", w)
	}
	got, err := d.GetPool(t.Context(), p.ID)
	require.NoError(t, err, "GetPool")
	assert.Zero(t, got.Used, "Used after every volume was deleted: got %s, want 0", got.Used)
}

// churn makes, grows, snapshots, reverts and deletes rounds volumes.
func churn(ctx context.Context, d *fake.Driver, pool ovm.ID, rounds int) error {
	for range rounds {
		v, err := d.CreateVolume(ctx, volSpec(pool, "churn", ovm.GiB))
		if err != nil {
			return err
		}
		s, err := d.CreateSnapshot(ctx, v.ID, "s")
		if err != nil {
			return err
		}
		if _, err := d.ResizeVolume(ctx, v.ID, 2*ovm.GiB); err != nil {
			return err
		}
		if _, err := d.ListVolumes(ctx, pool); err != nil {
			return err
		}
		if err := d.RevertSnapshot(ctx, v.ID, s.ID); err != nil {
			return err
		}
		if err := d.DeleteVolume(ctx, v.ID); err != nil {
			return err
		}
	}
	return nil
}
