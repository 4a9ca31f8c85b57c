package placement_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

// scopeFleet: dc1 has pool-a (a1 kvm, a2 docker) and pool-b (b1 kvm);
// dc2 has pool-c (c1 kvm). Scores (free share of the scarcest resource):
// c1 = 1, b1 = 0.75, a2 = 0.5, a1 = 0.25.
func scopeFleet(t *testing.T) *placement.Fleet {
	return mustFleet(t, hosts(
		newHost("a1").allocated(res(6, 0, 0)),                      // min(2/8, 1, 1) = 0.25
		newHost("a2").kind(ovm.HostDocker).allocated(res(4, 0, 0)), // min(4/8, 1, 1) = 0.5
		newHost("b1").in(dc1, poolB).allocated(res(2, 0, 0)),       // min(6/8, 1, 1) = 0.75
		newHost("c1").in(dc2, poolC),                               // 1
	))
}

func TestScopes(t *testing.T) {
	tests := []struct {
		name   string
		scope  ovm.Scope
		kinds  []ovm.HostKind
		policy ovm.PlacementPolicy
		want   string
	}{
		{name: "datacenter takes every pool of it", scope: dcScope(dc1), policy: ovm.PolicyPerformance, want: "b1"},
		{name: "datacenter, progressive", scope: dcScope(dc1), policy: ovm.PolicyProgressive, want: "a1"},
		{name: "datacenter of one kind", scope: dcScope(dc1), kinds: []ovm.HostKind{ovm.HostDocker}, policy: ovm.PolicyPerformance, want: "a2"},
		{name: "other datacenter", scope: dcScope(dc2), policy: ovm.PolicyPerformance, want: "c1"},
		{name: "pool takes its hosts only", scope: poolScope(poolA), policy: ovm.PolicyPerformance, want: "a2"},
		{name: "pool, progressive", scope: poolScope(poolA), policy: ovm.PolicyProgressive, want: "a1"},
		{name: "pool of one kind", scope: poolScope(poolA), kinds: []ovm.HostKind{ovm.HostKVM}, policy: ovm.PolicyPerformance, want: "a1"},
		{name: "hosts takes the listed ones", scope: hostsScope(idOf("a1"), idOf("a2")), policy: ovm.PolicyPerformance, want: "a2"},
		{name: "hosts across datacenters", scope: hostsScope(idOf("a1"), idOf("c1")), policy: ovm.PolicyPerformance, want: "c1"},
		{name: "hosts, progressive ignores list order", scope: hostsScope(idOf("c1"), idOf("b1")), policy: ovm.PolicyProgressive, want: "b1"},
		{name: "hosts with an unknown one", scope: hostsScope(idOf("ghost"), idOf("a1")), policy: ovm.PolicyPerformance, want: "a1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := scopeFleet(t)
			d, err := f.Place(placement.Request{Demand: res(1, 1, 1), Kinds: tt.kinds}, tt.policy, tt.scope, placement.Cursor{})
			require.NoError(t, err)
			got := nameOf(t, f, d.HostID)
			assert.Equal(t, tt.want, got, "chosen: got %s, want %s", got, tt.want)
		})
	}
}

// TestScopeRejections checks that a failed placement explains every host of
// the scope and no other, in (name, id) order or, for hosts, list order.
func TestScopeRejections(t *testing.T) {
	big := res(100, 1, 1) // fits nowhere: 8 vCPU hosts
	tests := []struct {
		name  string
		scope ovm.Scope
		want  []string // host names, "?" for an unknown id
	}{
		{name: "datacenter", scope: dcScope(dc1), want: []string{"a1", "a2", "b1"}},
		{name: "pool", scope: poolScope(poolB), want: []string{"b1"}},
		{name: "empty pool", scope: poolScope(idOf("pool-empty")), want: nil},
		{name: "unknown datacenter", scope: dcScope(idOf("dc-none")), want: nil},
		{name: "hosts in list order, unknown ones included, duplicates once",
			scope: hostsScope(idOf("c1"), idOf("ghost"), idOf("a1"), idOf("c1")), want: []string{"c1", "?", "a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := scopeFleet(t)
			_, err := f.Place(placement.Request{Name: "db", Demand: big}, ovm.PolicyPerformance, tt.scope, placement.Cursor{})
			var nf *placement.NoFitError
			require.ErrorAs(t, err, &nf, "Place: got %v, want *NoFitError", err)
			var got []string
			for _, r := range nf.Rejections {
				if r.HostName == "" {
					assert.Equal(t, "unknown host", r.Reason, "reason for %s: got %q, want unknown host", r.HostID, r.Reason)
					assert.Equal(t, idOf("ghost"), r.HostID)
					got = append(got, "?")
					continue
				}
				got = append(got, r.HostName)
			}
			assert.Equal(t, tt.want, got, "rejected hosts: got %v, want %v", got, tt.want)
		})
	}
}
