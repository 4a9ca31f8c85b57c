package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestInstanceTerminal: ovm instance terminal types standard input into
// an instance's console and prints what it answers; refusals are the
// API's problems.
func TestInstanceTerminal(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	h.ok("instance", "create", "--name", "web", "--type", "container", "--image", "busybox:1", "--cpu", "100m", "--memory", "64Mi", "--start", "--wait")

	r := h.okIn("root\n", "instance", "terminal", "web", "--mode", "serial")
	assert.Contains(t, r.stdout, "login: root", "the fake console echoes what is typed after its prompt")

	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"exec on a fake host", []string{"instance", "terminal", "web"}, []string{"501", "runs no terminal"}},
		{"display of a container", []string{"instance", "terminal", "web", "--mode", "vnc"}, []string{"501", "only VMs"}},
		{"bad mode", []string{"instance", "terminal", "web", "--mode", "rdp"}, []string{"422", "mode"}},
		{"no such instance", []string{"instance", "terminal", "nosuch"}, []string{`no instance named "nosuch"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h.failIn("", 1, tt.want, tt.args...)
		})
	}
	h.ok("instance", "stop", "web", "--wait")
	h.failIn("", 1, []string{"409", "stopped"}, "instance", "terminal", "web", "--mode", "serial")
}
