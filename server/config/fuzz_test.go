package config_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/openovm/ovm/server/config"
)

// FuzzLoadFile loads arbitrary bytes as the YAML configuration file. Load
// either fails or returns a configuration that passes Validate, with the
// secret key file and replica filled in; writing that configuration back
// as YAML and loading it again gives the same configuration.
func FuzzLoadFile(f *testing.F) {
	for _, s := range []string{
		"", "listen: 0.0.0.0:9090\n", "listen: :8080\nworkers: 4\nperHost: 4\n", "dataDir: /var/lib/ovm\ndatabase: postgres://u@h/db\n",
		"monitorInterval: 1s\nsyncInterval: 2m\ntaskLease: 1h\n", "taskLease: 2h\n", "workers: 0\n", "perHost: 9\n", "logFormat: xml\n",
		"logLevel: DEBUG\n", "logLevel: trace\n", "fakeHosts: true\nreplica: r1\nadminName: root\nsecretKeyFile: /k\n",
		"unknown: 1\n", "listen: [\n", "listen: 8080\n", "database: mysql://x\n", "dataDir: ''\n", "--- \n---\nworkers: 2\n",
		"workers: 99999999999999999999\n", "monitorInterval: -1s\n", "monitorInterval: 5\n", "&a [*a]\n", "listen: !!binary aGVsbG8=\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	noEnv := func(string) string { return "" }
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "ovm.yaml")
		require.NoError(t, os.WriteFile(path, data, 0o600))
		c, err := config.Load([]string{"-config", path}, noEnv, io.Discard)
		if err != nil {
			if c != (config.Config{}) {
				// Load returns the configuration it refused with the
				// reasons: it must fail Validate.
				require.Error(t, c.Validate(), "Load failed (%v) with a configuration that passes Validate", err)
			}
			return
		}
		require.NoError(t, c.Validate(), "Load accepted %q", data)
		require.NotEmpty(t, c.SecretKeyFile)
		require.NotEmpty(t, c.Replica)

		out, err := yaml.Marshal(c)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, out, 0o600))
		again, err := config.Load([]string{"-config", path}, noEnv, io.Discard)
		require.NoError(t, err, "Load of the YAML of an accepted configuration:\n%s", out)
		require.Equal(t, c, again, "the YAML round trip changed the configuration:\n%s", out)
	})
}
