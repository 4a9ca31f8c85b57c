//go:build integration

package chef_test

import (
	"net"
	"testing"

	gochef "github.com/go-chef/chef"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/chef"
	"github.com/openovm/ovm/server/chef/cheftest"
)

// TestCheckGoiardi checks connections to the real Chef server: a good
// client answers; a wrong client name, a wrong key and a closed port are
// unavailable with the server's (or the network's) own words.
func TestCheckGoiardi(t *testing.T) {
	srv := cheftest.FromEnv(t)
	other, err := chef.NewKeyPair()
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + l.Addr().String() + "/"
	require.NoError(t, l.Close())
	for _, tt := range []struct {
		name string
		cfg  chef.Config
		kind ovm.Kind
		text string
	}{
		{"admin", chef.Config{URL: srv.URL, ClientName: srv.ClientName, Key: srv.Key}, 0, ""},
		{"unknown client", chef.Config{URL: srv.URL, ClientName: "nobody-here", Key: srv.Key}, ovm.KindUnavailable, "Failed to authenticate as 'nobody-here'"},
		{"wrong key", chef.Config{URL: srv.URL, ClientName: srv.ClientName, Key: other.Private}, ovm.KindUnavailable, "401"},
		{"closed port", chef.Config{URL: closed, ClientName: srv.ClientName, Key: srv.Key}, ovm.KindUnavailable, "connection refused"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := chef.Dial(tt.cfg)
			require.NoError(t, err)
			err = c.Check(t.Context())
			if tt.kind == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, tt.kind, ovm.KindOf(err), "kind of %v", err)
			assert.Contains(t, err.Error(), tt.text)
		})
	}
}

// TestCatalogAndNodesGoiardi reads a catalog with a cookbook of two
// versions, a role and an environment, checks run lists against it, and
// enrols, changes and unenrols a node whose client signs with the key made
// here.
func TestCatalogAndNodesGoiardi(t *testing.T) {
	srv := cheftest.FromEnv(t)
	suffix := string(ovm.NewID().Short())
	book := "ovmcat" + suffix
	srv.UploadCookbook(t, book, "1.2.0", map[string]string{"default": "true\n", "server": "true\n"})
	srv.UploadCookbook(t, book, "1.10.0", map[string]string{"default": "true\n"})
	role := "ovmrole" + suffix
	srv.CreateRole(t, role, "recipe["+book+"]")
	env := "ovmenv" + suffix
	srv.CreateEnvironment(t, env)

	c, err := chef.Dial(chef.Config{URL: srv.URL, ClientName: srv.ClientName, Key: srv.Key})
	require.NoError(t, err)
	cat, err := c.Catalog(t.Context())
	require.NoError(t, err)
	var cb *chef.Cookbook
	for i := range cat.Cookbooks {
		if cat.Cookbooks[i].Name == book {
			cb = &cat.Cookbooks[i]
		}
	}
	require.NotNil(t, cb, "cookbook %s in %+v", book, cat.Cookbooks)
	assert.Equal(t, []chef.CookbookVersion{{Version: "1.10.0", Recipes: []string{"default"}}, {Version: "1.2.0", Recipes: []string{"default", "server"}}}, cb.Versions)
	assert.Contains(t, cat.Roles, chef.Role{Name: role, Description: "test role " + role, RunList: []string{"recipe[" + book + "]"}})
	assert.Contains(t, cat.Environments, chef.Environment{Name: env, Description: "test environment " + env})

	for _, tt := range []struct {
		name    string
		entries []string
		field   string
		reason  string
	}{
		{"good", []string{"recipe[" + book + "]", book + "::server", "role[" + role + "]", "recipe[" + book + "@1.2.0]"}, "", ""},
		{"unknown cookbook", []string{"recipe[nonesuch" + suffix + "]"}, "runList[0]", "no cookbook"},
		{"unknown recipe", []string{"recipe[" + book + "::nonesuch]"}, "runList[0]", "no recipe"},
		{"unknown version", []string{"recipe[" + book + "@9.9.9]"}, "runList[0]", "no version 9.9.9"},
		{"unknown role", []string{"recipe[" + book + "]", "role[nonesuch]"}, "runList[1]", "no role"},
		{"malformed", []string{"recipe[a"}, "runList[0]", "must be recipe"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			items, err := chef.ParseRunList("runList", tt.entries)
			if err == nil {
				err = cat.CheckRunList("runList", items)
			}
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Equal(t, ovm.KindInvalid, ovm.KindOf(err))
			fs := ovm.FieldsOf(err)
			require.Len(t, fs, 1, "fields %+v", fs)
			assert.Equal(t, tt.field, fs[0].Field)
			assert.Contains(t, fs[0].Reason, tt.reason)
		})
	}
	require.NoError(t, cat.CheckEnvironment("environment", env))
	require.Error(t, cat.CheckEnvironment("environment", "nonesuch"+suffix))

	node := "ovm-node-" + suffix
	keys, err := chef.NewKeyPair()
	require.NoError(t, err)
	require.NoError(t, c.Enrol(t.Context(), node, keys.Public, []string{"recipe[" + book + "]"}, env))
	t.Cleanup(func() { _ = c.Unenrol(t.Context(), node) })
	// The node's own client signs with the private key made here.
	own, err := gochef.NewClient(&gochef.Config{Name: node, Key: string(keys.Private), BaseURL: srv.URL})
	require.NoError(t, err)
	n, err := own.Nodes.Get(node)
	require.NoError(t, err, "the node reads itself with its own key")
	assert.Equal(t, []string{"recipe[" + book + "]"}, n.RunList)
	assert.Equal(t, env, n.Environment)

	got, err := c.SetRunList(t.Context(), node, []string{"recipe[" + book + "]", "role[" + role + "]"}, "", false)
	require.NoError(t, err)
	assert.Equal(t, env, got.Environment, "an empty environment keeps the node's")
	read, err := c.Node(t.Context(), node)
	require.NoError(t, err)
	assert.Equal(t, []string{"recipe[" + book + "]", "role[" + role + "]"}, read.RunList)

	// Enrolling again replaces the client's key: the old one no longer signs.
	again, err := chef.NewKeyPair()
	require.NoError(t, err)
	require.NoError(t, c.Enrol(t.Context(), node, again.Public, read.RunList, ""))
	_, err = own.Nodes.Get(node)
	require.Error(t, err, "the replaced key is refused")

	require.NoError(t, c.Unenrol(t.Context(), node))
	_, err = c.Node(t.Context(), node)
	assert.Equal(t, ovm.KindNotFound, ovm.KindOf(err))
	require.NoError(t, c.Unenrol(t.Context(), node), "unenrolling twice is success")
	_, err = c.SetRunList(t.Context(), node, nil, "", false)
	assert.Equal(t, ovm.KindNotFound, ovm.KindOf(err), "a missing node is not made without create")
}
