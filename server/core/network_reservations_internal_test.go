package core

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
)

// TestNICMAC: on a host that reserves addresses by MAC, a NIC without one
// gets a unicast MAC derived from the instance and the NIC's index (the
// same every time, another for another NIC or instance); a MAC the spec
// gives is kept, and elsewhere an empty one is left to the host.
func TestNICMAC(t *testing.T) {
	a, b := ovm.NewID(), ovm.NewID()
	res := network.Capabilities{Reservations: true}
	for _, tt := range []struct {
		name string
		nic  ovm.NICSpec
		caps network.Capabilities
		want string
	}{
		{"given", ovm.NICSpec{MAC: "52:54:00:12:34:56"}, res, "52:54:00:12:34:56"},
		{"left to the host", ovm.NICSpec{}, network.Capabilities{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) { assert.Equal(t, tt.want, nicMAC(a, 0, tt.nic, tt.caps)) })
	}
	m := nicMAC(a, 0, ovm.NICSpec{}, res)
	parsed, err := ovm.ParseMAC(m)
	require.NoError(t, err, "a unicast MAC")
	assert.Equal(t, m, parsed)
	assert.Equal(t, m, nicMAC(a, 0, ovm.NICSpec{}, res), "the same on a step run again")
	assert.NotEqual(t, m, nicMAC(a, 1, ovm.NICSpec{}, res), "another NIC")
	assert.NotEqual(t, m, nicMAC(b, 0, ovm.NICSpec{}, res), "another instance")
}
