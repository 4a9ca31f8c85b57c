//go:build integration

package api

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"net"
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
)

// TestChefAtCreateLibvirt creates a VM on the real libvirtd enrolled in the
// real Chef server (goiardi) at create, boots it, and converges it through
// the QEMU guest agent:
//   - the node and its client are on goiardi with the run list, and the
//     VM's NoCloud seed holds the cloud-init chef settings and the private
//     key whose public half the client on goiardi has;
//   - the guest's init reads the seed and, standing in for cloud-init's
//     chef module, writes the key and client.rb and converges once at
//     first boot over the VM's network (an OVM network: a libvirt network
//     whose gateway relays to goiardi);
//   - "install X" converges it again through the exec facet (guest-exec of
//     the real qemu-ga in the guest); the recipes' files are read back
//     through the exec API, the node's converge from goiardi;
//   - enrolling it again delivers a new key through the guest agent;
//   - deleting the VM removes its node and client.
//
// The guest runs the converge stand-in (cheftest/convergeagent, appended to
// the test guest's initramfs) for chef-client, which cannot be installed
// here; everything OVM does talks to the real goiardi and libvirtd.
func TestChefAtCreateLibvirt(t *testing.T) {
	uri, template, opts := libvirtTestHost(t)
	opts["initrd"] = cheftest.AgentInitrd(t, opts["initrd"], opts["disks"])
	srv := cheftest.FromEnv(t)
	e, lh, tn, other := kvmHostWith(t, uri, opts)
	book := "ovmkvm" + string(ovm.NewID().Short())
	srv.UploadCookbook(t, book, "1.0.0", chefScripts)

	// The VM's network, and the address the guest reaches goiardi at: a
	// relay on the network's gateway, started once the bridge exists.
	var nw ovm.Network
	e.must(http.StatusCreated, "POST", "/v1/networks", tn.token, map[string]any{"name": "chefnet",
		"subnet": fmt.Sprintf("10.%d.%d.0/24", 100+rand.IntN(100), rand.IntN(250))}).decode(t, &nw)
	t.Cleanup(func() { lh.RemoveNetwork(nw.ID) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, port, _ := net.SplitHostPort(l.Addr().String())
	require.NoError(t, l.Close())
	relay := net.JoinHostPort(nw.Gateway.String(), port)
	var cs apitypes.ChefServer
	e.must(http.StatusCreated, "POST", "/v1/chef/servers", e.admin, map[string]any{"name": "chef1", "url": srv.URL,
		"clientName": srv.ClientName, "key": string(srv.Key), "guestUrl": "http://" + relay + "/",
		"convergeCommand": []string{cheftest.AgentPath}, "convergeTimeoutSeconds": 120}).decode(t, &cs)
	ce := &chefEnv{env: e, chef: srv, tn: tn, server: cs}

	vm := func(name string, chef map[string]any) map[string]any {
		return map[string]any{"name": name, "chef": chef,
			"spec": map[string]any{"type": "vm", "cpuMilli": 1000, "memoryBytes": 128 << 20,
				"image": map[string]string{"format": "qcow2", "name": filepath.Base(template)},
				"nics":  []map[string]any{{"networkId": nw.ID}}}}
	}
	p := problemOf(t, e.must(http.StatusUnprocessableEntity, "POST", "/v1/instances", tn.token,
		vm("vm-bad", map[string]any{"serverId": cs.ID, "runList": []string{"recipe[nonesuch]"}})))
	assert.Contains(t, fieldLocations(p), "body.chef.runList[0]")

	var it core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances", tn.token,
		vm("vm1", map[string]any{"serverId": cs.ID, "runList": []string{"recipe[" + book + "]"}})).decode(t, &it)
	id := it.Instance.ID
	domain := "vm1-" + string(id.Short())
	t.Cleanup(func() {
		lh.RemoveDomain(domain)
		lh.RemoveVolumes(id)
		_ = srv.Admin.Nodes.Delete(string(id))
		_ = srv.Admin.Clients.Delete(string(id))
	})
	done := ce.waitLong(tn.token, it.Task.ID)
	require.Equal(t, ovm.TaskSucceeded, done.State, "create task: %+v", done)
	var n apitypes.ChefNode
	require.Eventually(t, func() bool {
		e.must(http.StatusOK, "GET", "/v1/instances/"+string(id)+"/chef", tn.token, nil).decode(t, &n)
		return n.State != apitypes.ChefNodeEnrolling
	}, time.Minute, 50*time.Millisecond)
	require.Equal(t, apitypes.ChefNodeEnrolled, n.State, "enrolment: %+v", n)
	node, err := srv.Admin.Nodes.Get(string(id))
	require.NoError(t, err, "the node on goiardi")
	assert.Equal(t, []string{"recipe[" + book + "]"}, node.RunList)
	assert.Nil(t, node.AutomaticAttributes["ohai_time"], "not converged before it boots")

	t.Run("seed", func(t *testing.T) {
		pool, err := lh.L.StoragePoolLookupByName(libvirthost.DiskPool)
		require.NoError(t, err)
		vol, err := lh.L.StorageVolLookupByName(pool, "ovm-"+string(id)+"-seed.iso")
		require.NoError(t, err, "the VM's seed volume")
		path, err := lh.L.StorageVolGetPath(vol)
		require.NoError(t, err)
		iso, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, want := range []string{"#cloud-config", `"node_name": "` + string(id) + `"`, `"server_url": "http://` + relay + `/"`,
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
	})

	// Boot: the guest reads its seed and converges once, as cloud-init's
	// chef module would, through the relay.
	cheftest.ForwardAt(t, relay, strings.TrimSuffix(strings.TrimPrefix(srv.URL, "http://"), "/"))
	var st core.InstanceTask
	e.must(http.StatusAccepted, "POST", "/v1/instances/"+string(id)+"/start", tn.token, nil).decode(t, &st)
	require.Equal(t, ovm.TaskSucceeded, ce.waitLong(tn.token, st.Task.ID).State)
	state, _ := lh.State(t, domain)
	require.Equal(t, golibvirt.DomainRunning, state)
	// The guest gets the address IPAM chose by DHCP; the isolated libvirt
	// network hands out no router, so the default route the first-boot
	// converge waits for is added through the guest agent (the exec API).
	var inst ovm.Instance
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(id), tn.token, nil).decode(t, &inst)
	require.Len(t, inst.Spec.NICs, 1)
	ipRes := ce.sh(t, tn, id, fmt.Sprintf("for _ in $(seq 1 60); do ip -4 addr show dev eth0 | grep -q 'inet %[1]s/' && break; sleep 1; done; "+
		"ip -4 addr show dev eth0 | grep -q 'inet %[1]s/' && ip route add default via %[2]s", inst.Spec.NICs[0].IP, nw.Gateway))
	require.Equal(t, 0, ipRes.ExitCode, "the guest's DHCP address and its default route: %+v", ipRes)
	console := consoleLines(t, e, tn.token, id, regexp.MustCompile(`^OVM-CHEF-FIRSTBOOT`))
	if !assert.Contains(t, console, "OVM-CHEF-FIRSTBOOT 0", "the first-boot converge; the guest printed %q", console[max(0, len(console)-10):]) {
		diag := ce.sh(t, tn, id, "cat /run/ovm-chef-firstboot.log; ip addr; ip route; lsmod")
		t.Fatalf("the guest's converge log and network: %s %s", diag.Stdout, diag.Stderr)
	}
	assert.Contains(t, strings.Join(console, "\n"), `OVM-SEED-USER     "node_name": "`+string(id)+`"`, "the guest read its seed")
	node, err = srv.Admin.Nodes.Get(string(id))
	require.NoError(t, err)
	assert.NotNil(t, node.AutomaticAttributes["ohai_time"], "the first-boot converge saved the node")
	res := ce.sh(t, tn, id, "stat -c %a /etc/chef/client.pem; cat /tmp/ovm-chef-x")
	assert.Equal(t, core.ExecResult{Stdout: "600\ninstalled-by-chef\n"}, res, "the key and the first-boot recipe's file, read through the guest agent")

	t.Run("install X through the guest agent", func(t *testing.T) {
		run := ce.run(t, tn, map[string]any{"instanceIds": []ovm.ID{id}, "runList": []string{"recipe[" + book + "::web]"}})
		assert.Equal(t, apitypes.ChefRunSucceeded, run.State)
		r := resultOf(t, run, id)
		assert.Equal(t, apitypes.ChefSucceeded, r.Outcome, "result %+v", r)
		assert.Contains(t, r.Output, "Chef Client finished, 2 recipes run")
		assert.Equal(t, []string{"recipe[" + book + "]", "recipe[" + book + "::web]"}, r.RunList)
		require.NotNil(t, r.OhaiTime)
		assert.WithinDuration(t, time.Now(), *r.OhaiTime, 2*time.Minute)
		assert.Equal(t, "busybox", r.Automatic["platform"])
		assert.Equal(t, "web\n", ce.sh(t, tn, id, "cat /tmp/ovm-chef-web").Stdout, "the recipe's file")
		node, err := srv.Admin.Nodes.Get(string(id))
		require.NoError(t, err)
		assert.Equal(t, r.RunList, node.RunList, "run list on goiardi")
		assert.Equal(t, []any{book + "::default", book + "::web"}, node.AutomaticAttributes["recipes"])
	})

	t.Run("enrol again through the guest agent", func(t *testing.T) {
		before := ce.sh(t, tn, id, "md5sum /etc/chef/client.pem").Stdout
		e.must(http.StatusNotFound, "POST", "/v1/instances/"+string(id)+"/chef", other.token, map[string]any{"serverId": cs.ID})
		ce.enrol(t, tn, id, "recipe["+book+"]")
		after := ce.sh(t, tn, id, "md5sum /etc/chef/client.pem; cat /etc/chef/client.rb")
		assert.NotEqual(t, before, after.Stdout[:len(before)], "a new key was delivered")
		assert.Contains(t, after.Stdout, `node_name "`+string(id)+`"`)
		run := ce.run(t, tn, map[string]any{"instanceIds": []ovm.ID{id}})
		assert.Equal(t, apitypes.ChefSucceeded, resultOf(t, run, id).Outcome, "a converge with the new key: %+v", run)
	})

	// Nothing OVM shows holds the key.
	e.must(http.StatusOK, "GET", "/v1/instances/"+string(id), tn.token, nil).decode(t, &inst)
	assert.Empty(t, inst.Spec.UserData, "the instance's spec keeps no user-data")
	var tasks core.Page[ovm.Task]
	body := e.must(http.StatusOK, "GET", "/v1/tasks", e.admin, nil).body
	require.NoError(t, json.Unmarshal(body, &tasks))
	assert.NotContains(t, string(body), "PRIVATE KEY", "task logs hold no key")

	// Deleting the VM removes its node and client.
	var del core.InstanceTask
	e.must(http.StatusAccepted, "DELETE", "/v1/instances/"+string(id), tn.token, nil).decode(t, &del)
	require.Equal(t, ovm.TaskSucceeded, ce.waitLong(tn.token, del.Task.ID).State)
	_, err = srv.Admin.Nodes.Get(string(id))
	assert.Error(t, err, "node gone")
	_, err = srv.Admin.Clients.Get(string(id))
	assert.Error(t, err, "client gone")
}

// consoleLines follows an instance's console through the API until a line
// matches until (or three minutes pass) and returns the lines read.
func consoleLines(t *testing.T, e *env, token string, id ovm.ID, until *regexp.Regexp) []string {
	t.Helper()
	srv := httptest.NewServer(e.h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/instances/"+string(id)+"/console?follow=true&maxSeconds=170", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	var seen []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		seen = append(seen, line)
		if until.MatchString(line) {
			break
		}
	}
	return seen
}
