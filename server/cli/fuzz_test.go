package cli

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/client"
)

// FuzzParseCPU: an accepted CPU amount is positive and bounded; its
// millicpu form ("500m") parses back exactly and its vCPU form
// (MilliCPU.String, "0.5") parses back to the same amount.
func FuzzParseCPU(f *testing.F) {
	for _, s := range []string{"500m", "1", "0.5", "1.25", " 2 ", "16000m", "0", "0m", "-1", "-500m", "1.0001", "0.0001", "0.0004", "0.0005",
		"NaN", "nan", "Inf", "+Inf", "1e9", "1e10", "1e-3", "m", "", "1.5m", "9223372036854775807m", "1000000000000m", "1000000000001m", "0x10", "1_000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseCPU(s)
		if err != nil {
			require.Zero(t, c)
			return
		}
		require.Positive(t, int64(c), "parseCPU(%q) = %d: not positive", s, c)
		require.LessOrEqual(t, int64(c), int64(1e12), "parseCPU(%q) = %d: above 1e9 vCPUs", s, c)
		milli := strconv.FormatInt(int64(c), 10) + "m"
		back, err := parseCPU(milli)
		require.NoError(t, err, "parseCPU(%q) of parseCPU(%q)", milli, s)
		require.Equal(t, c, back, "parseCPU(%q)", milli)
		str := c.String()
		back, err = parseCPU(str)
		require.NoError(t, err, "parseCPU(%q), the String of parseCPU(%q) = %d", str, s, c)
		require.Equal(t, c, back, "parseCPU(%q): String round trip of %d", str, c)
	})
}

// FuzzParseSize: parseSize is ovm.ParseBytes with the CLI's message: the
// same answer, and an error that quotes the input.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"256Mi", "1Gi", "10G", "4096", "1.5Ti", "0", "", "-1Gi", "1Qi", "NaN", "1e400", "Mi", " 2 Gi "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := parseSize(s)
		want, werr := ovm.ParseBytes(s)
		require.Equal(t, werr == nil, err == nil, "parseSize(%q): %v, ParseBytes: %v", s, err, werr)
		if err != nil {
			require.Contains(t, err.Error(), strconv.Quote(s))
			return
		}
		require.Equal(t, want, b)
		require.GreaterOrEqual(t, int64(b), int64(0))
	})
}

// FuzzParsePairs: KEY=VALUE flags become a map whose entries join back to
// the last flag of each key; a flag without "=" or with an empty key is
// refused.
func FuzzParsePairs(f *testing.F) {
	f.Add("A=B", "C=D=E")
	f.Add("A=", "A=2")
	f.Add("=B", "C=D")
	f.Add("noequals", "")
	f.Add("K=v\x00", "k=V")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, vals := range [][]string{{a}, {a, b}} {
			m, err := parsePairs("env", vals)
			bad := false
			for _, v := range vals {
				if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
					bad = true
				}
			}
			if bad {
				require.Error(t, err, "parsePairs(%q)", vals)
				require.Contains(t, err.Error(), "--env")
				continue
			}
			require.NoError(t, err, "parsePairs(%q)", vals)
			want := map[string]string{}
			for _, v := range vals {
				k, val, _ := strings.Cut(v, "=")
				want[k] = val
			}
			require.Equal(t, want, m)
			for k, v := range m {
				require.NotEmpty(t, k)
				require.NotContains(t, k, "=")
				_ = v
			}
		}
	})
}

// failingTransport refuses every request, so that the CLI never reaches a
// server while its flags are fuzzed.
type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no server in this test")
}

// FuzzInstanceSpecFlags parses the flags of `ovm instance create` (--cpu,
// --memory, --disk SIZE[:MOUNT], --network NAME|ID[=IP], --env, --label)
// into an instance spec. A spec the CLI builds carries exactly what the
// flags said: a positive CPU, non-negative sizes, each network's id and
// static address.
func FuzzInstanceSpecFlags(f *testing.F) {
	id := "00000000-0000-4000-8000-000000000000"
	f.Add("busybox:1", "", "500m", "256Mi", "1Gi:/data", id+"=10.0.0.5", "A=B")
	f.Add("debian.qcow2", "vm", "2", "2Gi", "10Gi", id, "L=1")
	f.Add("x", "container", "0.5", "1.5G", "0", id+"=fd00::1", "=B")
	f.Add("x", "lxc", "1", "1Gi", "", "", "")
	f.Add("x", "", "NaN", "1Gi", "", "", "")
	f.Add("x", "", "1", "-1", "", "", "")
	f.Add("x", "", "1", "1Gi", "x:y", "", "")
	f.Add("x", "", "1", "1Gi", "", id+"=10.0.0.300", "")
	f.Add("x", "", "1", "1Gi", "", "net1=10.0.0.1", "")
	f.Add("x", "", "1", "1Gi", "", id+"=fe80::1%eth0", "")
	f.Add("", "", "1", "1Gi", "", "", "")
	hc := &http.Client{Transport: failingTransport{}}
	cl, err := client.New("http://127.0.0.1:1", "ovm_token", hc)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, image, typ, cpu, memory, disk, nic, env string) {
		a := &app{ctx: context.Background(), env: Env{Getenv: func(string) string { return "" }}, cl: cl}
		fl := a.flags("instance create", "", "")
		sf := addSpecFlags(fl)
		args := []string{"--image", image, "--type", typ, "--cpu", cpu, "--memory", memory}
		if disk != "" {
			args = append(args, "--disk", disk)
		}
		if nic != "" {
			args = append(args, "--network", nic)
		}
		if env != "" {
			args = append(args, "--env", env)
		}
		if _, err := fl.parse(args); err != nil {
			return
		}
		spec, err := a.spec(fl, sf, nil, "")
		if err != nil {
			return
		}
		require.NotEmpty(t, image)
		require.Contains(t, []ovm.InstanceType{ovm.TypeVM, ovm.TypeContainer}, spec.Type)
		require.Equal(t, image, spec.Image.Name)
		require.Equal(t, spec.Type, spec.Image.InstanceType(), "--image %q --type %q", image, typ)
		require.Positive(t, int64(spec.CPU), "--cpu %q", cpu)
		want, err := parseCPU(cpu)
		require.NoError(t, err)
		require.Equal(t, want, spec.CPU)
		require.GreaterOrEqual(t, int64(spec.Memory), int64(0), "--memory %q", memory)
		if disk != "" {
			require.Len(t, spec.Disks, 1)
			size, mount, _ := strings.Cut(disk, ":")
			b, err := ovm.ParseBytes(size)
			require.NoError(t, err)
			require.Equal(t, b, spec.Disks[0].Size)
			require.Equal(t, mount, spec.Disks[0].MountPath)
		}
		if nic != "" {
			require.Len(t, spec.NICs, 1)
			ref, ip, hasIP := strings.Cut(nic, "=")
			require.Equal(t, ovm.ID(ref), spec.NICs[0].NetworkID, "--network %q", nic)
			require.True(t, spec.NICs[0].NetworkID.Valid())
			if hasIP {
				want, err := netip.ParseAddr(ip)
				require.NoError(t, err)
				require.Equal(t, want, spec.NICs[0].IP, "--network %q", nic)
			} else {
				require.False(t, spec.NICs[0].IP.IsValid())
			}
		}
		if env != "" {
			k, v, _ := strings.Cut(env, "=")
			require.Equal(t, map[string]string{k: v}, spec.Env)
		}
	})
}

// FuzzLoadContexts reads arbitrary bytes as the contexts file. What loads
// saves and loads back unchanged.
func FuzzLoadContexts(f *testing.F) {
	for _, s := range []string{
		"", "current: prod\ncontexts:\n- name: prod\n  server: https://ovm.example\n  user: admin\n  token: ovm_x\n",
		"contexts: []\n", "contexts:\n- name: a\n- name: a\n", "current: [\n", "contexts: 5\n", "- 1\n", "current: ~\n",
		"contexts:\n- {name: \"\\x00\", server: \"\\u2028\"}\n", "unknown: 1\n", "&a [*a, *a]\n",
	} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, configFile)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		c, err := LoadConfig(path)
		if err != nil {
			require.Nil(t, c)
			return
		}
		require.NotNil(t, c)
		require.NoError(t, c.Save(path), "Save of a loaded config")
		st, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the contexts file holds tokens")
		back, err := LoadConfig(path)
		require.NoError(t, err, "LoadConfig of what Save wrote")
		if len(c.Contexts) == 0 {
			require.Empty(t, back.Contexts)
			back.Contexts = c.Contexts
		}
		require.Equal(t, c, back, "the contexts changed through Save and LoadConfig")
	})
}
