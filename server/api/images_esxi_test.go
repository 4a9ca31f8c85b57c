package api

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/internal/esxisim"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/drivers"
)

// TestImageDeliveryESXi: a VMDK of the catalog (a hosted, sparse one, as
// qemu-img and Workstation make them) reaches a simulated ESXi host as the
// flat VMDK ESXi keeps, through the datastore upload of the driver; a VM
// made from it is created, and a second VM finds it there by digest.
func TestImageDeliveryESXi(t *testing.T) {
	sim := esxisim.Start(t, esxiUser, esxiPassword)
	e := newEnv(t, openSQLite(t), withLibrary(t, nil))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, esxiHostBody("esxi1", sim.Endpoint(), pl.pool,
		map[string]string{"username": esxiUser, "password": esxiPassword, "thumbprint": sim.Thumbprint},
		map[string]string{"imageLibrary": "[LocalDS_0] ovm-templates"}))
	tn := e.newTenant("acme", pl.pool, quota)

	src := filepath.Join(t.TempDir(), "small.vmdk")
	out, err := exec.Command("qemu-img", "create", "-f", "vmdk", src, "4M").CombinedOutput()
	require.NoError(t, err, "qemu-img create: %s", out)
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	img := e.createImage(e.admin, map[string]any{"name": "small.vmdk", "format": "vmdk", "size": len(data), "digest": hypervisor.DigestOf(data)})
	e.must(http.StatusOK, "PUT", "/v1/images/"+string(img.ID)+"/content", e.admin, data, "Content-Type", "application/octet-stream")
	ref := map[string]string{"format": "vmdk", "name": "small.vmdk"}

	first := e.createVM(tn.token, "v1", ref)
	require.Equal(t, ovm.TaskSucceeded, first.State, "create: %s %+v", first.Error, first.Log)
	assert.True(t, logHas(first, "delivering template small.vmdk (4194304 bytes)"), "the flat disk's size is delivered: %+v", first.Log)
	second := e.createVM(tn.token, "v2", ref)
	require.Equal(t, ovm.TaskSucceeded, second.State, "create: %s", second.Error)
	assert.True(t, logHas(second, "is on host"), "the second create finds the template by digest: %+v", second.Log)
	for _, name := range []string{"v1", "v2"} {
		found := false
		for n := range sim.VMs(t) {
			found = found || len(n) > len(name) && n[:len(name)+1] == name+"-"
		}
		assert.True(t, found, "VM %s on the host", name)
	}
}
