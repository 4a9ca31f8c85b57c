//go:build integration

package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/internal/libvirthost"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/chef/cheftest"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
)

// TestChefAtCreateLibvirt creates a VM on the real libvirtd enrolled in the
// real Chef server (goiardi) at create: the node and its client are on
// goiardi with the run list, and the VM's NoCloud seed, on the host, holds
// the cloud-init chef settings and the private key whose public half the
// client on goiardi has. Nothing OVM answers or logs holds the key.
//
// Not covered here: the test guest's init does not run cloud-init (it is
// a busybox initramfs made by scripts/testenv.d/30-libvirt.sh), and the
// libvirt driver has no exec facet yet, so the VM is not converged.
func TestChefAtCreateLibvirt(t *testing.T) {
	uri, template, opts := libvirtTestHost(t)
	lh := libvirthost.Dial(t, uri, opts)
	srv := cheftest.FromEnv(t)
	e := newEnv(t, openSQLite(t))
	drivers.RegisterEngines(e.reg, drivers.EngineOptions{TempDir: t.TempDir()})
	pl := e.setupPlatform(0)
	e.must(http.StatusCreated, "POST", "/v1/hosts", e.admin, map[string]any{"name": "kvm1", "kind": "kvm", "endpoint": uri,
		"poolId": pl.pool, "options": opts})
	tn := e.newTenant("acme", pl.pool, quota)
	book := "ovmkvm" + string(ovm.NewID().Short())
	srv.UploadCookbook(t, book, "1.0.0", map[string]string{"default": "true\n"})
	var cs apitypes.ChefServer
	e.must(http.StatusCreated, "POST", "/v1/chef/servers", e.admin, map[string]any{"name": "chef1", "url": srv.URL,
		"clientName": srv.ClientName, "key": string(srv.Key), "guestUrl": "http://chef.guests.example/"}).decode(t, &cs)

	vm := func(name string, chef map[string]any) map[string]any {
		return map[string]any{"name": name, "start": true, "chef": chef,
			"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 128 << 20,
				"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)}}}
	}
	p := problemOf(t, e.must(http.StatusUnprocessableEntity, "POST", "/v1/instances", tn.token,
		vm("vm-bad", map[string]any{"serverId": cs.ID, "runList": []string{"recipe[nonesuch]"}})))
	assert.Contains(t, fieldLocations(p), "body.chef.runList[0]")

	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token,
		vm("vm1", map[string]any{"serverId": cs.ID, "runList": []string{"recipe[" + book + "]"}})).decode(t, &it)
	id := it.Instance.ID
	t.Cleanup(func() {
		lh.RemoveDomain("vm1-" + string(id.Short()))
		lh.RemoveVolumes(id)
		_ = srv.Admin.Nodes.Delete(string(id))
		_ = srv.Admin.Clients.Delete(string(id))
	})
	done := e.waitTask(tn.token, it.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, done.State, "create task: %+v", done)
	st, _ := lh.State(t, "vm1-"+string(id.Short()))
	assert.Equal(t, golibvirt.DomainRunning, st)
	var n apitypes.ChefNode
	require.Eventually(t, func() bool {
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(id)+"/chef", tn.token, nil).decode(t, &n)
		return n.State != apitypes.ChefNodeEnrolling
	}, time.Minute, 50*time.Millisecond)
	require.Equal(t, apitypes.ChefNodeEnrolled, n.State, "enrolment: %+v", n)

	node, err := srv.Admin.Nodes.Get(string(id))
	require.NoError(t, err, "the node on goiardi")
	assert.Equal(t, []string{"recipe[" + book + "]"}, node.RunList)

	// A VM is enrolled at create only: its driver has no exec facet.
	p = problemOf(t, e.must(http.StatusNotImplemented, "POST", "/v1/instances/"+string(id)+"/chef", tn.token, map[string]any{"serverId": cs.ID}))
	assert.Contains(t, p.Detail, "as it is created")

	// The seed the guest boots with.
	pool, err := lh.L.StoragePoolLookupByName(libvirthost.DiskPool)
	require.NoError(t, err)
	vol, err := lh.L.StorageVolLookupByName(pool, "ovm-"+string(id)+"-seed.iso")
	require.NoError(t, err, "the VM's seed volume")
	path, err := lh.L.StorageVolGetPath(vol)
	require.NoError(t, err)
	iso, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, want := range []string{"#cloud-config", `"node_name": "` + string(id) + `"`, `"server_url": "http://chef.guests.example/"`,
		`"run_list": [` + "\n" + `      "recipe[` + book + `]"`, `"path": "/etc/chef/client.pem"`, `"permissions": "0600"`} {
		assert.Contains(t, string(iso), want, "the seed's user-data")
	}
	// Its private key is the one whose public half the client on goiardi has.
	m := regexp.MustCompile(`"content": ("-----BEGIN RSA PRIVATE KEY-----[^"]*")`).FindSubmatch(iso)
	require.NotNil(t, m, "the key in the seed")
	text, err := strconv.Unquote(string(m[1]))
	require.NoError(t, err)
	block, _ := pem.Decode([]byte(text))
	require.NotNil(t, block)
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	require.NoError(t, err)
	client, err := srv.Admin.Clients.GetKey(string(id), "default")
	require.NoError(t, err, "the client's key on goiardi")
	pubBlock, _ := pem.Decode([]byte(client.PublicKey))
	require.NotNil(t, pubBlock)
	pub, err := x509.ParsePKIXPublicKey(pubBlock.Bytes)
	require.NoError(t, err)
	assert.True(t, key.PublicKey.Equal(pub), "the seed's key and the client's public key are one pair")

	// The guest's init reads the seed: it prints the user-data it finds on
	// its serial console.
	srvHTTP := httptest.NewServer(e.h)
	t.Cleanup(srvHTTP.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srvHTTP.URL+"/v1/instances/"+string(id)+"/console?follow=true&maxSeconds=170", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tn.token)
	res, err := srvHTTP.Client().Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	seedLine := regexp.MustCompile(`^OVM-SEED-USER\s+"node_name": "` + string(id) + `"`)
	var seen []string
	read := false
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		seen = append(seen, line)
		if seedLine.MatchString(line) {
			read = true
			break
		}
	}
	cancel()
	_ = res.Body.Close()
	require.True(t, read, "the guest printed the chef settings of its seed; got %q", seen[max(0, len(seen)-10):])

	// Nothing OVM shows holds it.
	var inst ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(id), tn.token, nil).decode(t, &inst)
	assert.Empty(t, inst.Spec.UserData, "the instance's spec keeps no user-data")
	var tasks core.Page[ovm.Task]
	body := e.must(http.StatusOK, "GET", "/v1/tasks", e.admin, nil).body
	require.NoError(t, json.Unmarshal(body, &tasks))
	assert.False(t, bytes.Contains(body, []byte("PRIVATE KEY")), "task logs hold no key")

	// Deleting the VM removes its node and client.
	var del core.InstanceTask
	e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(id), tn.token, nil).decode(t, &del)
	require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, del.Task.ID).State)
	_, err = srv.Admin.Nodes.Get(string(id))
	assert.Error(t, err, "node gone")
	_, err = srv.Admin.Clients.Get(string(id))
	assert.Error(t, err, "client gone")
}
