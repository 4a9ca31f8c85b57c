package app_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/app"
	"github.com/openovm/ovm/server/client"
	"github.com/openovm/ovm/server/config"
	"github.com/openovm/ovm/server/tlscert"
)

func tlsConfig(t *testing.T, args ...string) config.Config {
	t.Helper()
	c, err := config.Load(append([]string{"--fake-hosts"}, args...), func(string) string { return "" }, io.Discard)
	require.NoError(t, err)
	return c
}

func clientLogin(t *testing.T, url string, trust client.TLS, password string) error {
	t.Helper()
	hc, err := trust.HTTPClient()
	require.NoError(t, err)
	cl, err := client.New(url, "", hc)
	require.NoError(t, err)
	_, err = cl.Login(t.Context(), "admin", password)
	return err
}

// TestSelfSignedCertificate: a server listening beyond loopback without a
// certificate serves HTTPS with a self-signed one it generates, prints its
// fingerprint with the administrator's password, and keeps it across
// restarts; a client trusts it only when pinned.
func TestSelfSignedCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := tlsConfig(t, "--listen", "0.0.0.0:0", "--data-dir", dir)
	var out bytes.Buffer
	s := start(t, cfg, &out)
	fp := s.TLSFingerprint()
	require.Len(t, fp, 64)
	require.True(t, strings.HasPrefix(s.URL(), "https://"), "URL %s", s.URL())
	assert.Contains(t, out.String(), fp, "the first start's notice shows the fingerprint")
	assert.FileExists(t, filepath.Join(dir, tlscert.CertFile))

	sc, err := client.Inspect(t.Context(), s.URL(), nil)
	require.NoError(t, err)
	assert.Equal(t, fp, sc.Fingerprint, "what a client inspects is what the server printed")
	assert.False(t, sc.Trusted, "a self-signed certificate is not trusted by the system's roots")
	require.Error(t, sc.VerifyError)

	pw := s.AdminPassword()
	require.ErrorContains(t, clientLogin(t, s.URL(), client.TLS{}, pw), "certificate", "unpinned")
	require.ErrorIs(t, clientLogin(t, s.URL(), client.TLS{Fingerprint: strings.Repeat("ab", 32)}, pw), client.ErrFingerprintMismatch)
	require.NoError(t, clientLogin(t, s.URL(), client.TLS{Fingerprint: strings.ToUpper(fp)}, pw), "pinned (case ignored)")

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Shutdown(ctx))
	out.Reset()
	s2 := start(t, cfg, &out)
	assert.Equal(t, fp, s2.TLSFingerprint(), "a restart keeps the certificate")
	assert.Empty(t, out.String(), "nothing printed on a later start")
	require.NoError(t, clientLogin(t, s2.URL(), client.TLS{Fingerprint: fp}, pw))
}

// TestOperatorCertificate: --tls-cert/--tls-key serve the operator's
// certificate (even on loopback), which a client verifies with its CA.
func TestOperatorCertificate(t *testing.T) {
	dir := t.TempDir()
	caPEM, certFile, keyFile := issue(t, dir)
	cfg := tlsConfig(t, "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--tls-cert", certFile, "--tls-key", keyFile)
	s := start(t, cfg, io.Discard)
	require.True(t, strings.HasPrefix(s.URL(), "https://"), "URL %s", s.URL())
	assert.NoFileExists(t, filepath.Join(dir, "data", tlscert.CertFile), "no self-signed certificate with the operator's")

	cas := x509.NewCertPool()
	require.True(t, cas.AppendCertsFromPEM(caPEM))
	sc, err := client.Inspect(t.Context(), s.URL(), cas)
	require.NoError(t, err)
	assert.True(t, sc.Trusted, "verified by the CA: %v", sc.VerifyError)
	assert.Equal(t, s.TLSFingerprint(), sc.Fingerprint)
	require.NoError(t, clientLogin(t, s.URL(), client.TLS{CAs: cas}, s.AdminPassword()))
	require.ErrorContains(t, clientLogin(t, s.URL(), client.TLS{}, s.AdminPassword()), "certificate", "system roots do not know the CA")

	bad := cfg
	bad.TLSKey = filepath.Join(dir, "missing.key")
	bad.DataDir = filepath.Join(dir, "other")
	_, err = app.Start(t.Context(), app.Options{Config: bad, Argon2: cheap})
	require.ErrorContains(t, err, "missing.key")
}

// TestPlainHTTP: loopback serves plain HTTP; beyond loopback only when
// explicitly allowed.
func TestPlainHTTP(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{name: "loopback", args: []string{"--listen", "127.0.0.1:0"}},
		{name: "allowed beyond loopback", args: []string{"--listen", "0.0.0.0:0", "--allow-plain-http"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := start(t, tlsConfig(t, append(tt.args, "--data-dir", dir)...), io.Discard)
			assert.True(t, strings.HasPrefix(s.URL(), "http://"), "URL %s", s.URL())
			assert.Empty(t, s.TLSFingerprint())
			assert.NoFileExists(t, filepath.Join(dir, tlscert.CertFile))
			code, _ := login(t, s.URL(), "admin", s.AdminPassword())
			assert.Equal(t, 200, code)
		})
	}
}

// issue writes a CA and a certificate it signed for 127.0.0.1, and returns
// the CA's PEM and the certificate's and key's files.
func issue(t *testing.T, dir string) (caPEM []byte, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "ovm"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600))
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), certFile, keyFile
}
