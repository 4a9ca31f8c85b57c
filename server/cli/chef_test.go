package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/openovm/ovm/server/chef"
)

// TestChefCLIRefusals: what the chef commands refuse without any Chef
// server answering (TestEnginesChefCLI runs them on a real one).
func TestChefCLIRefusals(t *testing.T) {
	h := newHarness(t)
	h.setupPlatform("acme")
	keys, err := chef.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(key, keys.Private, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		code int
		want []string
		args []string
	}{
		{"no url", exitUsage, []string{"--url is required"}, []string{"--context", "admin", "chef", "server", "register", "c1", "--client", "ovm", "--key-file", key}},
		{"no key file", exitUsage, []string{"--key-file is required"}, []string{"--context", "admin", "chef", "server", "register", "c1", "--url", "http://127.0.0.1:1/", "--client", "ovm"}},
		{"bad url", exitError, []string{"url", "http or https"}, []string{"--context", "admin", "chef", "server", "register", "c1", "--url", "chef", "--client", "ovm", "--key-file", key}},
		{"a public key", exitError, []string{"key", "RSA private key"}, []string{"--context", "admin", "chef", "server", "register", "c1", "--url", "http://127.0.0.1:1/",
			"--client", "ovm", "--key-file", key + ".pub"}},
		{"tenant registers", exitError, []string{"administrator"}, []string{"--context", "acme", "chef", "server", "register", "c1", "--url", "http://127.0.0.1:1/",
			"--client", "ovm", "--key-file", key}},
		{"unknown server", exitError, []string{"no chef server"}, []string{"--context", "acme", "chef", "catalog", "nonesuch"}},
		{"install without entries", exitUsage, []string{"at least one run-list entry"}, []string{"--context", "acme", "chef", "install", "--all"}},
		{"nothing enrolled", exitError, []string{"no enrolled instance"}, []string{"--context", "acme", "chef", "update", "--all"}},
		{"two selectors", exitError, []string{"exactly one"}, []string{"--context", "acme", "chef", "update", "--all", "--label", "app=web"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "a public key" {
				if err := os.WriteFile(key+".pub", keys.Public, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			h.fail(tt.code, tt.want, tt.args...)
		})
	}
}
