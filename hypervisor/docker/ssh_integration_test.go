//go:build integration

package docker_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
)

// TestSSHTransport drives host 1 through the ssh:// transport with a
// stand-in for ssh (no sshd runs on these machines): a script that checks
// the arguments the driver gives ssh, then runs the remote command,
// `docker system dial-stdio`, locally against DOCKER_HOST. What is tested
// is everything but sshd itself: the command line, the Engine API over the
// command's standard streams, hijacked exec streams over it, and the
// command's end when the driver closes.
func TestSSHTransport(t *testing.T) {
	e := environment(t)
	dir := t.TempDir()
	argsLog := filepath.Join(dir, "args")
	fake := filepath.Join(dir, "ssh")
	script := `#!/bin/sh
echo "$@" >> ` + argsLog + `
while [ "$1" != "--" ]; do shift; done
shift 2
DOCKER_HOST=` + e.host + ` exec /usr/bin/"$@"
`
	require.NoError(t, os.WriteFile(fake, []byte(script), 0o755))

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	d, err := docker.Connect(ctx, docker.Options{
		Host: "ssh://ovm@docker-host-1:2222",
		SSH:  docker.SSHOptions{Command: []string{fake}, Args: []string{"-o", "BatchMode=yes"}},
	})
	require.NoError(t, err, "Connect over ssh")
	t.Cleanup(func() { _ = d.Close() })
	require.NoError(t, d.Ping(ctx), "Ping over ssh")

	spec := smallSpec(e, "ovmssh-"+uniq())
	track(t, d, spec.ID)
	_, err = d.Create(ctx, spec)
	require.NoError(t, err, "Create over ssh")
	require.NoError(t, d.Start(ctx, hypervisor.ByID(spec.ID)), "Start over ssh")
	res, err := d.Exec(ctx, hypervisor.ByID(spec.ID), hypervisor.ExecSpec{Command: []string{"cat"}, Stdin: strings.NewReader("over ssh\n")})
	require.NoError(t, err, "Exec over ssh")
	assert.Equal(t, "over ssh\n", string(res.Stdout), "Exec over ssh: stdout")
	got, err := d.Get(ctx, hypervisor.ByID(spec.ID))
	require.NoError(t, err)
	assert.Equal(t, ovm.PowerRunning, got.Power)

	logged, err := os.ReadFile(argsLog)
	require.NoError(t, err)
	first := strings.SplitN(string(logged), "\n", 2)[0]
	assert.Equal(t, "-p 2222 -l ovm -o BatchMode=yes -- docker-host-1 docker system dial-stdio", first, "the ssh command line")
}
