//go:build integration

package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/fence/ipmi"
	"github.com/openovm/ovm/server/fence/ipmi/ipmitest"
	"github.com/openovm/ovm/server/store"
)

// TestHostBMCOnIPMISim sets a host's BMC to the real BMC simulator of make
// testenv (ipmi_sim): the server checks it by reading the chassis power,
// refuses a wrong password naming the field and an unreachable BMC as
// unavailable, and never returns the password (nor keeps it in clear).
func TestHostBMCOnIPMISim(t *testing.T) {
	cfg, state := ipmitest.Sim(t)
	addr, port, user, pw := cfg.Address, cfg.Port, cfg.Username, cfg.Password

	e := newEnv(t, openSQLite(t))
	p := e.setupPlatform(1)
	hostPath := "/v1/hosts/" + string(p.hosts[0])

	r := e.must(http.StatusUnprocessableEntity, "PUT", hostPath+"/bmc", e.admin,
		map[string]any{"address": addr, "port": port, "username": user, "password": "not-" + pw})
	assert.Contains(t, string(r.body), "password", "the problem names the refused field")
	assert.Contains(t, string(r.body), "RAKP", "the BMC's own words")
	assert.NotContains(t, string(r.body), "not-"+pw)

	r = e.must(http.StatusServiceUnavailable, "PUT", hostPath+"/bmc", e.admin,
		map[string]any{"address": addr, "port": 9, "username": user, "password": pw})
	assert.Contains(t, string(r.body), addr+":9")

	var h ovm.Host
	r = e.must(http.StatusOK, "PUT", hostPath+"/bmc", e.admin, map[string]any{"address": addr, "port": port, "username": user, "password": pw})
	r.decode(t, &h)
	require.NotNil(t, h.BMC)
	assert.Equal(t, ovm.HostBMC{Address: addr, Port: port, Username: user, Power: ovm.ChassisOn, CheckedAt: h.BMC.CheckedAt}, *h.BMC)
	assert.NotContains(t, string(r.body), pw, "the password is never returned")
	assert.NotEmpty(t, r.header.Get("ETag"))

	for _, path := range []string{hostPath, "/v1/hosts"} {
		r = e.must(http.StatusOK, "GET", path, e.admin, nil)
		assert.Contains(t, string(r.body), `"bmc":{`, "GET %s shows the BMC", path)
		assert.NotContains(t, string(r.body), pw, "GET %s never returns the password", path)
	}
	// At rest the password is sealed.
	require.NoError(t, e.st.View(context.Background(), func(ctx context.Context, tx store.Tx) error {
		rec, err := tx.Get(ctx, store.KindHost, p.hosts[0])
		require.NoError(t, err)
		assert.NotContains(t, string(rec.Data), pw, "the stored host record keeps the password sealed")
		return nil
	}))

	// A fenced machine is brought back through the API.
	bmc, err := ipmi.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = bmc.PowerOn(context.Background()) })
	require.NoError(t, bmc.Fence(t.Context(), 5*time.Second))
	require.Equal(t, "power:0", ipmitest.Power(t, state))
	r = e.must(http.StatusOK, "POST", hostPath+"/bmc/power-on", e.admin, nil)
	r.decode(t, &h)
	assert.Equal(t, ovm.ChassisOn, h.BMC.Power)
	assert.Equal(t, "power:1", ipmitest.Power(t, state), "the chassis switch is on again")
	assert.NotContains(t, string(r.body), pw)

	e.must(http.StatusNoContent, "DELETE", hostPath+"/bmc", e.admin, nil)
	r = e.must(http.StatusOK, "GET", hostPath, e.admin, nil)
	assert.NotContains(t, string(r.body), `"bmc"`)
}
