package cli

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// TestInstanceCreateFile: instance create -f sends an instance in the API's
// shape, with the fields no flag has (ports, restart policy, HA priority,
// SSH keys, user data); --name and --start override the file; spec flags
// and a command are refused with -f, and a field the API does not know is
// named by the server.
func TestInstanceCreateFile(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	doc := `name: from-file
spec:
  type: container
  cpuMilli: 250
  memoryBytes: 33554432
  image: {format: oci, name: "nginx:1.27"}
  ports: [{containerPort: 80, hostPort: 8080, protocol: tcp, hostIp: 127.0.0.1}]
  restartPolicy: unless-stopped
  ha: {enabled: true, priority: 7}
  sshKeys: ["ssh-ed25519 AAAA test"]
  labels: {tier: web}
`
	r := h.okIn(doc, "instance", "create", "-f", "-", "--name", "web", "--start", "--wait", "-o", "json")
	var it struct {
		Instance ovm.Instance `json:"instance"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &it), r.stdout)
	i := it.Instance
	assert.Equal(t, "web", i.Name, "--name overrides the file")
	assert.Equal(t, ovm.PowerRunning, i.Status.Power, "--start")
	require.Len(t, i.Spec.Ports, 1)
	assert.Equal(t, ovm.PortMapping{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, ContainerPort: 80, Protocol: ovm.ProtocolTCP}, i.Spec.Ports[0])
	assert.Equal(t, ovm.RestartUnlessStopped, i.Spec.RestartPolicy)
	assert.Equal(t, ovm.HAPolicy{Enabled: true, Priority: 7}, i.Spec.HA)
	assert.Equal(t, []string{"ssh-ed25519 AAAA test"}, i.Spec.SSHKeys)
	assert.Equal(t, map[string]string{"tier": "web"}, i.Spec.Labels)

	h.failIn(doc, 2, []string{"--cpu cannot be used with -f"}, "instance", "create", "-f", "-", "--cpu", "2")
	h.failIn(doc, 2, []string{"unexpected argument"}, "instance", "create", "-f", "-", "--", "sleep", "1")
	h.failIn("name: x\nspec: {type: container, colour: red}\n", 1, []string{"spec.colour", "unexpected property"}, "instance", "create", "-f", "-")
	h.failIn("name: x\nspec: {type: container, restartPolicy: sometimes}\n", 1, []string{"spec.restartPolicy"}, "instance", "create", "-f", "-")
}
