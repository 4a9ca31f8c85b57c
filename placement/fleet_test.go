package placement_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

func fieldNames(err error) []string {
	var out []string
	for _, f := range ovm.FieldsOf(err) {
		out = append(out, f.Field)
	}
	return out
}

func TestNewFleetInvalid(t *testing.T) {
	tests := []struct {
		name  string
		hosts []placement.Host
		want  []string
	}{
		{name: "empty id", hosts: hosts(newHost("h1").withID("")), want: []string{"hosts[0].id"}},
		{name: "id not a uuid", hosts: hosts(newHost("h1").withID("h1")), want: []string{"hosts[0].id"}},
		{name: "duplicate id", hosts: hosts(newHost("h1"), newHost("h2"), newHost("h3").withID(idOf("h1"))), want: []string{"hosts[2].id"}},
		{name: "unknown kind", hosts: hosts(newHost("h1").kind("xen")), want: []string{"hosts[0].kind"}},
		{name: "unknown state", hosts: hosts(newHost("h1").state("")), want: []string{"hosts[0].state"}},
		{name: "negative capacity", hosts: hosts(newHost("h1").capacity(res(-1, 1, 1))), want: []string{"hosts[0].capacity"}},
		{name: "negative allocation", hosts: hosts(newHost("h1").allocated(res(0, 0, -1))), want: []string{"hosts[0].allocated"}},
		{name: "bad overcommit", hosts: hosts(newHost("h1").overcommit(ovm.Overcommit{CPU: 0.5})), want: []string{"hosts[0].overcommit.cpu"}},
		{name: "every bad field is named",
			hosts: hosts(newHost("h1"), newHost("h2").withID(idOf("h1")).kind("xen").state("gone")),
			want:  []string{"hosts[1].id", "hosts[1].kind", "hosts[1].state"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := placement.NewFleet(tt.hosts)
			require.ErrorIs(t, err, ovm.ErrInvalid, "NewFleet: got %v, want invalid", err)
			assert.Nil(t, f)
			assert.Equal(t, tt.want, fieldNames(err), "fields: got %v, want %v", fieldNames(err), tt.want)
		})
	}
}

func TestPlaceInvalid(t *testing.T) {
	ok := placement.Request{Demand: res(1, 1, 1)}
	tests := []struct {
		name   string
		req    placement.Request
		policy ovm.PlacementPolicy
		scope  ovm.Scope
		want   []string
	}{
		{name: "unknown policy", req: ok, policy: "CHEAPEST", scope: poolScope(poolA), want: []string{"policy"}},
		{name: "empty policy", req: ok, policy: "", scope: poolScope(poolA), want: []string{"policy"}},
		{name: "scope without kind", req: ok, policy: ovm.PolicyPerformance, scope: ovm.Scope{}, want: []string{"scope.kind"}},
		{name: "pool scope without pool", req: ok, policy: ovm.PolicyPerformance, scope: ovm.Scope{Kind: ovm.ScopePool}, want: []string{"scope.poolId"}},
		{name: "datacenter scope without datacenter", req: ok, policy: ovm.PolicyPerformance, scope: ovm.Scope{Kind: ovm.ScopeDatacenter}, want: []string{"scope.datacenterId"}},
		{name: "hosts scope without hosts", req: ok, policy: ovm.PolicyPerformance, scope: ovm.Scope{Kind: ovm.ScopeHosts}, want: []string{"scope.hostIds"}},
		{name: "negative demand", req: placement.Request{Demand: res(1, -1, 1)}, policy: ovm.PolicyPerformance, scope: poolScope(poolA), want: []string{"request.demand"}},
		{name: "unknown kind", req: placement.Request{Kinds: []ovm.HostKind{ovm.HostKVM, "xen"}}, policy: ovm.PolicyProgressive, scope: poolScope(poolA), want: []string{"request.kinds[1]"}},
		{name: "every bad field is named", req: placement.Request{Demand: res(-1, 0, 0)}, policy: "X", scope: ovm.Scope{Kind: ovm.ScopePool},
			want: []string{"policy", "scope.poolId", "request.demand"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFleet(t, hosts(newHost("h1")))
			_, err := f.Place(tt.req, tt.policy, tt.scope, placement.Cursor{})
			require.ErrorIs(t, err, ovm.ErrInvalid, "Place: got %v, want invalid", err)
			assert.Equal(t, tt.want, fieldNames(err), "fields: got %v, want %v", fieldNames(err), tt.want)

			results, _ := f.PlaceBatch([]placement.Request{tt.req}, tt.policy, tt.scope, placement.Cursor{})
			require.ErrorIs(t, results[0].Err, ovm.ErrInvalid, "PlaceBatch: got %v, want invalid", results[0].Err)
		})
	}
}

func TestFleetCopiesItsInput(t *testing.T) {
	in := hosts(newHost("h1").networks(netA).storage(nfs1).groups(app1))
	f := mustFleet(t, in)
	in[0].Networks[0], in[0].SharedStorage[0], in[0].Groups[0] = netB, nfs2, app2
	in[0].Allocated = res(8, 16, 100)

	got, ok := f.Host(idOf("h1"))
	require.True(t, ok)
	want := newHost("h1").networks(netA).storage(nfs1).groups(app1).build()
	assert.Equal(t, want, got, "Host after the caller changed its input: got %+v, want %+v", got, want)

	got.Networks[0] = netB // and Host returns a copy
	again, _ := f.Host(idOf("h1"))
	assert.Equal(t, []ovm.ID{netA}, again.Networks, "networks after the caller changed Host's result: got %v, want [net-a]", again.Networks)

	_, ok = f.Host(idOf("ghost"))
	assert.False(t, ok, "Host(unknown): got found, want not found")
	assert.Equal(t, 1, f.Len(), "Len: got %d, want 1", f.Len())
}

func TestAssignRelease(t *testing.T) {
	d := res(2, 4, 10)
	t.Run("assign then release restores the host", func(t *testing.T) {
		f := mustFleet(t, hosts(newHost("h1").allocated(res(1, 1, 1)).groups(app2)))
		before, _ := f.Host(idOf("h1"))
		require.NoError(t, f.Assign(idOf("h1"), d, app1))
		mid, _ := f.Host(idOf("h1"))
		assert.Equal(t, res(3, 5, 11), mid.Allocated, "allocated: got %v, want (1,1,1)+(2,4,10)", mid.Allocated)
		assert.ElementsMatch(t, []ovm.ID{app2, app1}, mid.Groups, "groups: got %v, want app2 and app1", mid.Groups)
		require.NoError(t, f.Release(idOf("h1"), d, app1))
		after, _ := f.Host(idOf("h1"))
		assert.Equal(t, before, after, "after release: got %+v, want %+v", after, before)
	})
	t.Run("a group stays while any member does", func(t *testing.T) {
		f := mustFleet(t, hosts(newHost("h1")))
		req := placement.Request{Demand: d, Group: app1}
		require.NoError(t, f.Assign(idOf("h1"), d, app1))
		require.NoError(t, f.Assign(idOf("h1"), d, app1))
		require.NoError(t, f.Release(idOf("h1"), d, app1))
		_, err := f.Place(req, ovm.PolicyPerformance, poolScope(poolA), placement.Cursor{})
		require.ErrorIs(t, err, ovm.ErrUnavailable, "one member of app1 left: got %v, want anti-affinity rejection", err)
		require.NoError(t, f.Release(idOf("h1"), d, app1))
		_, err = f.Place(req, ovm.PolicyPerformance, poolScope(poolA), placement.Cursor{})
		require.NoError(t, err, "no member of app1 left: got %v, want placed", err)
	})
	t.Run("Assign records what is, even past capacity", func(t *testing.T) {
		f := mustFleet(t, hosts(newHost("h1")))
		require.NoError(t, f.Assign(idOf("h1"), res(20, 1, 1), ""))
		got, _ := f.Host(idOf("h1"))
		assert.Equal(t, res(20, 1, 1), got.Allocated)
		_, err := f.Place(placement.Request{}, ovm.PolicyPerformance, poolScope(poolA), placement.Cursor{})
		require.ErrorIs(t, err, ovm.ErrUnavailable, "over-allocated host: got %v, want it rejected even for a zero demand", err)
	})

	errs := []struct {
		name string
		op   func(f *placement.Fleet) error
		kind ovm.Kind
	}{
		{"assign to an unknown host", func(f *placement.Fleet) error { return f.Assign(idOf("ghost"), d, "") }, ovm.KindNotFound},
		{"release from an unknown host", func(f *placement.Fleet) error { return f.Release(idOf("ghost"), d, "") }, ovm.KindNotFound},
		{"assign a negative demand", func(f *placement.Fleet) error { return f.Assign(idOf("h1"), res(-1, 0, 0), "") }, ovm.KindInvalid},
		{"release a negative demand", func(f *placement.Fleet) error { return f.Release(idOf("h1"), res(0, -1, 0), "") }, ovm.KindInvalid},
		{"release more than allocated", func(f *placement.Fleet) error { return f.Release(idOf("h1"), res(2, 4, 11), "") }, ovm.KindConflict},
		{"release a group with no member", func(f *placement.Fleet) error { return f.Release(idOf("h1"), res(1, 1, 1), app2) }, ovm.KindConflict},
	}
	for _, tt := range errs {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFleet(t, hosts(newHost("h1").allocated(d).groups(app1)))
			before, _ := f.Host(idOf("h1"))
			err := tt.op(f)
			require.Error(t, err)
			assert.Equal(t, tt.kind, ovm.KindOf(err), "kind: got %v, want %v (%v)", ovm.KindOf(err), tt.kind, err)
			after, _ := f.Host(idOf("h1"))
			assert.Equal(t, before, after, "a refused change must change nothing: got %+v, want %+v", after, before)
		})
	}
}

func TestClone(t *testing.T) {
	f := mustFleet(t, hosts(newHost("h1"), newHost("h2")))
	c := f.Clone()
	require.NoError(t, c.Assign(idOf("h1"), res(6, 1, 1), app1))

	orig, _ := f.Host(idOf("h1"))
	assert.True(t, orig.Allocated.IsZero(), "original after the clone changed: got %v, want nothing allocated", orig.Allocated)
	assert.Empty(t, orig.Groups, "original groups after the clone changed: got %v, want none", orig.Groups)

	// The index is cloned too: the clone sees h1 as busier, the original not.
	req := placement.Request{Demand: res(1, 1, 1), Group: app2}
	dc, err := c.Place(req, ovm.PolicyPerformance, poolScope(poolA), placement.Cursor{})
	require.NoError(t, err)
	df, err := f.Place(req, ovm.PolicyPerformance, poolScope(poolA), placement.Cursor{})
	require.NoError(t, err)
	assert.Equal(t, idOf("h2"), dc.HostID, "clone: got %s, want h2 (h1 has 2 of 8 vCPU free)", nameOf(t, c, dc.HostID))
	assert.Equal(t, idOf("h1"), df.HostID, "original: got %s, want h1 (tie, first name)", nameOf(t, f, df.HostID))

	require.NoError(t, f.Assign(idOf("h2"), res(1, 1, 1), app1))
	cl, _ := c.Host(idOf("h2"))
	assert.True(t, cl.Allocated.IsZero(), "clone after the original changed: got %v, want nothing allocated", cl.Allocated)
}

// TestPlaceConcurrently: Place only reads the fleet, so concurrent calls
// give the answers sequential ones give (and -race sees no write).
func TestPlaceConcurrently(t *testing.T) {
	w := newWorld(300, 7)
	f := mustFleet(t, w.hosts)
	type step struct {
		req   placement.Request
		scope ovm.Scope
	}
	steps := make([]step, 200)
	for i := range steps {
		steps[i].req, steps[i].scope = w.at(i)
	}
	want := make([]string, len(steps))
	for i, s := range steps {
		d, err := f.Place(s.req, ovm.PolicyPerformance, s.scope, placement.Cursor{})
		want[i] = fmt.Sprint(d.HostID, err)
	}
	var wg sync.WaitGroup
	got := make([][]string, 4)
	for g := range got {
		wg.Go(func() {
			for _, s := range steps {
				d, err := f.Place(s.req, ovm.PolicyPerformance, s.scope, placement.Cursor{})
				got[g] = append(got[g], fmt.Sprint(d.HostID, err))
			}
		})
	}
	wg.Wait()
	for g := range got {
		assert.Equal(t, want, got[g], "goroutine %d: got other decisions than sequential Place", g)
	}
}
