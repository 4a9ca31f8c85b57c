package esxi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"

	"github.com/openovm/ovm/ovm"
)

// TestHostStats: the host's quick statistics read on the simulator match
// what the host reports itself: its CPU use in MHz over one core's clock
// (100 per busy CPU), its memory used and its size.
func TestHostStats(t *testing.T) {
	h := newHost(t)
	d := h.dial(t)
	st, err := d.HostStats(t.Context())
	require.NoError(t, err)

	var hs mo.HostSystem
	require.NoError(t, property.DefaultCollector(h.admin(t)).RetrieveOne(t.Context(), d.c.hostSys.Reference(),
		[]string{"summary.hardware", "summary.quickStats"}, &hs))
	hw, q := hs.Summary.Hardware, hs.Summary.QuickStats
	require.NotNil(t, hw)
	assert.Equal(t, ovm.Bytes(hw.MemorySize), st.MemoryTotal)
	assert.Equal(t, ovm.Bytes(q.OverallMemoryUsage)*ovm.MiB, st.MemoryUsed)
	assert.Positive(t, st.CPUs)
	assert.Zero(t, st.CPUTime, "the engine gives the share itself")
	assert.InDelta(t, float64(q.OverallCpuUsage)/float64(hw.CpuMhz)*100, st.CPUPercent, 0.001)
	assert.Positive(t, st.CPUPercent+float64(st.MemoryUsed), "the simulator reports some use")
}
