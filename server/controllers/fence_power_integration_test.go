//go:build integration

package controllers_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/fence/ipmi"
	"github.com/openovm/ovm/server/fence/ipmi/ipmitest"
)

// simBMC is the BMC simulator of make testenv (ipmi_sim), set as a host's
// BMC through the service (checked against it), and the file its chassis
// script keeps the power in. The machine is powered on before and after.
func simBMC(t *testing.T, c *cluster, host ovm.ID) (state string) {
	t.Helper()
	cfg, state := ipmitest.Sim(t)
	bmc, err := ipmi.New(cfg)
	require.NoError(t, err)
	require.NoError(t, bmc.PowerOn(t.Context()))
	t.Cleanup(func() { _ = bmc.PowerOn(context.Background()) })
	_, _, err = c.svc.SetHostBMC(t.Context(), c.admin, host, core.HostBMCSet{Address: cfg.Address, Port: cfg.Port,
		Username: cfg.Username, Password: cfg.Password}, 0)
	require.NoError(t, err)
	require.Equal(t, "power:1", ipmitest.Power(t, state))
	return state
}

// TestMonitorFencesThroughBMCOnIPMISim: a failed host whose BMC is the real
// BMC simulator is powered off through it (the chassis switch reads
// power:0) and confirmed off before its HA instance restarts elsewhere.
func TestMonitorFencesThroughBMCOnIPMISim(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 2, haEnabled: true})
	h1, h2 := c.hosts[0], c.hosts[1]
	web := c.create("web", c.instanceSpec(true, true))
	require.Equal(t, h1.ID, web.Status.HostID)
	state := simBMC(t, c, h1.ID)

	c.start("r1", monitorOptions(controllers.PowerFence{BMCs: core.NewSystem(c.svc)}))
	c.fake(h1).SetUnreachable(true)

	var fencedPower string
	require.Eventually(t, func() bool {
		if len(c.logs.find("failed host fenced", map[string]string{"host": h1.Name, "method": string(ha.FencePowerOff)})) > 0 && fencedPower == "" {
			fencedPower = ipmitest.Power(t, state)
		}
		got := c.instance(web.ID)
		return got.Status.Phase == ovm.PhaseReady && got.Status.HostID == h2.ID
	}, waitFor, tick, "web is never restarted on host2: %+v", c.instance(web.ID).Status)
	assert.Equal(t, "power:0", ipmitest.Power(t, state), "host1's machine is powered off")
	// The fence is logged (confirmed) before the evacuation is recorded;
	// the chassis read power:0 by then.
	assert.Equal(t, "power:0", fencedPower, "the power when the confirmed fence was logged")
	assert.Equal(t, ovm.PowerRunning, power(t, c.fake(h2), hypervisor.ByID(web.ID)), "web on host2")
}

// unreachableBMCs opens every host's BMC at a port where nothing answers:
// the BMC is gone by the time the host fails.
type unreachableBMCs struct{}

func (unreachableBMCs) HostBMC(context.Context, ovm.ID, time.Duration) (*ipmi.BMC, error) {
	return ipmi.New(ipmi.Config{Address: "127.0.0.1", Port: 9, Username: "admin", Password: "x",
		Timeout: 200 * time.Millisecond})
}

// TestMonitorBMCUnreachableMarksUnknown: a failed host whose BMC does not
// answer cannot be confirmed down: its HA instance becomes unknown with a
// fence-unconfirmed alert carrying the BMC's error, and is not restarted.
func TestMonitorBMCUnreachableMarksUnknown(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 2, haEnabled: true})
	h1, h2 := c.hosts[0], c.hosts[1]
	web := c.create("web", c.instanceSpec(true, true))
	state := simBMC(t, c, h1.ID)

	o := monitorOptions(controllers.PowerFence{BMCs: unreachableBMCs{}, Confirm: time.Second})
	o.FenceTimeout = 2 * time.Second
	c.start("r1", o)
	c.fake(h1).SetUnreachable(true)

	require.Eventually(t, func() bool { return c.instance(web.ID).Status.Phase == ovm.PhaseUnknown },
		waitFor, tick, "web never becomes unknown: %+v", c.instance(web.ID).Status)
	assert.Equal(t, h1.ID, c.instance(web.ID).Status.HostID, "web is not moved")
	assert.Equal(t, ovm.PowerState(""), power(t, c.fake(h2), hypervisor.ByID(web.ID)), "web must not run on host2")
	require.Eventually(t, func() bool { return len(c.alerts(ha.AlertFenceUnconfirmed, h1.ID)) == 1 },
		waitFor, tick, "no fence-unconfirmed alert: %+v", c.alerts("", ""))
	assert.Contains(t, c.alerts(ha.AlertFenceUnconfirmed, h1.ID)[0].Message, "127.0.0.1:9", "the alert carries the BMC's error")
	assert.Equal(t, "power:1", ipmitest.Power(t, state), "nothing powered the real machine off")
}
