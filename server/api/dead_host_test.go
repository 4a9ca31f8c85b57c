package api

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/esxisim"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// runControllers runs the controllers over the env's service until t ends.
func (e *env) runControllers(o controllers.Options) {
	e.t.Helper()
	o.Platform, o.Replica = core.NewSystem(e.svc), "r1"
	c, err := controllers.New(o)
	require.NoError(e.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.Run(ctx); err != nil {
			e.t.Errorf("controllers: %v", err)
		}
	})
	e.t.Cleanup(func() { cancel(); wg.Wait() })
}

// TestDeadHostSkipped: an ESXi host of a pool without HA that stops
// answering (its simulator is closed) is shown failed, and placement sends
// new VMs to the host that answers.
func TestDeadHostSkipped(t *testing.T) {
	live := esxisim.Start(t, esxiUser, esxiPassword)
	dead := esxisim.Start(t, esxiUser, esxiPassword)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	register := func(name string, sim *esxisim.Host) ovm.Host {
		var h ovm.Host
		e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, esxiHostBody(name, sim.Endpoint(), pl.pool,
			map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": sim.Thumbprint}, nil)).decode(t, &h)
		return h
	}
	gone, up := register("esxi-dead", dead), register("esxi-live", live)
	var pool ovm.ResourcePool
	e.must(http.StatusOK, "GET", "/v1/pools/"+string(pl.pool), e.admin, nil).decode(t, &pool)
	require.False(t, pool.HAEnabled, "the pool has no HA")
	tn := e.newTenant("acme", pl.pool, quota)
	e.runControllers(controllers.Options{SyncInterval: time.Hour, MonitorInterval: 300 * time.Millisecond,
		ProbeTimeout: 5 * time.Second, LeaseTTL: 3 * time.Second})

	dead.Server.Close()
	require.Eventually(t, func() bool {
		var h ovm.Host
		e.must(http.StatusOK, "GET", "/v1/hosts/"+string(gone.ID), e.admin, nil).decode(t, &h)
		return h.State == ovm.HostFailed
	}, 30*time.Second, 50*time.Millisecond, "the closed ESXi host is never shown failed")
	var h ovm.Host
	e.must(http.StatusOK, "GET", "/v1/hosts/"+string(up.ID), e.admin, nil).decode(t, &h)
	assert.Equal(t, ovm.HostUp, h.State, "the answering host")

	// PERFORMANCE spreads (each host has room for two): without the dead
	// host skipped, one of these would go to it.
	for _, name := range []string{"vm1", "vm2"} {
		inst := e.createRunning(tn, name, map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 64 << 20,
			"image": map[string]string{"format": "vmdk", "name": "tiny.vmdk"}})
		hvName := name + "-" + string(inst.ID.Short())
		t.Cleanup(func() { live.Remove(t, hvName) })
		var got ovm.Instance
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(inst.ID), e.admin, nil).decode(t, &got)
		assert.Equal(t, up.ID, got.Status.HostID, "host of %s", name)
		_, ok := live.VMs(t)[hvName]
		assert.True(t, ok, "%s on the answering host", hvName)
	}
}
