// Package ipmitest reaches the BMC simulator that make testenv starts
// (openipmi's ipmi_sim, whose chassis script keeps the machine's power in a
// file) for the integration tests of the fencer and what uses it.
package ipmitest

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/fence/ipmi"
)

// Sim returns the simulator's settings from OVM_TEST_IPMI_* and the file
// its chassis script keeps the power in; it fails t when they are unset.
func Sim(t testing.TB) (cfg ipmi.Config, stateFile string) {
	t.Helper()
	addr, state := os.Getenv("OVM_TEST_IPMI_ADDR"), os.Getenv("OVM_TEST_IPMI_STATE_FILE")
	require.NotEmpty(t, addr, "OVM_TEST_IPMI_ADDR is not set: run make testenv and source .testenv")
	require.NotEmpty(t, state, "OVM_TEST_IPMI_STATE_FILE is not set: run make testenv and source .testenv")
	port, err := strconv.Atoi(os.Getenv("OVM_TEST_IPMI_PORT"))
	require.NoError(t, err, "OVM_TEST_IPMI_PORT")
	return ipmi.Config{Address: addr, Port: port, Username: os.Getenv("OVM_TEST_IPMI_USER"),
		Password: os.Getenv("OVM_TEST_IPMI_PASSWORD")}, state
}

// Power reads the simulated machine's power switch: "power:1" or "power:0".
func Power(t testing.TB, stateFile string) string {
	t.Helper()
	b, err := os.ReadFile(stateFile)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}
