package core

import (
	"context"
	"slices"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// MetricHost is a host the metrics collector samples, with the running
// instances the records place on it.
type MetricHost struct {
	ID        ovm.ID
	Kind      ovm.HostKind
	Capacity  ovm.Resources
	Instances []MetricInstance
	rec       hostRecord
}

// MetricInstance is a running instance the collector samples.
type MetricInstance struct {
	ID    ovm.ID
	VDCID ovm.ID
	Type  ovm.InstanceType
	ref   hypervisor.Ref
}

// MetricTargets returns every host that is not failed, each with its
// running instances (ready, powered on), in id order.
func (y *System) MetricTargets(ctx context.Context) ([]MetricHost, error) {
	s := y.s
	var out []MetricHost
	err := s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		out = nil
		hrs, err := listAll(ctx, tx, store.Filter{Kind: store.KindHost})
		if err != nil {
			return err
		}
		byID := map[ovm.ID]int{}
		for _, r := range hrs {
			h, err := decode[hostRecord](r)
			if err != nil {
				return err
			}
			if h.State == ovm.HostFailed {
				continue
			}
			byID[h.ID] = len(out)
			out = append(out, MetricHost{ID: h.ID, Kind: h.Kind, Capacity: h.Capacity, rec: h})
		}
		irs, err := listAll(ctx, tx, store.Filter{Kind: store.KindInstance, AllVDCs: true})
		if err != nil {
			return err
		}
		for _, r := range irs {
			inst, err := s.decoded.instance(r)
			if err != nil {
				return err
			}
			i, ok := byID[inst.Status.HostID]
			if !ok || inst.Status.Phase != ovm.PhaseReady || inst.Status.Power != ovm.PowerRunning {
				continue
			}
			out[i].Instances = append(out[i].Instances, MetricInstance{ID: inst.ID, VDCID: inst.VDCID, Type: inst.Spec.Type, ref: hypervisor.Ref{ID: inst.ID, NativeID: inst.Status.NativeID}})
		}
		return nil
	})
	for i := range out {
		slices.SortFunc(out[i].Instances, func(a, b MetricInstance) int { return compareIDs(a.ID, b.ID) })
	}
	return out, err
}

func compareIDs(a, b ovm.ID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// SampleInstance reads an instance's statistics through its host's driver.
func (y *System) SampleInstance(ctx context.Context, h MetricHost, inst MetricInstance) (hypervisor.Stats, error) {
	s := y.s
	conn, err := s.connect(ctx, h.rec)
	if err != nil {
		return hypervisor.Stats{}, hostError(h.rec.Host, err)
	}
	start := time.Now()
	st, err := conn.Hypervisor.Stats(ctx, inst.ref)
	s.observe(h.Kind, "Stats", err, start)
	if err != nil {
		return hypervisor.Stats{}, hostError(h.rec.Host, err)
	}
	return st, nil
}

// SampleHost reads a host's own counters through its driver; ok is false
// when the driver has none to give (hypervisor.HostStatser).
func (y *System) SampleHost(ctx context.Context, h MetricHost) (st hypervisor.HostStats, ok bool, err error) {
	s := y.s
	conn, err := s.connect(ctx, h.rec)
	if err != nil {
		return st, false, hostError(h.rec.Host, err)
	}
	hs, ok := conn.Hypervisor.(hypervisor.HostStatser)
	if !ok {
		return st, false, nil
	}
	start := time.Now()
	st, err = hs.HostStats(ctx)
	s.observe(h.Kind, "HostStats", err, start)
	if err != nil {
		return st, false, hostError(h.rec.Host, err)
	}
	return st, true, nil
}

// RecordMetrics stores a round of samples with the rollups, in a
// transaction that first runs guard.
func (y *System) RecordMetrics(ctx context.Context, samples []store.MetricSample, guard Guard) error {
	if len(samples) == 0 {
		return nil
	}
	return y.s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := guard.check(ctx, tx); err != nil {
			return err
		}
		return tx.RecordMetrics(ctx, samples, MetricRollups)
	})
}

// PruneMetrics drops the history older than the retention, a page of
// subjects per transaction (each first runs guard); it returns the points
// deleted.
func (y *System) PruneMetrics(ctx context.Context, guard Guard) (int64, error) {
	before, forget := y.s.o.Metrics.Cutoffs(y.s.now())
	var total int64
	var after ovm.ID
	for {
		var next ovm.ID
		var n int64
		err := y.s.tx(ctx, func(ctx context.Context, tx store.Tx) error {
			if err := guard.check(ctx, tx); err != nil {
				return err
			}
			var err error
			next, n, err = tx.PruneMetrics(ctx, before, forget, after, 0)
			return err
		})
		if err != nil {
			return total, err
		}
		if next == "" {
			return total, nil
		}
		total += n
		after = next
	}
}

// LatestMetrics returns the latest sample of every subject of kind taken
// at or after since (the /metrics gauges).
func (y *System) LatestMetrics(ctx context.Context, kind store.MetricKind, since time.Time) ([]store.MetricSample, error) {
	var out []store.MetricSample
	err := y.s.view(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		out, err = tx.LatestMetrics(ctx, kind, since)
		return err
	})
	return out, err
}
