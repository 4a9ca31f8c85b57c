//go:build integration

package ipmi_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/fence/ipmi"
)

// simConfig is the BMC simulator of make testenv (ipmi_sim), and the file
// its chassis script keeps the machine's power in.
func simConfig(t *testing.T) (ipmi.Config, string) {
	t.Helper()
	addr, state := os.Getenv("OVM_TEST_IPMI_ADDR"), os.Getenv("OVM_TEST_IPMI_STATE_FILE")
	require.NotEmpty(t, addr, "OVM_TEST_IPMI_ADDR is not set: run make testenv and source .testenv")
	port, err := strconv.Atoi(os.Getenv("OVM_TEST_IPMI_PORT"))
	require.NoError(t, err, "OVM_TEST_IPMI_PORT")
	return ipmi.Config{Address: addr, Port: port, Username: os.Getenv("OVM_TEST_IPMI_USER"),
		Password: os.Getenv("OVM_TEST_IPMI_PASSWORD")}, state
}

// powerFile reads the simulated machine's power switch.
func powerFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

func TestBMCPowerCycleOnIPMISim(t *testing.T) {
	cfg, state := simConfig(t)
	bmc, err := ipmi.New(cfg)
	require.NoError(t, err)
	ctx := t.Context()
	// Whatever a test leaves, the machine is powered on again.
	t.Cleanup(func() { _ = bmc.PowerOn(t.Context()) })

	require.NoError(t, bmc.PowerOn(ctx))
	require.NoError(t, bmc.WaitPower(ctx, true, 5*time.Second))
	on, err := bmc.Power(ctx)
	require.NoError(t, err)
	assert.True(t, on, "power status after power on")
	assert.Equal(t, "power:1", powerFile(t, state))

	start := time.Now()
	require.NoError(t, bmc.Fence(ctx, 5*time.Second), "power off and confirm off")
	t.Logf("fenced (power off + confirmed) in %s", time.Since(start))
	assert.Equal(t, "power:0", powerFile(t, state), "the chassis switch was cut")
	on, err = bmc.Power(ctx)
	require.NoError(t, err)
	assert.False(t, on, "power status after the fence")

	require.NoError(t, bmc.PowerOn(ctx))
	require.NoError(t, bmc.WaitPower(ctx, true, 5*time.Second))
	assert.Equal(t, "power:1", powerFile(t, state))
}

func TestBMCRefusesBadCredentialsOnIPMISim(t *testing.T) {
	cfg, state := simConfig(t)
	before := powerFile(t, state)
	tests := []struct {
		name  string
		edit  func(*ipmi.Config)
		field string
	}{
		{"wrong password", func(c *ipmi.Config) { c.Password = "not-" + c.Password }, "password"},
		{"unknown user", func(c *ipmi.Config) { c.Username = "nobody" }, "username"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			tc.edit(&c)
			bmc, err := ipmi.New(c)
			require.NoError(t, err)
			err = bmc.PowerOff(t.Context())
			require.Error(t, err)
			assert.Equal(t, ovm.KindInvalid, ovm.KindOf(err), "got %v", err)
			fields := ovm.FieldsOf(err)
			require.Len(t, fields, 1, "got %v", err)
			assert.Equal(t, tc.field, fields[0].Field)
			assert.Equal(t, before, powerFile(t, state), "a refused session changes nothing")
		})
	}
}

func TestBMCUnreachableIsUnavailable(t *testing.T) {
	cfg, _ := simConfig(t)
	cfg.Port = 9 // nothing answers IPMI on udp 127.0.0.1:9
	cfg.Timeout = 300 * time.Millisecond
	bmc, err := ipmi.New(cfg)
	require.NoError(t, err)
	_, err = bmc.Power(t.Context())
	require.Error(t, err)
	assert.Equal(t, ovm.KindUnavailable, ovm.KindOf(err), "got %v", err)
	assert.Contains(t, err.Error(), "127.0.0.1:9")
}
