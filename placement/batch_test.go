package placement_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/placement"
)

func TestPlaceBatch(t *testing.T) {
	member := func(name string, d ovm.Resources, group ovm.ID) placement.Request {
		return placement.Request{Name: name, Demand: d, Group: group}
	}
	tests := []struct {
		name   string
		hosts  []placement.Host
		policy ovm.PlacementPolicy
		reqs   []placement.Request
		want   []string // host name, or "error: <reason on h1>"
	}{
		{
			// PROGRESSIVE would pack all three on h1; the group spreads them.
			name:   "anti-affinity spreads a vApp",
			hosts:  hosts(newHost("h1"), newHost("h2"), newHost("h3")),
			policy: ovm.PolicyProgressive,
			reqs:   []placement.Request{member("w1", res(1, 1, 1), app1), member("w2", res(1, 1, 1), app1), member("w3", res(1, 1, 1), app1)},
			want:   []string{"h1", "h2", "h3"},
		},
		{
			// The fourth member of app1 has nowhere to go; the others of
			// the batch (another group, no group) still go, packed on h1.
			name:   "a member that does not fit fails alone",
			hosts:  hosts(newHost("h1"), newHost("h2")),
			policy: ovm.PolicyProgressive,
			reqs: []placement.Request{member("w1", res(1, 1, 1), app1), member("w2", res(1, 1, 1), app1),
				member("w3", res(1, 1, 1), app1), member("db", res(1, 1, 1), app2), member("lb", res(1, 1, 1), "")},
			want: []string{"h1", "h2", "error: " + fmt.Sprintf("anti-affinity: group %s already has a member here", app1), "h1", "h1"},
		},
		{
			// h1 has 8 vCPU: two 4 vCPU members fill it, the third sees it
			// full and goes to h2.
			name:   "later members see earlier choices",
			hosts:  hosts(newHost("h1"), newHost("h2")),
			policy: ovm.PolicyProgressive,
			reqs:   []placement.Request{member("a", res(4, 1, 1), ""), member("b", res(4, 1, 1), ""), member("c", res(4, 1, 1), "")},
			want:   []string{"h1", "h1", "h2"},
		},
		{
			// Identical empty hosts tie; each choice lowers its host's
			// score, and the cursor carries the turn on.
			name:   "PERFORMANCE spreads a batch",
			hosts:  hosts(newHost("h1"), newHost("h2"), newHost("h3")),
			policy: ovm.PolicyPerformance,
			reqs:   []placement.Request{member("a", res(1, 1, 1), ""), member("b", res(1, 1, 1), ""), member("c", res(1, 1, 1), ""), member("d", res(1, 1, 1), "")},
			want:   []string{"h1", "h2", "h3", "h1"},
		},
		{
			// 8 vCPU each: a (6) to h1 (tie, first name), b (6) to h2
			// (score 1 beats 2/8), c (3) fits neither: 2 vCPU free each.
			name:   "PERFORMANCE batch that runs out of room",
			hosts:  hosts(newHost("h1"), newHost("h2")),
			policy: ovm.PolicyPerformance,
			reqs:   []placement.Request{member("a", res(6, 1, 1), ""), member("b", res(6, 1, 1), ""), member("c", res(3, 1, 1), "")},
			want:   []string{"h1", "h2", "error: " + res(3, 1, 1).Short(res(2, 14, 98))},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFleet(t, tt.hosts)
			results, cur := f.PlaceBatch(tt.reqs, tt.policy, poolScope(poolA), placement.Cursor{})
			require.Len(t, results, len(tt.reqs), "results: got %d, want one per request", len(results))
			var got []string
			want := placement.Cursor{}
			alloc := map[ovm.ID]ovm.Resources{}
			for i, r := range results {
				if r.Err != nil {
					var nf *placement.NoFitError
					require.ErrorAs(t, r.Err, &nf)
					require.NotEmpty(t, nf.Rejections)
					assert.Equal(t, tt.reqs[i].Name, nf.Request)
					got = append(got, "error: "+nf.Rejections[0].Reason)
					continue
				}
				got = append(got, nameOf(t, f, r.HostID))
				alloc[r.HostID] = alloc[r.HostID].Add(tt.reqs[i].Demand)
				want = r.Cursor
			}
			assert.Equal(t, tt.want, got, "outcomes: got %v, want %v", got, tt.want)
			assert.Equal(t, want, cur, "cursor: got %v, want the last decision's %v", cur, want)
			for _, h := range tt.hosts {
				now, _ := f.Host(h.ID)
				assert.Equal(t, alloc[h.ID], now.Allocated, "%s allocated after the batch: got %v, want %v", h.Name, now.Allocated, alloc[h.ID])
			}
		})
	}
}
