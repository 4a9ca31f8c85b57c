//go:build integration

package docker_test

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// freePort returns a TCP port of 127.0.0.1 nobody listens on now.
func freePort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err, "listen on a free port")
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return uint16(port)
}

// TestBadInput: each refused create is a clear error of the right kind,
// names what is wrong, and leaves no container on the host.
func TestBadInput(t *testing.T) {
	e := environment(t)
	d := connect(t, e.host)
	c := raw(t, e.host)
	info, err := d.Info(t.Context())
	require.NoError(t, err, "Info")

	// A container that publishes a port, for the "port taken" case.
	taken := freePort(t)
	holder := smallSpec(e, "ovmbad-holder-"+uniq())
	holder.Spec.Ports = []ovm.PortMapping{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: taken, ContainerPort: 80}}
	track(t, d, holder.ID)
	_, err = d.Create(t.Context(), holder)
	require.NoError(t, err, "Create the port holder")
	require.NoError(t, d.Start(t.Context(), hypervisor.ByID(holder.ID)), "Start the port holder")

	tests := []struct {
		name   string
		mutate func(*hypervisor.CreateSpec)
		want   error
		field  string // a field the error names, or ""
		says   string // text the message must contain
	}{
		{"unknown image", func(s *hypervisor.CreateSpec) {
			s.Spec.Image = ovm.ContainerImage(e.registry + "/ovm-no-such-image-" + uniq() + ":1")
		}, ovm.ErrNotFound, "", "is not on the host"},
		{"invalid image reference", func(s *hypervisor.CreateSpec) {
			s.Spec.Image = ovm.ContainerImage("UPPER/Case::x")
		}, ovm.ErrInvalid, "spec.image.name", "reference"},
		{"port already taken", func(s *hypervisor.CreateSpec) {
			s.Spec.Ports = []ovm.PortMapping{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: taken, ContainerPort: 80}}
		}, ovm.ErrConflict, "", fmt.Sprintf("host port %d/tcp", taken)},
		{"memory above the host's", func(s *hypervisor.CreateSpec) {
			s.Spec.Memory = info.Capacity.Memory + ovm.GiB
		}, ovm.ErrInvalid, "spec.memoryBytes", "more than the host's"},
		{"cpu above the host's", func(s *hypervisor.CreateSpec) {
			s.Spec.CPU = info.Capacity.CPU + 1000
		}, ovm.ErrInvalid, "spec.cpuMilli", "more than the host's"},
		{"memory below docker's minimum", func(s *hypervisor.CreateSpec) {
			s.Spec.Memory = 5 * ovm.MiB
		}, ovm.ErrInvalid, "spec.memoryBytes", "at least"},
		{"invalid name", func(s *hypervisor.CreateSpec) {
			s.Name = "Bad_Name-" + uniq()
		}, ovm.ErrInvalid, "name", "invalid"},
		{"a vm", func(s *hypervisor.CreateSpec) {
			s.Spec.Type = ovm.TypeVM
			s.Spec.CPU = 1000
			s.Spec.Image = ovm.Template("debian.qcow2")
		}, ovm.ErrInvalid, "spec.type", "containers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := smallSpec(e, "ovmbad-"+uniq())
			tt.mutate(&spec)
			track(t, d, spec.ID)
			_, err := d.Create(t.Context(), spec)
			require.ErrorIs(t, err, tt.want, "Create with %s: got %v, want %v", tt.name, err, tt.want)
			assert.Contains(t, err.Error(), tt.says, "Create with %s: got message %q, want it to say %q", tt.name, err, tt.says)
			if tt.field != "" {
				var fields []string
				for _, f := range ovm.FieldsOf(err) {
					fields = append(fields, f.Field)
				}
				assert.Contains(t, fields, tt.field, "Create with %s: got fields %v, want %q among them", tt.name, fields, tt.field)
			}
			assert.Empty(t, containersNamed(t, c, strings.ToLower(spec.Name)), "containers named %s after the refused create: got some, want none", spec.Name)
			_, err = d.Get(t.Context(), hypervisor.ByID(spec.ID))
			assert.ErrorIs(t, err, ovm.ErrNotFound, "Get %s after the refused create: got %v, want not found", spec.ID, err)
		})
	}

	t.Run("image not in the registry", func(t *testing.T) {
		ref := e.registry + "/ovm-not-pushed-" + uniq() + ":1"
		err := d.Images().Pull(t.Context(), ref, nil)
		require.ErrorIs(t, err, ovm.ErrNotFound, "Pull %s: got %v, want not found", ref, err)
		assert.Contains(t, err.Error(), ref, "Pull: got message %q, want it to name %s", err, ref)
		_, err = d.Images().Get(t.Context(), ovm.ContainerImage(ref))
		assert.ErrorIs(t, err, ovm.ErrNotFound, "Get %s after the failed pull: got %v, want not found", ref, err)
	})

	t.Run("port taken by a host process", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		port := uint16(l.Addr().(*net.TCPAddr).Port)
		spec := smallSpec(e, "ovmbad-hostport-"+uniq())
		spec.Spec.Ports = []ovm.PortMapping{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: port, ContainerPort: 80}}
		track(t, d, spec.ID)
		_, err = d.Create(t.Context(), spec)
		require.NoError(t, err, "Create: the engine sees the host's port only at start")
		err = d.Start(t.Context(), hypervisor.ByID(spec.ID))
		require.ErrorIs(t, err, ovm.ErrConflict, "Start with host port %d held by a listener: got %v, want conflict", port, err)
		got, err := d.Get(t.Context(), hypervisor.ByID(spec.ID))
		require.NoError(t, err)
		assert.Equal(t, ovm.PowerStopped, got.Power, "after the refused start: got %s, want stopped", got.Power)
	})
}
