//go:build integration

package convert_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/image/convert"
	"github.com/openovm/ovm/ovm"
)

// testDisk makes a qcow2 disk whose whole device is an ext4 filesystem
// (mke2fs -d, no mount) holding static busybox, a marker file and a file
// owned by uid 1000 with mode 0640, as a VM would have written them.
func testDisk(t testing.TB, dir, marker string) string {
	t.Helper()
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	bb, err := os.ReadFile("/bin/busybox")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(root, "bin/busybox"), bb, 0o755))
	for _, l := range []string{"sh", "cat", "stat"} {
		require.NoError(t, os.Symlink("busybox", filepath.Join(root, "bin", l)))
	}
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/ovm-marker"), []byte(marker+"\n"), 0o644))
	owned := filepath.Join(root, "etc/owned")
	require.NoError(t, os.WriteFile(owned, []byte("x"), 0o640))
	require.NoError(t, os.Chown(owned, 1000, 1000))
	raw := filepath.Join(dir, "vm.raw")
	disk := filepath.Join(dir, "vm.qcow2")
	sh(t, "mke2fs", "-q", "-F", "-t", "ext4", "-d", root, raw, "32M")
	sh(t, "qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, disk)
	return disk
}

func sh(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), out)
}

// runImage runs ref on the real dockerd and returns what it printed; the
// container and the pulled image are removed when t ends.
func runImage(t *testing.T, ref string) string {
	t.Helper()
	ctx := t.Context()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	rc, err := cli.ImagePull(ctx, ref, image.PullOptions{})
	require.NoError(t, err, "docker pull %s", ref)
	_, _ = io.Copy(io.Discard, rc)
	_ = rc.Close()
	t.Cleanup(func() {
		_, _ = cli.ImageRemove(context.Background(), ref, image.RemoveOptions{Force: true, PruneChildren: true})
	})
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: ref}, nil, nil, nil, "")
	require.NoError(t, err, "docker create %s", ref)
	t.Cleanup(func() {
		_ = cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true})
	})
	require.NoError(t, cli.ContainerStart(ctx, c.ID, container.StartOptions{}))
	waitC, errC := cli.ContainerWait(ctx, c.ID, container.WaitConditionNotRunning)
	select {
	case w := <-waitC:
		require.Zero(t, w.StatusCode, "container exit status")
	case err := <-errC:
		require.NoError(t, err)
	case <-time.After(time.Minute):
		t.Fatal("container still running after a minute")
	}
	logs, err := cli.ContainerLogs(ctx, c.ID, container.LogsOptions{ShowStdout: true, ShowStderr: true})
	require.NoError(t, err)
	defer logs.Close()
	var stdout, stderr bytes.Buffer
	_, err = stdcopy.StdCopy(&stdout, &stderr, logs)
	require.NoError(t, err)
	return stdout.String() + stderr.String()
}

// TestDiskToImageRunsOnDocker converts a VM disk into an image, pushes it
// to the real registry, runs it on the real dockerd and reads the files
// the disk had (content, owner and mode).
func TestDiskToImageRunsOnDocker(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	marker := ovm.NewID().Short()
	dir := t.TempDir()
	disk := testDisk(t, dir, marker)
	ref := fmt.Sprintf("%s/ovm-convert-test:disk-%s", getenv(t, "OVM_TEST_REGISTRY"), marker)
	t.Cleanup(func() { deleteImage(ref) })

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
	assert.True(t, strings.HasPrefix(out.Ref, getenv(t, "OVM_TEST_REGISTRY")+"/ovm-convert-test@sha256:"), "pushed ref %q", out.Ref)

	got := strings.Split(strings.TrimSpace(runImage(t, ref)), "\n")
	require.Len(t, got, 3, "container output %q", got)
	assert.Equal(t, marker, got[0], "the disk's marker file, read in the container")
	assert.Equal(t, "1000:1000 640", got[1], "owner and mode kept")
	assert.Contains(t, got[2], "No such file", "lost+found left out of the image")
}
