package chef

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

func TestParseRunList(t *testing.T) {
	for _, tt := range []struct {
		name    string
		entries []string
		want    []string
		field   string
	}{
		{"forms", []string{"recipe[nginx]", "nginx::server", "recipe[nginx::server@1.2.3]", "role[web]", " recipe[a] "},
			[]string{"recipe[nginx]", "recipe[nginx::server]", "recipe[nginx::server@1.2.3]", "role[web]", "recipe[a]"}, ""},
		{"empty", nil, []string{}, ""},
		{"unclosed", []string{"recipe[nginx]", "recipe[x"}, nil, "runList[1]"},
		{"bad name", []string{"role[a b]"}, nil, "runList[0]"},
		{"blank", []string{""}, nil, "runList[0]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			items, err := ParseRunList("runList", tt.entries)
			if tt.field != "" {
				require.Error(t, err)
				assert.Equal(t, ovm.KindInvalid, ovm.KindOf(err))
				fs := ovm.FieldsOf(err)
				require.Len(t, fs, 1, "fields %+v", fs)
				assert.Equal(t, tt.field, fs[0].Field)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, Strings(items))
		})
	}
}

func TestMerge(t *testing.T) {
	add, err := ParseRunList("r", []string{"recipe[a]", "b::c", "role[r]"})
	require.NoError(t, err)
	for _, tt := range []struct {
		name string
		list []string
		want []string
	}{
		{"empty", nil, []string{"recipe[a]", "recipe[b::c]", "role[r]"}},
		{"keeps order and skips what is there", []string{"role[r]", "recipe[x]"}, []string{"role[r]", "recipe[x]", "recipe[a]", "recipe[b::c]"}},
		{"an entry written another way counts", []string{"b::c"}, []string{"b::c", "recipe[a]", "role[r]"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Merge(tt.list, add))
		})
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		sign int
	}{
		{"1.10.0", "1.9.2", 1}, {"1.2", "1.2.0", 0}, {"0.1.0", "0.1.1", -1}, {"2.0.0", "10.0.0", -1},
	} {
		got := compareVersions(tt.a, tt.b)
		assert.Equal(t, tt.sign, sign(got), "compareVersions(%s, %s) = %d", tt.a, tt.b, got)
	}
}

func sign(n int) int {
	switch {
	case n > 0:
		return 1
	case n < 0:
		return -1
	}
	return 0
}

func TestConfigValidate(t *testing.T) {
	keys, err := NewKeyPair()
	require.NoError(t, err)
	good := Config{URL: "https://chef.example/", ClientName: "ovm", Key: keys.Private}
	require.NoError(t, good.Validate("body."))
	for _, tt := range []struct {
		name  string
		edit  func(c *Config)
		field string
	}{
		{"no url", func(c *Config) { c.URL = "" }, "body.url"},
		{"ftp", func(c *Config) { c.URL = "ftp://chef.example/" }, "body.url"},
		{"query", func(c *Config) { c.URL = "https://chef.example/?x=1" }, "body.url"},
		{"bad organization", func(c *Config) { c.Organization = "a/b" }, "body.organization"},
		{"no client", func(c *Config) { c.ClientName = "" }, "body.clientName"},
		{"public key", func(c *Config) { c.Key = keys.Public }, "body.key"},
		{"bad ca", func(c *Config) { c.CACert = "not pem" }, "body.tls.caCert"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := good
			tt.edit(&c)
			err := c.Validate("body.")
			require.Error(t, err)
			var fields []string
			for _, f := range ovm.FieldsOf(err) {
				fields = append(fields, f.Field)
			}
			assert.Equal(t, []string{tt.field}, fields)
		})
	}
	assert.Equal(t, "https://chef.example/organizations/acme/", Config{URL: "https://chef.example", Organization: "acme"}.BaseURL())
	assert.Equal(t, "http://127.0.0.1:4545/", Config{URL: "http://127.0.0.1:4545/"}.BaseURL())
}
