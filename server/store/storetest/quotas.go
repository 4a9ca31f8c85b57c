package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

var quotaTests = []suiteTest{
	{"QuotaSetGet", testQuotaSetGet},
	{"QuotaReserve", testQuotaReserve},
	{"QuotaReleaseUnderLoweredLimit", testQuotaReleaseUnderLoweredLimit},
	{"QuotaRace", testQuotaRace},
}

// oneInstance is what one instance of 2 vCPU, 4 GiB and a 20 GiB disk
// reserves.
var oneInstance = ovm.Usage{CPU: ovm.CPUs(2), Memory: 4 * ovm.GiB, Disk: 20 * ovm.GiB, Instances: 1}

// times returns u scaled by n.
func times(u ovm.Usage, n int64) ovm.Usage {
	return ovm.Usage{CPU: u.CPU * ovm.MilliCPU(n), Memory: u.Memory * ovm.Bytes(n), Disk: u.Disk * ovm.Bytes(n),
		Instances: u.Instances * n, Networks: u.Networks * n}
}

// quotaOf reads a VDC's quota and usage.
func quotaOf(t *testing.T, s store.Store, vdc ovm.ID) (ovm.Quota, ovm.Usage) {
	t.Helper()
	var q ovm.Quota
	var u ovm.Usage
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		q, u, err = tx.Quota(ctx, vdc)
		return err
	})
	return q, u
}

func testQuotaSetGet(t *testing.T, s store.Store) {
	vdc := ovm.NewID()
	err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		_, _, err := tx.Quota(ctx, vdc)
		return err
	})
	requireKind(t, err, ovm.KindNotFound)

	q := ovm.Quota{CPU: ovm.CPUs(8), Memory: 16 * ovm.GiB, Disk: ovm.TiB, Instances: 10, Networks: 2}
	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.SetQuota(ctx, vdc, q) })
	gotQ, gotU := quotaOf(t, s, vdc)
	assert.Equal(t, q, gotQ, "limits")
	assert.Equal(t, ovm.Usage{}, gotU, "a new quota's usage")

	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Reserve(ctx, vdc, oneInstance) })
	q2 := ovm.Unlimited
	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.SetQuota(ctx, vdc, q2) })
	gotQ, gotU = quotaOf(t, s, vdc)
	assert.Equal(t, q2, gotQ, "limits after a change")
	assert.Equal(t, oneInstance, gotU, "a change of limits keeps the usage")

	tests := []struct {
		name   string
		vdc    ovm.ID
		quota  ovm.Quota
		fields []string
	}{
		{"negative limits", vdc, ovm.Quota{CPU: -1, Networks: -2}, []string{"cpuMilli", "networks"}},
		{"vdc not a uuid", "tenant-1", q, []string{"vdcId"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.SetQuota(ctx, tc.vdc, tc.quota) })
			requireKind(t, err, ovm.KindInvalid)
			assertFieldsNamed(t, err, tc.fields...)
		})
	}
}

func testQuotaReserve(t *testing.T, s store.Store) {
	vdc := ovm.NewID()
	limit := ovm.Quota{CPU: ovm.CPUs(4), Memory: 8 * ovm.GiB, Disk: 100 * ovm.GiB, Instances: 3, Networks: 1}
	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.SetQuota(ctx, vdc, limit) })

	// Steps run in order on one VDC; want is the usage after each.
	steps := []struct {
		name     string
		delta    ovm.Usage
		overflow []string // nil: admitted
		want     ovm.Usage
	}{
		{"fits", ovm.Usage{CPU: ovm.CPUs(2), Memory: 4 * ovm.GiB, Instances: 1}, nil,
			ovm.Usage{CPU: ovm.CPUs(2), Memory: 4 * ovm.GiB, Instances: 1}},
		{"up to the limit exactly", ovm.Usage{CPU: ovm.CPUs(2), Memory: 4 * ovm.GiB, Instances: 1}, nil,
			ovm.Usage{CPU: ovm.CPUs(4), Memory: 8 * ovm.GiB, Instances: 2}}, // 2+2 = 4 vCPU, 4+4 = 8 GiB
		{"cpu and memory over", ovm.Usage{CPU: 500, Memory: ovm.GiB, Instances: 1}, []string{"cpuMilli", "memoryBytes"},
			ovm.Usage{CPU: ovm.CPUs(4), Memory: 8 * ovm.GiB, Instances: 2}},
		{"disk alone", ovm.Usage{Disk: 100 * ovm.GiB}, nil,
			ovm.Usage{CPU: ovm.CPUs(4), Memory: 8 * ovm.GiB, Disk: 100 * ovm.GiB, Instances: 2}},
		{"one byte over", ovm.Usage{Disk: 1}, []string{"diskBytes"},
			ovm.Usage{CPU: ovm.CPUs(4), Memory: 8 * ovm.GiB, Disk: 100 * ovm.GiB, Instances: 2}},
		{"release", ovm.Usage{CPU: -ovm.CPUs(2), Memory: -4 * ovm.GiB, Instances: -1}, nil,
			ovm.Usage{CPU: ovm.CPUs(2), Memory: 4 * ovm.GiB, Disk: 100 * ovm.GiB, Instances: 1}},
		{"release cpu, take a network", ovm.Usage{CPU: -ovm.CPUs(1), Networks: 1}, nil,
			ovm.Usage{CPU: ovm.CPUs(1), Memory: 4 * ovm.GiB, Disk: 100 * ovm.GiB, Instances: 1, Networks: 1}},
		{"release cpu, take a network over", ovm.Usage{CPU: -ovm.CPUs(1), Networks: 1}, []string{"networks"},
			ovm.Usage{CPU: ovm.CPUs(1), Memory: 4 * ovm.GiB, Disk: 100 * ovm.GiB, Instances: 1, Networks: 1}},
		{"release more than used stops at zero", ovm.Usage{CPU: -ovm.CPUs(10), Disk: -ovm.TiB}, nil,
			ovm.Usage{Memory: 4 * ovm.GiB, Instances: 1, Networks: 1}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Reserve(ctx, vdc, st.delta) })
			if st.overflow == nil {
				require.NoError(t, err)
			} else {
				requireKind(t, err, ovm.KindQuotaExceeded)
				assertFieldsNamed(t, err, st.overflow...)
			}
			_, got := quotaOf(t, s, vdc)
			assert.Equal(t, st.want, got, "usage after %q", st.name)
		})
	}

	err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Reserve(ctx, ovm.NewID(), oneInstance) })
	requireKind(t, err, ovm.KindNotFound)
}

// testQuotaReleaseUnderLoweredLimit: a release succeeds even while usage
// is above a limit an administrator lowered.
func testQuotaReleaseUnderLoweredLimit(t *testing.T, s store.Store) {
	vdc := ovm.NewID()
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.SetQuota(ctx, vdc, times(oneInstance, 3)); err != nil {
			return err
		}
		if err := tx.Reserve(ctx, vdc, times(oneInstance, 3)); err != nil {
			return err
		}
		return tx.SetQuota(ctx, vdc, oneInstance)
	})
	err := s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error { return tx.Reserve(ctx, vdc, oneInstance) })
	requireKind(t, err, ovm.KindQuotaExceeded)
	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.Reserve(ctx, vdc, times(oneInstance, -1)) })
	_, got := quotaOf(t, s, vdc)
	assert.Equal(t, times(oneInstance, 2), got, "3 reserved - 1 released")
}

// testQuotaRace: 200 requests, 16 at a time, each reserving one instance
// and recording it in the same transaction, against a quota with room for
// exactly 50. Exactly 50 succeed, whatever the interleaving.
func testQuotaRace(t *testing.T, s store.Store) {
	const requests, width, room = 200, 16, 50
	vdc := ovm.NewID()
	do(t, s, func(ctx context.Context, tx store.Tx) error { return tx.SetQuota(ctx, vdc, times(oneInstance, room)) })
	recs := make([]store.Record, requests)
	for i := range recs {
		recs[i] = record(t, store.KindInstance, vdc, fmt.Sprintf("vm-%03d", i), i)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	errs := parallel(requests, width, func(i int) error {
		return s.Tx(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := tx.Reserve(ctx, vdc, oneInstance); err != nil {
				return err
			}
			r := recs[i]
			return tx.Insert(ctx, &r)
		})
	})
	assert.Equal(t, room, admitted(t, errs), "admitted requests")
	_, used := quotaOf(t, s, vdc)
	assert.Equal(t, times(oneInstance, room), used, "usage after the race")
	do(t, s, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.Count(ctx, store.Filter{Kind: store.KindInstance, VDCID: vdc})
		require.NoError(t, err)
		assert.Equal(t, int64(room), n, "instances recorded with their reservation")
		return nil
	})
}

// admitted counts the requests that succeeded, requiring every other to
// have failed over quota.
func admitted(t *testing.T, errs []error) int {
	t.Helper()
	n := 0
	for i, err := range errs {
		if err == nil {
			n++
			continue
		}
		require.ErrorIs(t, err, ovm.ErrQuotaExceeded, "request %d failed otherwise: %v", i, err)
	}
	return n
}
