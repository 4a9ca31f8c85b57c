package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRun runs the tour and checks the story it tells: the anti-affine web
// servers on different hosts, PROGRESSIVE filling the first host, the
// two-strike detection, the fence before any
// restart, the database on local disks reported lost, and the returning host
// marked up only after its stale copy is stopped.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out))
	s := out.String()
	t.Log("\n" + s)

	perf := regexp.MustCompile(`PERFORMANCE\s+web-1→(kvm-\d)\s+web-2→(kvm-\d)\s+db-1→(kvm-\d)`).FindStringSubmatch(s)
	require.NotNil(t, perf, "PERFORMANCE placement line")
	assert.NotEqual(t, perf[1], perf[2], "anti-affinity: web-1 and web-2 on one host")
	prog := regexp.MustCompile(`PROGRESSIVE\s+web-1→(kvm-\d)\s+web-2→(kvm-\d)\s+db-1→(kvm-\d)`).FindStringSubmatch(s)
	require.NotNil(t, prog, "PROGRESSIVE placement line")
	assert.NotEqual(t, prog[1], prog[2], "anti-affinity: web-1 and web-2 on one host")
	assert.Equal(t, prog[1], prog[3], "PROGRESSIVE fills the first host: db-1 beside web-1")

	order := []string{"up → suspect", "suspect → failed", "fence kvm-", "restart web-1", "lost    db-1", "stop stale copy of web-1", "returned → up"}
	last := -1
	for _, want := range order {
		i := bytes.Index(out.Bytes(), []byte(want))
		require.GreaterOrEqual(t, i, 0, "output lacks %q", want)
		assert.Greater(t, i, last, "%q out of order", want)
		last = i
	}
	re := regexp.MustCompile(`restart web-1 \(priority 10\): (kvm-\d) → (kvm-\d)`).FindStringSubmatch(s)
	require.NotNil(t, re, "restart line")
	assert.Equal(t, prog[1], re[1], "web-1 restarts from the host that failed")
	assert.NotEqual(t, re[1], re[2], "restarted on the failed host")
	assert.NotEqual(t, prog[2], re[2], "restarted beside web-2 despite anti-affinity")
}
