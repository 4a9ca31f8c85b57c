package storagetest_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
	"github.com/openovm/ovm/storage/fake"
	"github.com/openovm/ovm/storage/storagetest"
)

// fakeHarness runs the suite on the fake, wrapped by wrap when it is set.
func fakeHarness(wrap func(*fake.Driver) storage.Driver) storagetest.Harness {
	return storagetest.Harness{
		New: func(*testing.T) storage.Driver {
			d := fake.New(fake.Options{})
			if wrap == nil {
				return d
			}
			return wrap(d)
		},
		Pool: func(_ *testing.T, name string) storage.PoolSpec {
			return storage.PoolSpec{ID: ovm.NewID(), Name: name, Kind: ovm.StorageShared, Path: "/srv/ovm/" + name}
		},
		Image:        func(*testing.T) ovm.ImageRef { return ovm.Template("debian-12.qcow2") },
		AttachTarget: func(*testing.T) ovm.ID { return ovm.NewID() },
	}
}

func TestTests(t *testing.T) {
	// Every exported name, spelled out: Tests must list each exactly once.
	want := []string{
		storagetest.Capabilities, storagetest.CreatePoolIdempotent, storagetest.GetListPools,
		storagetest.InvalidPoolSpec, storagetest.DeleteEmptyPool, storagetest.DeletePoolWithVolumes,
		storagetest.CreateBlankVolume, storagetest.CreateVolumeFromImage, storagetest.InvalidVolumeSpec,
		storagetest.UnknownPool, storagetest.GetListVolumes, storagetest.ResizeVolume,
		storagetest.AttachDetach, storagetest.DeleteVolume, storagetest.Snapshots,
		storagetest.UnknownSnapshot, storagetest.PoolFull, storagetest.ConcurrentCreates,
	}
	got := storagetest.Tests()
	assert.ElementsMatch(t, want, got, "Tests(): got these names, want every exported test name")
	seen := map[string]bool{}
	for _, n := range got {
		assert.False(t, seen[n], "Tests(): got %q twice, want each name once", n)
		seen[n] = true
	}
}

func TestHarnessValidate(t *testing.T) {
	good := fakeHarness(nil)
	tests := []struct {
		name       string
		change     func(h *storagetest.Harness)
		wantFields []string // nil: valid
	}{
		{name: "valid", change: func(*storagetest.Harness) {}},
		{name: "justified exception", change: func(h *storagetest.Harness) {
			h.Exceptions = map[string]string{storagetest.PoolFull: "the engine reports no capacity"}
		}},
		{name: "no New", change: func(h *storagetest.Harness) { h.New = nil }, wantFields: []string{"New"}},
		{name: "no Pool", change: func(h *storagetest.Harness) { h.Pool = nil }, wantFields: []string{"Pool"}},
		{name: "unknown test", change: func(h *storagetest.Harness) {
			h.Exceptions = map[string]string{"PoolIsFull": "typo"}
		}, wantFields: []string{`Exceptions["PoolIsFull"]`}},
		{name: "empty justification", change: func(h *storagetest.Harness) {
			h.Exceptions = map[string]string{storagetest.Snapshots: ""}
		}, wantFields: []string{`Exceptions["Snapshots"]`}},
		{name: "blank justification and an unknown test", change: func(h *storagetest.Harness) {
			h.Exceptions = map[string]string{storagetest.Snapshots: " \t", "Nope": "x", storagetest.PoolFull: "fine"}
		}, wantFields: []string{`Exceptions["Nope"]`, `Exceptions["Snapshots"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := good
			tt.change(&h)
			err := h.Validate()
			if tt.wantFields == nil {
				require.NoError(t, err, "Validate of a good harness")
				return
			}
			require.ErrorIs(t, err, ovm.ErrInvalid, "Validate: want ovm.ErrInvalid")
			var got []string
			for _, f := range ovm.FieldsOf(err) {
				got = append(got, f.Field)
			}
			assert.Equal(t, tt.wantFields, got, "Validate: got these fields, want these (error: %v)", err)
		})
	}
}
