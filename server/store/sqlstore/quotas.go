package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/openovm/ovm/ovm"
)

// quotaColumns pairs each quota component with its columns, in the order
// of the arguments Reserve passes.
var quotaColumns = []string{"cpu", "memory", "disk", "instances", "networks"}

func components(q ovm.Quota) []int64 {
	return []int64{int64(q.CPU), int64(q.Memory), int64(q.Disk), q.Instances, q.Networks}
}

// SetQuota sets the VDC's limits, keeping its usage (zero for a new row).
// Limits below the current usage are allowed: nothing more is admitted
// until usage drops under them.
func (t *tx) SetQuota(ctx context.Context, vdcID ovm.ID, q ovm.Quota) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if !vdcID.Valid() {
		return ovm.Invalid("invalid quota", ovm.FieldError{Field: "vdcId", Reason: "must be a lower-case UUID", Value: vdcID})
	}
	args := []any{string(vdcID)}
	for _, v := range components(q) {
		args = append(args, v)
	}
	_, err := t.exec(ctx, `INSERT INTO quotas (vdc_id, limit_cpu, limit_memory, limit_disk, limit_instances, limit_networks, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, {now})
		ON CONFLICT (vdc_id) DO UPDATE SET limit_cpu = excluded.limit_cpu, limit_memory = excluded.limit_memory,
			limit_disk = excluded.limit_disk, limit_instances = excluded.limit_instances,
			limit_networks = excluded.limit_networks, updated_at = excluded.updated_at`, args...)
	if err != nil {
		return fmt.Errorf("store: set the quota of vdc %s: %w", vdcID, err)
	}
	return nil
}

// Quota returns the VDC's limits and usage.
func (t *tx) Quota(ctx context.Context, vdcID ovm.ID) (ovm.Quota, ovm.Usage, error) {
	var q ovm.Quota
	var u ovm.Usage
	err := t.scan(ctx, `SELECT limit_cpu, limit_memory, limit_disk, limit_instances, limit_networks,
			used_cpu, used_memory, used_disk, used_instances, used_networks
		FROM quotas WHERE vdc_id = $1`, []any{string(vdcID)},
		&q.CPU, &q.Memory, &q.Disk, &q.Instances, &q.Networks,
		&u.CPU, &u.Memory, &u.Disk, &u.Instances, &u.Networks)
	switch {
	case isNoRows(err):
		return ovm.Quota{}, ovm.Usage{}, notFound("quota of vdc", vdcID)
	case err != nil:
		return ovm.Quota{}, ovm.Usage{}, fmt.Errorf("store: read the quota of vdc %s: %w", vdcID, err)
	}
	return q, u, nil
}

// Reserve adds delta to the VDC's usage in one guarded UPDATE: each
// positive component must stay within its limit (the WHERE clause), so
// concurrent reservations can never exceed the quota. Negative components
// release, and a release never takes usage below zero (a release run
// twice is harmless). When the guard fails Reserve reads the row to name
// every resource that would overflow.
func (t *tx) Reserve(ctx context.Context, vdcID ovm.ID, delta ovm.Usage) error {
	deltas := components(delta)
	args := make([]any, 0, len(deltas)+1)
	set := make([]string, 0, len(deltas)+1)
	conds := []string{"vdc_id = $" + strconv.Itoa(len(deltas)+1)}
	for i, col := range quotaColumns {
		p := "$" + strconv.Itoa(i+1)
		args = append(args, deltas[i])
		used := "used_" + col
		set = append(set, used+" = CASE WHEN "+used+" + "+p+" < 0 THEN 0 ELSE "+used+" + "+p+" END")
		if deltas[i] > 0 {
			conds = append(conds, used+" + "+p+" <= limit_"+col)
		}
	}
	args = append(args, string(vdcID))
	set = append(set, "updated_at = {now}")
	n, err := t.exec(ctx, `UPDATE quotas SET `+strings.Join(set, ", ")+` WHERE `+strings.Join(conds, " AND "), args...)
	if err != nil {
		return fmt.Errorf("store: reserve quota in vdc %s: %w", vdcID, err)
	}
	if n == 1 {
		return nil
	}
	q, used, err := t.Quota(ctx, vdcID)
	if err != nil {
		return err
	}
	if err := q.Admit(used, delta); err != nil {
		return fmt.Errorf("vdc %s: %w", vdcID, err)
	}
	// The guard failed but the row, read in the same transaction, admits
	// the delta: only a concurrent change can explain it.
	return withKind(ovm.KindQuotaExceeded, nil, "quota of vdc %s changed while reserving", vdcID)
}
