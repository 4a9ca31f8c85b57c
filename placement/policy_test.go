package placement_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

// score = min over cpu, memory, disk of free/allocatable; the defaults are
// 8 vCPU, 16GiB, 100GiB.
func TestPerformanceChoosesMostFree(t *testing.T) {
	tests := []struct {
		name  string
		hosts []*hb
		req   placement.Request
		want  string
	}{
		{
			name: "highest score wins",
			hosts: []*hb{
				newHost("h1").allocated(res(4, 4, 50)),  // min(4/8, 12/16, 50/100) = 0.5
				newHost("h2").allocated(res(2, 8, 10)),  // min(6/8, 8/16, 90/100) = 0.5
				newHost("h3").allocated(res(1, 2, 20)),  // min(7/8, 14/16, 80/100) = 0.8
				newHost("h4").allocated(res(0, 0, 100)), // min(1, 1, 0/100) = 0
			},
			req:  placement.Request{Demand: res(0, 0, 0)},
			want: "h3",
		},
		{
			name: "the scarcest resource decides",
			hosts: []*hb{
				newHost("h1").allocated(res(0, 12, 0)), // min(8/8, 4/16, 1) = 0.25: most CPU free, little memory
				newHost("h2").allocated(res(4, 4, 40)), // min(4/8, 12/16, 60/100) = 0.5
				newHost("h3").allocated(res(7, 0, 0)),  // min(1/8, 1, 1) = 0.125
			},
			req:  placement.Request{Demand: res(1, 1, 1)},
			want: "h2",
		},
		{
			name: "overcommit raises what is free",
			hosts: []*hb{
				// cpu allocatable 8*4 = 32: min(16/32, 1, 1) = 0.5
				newHost("h1").allocated(res(16, 0, 0)).overcommit(ovm.Overcommit{CPU: 4}),
				// min(3/8, 1, 1) = 0.375
				newHost("h2").allocated(res(5, 0, 0)),
			},
			req:  placement.Request{Demand: res(1, 1, 1)},
			want: "h1",
		},
		{
			name: "the share counts, not the size",
			hosts: []*hb{
				newHost("h1").capacity(res(64, 256, 2000)).allocated(res(32, 128, 1000)), // 0.5
				newHost("h2").allocated(res(2, 4, 25)),                                   // min(6/8, 12/16, 75/100) = 0.75
			},
			req:  placement.Request{Demand: res(1, 1, 1)},
			want: "h2",
		},
		{
			name: "a host that does not fit loses to a worse score",
			hosts: []*hb{
				newHost("h1").capacity(res(1, 2, 10)),  // empty: 1, but too small for the demand
				newHost("h2").allocated(res(4, 8, 50)), // 0.5
			},
			req:  placement.Request{Demand: res(2, 4, 10)},
			want: "h2",
		},
		{
			name: "the best host filtered out leaves the next best",
			hosts: []*hb{
				newHost("h1").allocated(res(4, 8, 50)), // 0.5
				newHost("h2"),                          // 1, excluded
				newHost("h3").allocated(res(2, 4, 25)), // 0.75
				newHost("h4").state(ovm.HostMaintenance),
			},
			req:  placement.Request{Demand: res(1, 1, 1), Exclude: []ovm.ID{idOf("h2")}},
			want: "h3",
		},
	}
	for _, tt := range tests {
		for _, scope := range []ovm.Scope{poolScope(poolA), dcScope(dc1), hostsScope(idsOf(tt.hosts)...)} {
			t.Run(tt.name+"/"+string(scope.Kind), func(t *testing.T) {
				f := mustFleet(t, mapHosts(tt.hosts))
				d, err := f.Place(tt.req, ovm.PolicyPerformance, scope, placement.Cursor{})
				require.NoError(t, err)
				got := nameOf(t, f, d.HostID)
				assert.Equal(t, tt.want, got, "chosen: got %s, want %s", got, tt.want)
				assert.Equal(t, cursorAt(t, got), d.Cursor, "cursor: got %v, want it at the chosen host %s", d.Cursor, got)
			})
		}
	}
}

func idsOf(bs []*hb) []ovm.ID {
	out := make([]ovm.ID, len(bs))
	for i, b := range bs {
		out[i] = b.h.ID
	}
	return out
}

// cursorAt returns the cursor that points at the host called name (with
// id idOf(name)): the one a Place that chose that host returns.
func cursorAt(t *testing.T, name string) placement.Cursor {
	t.Helper()
	g := mustFleet(t, hosts(newHost(name)))
	d, err := g.Place(placement.Request{}, ovm.PolicyPerformance, poolScope(poolA), placement.Cursor{})
	require.NoError(t, err)
	require.Equal(t, idOf(name), d.HostID)
	return d.Cursor
}

func TestPerformanceRoundRobin(t *testing.T) {
	three := func() []placement.Host { return hosts(newHost("h1"), newHost("h2"), newHost("h3")) }
	tests := []struct {
		name   string
		hosts  []placement.Host
		start  string // host the cursor starts after; "" = zero cursor
		assign bool   // Assign each decision before the next Place
		n      int
		want   []string
	}{
		{name: "zero cursor starts at the first name", hosts: three(), n: 1, want: []string{"h1"}},
		{name: "ties go round-robin without Assign", hosts: three(), n: 7,
			want: []string{"h1", "h2", "h3", "h1", "h2", "h3", "h1"}},
		{name: "ties go round-robin with Assign", hosts: three(), assign: true, n: 3, want: []string{"h1", "h2", "h3"}},
		{name: "cursor in the middle", hosts: three(), start: "h2", n: 3, want: []string{"h3", "h1", "h2"}},
		{
			// h1 scores 0.5, so only h2 and h3 tie; after h3 the turn wraps
			// to h2, not to h1.
			name:  "wrap skips hosts outside the tie",
			hosts: hosts(newHost("h1").allocated(res(4, 0, 0)), newHost("h2"), newHost("h3")),
			start: "h3", n: 3, want: []string{"h2", "h3", "h2"},
		},
		{
			// "h15" sorts between "h1" and "h2": the cursor is a position in
			// name order, valid even for a host this fleet does not have.
			name: "cursor of a host the fleet does not have", hosts: three(), start: "h15", n: 2,
			want: []string{"h2", "h3"},
		},
		{
			// Both hosts are named "twin": the lower id goes first.
			name: "same name ordered by id",
			hosts: hosts(newHost("twin").withID(ovm.ID("00000000-0000-4000-8000-000000000002")),
				newHost("twin").withID(ovm.ID("00000000-0000-4000-8000-000000000001")), newHost("zulu")),
			n: 3, want: []string{"twin#1", "twin#2", "zulu"},
		},
	}
	for _, tt := range tests {
		for _, scope := range []ovm.Scope{poolScope(poolA), dcScope(dc1), hostsScope(hostIDs(tt.hosts)...)} {
			t.Run(tt.name+"/"+string(scope.Kind), func(t *testing.T) {
				testRoundRobin(t, tt.hosts, scope, tt.start, tt.assign, tt.n, tt.want)
			})
		}
	}
}

func testRoundRobin(t *testing.T, hs []placement.Host, scope ovm.Scope, start string, assign bool, n int, want []string) {
	f := mustFleet(t, hs)
	cur := placement.Cursor{}
	if start != "" {
		cur = cursorAt(t, start)
	}
	var got []string
	for range n {
		d, err := f.Place(placement.Request{Demand: res(1, 1, 1)}, ovm.PolicyPerformance, scope, cur)
		require.NoError(t, err)
		name := nameOf(t, f, d.HostID)
		if name == "twin" {
			name += "#" + string(d.HostID[len(d.HostID)-1])
		}
		got = append(got, name)
		cur = d.Cursor
		if assign {
			require.NoError(t, f.Assign(d.HostID, res(1, 1, 1), ""))
		}
	}
	assert.Equal(t, want, got, "hosts chosen in turn: got %v, want %v", got, want)
}

func TestProgressive(t *testing.T) {
	tests := []struct {
		name  string
		hosts []placement.Host
		reqs  []ovm.Resources
		want  []string
	}{
		{
			// Each host holds 4 of (2 vCPU, 4GiB, 10GiB): 8/2 = 16/4 = 4.
			name:  "fills one host, then the next",
			hosts: hosts(newHost("h1"), newHost("h2"), newHost("h3")),
			reqs:  repeat(res(2, 4, 10), 10),
			want:  []string{"h1", "h1", "h1", "h1", "h2", "h2", "h2", "h2", "h3", "h3"},
		},
		{
			name:  "order is by name, not input order",
			hosts: hosts(newHost("h3"), newHost("h1"), newHost("h2")),
			reqs:  repeat(res(4, 4, 10), 3),
			want:  []string{"h1", "h1", "h2"},
		},
		{
			// After 3 x 2 vCPU, h1 has 2 vCPU free: the 4 vCPU instance
			// goes to h2, the next 2 vCPU one still fits on h1.
			name:  "a smaller instance goes back to the first host with room",
			hosts: hosts(newHost("h1"), newHost("h2")),
			reqs:  []ovm.Resources{res(2, 1, 1), res(2, 1, 1), res(2, 1, 1), res(4, 1, 1), res(2, 1, 1), res(2, 1, 1)},
			want:  []string{"h1", "h1", "h1", "h2", "h1", "h2"},
		},
		{
			name: "skips hosts that fail a filter, whatever their room",
			hosts: hosts(newHost("h1").state(ovm.HostMaintenance), newHost("h2").readOnly(),
				newHost("h3").allocated(res(6, 0, 0)), newHost("h4")),
			reqs: repeat(res(2, 1, 1), 3),
			want: []string{"h3", "h4", "h4"},
		},
		{
			name:  "ignores how free a host is",
			hosts: hosts(newHost("h1").allocated(res(6, 14, 90)), newHost("h2")),
			reqs:  []ovm.Resources{res(1, 1, 1)},
			want:  []string{"h1"},
		},
	}
	for _, tt := range tests {
		for _, scope := range []ovm.Scope{poolScope(poolA), dcScope(dc1), hostsScope(hostIDs(tt.hosts)...)} {
			t.Run(tt.name+"/"+string(scope.Kind), func(t *testing.T) {
				f := mustFleet(t, tt.hosts)
				cur := placement.Cursor{}
				var got []string
				for _, d := range tt.reqs {
					dec, err := f.Place(placement.Request{Demand: d}, ovm.PolicyProgressive, scope, cur)
					require.NoError(t, err)
					assert.Equal(t, cur, dec.Cursor, "PROGRESSIVE: got the cursor moved, want it returned as given")
					require.NoError(t, f.Assign(dec.HostID, d, ""))
					got = append(got, nameOf(t, f, dec.HostID))
				}
				assert.Equal(t, tt.want, got, "hosts chosen in turn: got %v, want %v", got, tt.want)
			})
		}
	}
}

func repeat(r ovm.Resources, n int) []ovm.Resources {
	out := make([]ovm.Resources, n)
	for i := range out {
		out[i] = r
	}
	return out
}

func hostIDs(hs []placement.Host) []ovm.ID {
	out := make([]ovm.ID, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}

func TestCursorText(t *testing.T) {
	f := mustFleet(t, hosts(newHost("h1"), newHost("h2"), newHost("h3")))
	d, err := f.Place(placement.Request{}, ovm.PolicyPerformance, poolScope(poolA), placement.Cursor{})
	require.NoError(t, err)

	tests := []struct {
		name string
		cur  placement.Cursor
		text string
	}{
		{name: "start", cur: placement.Cursor{}, text: ""},
		{name: "after a decision", cur: d.Cursor, text: string(idOf("h1")) + "/h1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cur.MarshalText()
			require.NoError(t, err)
			assert.Equal(t, tt.text, string(got), "MarshalText: got %q, want %q", got, tt.text)
			var back placement.Cursor
			require.NoError(t, back.UnmarshalText(got))
			assert.Equal(t, tt.cur, back, "round trip: got %v, want %v", back, tt.cur)
			// The restored cursor carries the turn on: after h1 comes h2.
			if tt.text != "" {
				next, err := f.Place(placement.Request{}, ovm.PolicyPerformance, poolScope(poolA), back)
				require.NoError(t, err)
				assert.Equal(t, idOf("h2"), next.HostID, "after a restored cursor at h1: got %s, want h2", nameOf(t, f, next.HostID))
			}
		})
	}
	for _, bad := range []string{"h1", "not-a-uuid/h1", "/h1"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			var c placement.Cursor
			err := c.UnmarshalText([]byte(bad))
			require.ErrorIs(t, err, ovm.ErrInvalid, "UnmarshalText(%q): got %v, want invalid", bad, err)
		})
	}
}
