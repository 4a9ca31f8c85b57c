//go:build integration

package libvirt_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// TestDisplay: a running domain has a VNC display on the host's address
// whose server speaks RFB; a stopped one has none to show.
func TestDisplay(t *testing.T) {
	e := env(t)
	d := dial(t, e, e.uri)
	t.Cleanup(func() { _ = d.Close() })
	s := spec(e, "ovmt-vnc-"+ovm.NewID().Short())
	started(t, d, s)

	disp, err := d.Display(t.Context(), hypervisor.ByID(s.ID))
	require.NoError(t, err)
	assert.Equal(t, "vnc", disp.Protocol)
	host, _, err := net.SplitHostPort(disp.Address)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", host, "a local daemon's display listens on loopback")
	conn, err := net.DialTimeout("tcp", disp.Address, 10*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	banner, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(banner, "RFB 003."), "the display speaks RFB: %q", banner)

	require.NoError(t, d.Stop(t.Context(), hypervisor.ByID(s.ID), hypervisor.StopOptions{Force: true}))
	_, err = d.Display(t.Context(), hypervisor.ByID(s.ID))
	assert.ErrorIs(t, err, ovm.ErrConflict, "a stopped domain shows no display")
}
