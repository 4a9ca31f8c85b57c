//go:build integration

package cli

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openovm/ovm/server/fence/ipmi/ipmitest"
)

// TestHostBMCOnIPMISim: ovm host bmc set checks the BMC (the real BMC
// simulator of make testenv) with the password read from stdin, shows the
// host's BMC and never the password; a wrong password is refused naming
// the field; ovm host bmc remove drops it.
func TestHostBMCOnIPMISim(t *testing.T) {
	cfg, _ := ipmitest.Sim(t)
	addr, port, user, pw := cfg.Address, strconv.Itoa(cfg.Port), cfg.Username, cfg.Password
	h := newHarness(t)
	h.setupPlatform()

	r := h.runIn("not-"+pw+"\n", "--context", "admin", "host", "bmc", "set", "h1", "--address", addr, "--port", port,
		"--username", user, "--password-stdin")
	assert.NotEqual(t, 0, r.code, "a wrong password is refused")
	assert.Contains(t, r.stderr, "password")

	r = h.okIn(pw+"\n", "--context", "admin", "host", "bmc", "set", "h1", "--address", addr, "--port", port,
		"--username", user, "--password-stdin")
	assert.Contains(t, r.stdout, addr+":"+port)
	assert.Contains(t, r.stdout, "on", "the power the BMC read")
	r = h.ok("--context", "admin", "-o", "json", "host", "show", "h1")
	assert.Contains(t, r.stdout, `"bmc"`)
	assert.NotContains(t, r.stdout, pw, "the password is never shown")

	r = h.ok("--context", "admin", "host", "bmc", "power-on", "h1")
	assert.Contains(t, r.stdout, "on")
	h.ok("--context", "admin", "host", "bmc", "remove", "h1")
	r = h.ok("--context", "admin", "-o", "json", "host", "show", "h1")
	assert.NotContains(t, r.stdout, `"bmc"`)
}
