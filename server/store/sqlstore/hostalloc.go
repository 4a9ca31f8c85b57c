package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// hostResources are the columns of host_allocations AllocateHost changes,
// in the order of allocComponents.
var hostResources = []string{"cpu", "memory", "disk", "instances"}

func allocComponents(a store.HostAllocation) []int64 {
	return []int64{int64(a.Resources.CPU), int64(a.Resources.Memory), int64(a.Resources.Disk), a.Instances}
}

// AllocateHost adds delta to the host's row in one guarded upsert: the row
// is made at the first allocation, and an existing row changes only when
// no component falls below zero and no growing resource passes its limit.
// When the guard refuses, the row is read to say why. Group counts change
// with their own upserts; a group left with no member is deleted.
func (t *tx) AllocateHost(ctx context.Context, hostID ovm.ID, delta store.HostAllocation, limit ovm.Resources) error {
	if !hostID.Valid() {
		return ovm.Invalid("invalid host allocation", ovm.FieldError{Field: "hostId", Reason: "must be a lower-case UUID", Value: hostID})
	}
	d := allocComponents(delta)
	lim := []int64{int64(limit.CPU), int64(limit.Memory), int64(limit.Disk), 0}
	if slices.ContainsFunc(d, func(v int64) bool { return v != 0 }) {
		args := []any{string(hostID)}
		for _, v := range d {
			args = append(args, v)
		}
		set := make([]string, 0, len(d))
		conds := make([]string, 0, 2*len(d))
		for i, col := range hostResources {
			p := fmt.Sprintf("$%d", i+2)
			set = append(set, col+" = host_allocations."+col+" + "+p)
			conds = append(conds, "host_allocations."+col+" + "+p+" >= 0")
			if d[i] > 0 && lim[i] > 0 {
				args = append(args, lim[i])
				conds = append(conds, fmt.Sprintf("host_allocations.%s + %s <= $%d", col, p, len(args)))
			}
		}
		n, err := t.exec(ctx, `INSERT INTO host_allocations (host_id, cpu, memory, disk, instances)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (host_id) DO UPDATE SET `+strings.Join(set, ", ")+` WHERE `+strings.Join(conds, " AND "), args...)
		if err != nil {
			return fmt.Errorf("store: allocate on host %s: %w", hostID, err)
		}
		if n != 1 {
			return t.allocRefused(ctx, hostID, delta, limit)
		}
		if slices.ContainsFunc(d, func(v int64) bool { return v < 0 }) {
			// A new row made by a release: nothing was held.
			if err := t.checkNotNegative(ctx, hostID); err != nil {
				return err
			}
		}
	}
	groups := make([]ovm.ID, 0, len(delta.Groups))
	for g, n := range delta.Groups {
		if n != 0 {
			groups = append(groups, g)
		}
	}
	slices.Sort(groups) // one lock order for concurrent transactions
	for _, g := range groups {
		if err := t.allocGroup(ctx, hostID, g, delta.Groups[g]); err != nil {
			return err
		}
	}
	return nil
}

// allocGroup adds n members of group g on the host.
func (t *tx) allocGroup(ctx context.Context, hostID, g ovm.ID, n int64) error {
	c, err := t.exec(ctx, `INSERT INTO host_groups (host_id, group_id, members) VALUES ($1, $2, $3)
		ON CONFLICT (host_id, group_id) DO UPDATE SET members = host_groups.members + $3
		WHERE host_groups.members + $3 >= 0`, string(hostID), string(g), n)
	if err != nil {
		return fmt.Errorf("store: allocate group %s on host %s: %w", g, hostID, err)
	}
	if c != 1 || n < 0 {
		var left int64
		switch err := t.scan(ctx, `SELECT members FROM host_groups WHERE host_id = $1 AND group_id = $2`,
			[]any{string(hostID), string(g)}, &left); {
		case err != nil:
			return fmt.Errorf("store: read group %s on host %s: %w", g, hostID, err)
		case left < 0 || c != 1:
			return withKind(ovm.KindInternal, nil, "host %s has fewer than %d members of group %s to release", hostID, -n, g)
		case left == 0:
			if _, err := t.exec(ctx, `DELETE FROM host_groups WHERE host_id = $1 AND group_id = $2 AND members = 0`,
				string(hostID), string(g)); err != nil {
				return fmt.Errorf("store: release group %s on host %s: %w", g, hostID, err)
			}
		}
	}
	return nil
}

// checkNotNegative refuses a row that a release made from nothing.
func (t *tx) checkNotNegative(ctx context.Context, hostID ovm.ID) error {
	got, err := t.HostAllocations(ctx, []ovm.ID{hostID}, false)
	if err != nil {
		return err
	}
	a := got[hostID]
	if a.Resources.CPU < 0 || a.Resources.Memory < 0 || a.Resources.Disk < 0 || a.Instances < 0 {
		return withKind(ovm.KindInternal, nil, "host %s released what it did not hold", hostID)
	}
	return nil
}

// allocRefused explains why the guard of AllocateHost refused delta.
func (t *tx) allocRefused(ctx context.Context, hostID ovm.ID, delta store.HostAllocation, limit ovm.Resources) error {
	got, err := t.HostAllocations(ctx, []ovm.ID{hostID}, false)
	if err != nil {
		return err
	}
	have := got[hostID]
	after := have.Resources.Add(delta.Resources)
	if after.CPU < 0 || after.Memory < 0 || after.Disk < 0 || have.Instances+delta.Instances < 0 {
		return withKind(ovm.KindInternal, nil, "host %s holds %s, cannot release %s", hostID, have.Resources, ovm.Resources{}.Sub(delta.Resources))
	}
	var short []string
	for _, c := range []struct {
		name             string
		after, lim, grow int64
	}{
		{"cpuMilli", int64(after.CPU), int64(limit.CPU), int64(delta.Resources.CPU)},
		{"memoryBytes", int64(after.Memory), int64(limit.Memory), int64(delta.Resources.Memory)},
		{"diskBytes", int64(after.Disk), int64(limit.Disk), int64(delta.Resources.Disk)},
	} {
		if c.grow > 0 && c.lim > 0 && c.after > c.lim {
			short = append(short, c.name)
		}
	}
	return withKind(ovm.KindQuotaExceeded, nil, "host %s has no room for %s (%s)", hostID, delta.Resources, strings.Join(short, ", "))
}

// HostAllocations reads the allocation rows of the hosts, and their groups
// when asked.
func (t *tx) HostAllocations(ctx context.Context, hostIDs []ovm.ID, groups bool) (map[ovm.ID]store.HostAllocation, error) {
	out := make(map[ovm.ID]store.HostAllocation, len(hostIDs))
	if len(hostIDs) == 0 {
		return out, nil
	}
	args := make([]any, len(hostIDs))
	for i, id := range hostIDs {
		args[i] = string(id)
	}
	in := params(1, len(args))
	type row struct {
		id ovm.ID
		a  store.HostAllocation
	}
	rows, err := collect(ctx, t, func(r rowScanner) (row, error) {
		var x row
		var id string
		err := r.Scan(&id, &x.a.Resources.CPU, &x.a.Resources.Memory, &x.a.Resources.Disk, &x.a.Instances)
		x.id = ovm.ID(id)
		return x, err
	}, `SELECT host_id, cpu, memory, disk, instances FROM host_allocations WHERE host_id IN (`+in+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read host allocations: %w", err)
	}
	for _, r := range rows {
		out[r.id] = r.a
	}
	if !groups {
		return out, nil
	}
	type member struct {
		host, group ovm.ID
		n           int64
	}
	ms, err := collect(ctx, t, func(r rowScanner) (member, error) {
		var h, g string
		var m member
		err := r.Scan(&h, &g, &m.n)
		m.host, m.group = ovm.ID(h), ovm.ID(g)
		return m, err
	}, `SELECT host_id, group_id, members FROM host_groups WHERE host_id IN (`+in+`) AND members > 0`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: read host groups: %w", err)
	}
	for _, m := range ms {
		a := out[m.host]
		if a.Groups == nil {
			a.Groups = map[ovm.ID]int64{}
		}
		a.Groups[m.group] = m.n
		out[m.host] = a
	}
	return out, nil
}

// DeleteHostAllocation removes a host's allocation and groups.
func (t *tx) DeleteHostAllocation(ctx context.Context, hostID ovm.ID) error {
	if _, err := t.exec(ctx, `DELETE FROM host_allocations WHERE host_id = $1`, string(hostID)); err != nil {
		return fmt.Errorf("store: delete the allocation of host %s: %w", hostID, err)
	}
	if _, err := t.exec(ctx, `DELETE FROM host_groups WHERE host_id = $1`, string(hostID)); err != nil {
		return fmt.Errorf("store: delete the groups of host %s: %w", hostID, err)
	}
	return nil
}

// PoolCursor returns the pool's round-robin cursor, "" when it has none.
// It reads the database's clock in the same statement: the placing
// transaction that reads a cursor records a task next, which needs it.
func (t *tx) PoolCursor(ctx context.Context, poolID ovm.ID) (string, error) {
	var c sql.NullString
	var now time.Time
	if err := t.scan(ctx, `SELECT (SELECT last_host FROM pool_cursors WHERE pool_id = $1), {now}`,
		[]any{string(poolID)}, &c, timeValue{&now}); err != nil {
		return "", fmt.Errorf("store: read the cursor of pool %s: %w", poolID, err)
	}
	t.sawNow(now)
	return c.String, nil
}

// SetPoolCursor stores the pool's round-robin cursor.
func (t *tx) SetPoolCursor(ctx context.Context, poolID ovm.ID, cursor string) error {
	if !poolID.Valid() {
		return ovm.Invalid("invalid cursor", ovm.FieldError{Field: "poolId", Reason: "must be a lower-case UUID", Value: poolID})
	}
	if _, err := t.exec(ctx, `INSERT INTO pool_cursors (pool_id, last_host) VALUES ($1, $2)
		ON CONFLICT (pool_id) DO UPDATE SET last_host = excluded.last_host`, string(poolID), cursor); err != nil {
		return fmt.Errorf("store: set the cursor of pool %s: %w", poolID, err)
	}
	return nil
}
