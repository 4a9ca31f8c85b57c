package storagetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/conformance"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

// The names of the suite's tests: sub-test names under Run's t, and the keys
// of Harness.Exceptions.
const (
	// Capabilities: the announced facets are the implemented ones, and the
	// harness gives what they need.
	Capabilities = "Capabilities"
	// CreatePoolIdempotent: a second CreatePool with the same id returns the
	// pool, listed once.
	CreatePoolIdempotent = "CreatePoolIdempotent"
	// GetListPools: GetPool and ListPools find the pools made.
	GetListPools = "GetListPools"
	// InvalidPoolSpec: a bad pool spec is ovm.ErrInvalid naming the field,
	// and no pool is left behind.
	InvalidPoolSpec = "InvalidPoolSpec"
	// DeleteEmptyPool: a deleted pool is gone; a second delete is
	// ovm.ErrNotFound.
	DeleteEmptyPool = "DeleteEmptyPool"
	// DeletePoolWithVolumes: deleting a pool holding a volume is
	// ovm.ErrConflict and keeps both.
	DeletePoolWithVolumes = "DeletePoolWithVolumes"
	// CreateBlankVolume: a blank volume has its spec's shape; a second
	// create with the same id returns it, listed once.
	CreateBlankVolume = "CreateBlankVolume"
	// CreateVolumeFromImage: volumes from the harness's image, at its size
	// and larger (or ovm.ErrUnsupported without Capabilities.FromImage).
	CreateVolumeFromImage = "CreateVolumeFromImage"
	// InvalidVolumeSpec: a bad volume spec is ovm.ErrInvalid naming the
	// field, and no volume is left behind.
	InvalidVolumeSpec = "InvalidVolumeSpec"
	// UnknownPool: calls naming a pool that does not exist are
	// ovm.ErrNotFound.
	UnknownPool = "UnknownPool"
	// GetListVolumes: GetVolume and ListVolumes find a pool's volumes and
	// no other pool's.
	GetListVolumes = "GetListVolumes"
	// ResizeVolume: growing works; shrinking is ovm.ErrInvalid.
	ResizeVolume = "ResizeVolume"
	// AttachDetach: attach, no delete while attached (ovm.ErrConflict),
	// detach, delete.
	AttachDetach = "AttachDetach"
	// DeleteVolume: a deleted volume is gone; a second delete is
	// ovm.ErrNotFound.
	DeleteVolume = "DeleteVolume"
	// Snapshots: create, list, revert (seen through the size), delete;
	// deleting a volume takes its snapshots.
	Snapshots = "Snapshots"
	// UnknownSnapshot: snapshots and volumes that do not exist, or a
	// snapshot of another volume, are ovm.ErrNotFound.
	UnknownSnapshot = "UnknownSnapshot"
	// PoolFull: a volume or resize past the pool's free space is
	// ovm.ErrConflict naming the pool, and changes nothing.
	PoolFull = "PoolFull"
	// ConcurrentCreates: 8 goroutines create distinct volumes at once; all
	// succeed.
	ConcurrentCreates = "ConcurrentCreates"
)

// Harness tells the suite how to exercise one driver.
type Harness struct {
	// New returns a driver for one test. Required.
	New func(t *testing.T) storage.Driver
	// Pool returns a spec for a pool this driver can make (kind local or
	// shared, a temp dir path...), named name. Required. The suite fills
	// in an empty ID or Name.
	Pool func(t *testing.T, name string) storage.PoolSpec
	// Image returns an image the driver can make a volume from (when
	// Capabilities.FromImage).
	Image func(t *testing.T) ovm.ImageRef
	// AttachTarget returns an instance id volumes may be attached to (when
	// Capabilities.Attach).
	AttachTarget func(t *testing.T) ovm.ID
	// LimitedPool, optional, returns a spec for a pool that holds at most
	// capacity bytes of volumes. PoolFull uses it when set; otherwise it
	// uses the capacity the driver reports for a pool from Pool.
	LimitedPool func(t *testing.T, name string) (spec storage.PoolSpec, capacity ovm.Bytes)
	// Exceptions names tests (the constants of this package) the driver
	// cannot pass, each with a justification.
	Exceptions map[string]string
}

// test is one named test of the suite.
type test struct {
	name string
	run  func(t *testing.T, e *env)
}

// suite lists the tests in the order Run runs them.
func suite() []test {
	return []test{
		{Capabilities, testCapabilities},
		{CreatePoolIdempotent, testCreatePoolIdempotent},
		{GetListPools, testGetListPools},
		{InvalidPoolSpec, testInvalidPoolSpec},
		{DeleteEmptyPool, testDeleteEmptyPool},
		{DeletePoolWithVolumes, testDeletePoolWithVolumes},
		{CreateBlankVolume, testCreateBlankVolume},
		{CreateVolumeFromImage, testCreateVolumeFromImage},
		{InvalidVolumeSpec, testInvalidVolumeSpec},
		{UnknownPool, testUnknownPool},
		{GetListVolumes, testGetListVolumes},
		{ResizeVolume, testResizeVolume},
		{AttachDetach, testAttachDetach},
		{DeleteVolume, testDeleteVolume},
		{Snapshots, testSnapshots},
		{UnknownSnapshot, testUnknownSnapshot},
		{PoolFull, testPoolFull},
		{ConcurrentCreates, testConcurrentCreates},
	}
}

// Tests returns the names of every test of the suite, in the order Run
// runs them.
func Tests() []string {
	names := make([]string, 0, len(suite()))
	for _, tc := range suite() {
		names = append(names, tc.name)
	}
	return names
}

// Validate checks the harness before any test runs: New and Pool are set,
// and every exception names a test of the suite and gives a justification.
// The error is ovm.ErrInvalid naming each bad field.
func (h Harness) Validate() error {
	var f ovm.Fields
	if h.New == nil {
		f.Add("New", "is required")
	}
	if h.Pool == nil {
		f.Add("Pool", "is required")
	}
	conformance.CheckExceptions(&f, h.Exceptions, Tests())
	return f.Err("invalid storagetest harness")
}

// Run runs the whole suite against the driver the harness makes, each test
// as a sub-test of t named by its constant.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if err := h.Validate(); err != nil {
		t.Fatalf("storagetest: %v", err)
	}
	tests := make([]conformance.Test, 0, len(suite()))
	for _, tc := range suite() {
		tests = append(tests, conformance.Test{Name: tc.name, Run: func(t *testing.T) {
			d := h.New(t)
			require.NotNil(t, d, "Harness.New returned a nil driver")
			tc.run(t, &env{h: h, d: d})
		}})
	}
	conformance.Run(t, "storagetest", tests, h.Exceptions)
}

// volSize is the size of the suite's volumes: small, and a whole number of
// MiB so that no engine rounds it.
const volSize = 64 * ovm.MiB

// cleanupTimeout bounds the removal of what one test made.
const cleanupTimeout = 2 * time.Minute

// env is what a test works with: the harness and its driver.
type env struct {
	h Harness
	d storage.Driver
}

// name returns a unique object name, a DNS label such as "ovmst-vol-1a2b3c4d".
func name(what string) string { return "ovmst-" + what + "-" + ovm.NewID().Short() }

// poolSpec returns the harness's spec for a new pool.
func (e *env) poolSpec(t *testing.T) storage.PoolSpec {
	t.Helper()
	n := name("pool")
	spec := e.h.Pool(t, n)
	if spec.ID.IsZero() {
		spec.ID = ovm.NewID()
	}
	if spec.Name == "" {
		spec.Name = n
	}
	return spec
}

// pool makes a new pool from the harness's spec.
func (e *env) pool(t *testing.T) ovm.StoragePool {
	t.Helper()
	return e.createPool(t, e.poolSpec(t))
}

// createPool makes a pool and removes it, with whatever volumes are left in
// it, when the test ends.
func (e *env) createPool(t *testing.T, spec storage.PoolSpec) ovm.StoragePool {
	t.Helper()
	p, err := e.d.CreatePool(t.Context(), spec)
	require.NoError(t, err, "CreatePool(%s %q): want a pool", spec.ID, spec.Name)
	t.Cleanup(func() { e.removePool(t, spec.ID) })
	return p
}

// removePool deletes a pool and its volumes, detaching them first; what is
// already gone is fine.
func (e *env) removePool(t *testing.T, id ovm.ID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), cleanupTimeout)
	defer cancel()
	vols, err := e.d.ListVolumes(ctx, id)
	if errors.Is(err, ovm.ErrNotFound) {
		return
	}
	if err != nil {
		t.Errorf("cleanup: ListVolumes(%s): %v", id, err)
		return
	}
	for _, v := range vols {
		if a, ok := e.d.(storage.Attacher); ok && !v.AttachedTo.IsZero() {
			if err := a.DetachVolume(ctx, v.ID); err != nil && !errors.Is(err, ovm.ErrNotFound) {
				t.Errorf("cleanup: DetachVolume(%s): %v", v.ID, err)
			}
		}
		if err := e.d.DeleteVolume(ctx, v.ID); err != nil && !errors.Is(err, ovm.ErrNotFound) {
			t.Errorf("cleanup: DeleteVolume(%s): %v", v.ID, err)
		}
	}
	if err := e.d.DeletePool(ctx, id); err != nil && !errors.Is(err, ovm.ErrNotFound) {
		t.Errorf("cleanup: DeletePool(%s): %v", id, err)
	}
}

// volumeSpec returns a spec for a blank volume of size in pool.
func volumeSpec(pool ovm.StoragePool, size ovm.Bytes) storage.VolumeSpec {
	return storage.VolumeSpec{ID: ovm.NewID(), Name: name("vol"), PoolID: pool.ID, Size: size}
}

// volume makes a blank volume of size in pool; the pool's cleanup removes it.
func (e *env) volume(t *testing.T, pool ovm.StoragePool, size ovm.Bytes) ovm.Volume {
	t.Helper()
	spec := volumeSpec(pool, size)
	v, err := e.d.CreateVolume(t.Context(), spec)
	require.NoError(t, err, "CreateVolume(%s %q, %s): want a volume", spec.ID, spec.Name, size)
	return v
}

// attacher returns the driver's Attacher, or nil when the driver does not
// announce the facet; then it checks that the driver does not implement it
// either (capabilities must tell the truth) and the caller returns.
func (e *env) attacher(t *testing.T) storage.Attacher {
	t.Helper()
	if !e.d.Capabilities().Attach {
		_, ok := e.d.(storage.Attacher)
		require.False(t, ok, "Capabilities.Attach is false but %T implements storage.Attacher", e.d)
		t.Log("the driver does not announce Capabilities.Attach: only that it does not implement the facet is checked")
		return nil
	}
	a, ok := e.d.(storage.Attacher)
	require.True(t, ok, "Capabilities.Attach is true: want the driver to implement storage.Attacher, got %T", e.d)
	return a
}

// snapshotter returns the driver's Snapshotter, or nil when the driver does
// not announce the facet; then it checks that the driver does not implement
// it either and the caller returns.
func (e *env) snapshotter(t *testing.T) storage.Snapshotter {
	t.Helper()
	if !e.d.Capabilities().Snapshots {
		_, ok := e.d.(storage.Snapshotter)
		require.False(t, ok, "Capabilities.Snapshots is false but %T implements storage.Snapshotter", e.d)
		t.Log("the driver does not announce Capabilities.Snapshots: only that it does not implement the facet is checked")
		return nil
	}
	s, ok := e.d.(storage.Snapshotter)
	require.True(t, ok, "Capabilities.Snapshots is true: want the driver to implement storage.Snapshotter, got %T", e.d)
	return s
}

// hasField reports whether err names field among its invalid fields.
func hasField(err error, field string) bool {
	for _, f := range ovm.FieldsOf(err) {
		if f.Field == field {
			return true
		}
	}
	return false
}

// fieldNames lists the fields err names, for failure messages.
func fieldNames(err error) []string {
	var out []string
	for _, f := range ovm.FieldsOf(err) {
		out = append(out, f.Field)
	}
	return out
}

// countPools counts the pools with id in pools.
func countPools(pools []ovm.StoragePool, id ovm.ID) int {
	n := 0
	for _, p := range pools {
		if p.ID == id {
			n++
		}
	}
	return n
}

// volumeIDs returns the ids of vols.
func volumeIDs(vols []ovm.Volume) []ovm.ID {
	out := make([]ovm.ID, 0, len(vols))
	for _, v := range vols {
		out = append(out, v.ID)
	}
	return out
}
