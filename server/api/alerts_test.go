package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// TestAlerts: administrators list, get and acknowledge the alerts the host
// monitor raised, page by page; a tenant gets 403 on the list and 404 on
// each alert, and changes nothing.
func TestAlerts(t *testing.T) {
	e := newEnv(t, openSQLite(t))
	pl := e.setupPlatform(3)
	b := e.newTenant("vdc-b", pl.pool, quota)
	var raised []core.Alert
	for i, h := range pl.hosts {
		a, err := core.NewSystem(e.svc).RaiseAlert(t.Context(), ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: h, Instances: []ovm.ID{ovm.NewID()},
			Message: "no fence confirmed that the host is down"}, nil)
		require.NoError(t, err, "raise alert %d", i)
		raised = append(raised, a)
	}
	// Raised again while open: the same alert counts up.
	again, err := core.NewSystem(e.svc).RaiseAlert(t.Context(), ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: pl.hosts[0], Message: "still no fence"}, nil)
	require.NoError(t, err)
	require.Equal(t, raised[0].ID, again.ID, "the same open alert raised again")

	t.Run("list pages", func(t *testing.T) {
		var first core.Page[core.Alert]
		r := e.must(http.StatusOK, "GET", "/v1/alerts?limit=2", e.admin, nil)
		r.decode(t, &first)
		require.Len(t, first.Items, 2, "first page")
		require.NotEmpty(t, first.Next, "cursor of the first page")
		assert.Contains(t, r.header.Get("Link"), `rel="next"`, "Link header of the first page")
		var second core.Page[core.Alert]
		e.must(http.StatusOK, "GET", "/v1/alerts?limit=2&cursor="+first.Next, e.admin, nil).decode(t, &second)
		require.Len(t, second.Items, 1, "second page")
		assert.Empty(t, second.Next, "cursor after the last page")
		got := map[ovm.ID]core.Alert{}
		for _, a := range append(first.Items, second.Items...) {
			got[a.ID] = a
		}
		require.Len(t, got, len(raised), "alerts listed")
		for _, a := range raised {
			require.Contains(t, got, a.ID)
			assert.Equal(t, ha.AlertFenceUnconfirmed, got[a.ID].Kind)
			assert.True(t, got[a.ID].Open(), "alert %s before any ack", a.ID)
		}
		assert.Equal(t, 2, got[raised[0].ID].Count, "count of the alert raised twice")
		assert.Equal(t, "still no fence", got[raised[0].ID].Message, "message of the alert raised twice")
	})

	path := "/v1/alerts/" + string(raised[1].ID)
	t.Run("tenant", func(t *testing.T) {
		for _, c := range []struct {
			method, path string
			want         int
		}{
			{"GET", "/v1/alerts", http.StatusForbidden},
			{"GET", path, http.StatusNotFound},
			{"POST", path + "/ack", http.StatusNotFound},
		} {
			got := e.do(c.method, c.path, b.token, nil)
			assert.Equal(t, c.want, got.status, "%s %s as a tenant: got %s", c.method, c.path, got)
			assert.NotContains(t, string(got.body), string(raised[1].HostID), "%s %s as a tenant shows the host", c.method, c.path)
		}
		var a core.Alert
		e.must(http.StatusOK, "GET", path, e.admin, nil).decode(t, &a)
		assert.True(t, a.Open(), "the alert after a tenant's ack")
	})

	t.Run("get and ack", func(t *testing.T) {
		var a core.Alert
		r := e.must(http.StatusOK, "GET", path, e.admin, nil)
		r.decode(t, &a)
		assert.Equal(t, raised[1].ID, a.ID)
		assert.Equal(t, raised[1].HostID, a.HostID)
		assert.Equal(t, raised[1].InstanceIDs, a.InstanceIDs)
		assert.NotEmpty(t, r.header.Get("ETag"), "ETag of an alert")

		var acked core.Alert
		r2 := e.must(http.StatusOK, "POST", path+"/ack", e.admin, nil)
		r2.decode(t, &acked)
		require.NotNil(t, acked.ResolvedAt, "resolved time after the ack")
		assert.Equal(t, "admin", acked.ResolvedBy, "who acknowledged it")
		assert.NotEqual(t, r.header.Get("ETag"), r2.header.Get("ETag"), "the ack changes the alert's version")

		// A second ack changes nothing.
		var twice core.Alert
		r3 := e.must(http.StatusOK, "POST", path+"/ack", e.admin, nil)
		r3.decode(t, &twice)
		assert.Equal(t, acked, twice, "a second ack")
		assert.Equal(t, r2.header.Get("ETag"), r3.header.Get("ETag"), "version after a second ack")

		// Raised again after the ack: a new alert.
		fresh, err := core.NewSystem(e.svc).RaiseAlert(t.Context(), ha.Alert{Kind: ha.AlertFenceUnconfirmed, Host: raised[1].HostID, Message: "again"}, nil)
		require.NoError(t, err)
		assert.NotEqual(t, raised[1].ID, fresh.ID, "an alert raised after its ack")
		assert.Equal(t, 1, fresh.Count)
	})

	t.Run("unknown ids", func(t *testing.T) {
		missing := "/v1/alerts/" + string(ovm.NewID())
		for _, c := range []struct {
			method, path string
			want         int
		}{
			{"GET", missing, http.StatusNotFound},
			{"POST", missing + "/ack", http.StatusNotFound},
			{"GET", "/v1/alerts/not-an-id", http.StatusUnprocessableEntity},
		} {
			got := e.do(c.method, c.path, e.admin, nil)
			assert.Equal(t, c.want, got.status, "%s %s: got %s", c.method, c.path, got)
		}
	})
}
