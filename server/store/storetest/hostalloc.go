package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

var hostAllocTests = []suiteTest{
	{"HostAllocate", testHostAllocate},
	{"HostAllocateGuards", testHostAllocateGuards},
	{"HostAllocateRace", testHostAllocateRace},
	{"PoolCursor", testPoolCursor},
}

// oneVM is what one instance of 2 vCPU, 4 GiB and a 20 GiB disk in group g
// holds on its host.
func oneVM(g ovm.ID) store.HostAllocation {
	a := store.HostAllocation{Resources: ovm.Resources{CPU: ovm.CPUs(2), Memory: 4 * ovm.GiB, Disk: 20 * ovm.GiB}, Instances: 1}
	if g != "" {
		a.Groups = map[ovm.ID]int64{g: 1}
	}
	return a
}

// allocsOf reads the allocations of hosts, with their groups.
func allocsOf(t *testing.T, s store.Store, hosts ...ovm.ID) map[ovm.ID]store.HostAllocation {
	t.Helper()
	var out map[ovm.ID]store.HostAllocation
	require.NoError(t, s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = tx.HostAllocations(ctx, hosts, true)
		return err
	}))
	return out
}

func allocate(ctx context.Context, s store.Store, host ovm.ID, d store.HostAllocation, limit ovm.Resources) error {
	return s.Tx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.AllocateHost(ctx, host, d, limit) })
}

func testHostAllocate(t *testing.T, s store.Store) {
	h1, h2, g := ovm.NewID(), ovm.NewID(), ovm.NewID()
	assert.Empty(t, allocsOf(t, s, h1, h2), "hosts that hold nothing")

	require.NoError(t, allocate(t.Context(), s, h1, oneVM(g), ovm.Resources{}))
	require.NoError(t, allocate(t.Context(), s, h1, oneVM(g), ovm.Resources{}))
	require.NoError(t, allocate(t.Context(), s, h1, oneVM(""), ovm.Resources{}))
	require.NoError(t, allocate(t.Context(), s, h2, store.HostAllocation{Resources: ovm.Resources{Disk: ovm.GiB}}, ovm.Resources{}))
	got := allocsOf(t, s, h1, h2)
	want1 := store.HostAllocation{Resources: oneVM("").Resources.Mul(3), Instances: 3, Groups: map[ovm.ID]int64{g: 2}}
	assert.Equal(t, want1, got[h1], "three instances, two of group g")
	assert.Equal(t, store.HostAllocation{Resources: ovm.Resources{Disk: ovm.GiB}}, got[h2], "a volume alone")

	require.NoError(t, allocate(t.Context(), s, h1, oneVM(g).Neg(), ovm.Resources{}))
	require.NoError(t, allocate(t.Context(), s, h1, oneVM(g).Neg(), ovm.Resources{}))
	got = allocsOf(t, s, h1)
	assert.Equal(t, oneVM(""), got[h1], "two released; the group with no member is gone")

	require.NoError(t, s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
		noGroups, err := tx.HostAllocations(ctx, []ovm.ID{h1, h2}, false)
		assert.Len(t, noGroups, 2)
		return err
	}))
	require.NoError(t, s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.DeleteHostAllocation(ctx, h1) }))
	assert.NotContains(t, allocsOf(t, s, h1, h2), h1, "a deleted host's allocation")
}

func testHostAllocateGuards(t *testing.T, s store.Store) {
	h, g := ovm.NewID(), ovm.NewID()
	limit := ovm.Resources{CPU: ovm.CPUs(4), Memory: 8 * ovm.GiB, Disk: 40 * ovm.GiB}
	require.NoError(t, allocate(t.Context(), s, h, oneVM(g), limit))
	tests := []struct {
		name  string
		host  ovm.ID
		delta store.HostAllocation
		limit ovm.Resources
		kind  ovm.Kind
	}{
		{"over the cpu limit", h, store.HostAllocation{Resources: ovm.Resources{CPU: ovm.CPUs(3)}}, limit, ovm.KindQuotaExceeded},
		{"over the disk limit", h, store.HostAllocation{Resources: ovm.Resources{Disk: 21 * ovm.GiB}}, limit, ovm.KindQuotaExceeded},
		{"release more than held", h, store.HostAllocation{Resources: ovm.Resources{Memory: -5 * ovm.GiB}}, ovm.Resources{}, ovm.KindInternal},
		{"release of a group member not there", h, store.HostAllocation{Groups: map[ovm.ID]int64{ovm.NewID(): -1}}, ovm.Resources{}, ovm.KindInternal},
		{"release on a host holding nothing", ovm.NewID(), oneVM("").Neg(), ovm.Resources{}, ovm.KindInternal},
		{"host not a uuid", "host-1", oneVM(""), ovm.Resources{}, ovm.KindInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireKind(t, allocate(t.Context(), s, tc.host, tc.delta, tc.limit), tc.kind)
			assert.Equal(t, oneVM(g), allocsOf(t, s, h)[h], "a refused change changes nothing")
		})
	}
	// A release needs no room; growing within the limit is admitted.
	require.NoError(t, allocate(t.Context(), s, h, oneVM(g), limit))
	require.NoError(t, allocate(t.Context(), s, h, oneVM(g).Neg(), ovm.Resources{CPU: 1}))
}

// testHostAllocateRace: 60 transactions, 12 at a time, each allocating
// one instance on a host with room for exactly 20 and recording it in the
// same transaction. Exactly 20 commit, whatever the interleaving.
func testHostAllocateRace(t *testing.T, s store.Store) {
	const requests, width, room = 60, 12, 20
	h := ovm.NewID()
	limit := oneVM("").Resources.Mul(room)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	vdc := ovm.NewID()
	errs := parallel(requests, width, func(i int) error {
		r := record(t, store.KindInstance, vdc, "vm-"+string(ovm.NewID().Short()), i)
		return s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.AllocateHost(ctx, h, oneVM(""), limit); err != nil {
				return err
			}
			rr := r
			return tx.Insert(ctx, &rr)
		})
	})
	assert.Equal(t, room, admitted(t, errs), "admitted allocations")
	assert.Equal(t, store.HostAllocation{Resources: limit, Instances: room}, allocsOf(t, s, h)[h])
}

func testPoolCursor(t *testing.T, s store.Store) {
	pool := ovm.NewID()
	var got string
	read := func() string {
		require.NoError(t, s.View(t.Context(), func(ctx context.Context, tx store.Tx) error {
			var err error
			got, err = tx.PoolCursor(ctx, pool)
			return err
		}))
		return got
	}
	assert.Empty(t, read(), "a pool without a cursor")
	for _, c := range []string{"a/host-1", "b/host-2", ""} {
		do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.SetPoolCursor(ctx, pool, c) })
		assert.Equal(t, c, read())
	}
	err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.SetPoolCursor(ctx, "pool-1", "x") })
	requireKind(t, err, ovm.KindInvalid)
}
