package cli

import (
	"testing"

	"github.com/openovm/ovm/ovm"
)

// TestImageConvert: `ovm image convert` checks its flags, looks a template
// up by name, sends the conversion and shows the API's refusal with its
// reason (this server has no kernel for converted disks).
func TestImageConvert(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	h.fail(2, []string{"--to", "sideways"}, "image", "convert", "--to", "sideways", "--from", "r/app:1", "--name", "app")
	h.fail(2, []string{"--cmd", "JSON"}, "image", "convert", "--to", "container", "--from", string(ovm.NewID()), "--repository", "app",
		"--cmd", "not json")
	h.fail(1, []string{"target.name"}, "image", "convert", "--to", "template", "--from", "registry.test/app:1")
	h.fail(1, []string{"target.repository"}, "image", "convert", "--to", "container", "--from", string(ovm.NewID()))
	h.fail(1, []string{"--convert-kernel"}, "image", "convert", "--to", "template", "--from", "registry.test/app:1", "--name", "app")
	h.fail(1, []string{"no-such-template"}, "image", "convert", "--to", "container", "--from", "no-such-template", "--repository", "app")
}
