package placement_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

// Capacity reasons are worded by ovm.Resources.Short, so the cases below
// derive them from Short with the free amounts computed beside them.
//
// TestFilters puts one host against one request and checks that it is
// chosen, or rejected with exactly the reason of the first filter it fails.
// Every case runs through each code path: the indexed search of both
// policies (datacenter and pool scope) and the scan of a hosts scope.
func TestFilters(t *testing.T) {
	demand := res(2, 4, 10)
	tests := []struct {
		name       string
		host       *hb
		req        placement.Request
		wantReason string // "" = h1 is chosen
	}{
		{name: "passes every filter", host: newHost("h1"), req: placement.Request{Demand: demand}},
		{name: "excluded", host: newHost("h1"),
			req: placement.Request{Demand: demand, Exclude: []ovm.ID{idOf("other"), idOf("h1")}}, wantReason: "excluded"},
		{name: "excluded is reported before state", host: newHost("h1").state(ovm.HostFailed),
			req: placement.Request{Demand: demand, Exclude: []ovm.ID{idOf("h1")}}, wantReason: "excluded"},
		{name: "kind the image cannot run on", host: newHost("h1").kind(ovm.HostESXi),
			req:        placement.Request{Demand: demand, Kinds: []ovm.HostKind{ovm.HostKVM, ovm.HostDocker}},
			wantReason: "kind esxi, image needs kvm or docker"},
		{name: "kind the image runs on", host: newHost("h1").kind(ovm.HostDocker),
			req: placement.Request{Demand: demand, Kinds: []ovm.HostKind{ovm.HostKVM, ovm.HostDocker}}},
		{name: "no kinds means any kind", host: newHost("h1").kind(ovm.HostESXi), req: placement.Request{Demand: demand}},
		{name: "state suspect", host: newHost("h1").state(ovm.HostSuspect), req: placement.Request{Demand: demand}, wantReason: "state suspect"},
		{name: "state failed", host: newHost("h1").state(ovm.HostFailed), req: placement.Request{Demand: demand}, wantReason: "state failed"},
		{name: "state maintenance", host: newHost("h1").state(ovm.HostMaintenance), req: placement.Request{Demand: demand}, wantReason: "state maintenance"},
		{name: "state is reported before kind's successors", host: newHost("h1").state(ovm.HostMaintenance).readOnly().allocated(res(8, 16, 100)),
			req: placement.Request{Demand: demand}, wantReason: "state maintenance"},
		{name: "read-only", host: newHost("h1").readOnly(), req: placement.Request{Demand: demand}, wantReason: "read-only"},
		// free cpu = 8 - 7 = 1 < 2
		{name: "cpu short", host: newHost("h1").allocated(res(7, 0, 0)),
			req: placement.Request{Demand: demand}, wantReason: demand.Short(res(1, 16, 100))},
		// free memory = 16 - 15 = 1GiB < 4GiB
		{name: "memory short", host: newHost("h1").allocated(res(0, 15, 0)),
			req: placement.Request{Demand: demand}, wantReason: demand.Short(res(8, 1, 100))},
		// free disk = 100 - 95 = 5GiB < 10GiB
		{name: "disk short", host: newHost("h1").allocated(res(0, 0, 95)),
			req: placement.Request{Demand: demand}, wantReason: demand.Short(res(8, 16, 5))},
		// free = (8,16,100) - (6,12,90) = (2,4,10): exactly the demand
		{name: "demand fits exactly", host: newHost("h1").allocated(res(6, 12, 90)), req: placement.Request{Demand: demand}},
		// cpu allocatable = 8 * 4 = 32, free = 32 - 30 = 2: fits only thanks to overcommit
		{name: "cpu overcommit makes room", host: newHost("h1").allocated(res(30, 0, 0)).overcommit(ovm.Overcommit{CPU: 4}),
			req: placement.Request{Demand: demand}},
		// cpu allocatable = 8 * 2 = 16, free = 16 - 15 = 1 < 2
		{name: "cpu overcommit still short", host: newHost("h1").allocated(res(15, 0, 0)).overcommit(ovm.Overcommit{CPU: 2}),
			req: placement.Request{Demand: demand}, wantReason: demand.Short(res(1, 16, 100))},
		// memory allocatable = 16 * 1.5 = 24GiB, free = 24 - 20 = 4GiB: exactly the demand
		{name: "memory overcommit makes room", host: newHost("h1").allocated(res(0, 20, 0)).overcommit(ovm.Overcommit{Memory: 1.5}),
			req: placement.Request{Demand: demand}},
		// memory allocatable = 16 * 1.5 = 24GiB, free = 24 - 21 = 3GiB < 4GiB
		{name: "memory overcommit still short", host: newHost("h1").allocated(res(0, 21, 0)).overcommit(ovm.Overcommit{Memory: 1.5}),
			req: placement.Request{Demand: demand}, wantReason: demand.Short(res(8, 3, 100))},
		// disk allocatable = 100 * 2 = 200GiB, free = 200 - 195 = 5GiB < 10GiB
		{name: "disk overcommit still short", host: newHost("h1").allocated(res(0, 0, 195)).overcommit(ovm.Overcommit{Disk: 2}),
			req: placement.Request{Demand: demand}, wantReason: demand.Short(res(8, 16, 5))},
		{name: "network missing", host: newHost("h1").networks(netA),
			req:        placement.Request{Demand: demand, Networks: []ovm.ID{netA, netB}},
			wantReason: fmt.Sprintf("network %s not reachable", netB)},
		{name: "networks all reachable", host: newHost("h1").networks(netB, netA),
			req: placement.Request{Demand: demand, Networks: []ovm.ID{netA, netB}}},
		{name: "shared storage missing", host: newHost("h1").storage(nfs1),
			req:        placement.Request{Demand: demand, SharedStorage: []ovm.ID{nfs2}},
			wantReason: fmt.Sprintf("storage %s not reachable", nfs2)},
		{name: "shared storage reachable", host: newHost("h1").storage(nfs1, nfs2),
			req: placement.Request{Demand: demand, SharedStorage: []ovm.ID{nfs2, nfs1}}},
		{name: "anti-affinity with a member already there", host: newHost("h1").groups(app2, app1),
			req:        placement.Request{Demand: demand, Group: app1},
			wantReason: fmt.Sprintf("anti-affinity: group %s already has a member here", app1)},
		{name: "anti-affinity with another group there", host: newHost("h1").groups(app2),
			req: placement.Request{Demand: demand, Group: app1}},
		{name: "no group ignores groups on the host", host: newHost("h1").groups(app1), req: placement.Request{Demand: demand}},
		{name: "capacity is reported before networks", host: newHost("h1").allocated(res(0, 15, 0)),
			req: placement.Request{Demand: demand, Networks: []ovm.ID{netA}}, wantReason: demand.Short(res(8, 1, 100))},
		{name: "networks are reported before storage", host: newHost("h1"),
			req:        placement.Request{Demand: demand, Networks: []ovm.ID{netA}, SharedStorage: []ovm.ID{nfs1}},
			wantReason: fmt.Sprintf("network %s not reachable", netA)},
		{name: "storage is reported before anti-affinity", host: newHost("h1").groups(app1),
			req:        placement.Request{Demand: demand, SharedStorage: []ovm.ID{nfs1}, Group: app1},
			wantReason: fmt.Sprintf("storage %s not reachable", nfs1)},
	}
	paths := []struct {
		name   string
		policy ovm.PlacementPolicy
		scope  ovm.Scope
	}{
		{"PERFORMANCE/pool", ovm.PolicyPerformance, poolScope(poolA)},
		{"PERFORMANCE/datacenter", ovm.PolicyPerformance, dcScope(dc1)},
		{"PERFORMANCE/hosts", ovm.PolicyPerformance, hostsScope(idOf("h1"))},
		{"PROGRESSIVE/pool", ovm.PolicyProgressive, poolScope(poolA)},
		{"PROGRESSIVE/datacenter", ovm.PolicyProgressive, dcScope(dc1)},
		{"PROGRESSIVE/hosts", ovm.PolicyProgressive, hostsScope(idOf("h1"))},
	}
	for _, tt := range tests {
		for _, p := range paths {
			t.Run(tt.name+"/"+p.name, func(t *testing.T) {
				f := mustFleet(t, hosts(tt.host))
				req := tt.req
				req.Name = "web-1"
				d, err := f.Place(req, p.policy, p.scope, placement.Cursor{})
				if tt.wantReason == "" {
					require.NoError(t, err, "Place: got an error, want h1 chosen")
					assert.Equal(t, idOf("h1"), d.HostID, "chosen host: got %s, want h1", d.HostID)
					return
				}
				require.ErrorIs(t, err, ovm.ErrUnavailable, "Place: got %v, want a no-fit error", err)
				var nf *placement.NoFitError
				require.True(t, errors.As(err, &nf), "Place: got %T, want *NoFitError", err)
				want := []placement.Rejection{{HostID: idOf("h1"), HostName: "h1", Reason: tt.wantReason}}
				assert.Equal(t, want, nf.Rejections, "rejections: got %v, want %v", nf.Rejections, want)
				assert.Equal(t, "web-1", nf.Request, "NoFitError.Request: got %q, want web-1", nf.Request)
			})
		}
	}
}

func TestNoFitErrorMessage(t *testing.T) {
	tests := []struct {
		name  string
		hosts []placement.Host
		scope ovm.Scope
		want  string
	}{
		{
			name: "two hosts, two reasons",
			// h1: free memory = 16 - 13 = 3GiB < 4GiB
			hosts: hosts(newHost("h1").allocated(res(0, 13, 0)), newHost("h2").state(ovm.HostMaintenance)),
			scope: poolScope(poolA),
			want:  `no host can take "web-1": h1: memory: need 4GiB, 3GiB free; h2: state maintenance`,
		},
		{
			name:  "empty scope",
			hosts: hosts(newHost("h1")),
			scope: poolScope(poolC),
			want:  `no host can take "web-1": no host in scope`,
		},
		{
			name:  "unknown listed host shows its id",
			hosts: hosts(newHost("h1").readOnly()),
			scope: hostsScope(idOf("h1"), idOf("ghost")),
			want:  fmt.Sprintf(`no host can take "web-1": h1: read-only; %s: unknown host`, idOf("ghost")),
		},
		{
			// h01..h15 in maintenance, h16..h25 short of memory. The first
			// ten listed are h01..h10; the other 15 are h11..h15 (5 state)
			// and h16..h25 (10 memory).
			name:  "truncated past ten hosts",
			hosts: manyRejected(15, 10),
			scope: poolScope(poolA),
			want: `no host can take "web-1": h01: state maintenance; h02: state maintenance; h03: state maintenance; ` +
				`h04: state maintenance; h05: state maintenance; h06: state maintenance; h07: state maintenance; ` +
				`h08: state maintenance; h09: state maintenance; h10: state maintenance; and 15 more (memory 10, state 5)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFleet(t, tt.hosts)
			_, err := f.Place(placement.Request{Name: "web-1", Demand: res(1, 4, 1)}, ovm.PolicyPerformance, tt.scope, placement.Cursor{})
			require.Error(t, err, "Place: got no error, want no fit")
			assert.Equal(t, tt.want, err.Error(), "message:\n got %s\nwant %s", err.Error(), tt.want)
			assert.Equal(t, ovm.KindUnavailable, ovm.KindOf(err), "kind: got %v, want unavailable", ovm.KindOf(err))
			var nf *placement.NoFitError
			require.ErrorAs(t, err, &nf)
			assert.Len(t, nf.Rejections, len(tt.scope.HostIDs)+countIn(tt.hosts, tt.scope),
				"rejections keep every host of the scope, not only the ones printed")
		})
	}
}

// manyRejected returns maintenance hosts h01.. then hosts with 1GiB free.
func manyRejected(maint, full int) []placement.Host {
	var out []placement.Host
	for i := 1; i <= maint+full; i++ {
		b := newHost(fmt.Sprintf("h%02d", i))
		if i <= maint {
			b.state(ovm.HostMaintenance)
		} else {
			b.allocated(res(0, 15, 0))
		}
		out = append(out, b.build())
	}
	return out
}

// countIn counts the hosts of a pool or datacenter scope.
func countIn(hs []placement.Host, s ovm.Scope) int {
	n := 0
	for _, h := range hs {
		if (s.Kind == ovm.ScopePool && h.PoolID == s.PoolID) || (s.Kind == ovm.ScopeDatacenter && h.DatacenterID == s.DatacenterID) {
			n++
		}
	}
	return n
}
