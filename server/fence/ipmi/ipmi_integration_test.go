//go:build integration

package ipmi_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/fence/ipmi"
	"github.com/openovm/ovm/server/fence/ipmi/ipmitest"
)

func TestBMCPowerCycleOnIPMISim(t *testing.T) {
	cfg, state := ipmitest.Sim(t)
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
	assert.Equal(t, "power:1", ipmitest.Power(t, state))

	start := time.Now()
	require.NoError(t, bmc.Fence(ctx, 5*time.Second), "power off and confirm off")
	t.Logf("fenced (power off + confirmed) in %s", time.Since(start))
	assert.Equal(t, "power:0", ipmitest.Power(t, state), "the chassis switch was cut")
	on, err = bmc.Power(ctx)
	require.NoError(t, err)
	assert.False(t, on, "power status after the fence")

	require.NoError(t, bmc.PowerOn(ctx))
	require.NoError(t, bmc.WaitPower(ctx, true, 5*time.Second))
	assert.Equal(t, "power:1", ipmitest.Power(t, state))
}

func TestBMCRefusesBadCredentialsOnIPMISim(t *testing.T) {
	cfg, state := ipmitest.Sim(t)
	before := ipmitest.Power(t, state)
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
			assert.Equal(t, before, ipmitest.Power(t, state), "a refused session changes nothing")
		})
	}
}

func TestBMCUnreachableIsUnavailable(t *testing.T) {
	cfg, _ := ipmitest.Sim(t)
	cfg.Port = 9 // nothing answers IPMI on udp 127.0.0.1:9
	cfg.Timeout = 300 * time.Millisecond
	bmc, err := ipmi.New(cfg)
	require.NoError(t, err)
	_, err = bmc.Power(t.Context())
	require.Error(t, err)
	assert.Equal(t, ovm.KindUnavailable, ovm.KindOf(err), "got %v", err)
	assert.Contains(t, err.Error(), "127.0.0.1:9")
}
