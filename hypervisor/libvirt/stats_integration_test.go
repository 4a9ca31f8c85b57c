//go:build integration

package libvirt_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
)

// TestStatsCountsVCPUs samples a 1-vCPU guest while it boots under
// emulation, when its vCPU and QEMU's own threads are both busy: every
// sample counts the vCPU only, so it stays within 100, and the vCPU's
// time is read (the boot makes it work).
func TestStatsCountsVCPUs(t *testing.T) {
	e := env(t)
	d := dial(t, e, e.uri)
	s := spec(e, "ovm-it-stats-vcpu")
	started(t, d, s)
	ref := hypervisor.ByID(s.ID)
	var busiest float64
	for i := range 12 {
		st, err := d.Stats(t.Context(), ref)
		require.NoError(t, err, "Stats %d: got an error, want none", i)
		assert.True(t, st.CPUPercent >= 0 && st.CPUPercent <= 100,
			"Stats %d: CPUPercent: got %v, want 0 to 100 for 1 vCPU", i, st.CPUPercent)
		busiest = max(busiest, st.CPUPercent)
		time.Sleep(100 * time.Millisecond)
	}
	assert.Greater(t, busiest, 5.0, "busiest CPUPercent while booting: got %v, want the vCPU's work counted", busiest)
}
