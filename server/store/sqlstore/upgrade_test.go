package sqlstore

import (
	"context"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/store"
)

// opener opens a store on one database, the same on every call.
type opener func(t *testing.T, opts ...Option) *Store

// schemaBefore returns how many migrations come before version v: the
// schema of the server released before v.
func schemaBefore(v int64) int {
	return slices.IndexFunc(migrations, func(m migration) bool { return m.version >= v })
}

// upgradeData is what an older server wrote.
type upgradeData struct {
	vdc, host, network ovm.ID
	records            []store.Record
	task               store.TaskRecord
	token              store.Token
}

// writeOld writes records of every kind the schema of n migrations holds
// and, when it has them, a quota, a token, a task, a host allocation, an
// address, an idempotency key and a pool cursor.
func writeOld(t *testing.T, s *Store, n int) upgradeData {
	t.Helper()
	d := upgradeData{vdc: ovm.NewID(), host: ovm.NewID(), network: ovm.NewID()}
	has := func(v int64) bool {
		return slices.ContainsFunc(migrations[:n], func(m migration) bool { return m.version == v })
	}
	require.NoError(t, s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		d.records = d.records[:0]
		for i, k := range []store.Kind{store.KindDatacenter, store.KindPool, store.KindHost, store.KindVDC, store.KindUser, store.KindInstance, store.KindNetwork} {
			vdc := ovm.ID("")
			if k == store.KindInstance || k == store.KindNetwork {
				vdc = d.vdc
			}
			r, err := store.NewRecord(k, ovm.NewID(), vdc, "old-"+string(k), map[string]any{"n": i, "kind": k})
			if err != nil {
				return err
			}
			r.HostID = d.host
			if err := tx.Insert(ctx, &r); err != nil {
				return err
			}
			d.records = append(d.records, r)
		}
		if has(6) {
			if err := tx.SetQuota(ctx, d.vdc, ovm.Quota{CPU: ovm.CPUs(8), Memory: 8 * ovm.GiB, Disk: ovm.TiB, Instances: 10, Networks: 2}); err != nil {
				return err
			}
			if err := tx.Reserve(ctx, d.vdc, ovm.Usage{CPU: ovm.CPUs(2), Instances: 1}); err != nil {
				return err
			}
		}
		if has(7) {
			if err := tx.Allocate(ctx, store.IPAllocation{NetworkID: d.network, IP: netip.MustParseAddr("10.0.0.5"), Owner: d.records[5].ID}); err != nil {
				return err
			}
		}
		if has(9) {
			d.token = store.Token{ID: ovm.NewID(), UserID: d.records[4].ID, Name: "old", Hash: []byte("hash-of-an-old-token"),
				ExpiresAt: time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond), CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
			if err := tx.CreateToken(ctx, d.token); err != nil {
				return err
			}
		}
		if has(12) {
			d.task = store.TaskRecord{Task: ovm.Task{ID: ovm.NewID(), Kind: "instance.create", VDCID: d.vdc, TargetID: d.records[5].ID,
				State: ovm.TaskPending}, HostID: d.host, Input: []byte(`{"old":true}`)}
			if err := tx.CreateTask(ctx, &d.task); err != nil {
				return err
			}
		}
		if has(16) {
			if err := tx.PutIdempotency(ctx, store.Idempotency{Scope: "old", Key: "k1", RequestHash: []byte("h"), Status: 201, Response: []byte(`{"id":1}`)}); err != nil {
				return err
			}
		}
		if has(17) {
			if err := tx.AllocateHost(ctx, d.host, store.HostAllocation{Resources: ovm.Resources{CPU: ovm.CPUs(2)}, Instances: 1}, ovm.Resources{}); err != nil {
				return err
			}
		}
		if has(19) {
			if err := tx.SetPoolCursor(ctx, d.records[1].ID, string(d.host)); err != nil {
				return err
			}
		}
		return nil
	}))
	return d
}

// readNew reads back with the current schema what writeOld wrote.
func readNew(t *testing.T, s *Store, d upgradeData, n int) {
	t.Helper()
	has := func(v int64) bool {
		return slices.ContainsFunc(migrations[:n], func(m migration) bool { return m.version == v })
	}
	// In a transaction rather than a view: a view may run its function
	// again, which the assertions inside would not survive.
	require.NoError(t, s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		for _, want := range d.records {
			got, err := tx.Get(ctx, want.Kind, want.ID)
			require.NoError(t, err, "%s %s after the upgrade", want.Kind, want.ID)
			assert.Equal(t, want.Name, got.Name)
			assert.Equal(t, want.VDCID, got.VDCID)
			assert.Equal(t, want.HostID, got.HostID)
			assert.Equal(t, want.Version, got.Version)
			assert.JSONEq(t, string(want.Data), string(got.Data))
		}
		if has(6) {
			q, u, err := tx.Quota(ctx, d.vdc)
			require.NoError(t, err)
			assert.Equal(t, int64(10), q.Instances)
			assert.Equal(t, int64(1), u.Instances)
		}
		if has(7) {
			as, err := tx.Allocations(ctx, d.network)
			require.NoError(t, err)
			require.Len(t, as, 1)
			assert.Equal(t, "10.0.0.5", as[0].IP.String())
		}
		if has(9) {
			tk, err := tx.TokenByHash(ctx, d.token.Hash)
			require.NoError(t, err)
			assert.Equal(t, d.token.ID, tk.ID)
			assert.Equal(t, d.token.ExpiresAt, tk.ExpiresAt)
		}
		if has(12) {
			tr, err := tx.GetTask(ctx, d.task.Task.ID)
			require.NoError(t, err)
			assert.Equal(t, d.task.Task.TargetID, tr.Task.TargetID)
			assert.JSONEq(t, `{"old":true}`, string(tr.Input))
		}
		if has(16) {
			i, err := tx.GetIdempotency(ctx, "old", "k1")
			require.NoError(t, err)
			assert.Equal(t, 201, i.Status)
		}
		if has(17) {
			a, err := tx.HostAllocations(ctx, []ovm.ID{d.host}, false)
			require.NoError(t, err)
			assert.Equal(t, ovm.CPUs(2), a[d.host].Resources.CPU)
		}
		if has(19) {
			c, err := tx.PoolCursor(ctx, d.records[1].ID)
			require.NoError(t, err)
			assert.Equal(t, string(d.host), c)
		}
		return nil
	}))
	// And what the new schema added works on the upgraded database.
	require.NoError(t, s.Tx(t.Context(), func(ctx context.Context, tx store.Tx) error {
		return tx.(store.AuditTx).AppendAudit(ctx, &store.AuditEvent{User: "admin", Operation: "upgrade-test", Outcome: "succeeded"})
	}))
	var applied int
	require.NoError(t, s.db.QueryRowContext(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&applied))
	assert.Equal(t, len(migrations), applied, "every migration applied")
}

// testUpgrades opens databases made by older schemas (the first n
// migrations), writes what those servers wrote, and opens them with the
// current code: everything reads back and the new tables work.
func testUpgrades(t *testing.T, database func(t *testing.T) opener) {
	for _, tc := range []struct {
		name string
		n    int
	}{
		{"records only", 5},
		{"before the audit trail", schemaBefore(80)},
		{"one migration short", len(migrations) - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Positive(t, tc.n)
			open := database(t)
			old := open(t, withSchemaOf(tc.n))
			d := writeOld(t, old, tc.n)
			require.NoError(t, old.Close())
			cur := open(t)
			readNew(t, cur, d, tc.n)
			require.NoError(t, cur.Close())
		})
	}
}

func TestUpgradeSQLite(t *testing.T) {
	testUpgrades(t, func(t *testing.T) opener {
		dir := t.TempDir()
		return func(t *testing.T, opts ...Option) *Store {
			s, err := OpenSQLite(context.Background(), dir, opts...)
			require.NoError(t, err)
			return s
		}
	})
}
