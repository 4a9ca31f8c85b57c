package ipmi_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/fence/ipmi"
)

func TestConfigValidate(t *testing.T) {
	ok := ipmi.Config{Address: "10.0.0.5", Port: 623, Username: "admin", Password: "secret"}
	tests := []struct {
		name  string
		edit  func(*ipmi.Config)
		field string // "" = valid
	}{
		{"valid", func(*ipmi.Config) {}, ""},
		{"default port", func(c *ipmi.Config) { c.Port = 0 }, ""},
		{"no address", func(c *ipmi.Config) { c.Address = " " }, "address"},
		{"address with a path", func(c *ipmi.Config) { c.Address = "10.0.0.5/x" }, "address"},
		{"port too high", func(c *ipmi.Config) { c.Port = 70000 }, "port"},
		{"no user", func(c *ipmi.Config) { c.Username = "" }, "username"},
		{"user too long", func(c *ipmi.Config) { c.Username = strings.Repeat("u", 17) }, "username"},
		{"password too long", func(c *ipmi.Config) { c.Password = strings.Repeat("p", 21) }, "password"},
		{"unknown cipher suite", func(c *ipmi.Config) { c.CipherSuite = 42 }, "cipherSuite"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			_, err := ipmi.New(c)
			if tc.field == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Equal(t, ovm.KindInvalid, ovm.KindOf(err))
			fields := ovm.FieldsOf(err)
			require.Len(t, fields, 1, "got %v", err)
			assert.Equal(t, tc.field, fields[0].Field)
		})
	}
}
