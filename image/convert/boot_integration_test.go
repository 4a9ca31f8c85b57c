//go:build integration

package convert_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image/convert"
	"github.com/openovm/ovm/image/convert/converttest"
	"github.com/openovm/ovm/ovm"
)

// TestImageToDiskBoots converts an image pushed to the real registry into
// a VM disk, boots it on the real libvirtd and reads what its entrypoint
// printed on the serial console (a file-backed serial port).
func TestImageToDiskBoots(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	marker := ovm.NewID().Short()
	ref := converttest.PushImage(t, "ovm-convert-test", marker)

	dir := filepath.Join(converttest.Getenv(t, "OVM_TEST_LIBVIRT_SHARED"), "convert-"+marker)
	require.NoError(t, os.Mkdir(dir, 0o777))
	require.NoError(t, os.Chmod(dir, 0o777))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })

	var steps []string
	var last convert.Progress
	c := &convert.Converter{Progress: func(p convert.Progress) {
		last = p
		if len(steps) == 0 || steps[len(steps)-1] != p.Step {
			steps = append(steps, p.Step)
		}
	}}
	start := time.Now()
	disk, err := c.ImageToDisk(ctx, convert.ToDisk{Image: ref, Dir: dir, Boot: converttest.Boot(t)})
	require.NoError(t, err, "ImageToDisk %s: got an error, want a disk", ref)
	t.Logf("image to disk: %s (disk of %s)", time.Since(start).Round(time.Millisecond), disk.Size)
	assert.Equal(t, []string{"pull", "flatten", "mke2fs", "qemu-img", "boot"}, steps, "progress steps")
	assert.Equal(t, last.Steps, last.Index, "the last report is of the last step")

	out := converttest.BootConsole(t, "ovm-convert-"+marker, disk, dir)
	m := converttest.Entrypoint.FindStringSubmatch(out)
	require.NotNil(t, m, "console: no entrypoint output; got %q", converttest.TailOf(out))
	assert.Equal(t, []string{marker, "whiteout-applied", "/etc"}, m[1:], "entrypoint output: marker, whiteout, working directory")
	assert.Contains(t, out, "OVM-ENTRYPOINT-EXIT 0", "entrypoint exit status")
}
