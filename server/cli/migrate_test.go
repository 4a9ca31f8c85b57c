package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openovm/ovm/ovm"
)

// TestMigrate moves a VM through the CLI: a tenant lets placement pick the
// host, the administrator names one, and bad requests are refused with the
// API's reasons.
func TestMigrate(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	h.okIn("root-secret\n", "--context", "admin", "host", "register", "h2", "--kind", "fake", "--endpoint", "fake://h2", "--pool", "pool1",
		"--username", "root", "--password-stdin")
	h.okIn(`{"name": "vm1", "spec": {"type": "vm", "cpuMilli": 1000, "memoryBytes": 268435456, "image": {"format": "qcow2", "name": "d.qcow2"}}}`,
		"instance", "create", "-f", "-", "--start", "--wait")

	r := h.ok("instance", "migrate", "vm1", "--wait")
	assert.Contains(t, r.stdout+r.stderr, "migrated", "tenant's migration: %s", r)
	h.fail(1, []string{"hostId", "only administrators"}, "instance", "migrate", "vm1", "--host", string(ovm.NewID()))
	h.fail(1, []string{"platform administrators"}, "instance", "migrate", "vm1", "--host", "h1")
	h.fail(2, []string{"--mode", "teleport"}, "instance", "migrate", "vm1", "--mode", "teleport")
	h.fail(1, []string{"not migrating"}, "instance", "migrate-cancel", "vm1")

	show := h.ok("--context", "admin", "instance", "show", "vm1", "--vdc", "acme").stdout
	for _, host := range []string{"h1", "h2"} {
		r := h.run("--context", "admin", "instance", "migrate", "vm1", "--vdc", "acme", "--host", host, "--wait")
		if r.code == 0 {
			assert.Contains(t, r.stdout+r.stderr, "migrated", "administrator's migration to %s: %s", host, r)
			return
		}
		assert.Contains(t, r.stderr, "the host the instance is on", "migration to %s refused: %s (instance: %s)", host, r, show)
	}
	t.Fatalf("no migration to a named host went through")
}
