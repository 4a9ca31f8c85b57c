package controllers_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/controllers"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// cpuSamples are one sample a second of a subject, ending now, at the CPU
// values given (oldest first).
func cpuSamples(kind store.MetricKind, subject, vdc, host ovm.ID, now time.Time, cpu ...float64) []store.MetricSample {
	out := make([]store.MetricSample, len(cpu))
	for i, v := range cpu {
		out[i] = store.MetricSample{Subject: subject, Kind: kind, VDCID: vdc, HostID: host, InstanceType: ovm.TypeVM,
			At: now.Add(-time.Duration(len(cpu)-1-i) * time.Second), CPUPercent: v, MemoryUsed: 100, MemoryLimit: 200}
	}
	return out
}

// alertsOf lists the threshold alerts p sees, by subject.
func alertsOf(t *testing.T, svc *core.Service, p auth.Principal) map[ovm.ID]core.MetricAlert {
	t.Helper()
	pg, err := svc.ListMetricAlerts(t.Context(), p, core.ListOptions{Limit: core.MaxLimit})
	require.NoError(t, err)
	out := map[ovm.ID]core.MetricAlert{}
	for _, a := range pg.Items {
		out[a.SubjectID] = a
	}
	return out
}

// TestThresholdAlerts: a tenant's rule on its VDC's instances and an
// administrator's host rule raise alerts only for subjects whose samples
// have been beyond the threshold for the rule's duration, with those
// samples; an alert clears when the latest sample is back, and when its
// rule is deleted. Tenants see their alerts, never a host's; bad rules
// name their field; a round under a lost lease writes nothing.
func TestThresholdAlerts(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := newCluster(t, b.open(t), clusterOptions{hosts: 1})
			ctx := t.Context()
			sys := core.NewSystem(c.svc)
			hot := c.create("hot", c.instanceSpec(false, false))
			brief := c.create("brief", c.instanceSpec(false, false))
			cool := c.create("cool", c.instanceSpec(false, false))
			host := c.hosts[0].ID
			tenant := auth.Principal{UserID: ovm.NewID(), Name: "t", Role: auth.RoleVDCAdmin, VDCID: c.vdc}
			member := auth.Principal{UserID: ovm.NewID(), Name: "m", Role: auth.RoleVDCMember, VDCID: c.vdc}

			bad := []struct {
				name  string
				p     auth.Principal
				in    core.CreateAlertRule
				field string
				kind  ovm.Kind
			}{
				{"tenant host rule", tenant, core.CreateAlertRule{Name: "h", Subject: apitypes.AlertOnHost, Metric: apitypes.MetricCPUPercent,
					Comparison: apitypes.AlertAbove, Threshold: 1}, "subject", ovm.KindInvalid},
				{"unknown metric", tenant, core.CreateAlertRule{Name: "m", Subject: apitypes.AlertOnInstance, Metric: "load",
					Comparison: apitypes.AlertAbove, Threshold: 1}, "metric", ovm.KindInvalid},
				{"no comparison", tenant, core.CreateAlertRule{Name: "c", Subject: apitypes.AlertOnInstance, Metric: apitypes.MetricCPUPercent,
					Threshold: 1}, "comparison", ovm.KindInvalid},
				{"too long", tenant, core.CreateAlertRule{Name: "f", Subject: apitypes.AlertOnInstance, Metric: apitypes.MetricCPUPercent,
					Comparison: apitypes.AlertBelow, ForSeconds: 7200}, "forSeconds", ovm.KindInvalid},
				{"unknown instance", tenant, core.CreateAlertRule{Name: "u", Subject: apitypes.AlertOnInstance, SubjectID: ovm.NewID(),
					Metric: apitypes.MetricCPUPercent, Comparison: apitypes.AlertAbove}, "subjectId", ovm.KindInvalid},
				{"host rule in a vdc", c.admin, core.CreateAlertRule{Name: "v", VDCID: c.vdc, Subject: apitypes.AlertOnHost,
					Metric: apitypes.MetricCPUPercent, Comparison: apitypes.AlertAbove}, "vdcId", ovm.KindInvalid},
				{"member", member, core.CreateAlertRule{Name: "n", Subject: apitypes.AlertOnInstance, Metric: apitypes.MetricCPUPercent,
					Comparison: apitypes.AlertAbove}, "", ovm.KindInternal},
			}
			for _, tc := range bad {
				_, err := c.svc.CreateAlertRule(ctx, tc.p, tc.in)
				require.Error(t, err, tc.name)
				if tc.field == "" {
					assert.ErrorIs(t, err, core.ErrForbidden, tc.name)
					continue
				}
				assert.Equal(t, tc.kind, ovm.KindOf(err), "%s: %v", tc.name, err)
				var oe *ovm.Error
				require.ErrorAs(t, err, &oe, tc.name)
				require.NotEmpty(t, oe.Fields, tc.name)
				assert.Equal(t, tc.field, oe.Fields[0].Field, tc.name)
			}

			busy, err := c.svc.CreateAlertRule(ctx, tenant, core.CreateAlertRule{Name: "busy", Subject: apitypes.AlertOnInstance,
				Metric: apitypes.MetricCPUPercent, Comparison: apitypes.AlertAbove, Threshold: 80, ForSeconds: 3})
			require.NoError(t, err)
			assert.Equal(t, c.vdc, busy.VDCID, "a tenant's rule is its VDC's")
			hostRule, err := c.svc.CreateAlertRule(ctx, c.admin, core.CreateAlertRule{Name: "host-busy", Subject: apitypes.AlertOnHost,
				SubjectID: host, Metric: apitypes.MetricCPUPercent, Comparison: apitypes.AlertAbove, Threshold: 50})
			require.NoError(t, err)
			_, _, err = c.svc.GetAlertRule(ctx, tenant, hostRule.ID)
			assert.ErrorIs(t, err, ovm.ErrNotFound, "a tenant does not see a host rule")

			now := time.Now().UTC()
			var samples []store.MetricSample
			samples = append(samples, cpuSamples(store.MetricInstance, hot.ID, c.vdc, host, now, 10, 85, 90, 95, 92, 91)...)
			samples = append(samples, cpuSamples(store.MetricInstance, brief.ID, c.vdc, host, now, 10, 10, 10, 10, 99, 99)...)
			samples = append(samples, cpuSamples(store.MetricInstance, cool.ID, c.vdc, host, now, 10, 20, 30, 20, 10, 5)...)
			samples = append(samples, cpuSamples(store.MetricHost, host, "", host, now, 60)...)
			for _, s := range samples {
				require.NoError(t, sys.RecordMetrics(ctx, []store.MetricSample{s}, nil))
			}

			// A guard whose lease is gone: nothing raised.
			stale := controllers.Lease{Name: controllers.LeaseMetrics, Holder: "gone", Epoch: 1}
			_, err = sys.EvaluateMetricAlerts(ctx, time.Second, stale.Guard())
			require.ErrorIs(t, err, controllers.ErrLeaseLost)
			assert.Empty(t, alertsOf(t, c.svc, c.admin))

			round, err := sys.EvaluateMetricAlerts(ctx, time.Second, nil)
			require.NoError(t, err)
			assert.Equal(t, core.AlertRound{Rules: 2, Raised: 2}, round, "hot for 4 s and the host; brief only for 1 s")
			all := alertsOf(t, c.svc, c.admin)
			require.Contains(t, all, hot.ID)
			require.Contains(t, all, host)
			a := all[hot.ID]
			assert.True(t, a.Open())
			assert.Equal(t, busy.ID, a.RuleID)
			assert.Equal(t, c.vdc, a.VDCID)
			var vals []float64
			for _, v := range a.Values {
				vals = append(vals, v.Value)
			}
			assert.Equal(t, []float64{85, 90, 95, 92, 91}, vals, "the samples beyond the threshold that fired it")

			seen := alertsOf(t, c.svc, tenant)
			assert.Len(t, seen, 1, "a tenant sees its VDC's alerts, never a host's")
			assert.Contains(t, seen, hot.ID)
			_, _, err = c.svc.GetMetricAlert(ctx, tenant, all[host].ID)
			assert.ErrorIs(t, err, ovm.ErrNotFound)
			rule, _, err := c.svc.GetAlertRule(ctx, tenant, busy.ID)
			require.NoError(t, err)
			assert.Equal(t, 1, rule.OpenAlerts)

			// Evaluated again: still open, nothing new.
			round, err = sys.EvaluateMetricAlerts(ctx, time.Second, nil)
			require.NoError(t, err)
			assert.Equal(t, core.AlertRound{Rules: 2}, round)

			// Back within the threshold: cleared, with the value.
			require.NoError(t, sys.RecordMetrics(ctx, cpuSamples(store.MetricInstance, hot.ID, c.vdc, host, time.Now().UTC().Add(time.Second), 12), nil))
			round, err = sys.EvaluateMetricAlerts(ctx, time.Second, nil)
			require.NoError(t, err)
			assert.Equal(t, 1, round.Cleared)
			a, _, err = c.svc.GetMetricAlert(ctx, tenant, a.ID)
			require.NoError(t, err)
			require.False(t, a.Open())
			assert.Equal(t, "value", a.ClearedBy)
			require.NotNil(t, a.ClearValue)
			assert.InDelta(t, 12, *a.ClearValue, 0.001)

			// A deleted rule clears its open alerts.
			require.NoError(t, c.svc.DeleteAlertRule(ctx, c.admin, hostRule.ID, 0))
			h, _, err := c.svc.GetMetricAlert(ctx, c.admin, all[host].ID)
			require.NoError(t, err)
			assert.False(t, h.Open())
			assert.Equal(t, "rule-deleted", h.ClearedBy)
		})
	}
}

// TestThresholdAlertsLoop: the collector evaluates the rules after each
// round: the fake hosts' VMs use at least 10 % CPU, so a rule "above 5"
// raises an alert for the running instance, and stopping it clears the
// alert once it has had no sample for a few intervals.
func TestThresholdAlertsLoop(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 1})
	ctx := t.Context()
	inst := c.create("loaded", c.instanceSpec(false, false))
	_, err := c.svc.CreateAlertRule(ctx, c.admin, core.CreateAlertRule{Name: "any-cpu", VDCID: c.vdc, Subject: apitypes.AlertOnInstance,
		SubjectID: inst.ID, Metric: apitypes.MetricCPUPercent, Comparison: apitypes.AlertAbove, Threshold: 5, ForSeconds: 1})
	require.NoError(t, err)
	c.start("r1", controllers.Options{MetricsInterval: 200 * time.Millisecond, LeaseTTL: 2 * time.Second,
		SyncInterval: time.Hour, MonitorInterval: time.Hour})
	var alert core.MetricAlert
	require.Eventually(t, func() bool {
		alert = alertsOf(t, c.svc, c.admin)[inst.ID]
		return alert.ID != "" && alert.Open()
	}, waitFor, tick, "the loop raises the alert")
	require.NotEmpty(t, alert.Values)
	assert.GreaterOrEqual(t, alert.Values[len(alert.Values)-1].Time.Sub(alert.Values[0].Time), time.Second,
		"the samples that fired it span the rule's duration")

	it, err := c.svc.InstanceAction(ctx, c.admin, inst.ID, core.OpStop, 0)
	require.NoError(t, err)
	_, err = c.svc.WaitTask(ctx, c.admin, it.Task.ID)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		a, _, err := c.svc.GetMetricAlert(ctx, c.admin, alert.ID)
		return err == nil && !a.Open() && a.ClearedBy == "no-samples"
	}, waitFor, tick, "a stopped instance's alert clears")
}

// TestThresholdAlertsGoWithTheirVDC: deleting a VDC deletes its rules and
// their alerts.
func TestThresholdAlertsGoWithTheirVDC(t *testing.T) {
	c := newCluster(t, openSQLite(t), clusterOptions{hosts: 1})
	ctx := t.Context()
	v, err := c.svc.CreateVDC(ctx, c.admin, core.CreateVDC{Name: "brief", PoolID: c.pool, Quota: ovm.Quota{Instances: 1}})
	require.NoError(t, err)
	rule, err := c.svc.CreateAlertRule(ctx, c.admin, core.CreateAlertRule{Name: "r", VDCID: v.ID, Subject: apitypes.AlertOnInstance,
		Metric: apitypes.MetricCPUPercent, Comparison: apitypes.AlertAbove, Threshold: -1})
	require.NoError(t, err)
	sys := core.NewSystem(c.svc)
	subject := ovm.NewID()
	require.NoError(t, sys.RecordMetrics(ctx, cpuSamples(store.MetricInstance, subject, v.ID, c.hosts[0].ID, time.Now().UTC(), 1), nil))
	round, err := sys.EvaluateMetricAlerts(ctx, time.Second, nil)
	require.NoError(t, err)
	require.Equal(t, 1, round.Raised)
	alert := alertsOf(t, c.svc, c.admin)[subject]

	require.NoError(t, c.svc.DeleteVDC(ctx, c.admin, v.ID, 0))
	_, _, err = c.svc.GetAlertRule(ctx, c.admin, rule.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound)
	_, _, err = c.svc.GetMetricAlert(ctx, c.admin, alert.ID)
	assert.ErrorIs(t, err, ovm.ErrNotFound)
}
