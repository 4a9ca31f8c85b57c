//go:build integration

package convert_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image/convert"
	"github.com/openovm/ovm/image/convert/converttest"
	"github.com/openovm/ovm/ovm"
)

// TestDiskToImageRunsOnDocker converts a VM disk into an image, pushes it
// to the real registry, runs it on the real dockerd and reads the files
// the disk had (content, owner and mode).
func TestDiskToImageRunsOnDocker(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	marker := ovm.NewID().Short()
	dir := t.TempDir()
	disk := converttest.Disk(t, dir, marker)
	ref := fmt.Sprintf("%s/ovm-convert-test:disk-%s", converttest.Getenv(t, "OVM_TEST_REGISTRY"), marker)
	t.Cleanup(func() { converttest.DeleteImage(ref) })

	var steps []string
	var last convert.Progress
	var pushed int64
	c := &convert.Converter{Scratch: dir, Progress: func(p convert.Progress) {
		last = p
		if len(steps) == 0 || steps[len(steps)-1] != p.Step {
			steps = append(steps, p.Step)
		}
		if p.Step == "push" {
			pushed = p.Done
		}
	}}
	start := time.Now()
	out, err := c.DiskToImage(ctx, convert.ToImage{Disk: disk, Image: ref,
		Cmd: []string{"/bin/sh", "-c", "cat /etc/ovm-marker; stat -c '%u:%g %a' /etc/owned; ls /lost+found 2>&1 | head -1"}})
	require.NoError(t, err, "DiskToImage: got an error, want a pushed image")
	t.Logf("disk to image: %s (layer of %s)", time.Since(start).Round(time.Millisecond), out.Size)
	assert.Equal(t, []string{"qemu-img", "debugfs", "layer", "push"}, steps, "progress steps")
	assert.Equal(t, last.Steps, last.Index, "the last report is of the last step")
	assert.Positive(t, pushed, "push progress in bytes")
	assert.True(t, strings.HasPrefix(out.Ref, converttest.Getenv(t, "OVM_TEST_REGISTRY")+"/ovm-convert-test@sha256:"), "pushed ref %q", out.Ref)

	got := strings.Split(strings.TrimSpace(converttest.RunImage(t, ref)), "\n")
	require.Len(t, got, 3, "container output %q", got)
	assert.Equal(t, marker, got[0], "the disk's marker file, read in the container")
	assert.Equal(t, "1000:1000 640", got[1], "owner and mode kept")
	assert.Contains(t, got[2], "No such file", "lost+found left out of the image")
}
