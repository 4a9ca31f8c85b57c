package api

import (
	"context"
	"net/http"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// importTask waits for the instance.import task of an imported instance
// (a platform task: administrators see it) and returns it once final.
func (e *env) importTask(inst ovm.ID) ovm.Task {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var page core.Page[ovm.Task]
		e.must(http.StatusOK, "GET", "/v1/tasks?limit=1000", e.admin, nil).decode(e.t, &page)
		for _, t := range page.Items {
			if t.Kind == core.TaskInstanceImport && t.TargetID == inst {
				return e.waitTask(e.admin, t.ID)
			}
		}
		require.True(e.t, time.Now().Before(deadline), "no import task of instance %s after 30s", inst)
		time.Sleep(10 * time.Millisecond)
	}
}

// usage is a VDC's live quota usage.
func (e *env) usage(vdc ovm.ID) ovm.Usage {
	e.t.Helper()
	var u Usage
	e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(vdc)+"/usage", e.admin, nil).decode(e.t, &u)
	return u.Usage
}

// syncNatives syncs a host and returns the native ids it lists as
// discovered, and those of GET /v1/discovered on that host.
func (e *env) syncNatives(host ovm.ID) (synced, listed map[string]bool) {
	e.t.Helper()
	var ds []core.Discovered
	e.must(http.StatusOK, "POST", "/v1/hosts/"+string(host)+"/sync", e.admin, nil).decode(e.t, &ds)
	synced = map[string]bool{}
	for _, d := range ds {
		synced[d.NativeID] = true
	}
	var page core.Page[core.Discovered]
	e.must(http.StatusOK, "GET", "/v1/discovered?limit=1000", e.admin, nil).decode(e.t, &page)
	listed = map[string]bool{}
	for _, d := range page.Items {
		if d.HostID == host {
			listed[d.NativeID] = true
		}
	}
	return synced, listed
}

// discoveredOf returns the discovered object of a host with a native id,
// after a sync.
func (e *env) discoveredOf(host ovm.ID, native string) core.Discovered {
	e.t.Helper()
	var ds []core.Discovered
	e.must(http.StatusOK, "POST", "/v1/hosts/"+string(host)+"/sync", e.admin, nil).decode(e.t, &ds)
	for _, d := range ds {
		if d.NativeID == native {
			return d
		}
	}
	require.Failf(e.t, "not discovered", "host %s: sync lists no %s among %+v", host, native, ds)
	return core.Discovered{}
}

// staleDiscovered records, straight in the store, a discovered object for
// an object that an instance already holds: a record such as a sync that
// raced the import, or a server of before claims, could have left. An
// import of it must be refused by the store's claim of the object.
func (e *env) staleDiscovered(d core.Discovered) ovm.ID {
	e.t.Helper()
	d.ID = ovm.NewID()
	r, err := store.NewRecord(store.KindDiscovered, d.ID, "", string(d.ID), d)
	require.NoError(e.t, err)
	r.ParentID, r.HostID = d.HostID, d.HostID
	require.NoError(e.t, e.st.Tx(context.Background(), func(ctx context.Context, tx store.Tx) error { return tx.Insert(ctx, &r) }))
	return d.ID
}
