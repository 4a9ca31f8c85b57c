package cli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEnginesKVMSSHKey: the KVM driver factory of the reference server
// gets the --ssh-key-file of host register: it refuses a key that is not
// PEM for a qemu+ssh:// endpoint, and any key for a qemu+tcp:// one, naming
// credentials.sshKey; nothing is recorded.
func TestEnginesKVMSSHKey(t *testing.T) {
	e := newEngineCLI(t)
	e.setupAdmin()
	bad := filepath.Join(t.TempDir(), "id")
	require.NoError(t, os.WriteFile(bad, []byte("not a key"), 0o600))
	good := filepath.Join(t.TempDir(), "id")
	require.NoError(t, os.WriteFile(good, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600))
	reg := func(endpoint, key string) []string {
		return []string{"--context", "admin", "host", "register", "kvm-ssh", "--kind", "kvm", "--endpoint", endpoint, "--pool", "pool1",
			"--ssh-key-file", key, "--option", "templates=/var/lib/ovm/templates", "--option", "disks=/var/lib/ovm/disks"}
	}
	e.failIn("", 1, []string{"credentials.sshKey", "must be a private key in PEM"}, reg("qemu+ssh://ovm@192.0.2.1/system", bad)...)
	e.failIn("", 1, []string{"credentials.sshKey", "applies to qemu+ssh:// endpoints only"}, reg("qemu+tcp://192.0.2.1/system", good)...)
	assert.Empty(t, e.hosts(), "no host is recorded from a refused registration")
}
