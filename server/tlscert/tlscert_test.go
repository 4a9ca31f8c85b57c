package tlscert_test

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/tlscert"
)

func TestLoadOrCreateKeepsOneCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c1, created, err := tlscert.LoadOrCreate(dir, []string{"10.1.2.3", "ovm.example.com", "0.0.0.0"})
	require.NoError(t, err)
	assert.True(t, created, "first start generates")
	leaf, err := x509.ParseCertificate(c1.Certificate[0])
	require.NoError(t, err)
	assert.Contains(t, leaf.DNSNames, "ovm.example.com")
	assert.Contains(t, leaf.DNSNames, "localhost")
	assert.True(t, slicesHasIP(leaf.IPAddresses, "10.1.2.3"), "IPs %v", leaf.IPAddresses)
	assert.False(t, slicesHasIP(leaf.IPAddresses, "0.0.0.0"), "the unspecified address is no name")
	require.NoError(t, leaf.VerifyHostname("10.1.2.3"))

	st, err := os.Stat(filepath.Join(dir, tlscert.KeyFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "key mode")

	c2, created, err := tlscert.LoadOrCreate(dir, nil)
	require.NoError(t, err)
	assert.False(t, created, "second start keeps it")
	assert.Equal(t, tlscert.Fingerprint(c1.Certificate[0]), tlscert.Fingerprint(c2.Certificate[0]))
	assert.Len(t, tlscert.Fingerprint(c2.Certificate[0]), 64)
}

func TestLoadOrCreateRefusesABrokenPair(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, tlscert.CertFile), []byte("not a certificate"), 0o600))
	_, _, err := tlscert.LoadOrCreate(dir, nil)
	require.ErrorContains(t, err, "self-signed certificate in "+dir, "a damaged certificate is not silently replaced")
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	_, _, err := tlscert.LoadOrCreate(dir, nil)
	require.NoError(t, err)
	c, err := tlscert.Load(filepath.Join(dir, tlscert.CertFile), filepath.Join(dir, tlscert.KeyFile))
	require.NoError(t, err)
	assert.Len(t, c.Certificate, 1)
	_, err = tlscert.Load(filepath.Join(dir, "missing.crt"), filepath.Join(dir, tlscert.KeyFile))
	require.ErrorContains(t, err, "missing.crt")
}

func slicesHasIP(ips []net.IP, s string) bool {
	for _, ip := range ips {
		if ip.Equal(net.ParseIP(s)) {
			return true
		}
	}
	return false
}
