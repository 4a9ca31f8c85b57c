package storagetest_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/conformance"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
	"github.com/openovm/ovm/storage/fake"
	"github.com/openovm/ovm/storage/storagetest"
)

// envMode tells TestRunFromEnv, run in a child process, what to run:
// "bug=NAME" runs the suite on a broken driver, "exceptions=CASE" with the
// exceptions of that case. Empty (the ordinary run) checks exceptions in
// process.
const envMode = "OVM_STORAGETEST_MODE"

// justification is the reason given for the valid exception.
const justification = "justified-because-the-engine-cannot"

// exceptionCases are the Exceptions maps the child runs with.
func exceptionCases() map[string]map[string]string {
	return map[string]map[string]string{
		"valid":       {storagetest.PoolFull: justification},
		"unknown":     {"PoolIsFull": justification},
		"unjustified": {storagetest.PoolFull: "  "},
	}
}

// TestRunFromEnv runs the suite on the fake. In the ordinary run it gives
// one justified exception and checks that the excepted test never made a
// driver while every other test did. Run as a child (envMode set) it runs
// a broken driver or a bad exception list for the tests below to watch.
func TestRunFromEnv(t *testing.T) {
	mode := os.Getenv(envMode)
	switch {
	case strings.HasPrefix(mode, "bug="):
		bug := strings.TrimPrefix(mode, "bug=")
		storagetest.Run(t, fakeHarness(func(d *fake.Driver) storage.Driver { return &broken{Driver: d, bug: bug} }))
		return
	case strings.HasPrefix(mode, "exceptions="):
		h := fakeHarness(nil)
		h.Exceptions = exceptionCases()[strings.TrimPrefix(mode, "exceptions=")]
		storagetest.Run(t, h)
		return
	}

	var mu sync.Mutex
	made := map[string]bool{}
	h := fakeHarness(nil)
	newDriver := h.New
	h.New = func(t *testing.T) storage.Driver {
		mu.Lock()
		defer mu.Unlock()
		made[strings.TrimPrefix(t.Name(), "TestRunFromEnv/suite/")] = true
		d := newDriver(t)
		// Registered before any of the test's own cleanups, so it runs
		// after them all: the test must have removed what it made.
		t.Cleanup(func() {
			ctx := context.WithoutCancel(t.Context())
			pools, err := d.ListPools(ctx)
			assert.NoError(t, err, "ListPools after the test's cleanup")
			vols, err := d.ListVolumes(ctx, "")
			assert.NoError(t, err, "ListVolumes(all) after the test's cleanup")
			assert.Empty(t, pools, "pools left after %s: got these, want none", t.Name())
			assert.Empty(t, vols, "volumes left after %s: got these, want none", t.Name())
		})
		return d
	}
	h.Exceptions = exceptionCases()["valid"]
	t.Run("suite", func(t *testing.T) { storagetest.Run(t, h) })

	for _, name := range storagetest.Tests() {
		_, excepted := h.Exceptions[name]
		assert.Equal(t, !excepted, made[name], "test %s made a driver: got %v, want %v (excepted: %v)", name, made[name], !excepted, excepted)
	}
}

// runChild runs TestRunFromEnv in a child process in mode and returns its
// output and whether it passed.
func runChild(t *testing.T, mode string) (string, bool) {
	t.Helper()
	return conformance.RunChild(t, "^TestRunFromEnv$", envMode+"="+mode)
}

func TestExceptions(t *testing.T) {
	tests := []struct {
		name     string
		mode     string
		wantPass bool
		want     []string // in the output
		wantNot  []string
	}{
		{
			name: "justified exception is not run and its reason logged", mode: "exceptions=valid", wantPass: true,
			want:    []string{"PoolFull not run, excepted by the harness: " + justification, "--- PASS: TestRunFromEnv/" + storagetest.Snapshots},
			wantNot: []string{"=== RUN   TestRunFromEnv/" + storagetest.PoolFull},
		},
		{
			name: "unknown test fails the suite", mode: "exceptions=unknown",
			want:    []string{`Exceptions["PoolIsFull"]: names no test of the suite`, "--- FAIL: TestRunFromEnv"},
			wantNot: []string{"=== RUN   TestRunFromEnv/"},
		},
		{
			name: "exception without a reason fails the suite", mode: "exceptions=unjustified",
			want:    []string{`Exceptions["PoolFull"]: needs a justification`, "--- FAIL: TestRunFromEnv"},
			wantNot: []string{"=== RUN   TestRunFromEnv/"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, passed := runChild(t, tt.mode)
			conformance.ExpectChild(t, tt.mode, out, passed, tt.wantPass, tt.want, tt.wantNot)
		})
	}
}

// TestSuiteCatchesBrokenDrivers runs the suite on drivers with one bug each
// and expects the test that guards against it to fail.
func TestSuiteCatchesBrokenDrivers(t *testing.T) {
	tests := []struct {
		bug      string
		wantFail string
	}{
		{bug: "capabilities-lie", wantFail: storagetest.Capabilities},
		{bug: "pool-not-idempotent", wantFail: storagetest.CreatePoolIdempotent},
		{bug: "pools-listed-twice", wantFail: storagetest.GetListPools},
		{bug: "invalid-pool-accepted", wantFail: storagetest.InvalidPoolSpec},
		{bug: "delete-pool-cascades", wantFail: storagetest.DeletePoolWithVolumes},
		{bug: "volume-not-idempotent", wantFail: storagetest.CreateBlankVolume},
		{bug: "image-dropped", wantFail: storagetest.CreateVolumeFromImage},
		{bug: "invalid-volume-leaks", wantFail: storagetest.InvalidVolumeSpec},
		{bug: "volumes-of-all-pools", wantFail: storagetest.GetListVolumes},
		{bug: "missing-volume-untyped", wantFail: storagetest.DeleteVolume},
		{bug: "shrink-accepted", wantFail: storagetest.ResizeVolume},
		{bug: "delete-attached", wantFail: storagetest.AttachDetach},
		{bug: "revert-noop", wantFail: storagetest.Snapshots},
		{bug: "unknown-snapshot-ok", wantFail: storagetest.UnknownSnapshot},
		{bug: "capacity-not-enforced", wantFail: storagetest.PoolFull},
		{bug: "full-pool-vague", wantFail: storagetest.PoolFull},
		{bug: "concurrent-creates-lost", wantFail: storagetest.ConcurrentCreates},
	}
	for _, tt := range tests {
		t.Run(tt.bug, func(t *testing.T) {
			out, passed := runChild(t, "bug="+tt.bug)
			require.False(t, passed, "suite on a driver with bug %s: got a pass, want %s to fail; output:\n%s", tt.bug, tt.wantFail, out)
			assert.Contains(t, out, "--- FAIL: TestRunFromEnv/"+tt.wantFail+" ",
				"suite on a driver with bug %s: want %s among the failures; output:\n%s", tt.bug, tt.wantFail, out)
		})
	}
}

// broken is the fake with one bug, named by bug.
type broken struct {
	*fake.Driver
	bug string

	mu      sync.Mutex
	creates int
}

func (b *broken) Capabilities() storage.Capabilities {
	c := b.Driver.Capabilities()
	if b.bug == "capabilities-lie" {
		c.Snapshots = false
	}
	return c
}

func (b *broken) CreatePool(ctx context.Context, spec storage.PoolSpec) (ovm.StoragePool, error) {
	switch b.bug {
	case "pool-not-idempotent":
		if _, err := b.Driver.GetPool(ctx, spec.ID); err == nil {
			return ovm.StoragePool{}, ovm.Errorf(ovm.KindConflict, "pool %s exists", spec.ID)
		}
	case "invalid-pool-accepted":
		if spec.Validate() != nil {
			spec.Kind, spec.Path = ovm.StorageLocal, "/srv/accepted"
		}
	}
	p, err := b.Driver.CreatePool(ctx, spec)
	return b.understate(p), err
}

func (b *broken) GetPool(ctx context.Context, id ovm.ID) (ovm.StoragePool, error) {
	p, err := b.Driver.GetPool(ctx, id)
	return b.understate(p), err
}

// understate reports half the pool's capacity, so that the driver lets
// volumes past the capacity it reports.
func (b *broken) understate(p ovm.StoragePool) ovm.StoragePool {
	if b.bug == "capacity-not-enforced" {
		p.Capacity /= 2
	}
	return p
}

func (b *broken) ListPools(ctx context.Context) ([]ovm.StoragePool, error) {
	pools, err := b.Driver.ListPools(ctx)
	if b.bug == "pools-listed-twice" {
		pools = append(pools, pools...)
	}
	return pools, err
}

func (b *broken) DeletePool(ctx context.Context, id ovm.ID) error {
	if b.bug == "delete-pool-cascades" {
		vols, _ := b.Driver.ListVolumes(ctx, id)
		for _, v := range vols {
			_ = b.Driver.DeleteVolume(ctx, v.ID)
		}
	}
	return b.Driver.DeletePool(ctx, id)
}

func (b *broken) CreateVolume(ctx context.Context, spec storage.VolumeSpec) (ovm.Volume, error) {
	switch b.bug {
	case "volume-not-idempotent":
		if _, err := b.Driver.GetVolume(ctx, spec.ID); err == nil {
			return ovm.Volume{}, ovm.Errorf(ovm.KindConflict, "volume %s exists", spec.ID)
		}
	case "image-dropped":
		if !spec.From.IsZero() {
			spec.From = ovm.ImageRef{}
			spec.Size = max(spec.Size, ovm.GiB)
		}
	case "invalid-volume-leaks":
		if err := spec.Validate(); err != nil && ovm.ValidateName(spec.Name) != "" {
			leaked := spec
			leaked.Name = "leaked"
			_, _ = b.Driver.CreateVolume(ctx, leaked)
			return ovm.Volume{}, err
		}
	case "full-pool-vague":
		v, err := b.Driver.CreateVolume(ctx, spec)
		return v, vague(err)
	case "concurrent-creates-lost":
		b.mu.Lock()
		b.creates++
		lost := b.creates%8 == 0 // one create in eight is lost
		b.mu.Unlock()
		if lost {
			return ovm.Volume{ID: spec.ID, Name: spec.Name, StoragePoolID: spec.PoolID, Size: spec.Size}, nil
		}
	}
	return b.Driver.CreateVolume(ctx, spec)
}

// vague drops everything but the kind from a conflict.
func vague(err error) error {
	if errors.Is(err, ovm.ErrConflict) {
		return ovm.Errorf(ovm.KindConflict, "no space left")
	}
	return err
}

func (b *broken) GetVolume(ctx context.Context, id ovm.ID) (ovm.Volume, error) {
	v, err := b.Driver.GetVolume(ctx, id)
	if b.bug == "missing-volume-untyped" && err != nil {
		return v, errors.New(err.Error())
	}
	return v, err
}

func (b *broken) ListVolumes(ctx context.Context, poolID ovm.ID) ([]ovm.Volume, error) {
	if b.bug == "volumes-of-all-pools" {
		if _, err := b.Driver.GetPool(ctx, poolID); err != nil {
			return nil, err
		}
		poolID = ""
	}
	return b.Driver.ListVolumes(ctx, poolID)
}

func (b *broken) ResizeVolume(ctx context.Context, id ovm.ID, size ovm.Bytes) (ovm.Volume, error) {
	v, err := b.Driver.ResizeVolume(ctx, id, size)
	switch {
	case b.bug == "shrink-accepted" && errors.Is(err, ovm.ErrInvalid):
		return v, nil
	case b.bug == "full-pool-vague":
		return v, vague(err)
	}
	return v, err
}

func (b *broken) DeleteVolume(ctx context.Context, id ovm.ID) error {
	if b.bug == "delete-attached" {
		_ = b.Driver.DetachVolume(ctx, id)
	}
	return b.Driver.DeleteVolume(ctx, id)
}

func (b *broken) RevertSnapshot(ctx context.Context, volumeID, snapshotID ovm.ID) error {
	if b.bug == "revert-noop" {
		return nil
	}
	return b.Driver.RevertSnapshot(ctx, volumeID, snapshotID)
}

func (b *broken) DeleteSnapshot(ctx context.Context, volumeID, snapshotID ovm.ID) error {
	err := b.Driver.DeleteSnapshot(ctx, volumeID, snapshotID)
	if b.bug == "unknown-snapshot-ok" && errors.Is(err, ovm.ErrNotFound) {
		return nil
	}
	return err
}
