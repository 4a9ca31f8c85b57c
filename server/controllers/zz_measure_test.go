package controllers_test

import (
	"testing"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/controllers"
)

func TestZZMeasure(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 3, haEnabled: true})
	h1 := c.hosts[0]
	web := c.create("web", c.instanceSpec(true, true))
	c.start("r1", monitorOptions(controllers.FakePowerFence{Hosts: c.fakes}))
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	c.fake(h1).SetUnreachable(true)
	for c.instance(web.ID).Status.Phase != ovm.PhaseReady || c.instance(web.ID).Status.HostID == h1.ID {
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("unreachable -> running elsewhere: %s (interval 100ms)", time.Since(start))
	start = time.Now()
	c.fake(h1).SetUnreachable(false)
	for c.host(h1.ID).State != ovm.HostUp {
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("back -> up: %s", time.Since(start))
	o := controllers.Options{SyncInterval: 50 * time.Millisecond, MonitorInterval: time.Second, LeaseTTL: time.Second}
	ra := c.start("a", o)
	for !ra.ctl.Leading()[controllers.LeaseSync] {
		time.Sleep(5 * time.Millisecond)
	}
	rb := c.start("b", o)
	start = time.Now()
	ra.stop()
	for !rb.ctl.Leading()[controllers.LeaseSync] {
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("handover after release: %s (ttl 1s)", time.Since(start))
}
