package core

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/openovm/ovm/server/apitypes"
)

func TestChefCloudConfig(t *testing.T) {
	key := []byte("-----BEGIN RSA PRIVATE KEY-----\nMIIE\"quoted\"\n-----END RSA PRIVATE KEY-----\n")
	node := ChefNode{NodeName: "0b9c7d0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e", Environment: "prod", RunList: []string{"recipe[nginx]", "role[web]"}}
	for _, tt := range []struct {
		name     string
		srv      chefServerRecord
		url      string
		files    int
		insecure bool
	}{
		{"guest url and organization", chefServerRecord{ChefServer: apitypes.ChefServer{URL: "https://chef.internal/", GuestURL: "https://chef.example", Organization: "acme"}},
			"https://chef.example/organizations/acme/", 1, false},
		{"url, CA, insecure", chefServerRecord{ChefServer: apitypes.ChefServer{URL: "https://chef.internal/",
			TLS: &apitypes.ChefTLS{InsecureSkipVerify: true, CACert: "-----BEGIN CERTIFICATE-----\n"}}}, "https://chef.internal/", 2, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ud, err := chefCloudConfig(tt.srv, node, key)
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(ud, "#cloud-config\n"), "user-data starts with #cloud-config: %q", ud[:20])
			var got struct {
				WriteFiles []map[string]string `yaml:"write_files"`
				Chef       map[string]any      `yaml:"chef"`
			}
			require.NoError(t, yaml.Unmarshal([]byte(ud), &got), "the user-data is YAML")
			require.Len(t, got.WriteFiles, tt.files)
			assert.Equal(t, map[string]string{"path": "/etc/chef/client.pem", "permissions": "0600", "owner": "root:root", "content": string(key)}, got.WriteFiles[0])
			assert.Equal(t, tt.url, got.Chef["server_url"])
			assert.Equal(t, node.NodeName, got.Chef["node_name"])
			assert.Equal(t, "prod", got.Chef["environment"])
			assert.Equal(t, []any{"recipe[nginx]", "role[web]"}, got.Chef["run_list"])
			assert.Equal(t, true, got.Chef["exec"])
			_, insecure := got.Chef["ssl_verify_mode"]
			assert.Equal(t, tt.insecure, insecure)
		})
	}
}

func TestClientRB(t *testing.T) {
	srv := chefServerRecord{ChefServer: apitypes.ChefServer{URL: "https://chef.internal", GuestURL: "https://chef.example/", Organization: "acme",
		TLS: &apitypes.ChefTLS{CACert: "x"}}}
	assert.Equal(t, `chef_server_url "https://chef.example/organizations/acme/"`+"\n"+
		`node_name "n1"`+"\n"+`client_key "/etc/chef/client.pem"`+"\n"+`trusted_certs_dir "/etc/chef/trusted_certs"`+"\n", clientRB(srv, "n1"))
}

func TestCountResults(t *testing.T) {
	rs := []apitypes.ChefRunResult{{Outcome: apitypes.ChefSucceeded}, {Outcome: apitypes.ChefSucceeded}, {Outcome: apitypes.ChefFailed},
		{Outcome: apitypes.ChefUnreachable}, {Outcome: apitypes.ChefCancelled}, {Outcome: apitypes.ChefPending}, {Outcome: apitypes.ChefRunning}}
	assert.Equal(t, apitypes.ChefRunCounts{Total: 7, Succeeded: 2, Failed: 1, Unreachable: 1, Cancelled: 1, Pending: 1, Running: 1}, countResults(rs))
}

func TestClipOutput(t *testing.T) {
	assert.Equal(t, "outerr", clipOutput([]byte("out"), []byte("err")))
	long := strings.Repeat("x", maxChefOutput) + "END"
	got := clipOutput([]byte(long), nil)
	assert.True(t, strings.HasPrefix(got, "[...]\n"))
	assert.True(t, strings.HasSuffix(got, "END"), "the end of the output is kept")
	assert.Len(t, got, maxChefOutput+len("[...]\n"))
}
