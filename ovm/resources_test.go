package ovm_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/openovm/ovm/ovm"
)

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in      string
		want    ovm.Bytes
		wantErr bool
	}{
		{"4096", 4096, false},
		{"512MiB", 512 * ovm.MiB, false},
		{"512M", 512 * ovm.MiB, false},
		{"1.5GiB", 3 * ovm.GiB / 2, false},
		{"10 GB", 10 * ovm.GiB, false},
		{"2t", 2 * ovm.TiB, false},
		{"1KiB", 1024, false},
		{"", 0, true},
		{"12X", 0, true},
		{"-1G", 0, true},
		{"GiB", 0, true},
		{"1e400", 0, true},
		{"NaN", 0, true},
		{"9999999P", 0, true},
		{"1i", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ovm.ParseBytes(tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, ovm.ErrInvalid, "got %v", got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestBytesString(t *testing.T) {
	tests := []struct {
		in   ovm.Bytes
		want string
	}{
		{512, "512B"},
		{512 * ovm.MiB, "512MiB"},
		{3 * ovm.GiB / 2, "1.5GiB"},
		{ovm.GiB / 3, "341.33MiB"}, // 1024/3 = 341.333…
		{-2 * ovm.GiB, "-2GiB"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.in.String())
	}
}

func TestBytesRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		unit := rapid.SampledFrom([]ovm.Bytes{1, ovm.KiB, ovm.MiB, ovm.GiB, ovm.TiB}).Draw(t, "unit")
		n := rapid.Int64Range(0, 1<<20).Draw(t, "n")
		b := ovm.Bytes(n) * unit
		got, err := ovm.ParseBytes(b.String())
		require.NoError(t, err)
		// String rounds to two decimals of the largest unit, so the round
		// trip is exact to within half a hundredth of that unit.
		diff := got - b
		if diff < 0 {
			diff = -diff
		}
		if diff*200 > b {
			t.Fatalf("round trip of %d: got %d via %q", b, got, b.String())
		}
	})
}

func TestResourcesArithmetic(t *testing.T) {
	a := ovm.Resources{CPU: ovm.CPUs(4), Memory: 8 * ovm.GiB, Disk: 100 * ovm.GiB}
	b := ovm.Resources{CPU: 1500, Memory: 2 * ovm.GiB, Disk: 10 * ovm.GiB}
	assert.Equal(t, ovm.Resources{CPU: 5500, Memory: 10 * ovm.GiB, Disk: 110 * ovm.GiB}, a.Add(b))
	assert.Equal(t, ovm.Resources{CPU: 2500, Memory: 6 * ovm.GiB, Disk: 90 * ovm.GiB}, a.Sub(b))
	assert.Equal(t, ovm.Resources{CPU: 3000, Memory: 4 * ovm.GiB, Disk: 20 * ovm.GiB}, b.Mul(2))
	assert.True(t, b.Fits(a))
	assert.False(t, a.Fits(b))
	assert.True(t, b.Sub(a).Negative())
	assert.Equal(t, "", b.Short(a))
	assert.Equal(t, "cpu: need 4 vCPU, 1.5 vCPU free", a.Short(b))
	assert.Equal(t, "memory: need 8GiB, 2GiB free", ovm.Resources{Memory: 8 * ovm.GiB}.Short(b))
	assert.Equal(t, int64(2), ovm.MilliCPU(1500).VCPUs())
	assert.Equal(t, "cpu=4 memory=8GiB disk=100GiB", a.String())
}

func TestOvercommit(t *testing.T) {
	c := ovm.Resources{CPU: ovm.CPUs(8), Memory: 64 * ovm.GiB, Disk: ovm.TiB}
	tests := []struct {
		name string
		o    ovm.Overcommit
		want ovm.Resources
	}{
		{"zero means none", ovm.Overcommit{}, c},
		// 8 vCPU x 4 = 32; memory x 1.5 = 96GiB; disk unchanged.
		{"cpu and memory", ovm.Overcommit{CPU: 4, Memory: 1.5}, ovm.Resources{CPU: ovm.CPUs(32), Memory: 96 * ovm.GiB, Disk: ovm.TiB}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, tt.o.Validate())
			assert.Equal(t, tt.want, tt.o.Apply(c))
		})
	}
	err := ovm.Overcommit{CPU: 0.5, Disk: 100}.Validate()
	require.ErrorIs(t, err, ovm.ErrInvalid)
	assert.Len(t, ovm.FieldsOf(err), 2)
}

func TestQuotaAdmit(t *testing.T) {
	q := ovm.Quota{CPU: ovm.CPUs(10), Memory: 16 * ovm.GiB, Disk: 100 * ovm.GiB, Instances: 5, Networks: 2}
	used := ovm.Usage{CPU: ovm.CPUs(8), Memory: 8 * ovm.GiB, Instances: 4}
	require.NoError(t, q.Admit(used, ovm.Usage{CPU: ovm.CPUs(2), Memory: 8 * ovm.GiB, Instances: 1}))
	err := q.Admit(used, ovm.Usage{CPU: ovm.CPUs(3), Memory: ovm.GiB, Instances: 2})
	require.ErrorIs(t, err, ovm.ErrQuotaExceeded)
	fields := ovm.FieldsOf(err)
	require.Len(t, fields, 2, "cpu and instances overflow, memory does not: %v", fields)
	assert.Equal(t, "cpuMilli", fields[0].Field)
	assert.Equal(t, "needs 3 vCPU, 2 of 10 left", fields[0].Reason)
	assert.Equal(t, "instances", fields[1].Field)
	// Releasing (a negative request) is always admitted.
	require.NoError(t, q.Admit(ovm.Usage{CPU: ovm.CPUs(20)}, ovm.Usage{CPU: -ovm.CPUs(1)}))
	require.ErrorIs(t, ovm.Quota{Instances: -1}.Validate(), ovm.ErrInvalid)
}

func TestQuotaNeverExceeded(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		q := ovm.Quota{CPU: ovm.MilliCPU(rapid.Int64Range(0, 1e6).Draw(t, "cpu")), Instances: rapid.Int64Range(0, 50).Draw(t, "n")}
		var used ovm.Usage
		for range rapid.IntRange(0, 100).Draw(t, "steps") {
			req := ovm.Usage{CPU: ovm.MilliCPU(rapid.Int64Range(1, 1e5).Draw(t, "req")), Instances: 1}
			if q.Admit(used, req) == nil {
				used = used.Add(req)
			}
			if used.CPU > q.CPU || used.Instances > q.Instances {
				t.Fatalf("usage %+v exceeds quota %+v", used, q)
			}
		}
	})
}
