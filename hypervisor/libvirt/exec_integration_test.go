//go:build integration

package libvirt_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/libvirt"
	"github.com/openovm/ovm/ovm"
)

// TestExecGuestAgent runs commands in a real guest through the QEMU guest
// agent (qemu-ga in the test guest's initramfs) and checks what the
// driver makes of the agent's answers: exit codes, output, stdin,
// environment, a signal, a program the guest does not have, bounds, and a
// domain without the agent's channel.
func TestExecGuestAgent(t *testing.T) {
	e := env(t)
	d := dial(t, e, e.uri)
	t.Cleanup(func() { _ = d.Close() })
	s := spec(e, "ovmt-exec-"+ovm.NewID().Short())
	started(t, d, s)
	ref := hypervisor.ByID(s.ID)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	for _, tt := range []struct {
		name       string
		spec       hypervisor.ExecSpec
		wantCode   int
		wantOut    string
		wantErr    string
		wantKind   error
		wantErrOut string
	}{
		{name: "stdout and exit code", spec: hypervisor.ExecSpec{Command: []string{"/bin/sh", "-c", "echo out; echo err >&2; exit 7"}},
			wantCode: 7, wantOut: "out\n", wantErrOut: "err\n"},
		{name: "stdin", spec: hypervisor.ExecSpec{Command: []string{"/bin/sh", "-c", "tr a-z A-Z"}, Stdin: strings.NewReader("over the agent\n")},
			wantOut: "OVER THE AGENT\n"},
		{name: "env", spec: hypervisor.ExecSpec{Command: []string{"sh", "-c", "echo $OVM_A-$OVM_B"}, Env: map[string]string{"OVM_A": "1", "OVM_B": "two"}},
			wantOut: "1-two\n"},
		{name: "signal", spec: hypervisor.ExecSpec{Command: []string{"/bin/sh", "-c", "kill -9 $$"}}, wantCode: 128 + 9},
		{name: "guest file", spec: hypervisor.ExecSpec{Command: []string{"cat", "/proc/sys/kernel/ostype"}}, wantOut: "Linux\n"},
		{name: "missing program", spec: hypervisor.ExecSpec{Command: []string{"/nonesuch"}}, wantKind: ovm.ErrInvalid, wantErr: "nonesuch"},
		{name: "empty command", spec: hypervisor.ExecSpec{}, wantKind: ovm.ErrInvalid, wantErr: "command"},
		{name: "stdin too large", spec: hypervisor.ExecSpec{Command: []string{"cat"}, Stdin: strings.NewReader(strings.Repeat("x", libvirt.MaxExecInput+1))},
			wantKind: ovm.ErrInvalid, wantErr: "stdin"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := d.Exec(ctx, ref, tt.spec)
			if tt.wantKind != nil {
				require.ErrorIs(t, err, tt.wantKind, "Exec %q", tt.spec.Command)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err, "Exec %q", tt.spec.Command)
			assert.Equal(t, tt.wantCode, res.ExitCode, "exit code (stderr %q)", res.Stderr)
			assert.Equal(t, tt.wantOut, string(res.Stdout), "stdout")
			assert.Equal(t, tt.wantErrOut, string(res.Stderr), "stderr")
		})
	}

	t.Run("deadline", func(t *testing.T) {
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := d.Exec(short, ref, hypervisor.ExecSpec{Command: []string{"sleep", "31"}})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		res, err := d.Exec(ctx, ref, hypervisor.ExecSpec{Command: []string{"sh", "-c", "ps -o args | grep -c '^sleep 31'"}})
		require.NoError(t, err)
		assert.Equal(t, "0\n", string(res.Stdout), "the command was killed")
	})

	t.Run("no agent channel", func(t *testing.T) {
		id := makeUnmanaged(t, e, "ovmt-noagent-"+ovm.NewID().Short())
		nref := hypervisor.ByNative(id)
		require.NoError(t, d.Start(ctx, nref))
		_, err := d.Exec(ctx, nref, hypervisor.ExecSpec{Command: []string{"true"}})
		require.ErrorIs(t, err, ovm.ErrUnsupported)
		assert.Contains(t, err.Error(), libvirt.AgentChannel)
	})
}
