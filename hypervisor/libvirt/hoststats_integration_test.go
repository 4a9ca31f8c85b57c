//go:build integration

package libvirt_test

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// TestHostStats: the node's own counters on the real libvirtd, which runs
// on this machine: its memory size is /proc/meminfo's, its CPU count the
// node's, and its CPU time grows between two reads, busy never more than
// all of it.
func TestHostStats(t *testing.T) {
	e := env(t)
	d := dial(t, e, e.uri)
	t.Cleanup(func() { _ = d.Close() })
	first, err := d.HostStats(t.Context())
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond)
	second, err := d.HostStats(t.Context())
	require.NoError(t, err)

	assert.Positive(t, first.CPUs)
	assert.Greater(t, second.CPUTime, first.CPUTime, "the node's CPU time grows")
	assert.GreaterOrEqual(t, second.CPUBusy, first.CPUBusy)
	busy := float64(second.CPUBusy-first.CPUBusy) / float64(second.CPUTime-first.CPUTime)
	assert.True(t, busy >= 0 && busy <= 1, "busy share %v", busy)
	assert.Zero(t, first.CPUPercent, "the share comes from the counters")

	f, err := os.Open("/proc/meminfo")
	require.NoError(t, err)
	defer f.Close()
	var totalKiB int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			totalKiB, err = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
		}
	}
	require.Positive(t, totalKiB)
	if strings.HasPrefix(e.uri, "qemu:///") {
		assert.Equal(t, ovm.Bytes(totalKiB)*ovm.KiB, first.MemoryTotal, "the node's memory is this machine's")
	}
	assert.True(t, first.MemoryUsed > 0 && first.MemoryUsed < first.MemoryTotal, "memory used %s of %s", first.MemoryUsed, first.MemoryTotal)
}
