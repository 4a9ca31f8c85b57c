//go:build integration

package api

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/fence/ipmi"
	"github.com/openovm/ovm/server/store"
)

// readPowerFile reads the simulated machine's power switch.
func readPowerFile(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(os.Getenv("OVM_TEST_IPMI_STATE_FILE"))
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

// TestHostBMCOnIPMISim sets a host's BMC to the real BMC simulator of make
// testenv (ipmi_sim): the server checks it by reading the chassis power,
// refuses a wrong password naming the field and an unreachable BMC as
// unavailable, and never returns the password (nor keeps it in clear).
func TestHostBMCOnIPMISim(t *testing.T) {
	addr := os.Getenv("OVM_TEST_IPMI_ADDR")
	require.NotEmpty(t, addr, "OVM_TEST_IPMI_ADDR is not set: run make testenv and source .testenv")
	port, err := strconv.Atoi(os.Getenv("OVM_TEST_IPMI_PORT"))
	require.NoError(t, err)
	user, pw := os.Getenv("OVM_TEST_IPMI_USER"), os.Getenv("OVM_TEST_IPMI_PASSWORD")

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
	bmc, err := ipmi.New(ipmi.Config{Address: addr, Port: port, Username: user, Password: pw})
	require.NoError(t, err)
	t.Cleanup(func() { _ = bmc.PowerOn(context.Background()) })
	require.NoError(t, bmc.Fence(t.Context(), 5*time.Second))
	require.Equal(t, "power:0", readPowerFile(t))
	r = e.must(http.StatusOK, "POST", hostPath+"/bmc/power-on", e.admin, nil)
	r.decode(t, &h)
	assert.Equal(t, ovm.ChassisOn, h.BMC.Power)
	assert.Equal(t, "power:1", readPowerFile(t), "the chassis switch is on again")
	assert.NotContains(t, string(r.body), pw)

	e.must(http.StatusNoContent, "DELETE", hostPath+"/bmc", e.admin, nil)
	r = e.must(http.StatusOK, "GET", hostPath, e.admin, nil)
	assert.NotContains(t, string(r.body), `"bmc"`)
}
