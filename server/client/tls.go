package client

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TLS says how the client trusts an HTTPS server that the system's roots
// do not: by the SHA-256 fingerprint of its certificate (pinned once, as
// `ovm login` does after the user accepted it), or by a CA.
type TLS struct {
	// Fingerprint is the hex SHA-256 of the server certificate's DER bytes
	// (colons and case ignored). The certificate must match it exactly;
	// names and expiry are not checked.
	Fingerprint string
	// CAs verify the server's chain and name instead of the system's roots.
	CAs *x509.CertPool
}

// NormalizeFingerprint returns a fingerprint as 64 lowercase hex digits,
// or an error when it is not a SHA-256 in hex (with or without colons).
func NormalizeFingerprint(s string) (string, error) {
	f := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "sha256:")
	f = strings.ReplaceAll(f, ":", "")
	if b, err := hex.DecodeString(f); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("fingerprint %q: want the 64 hex digits of a SHA-256", s)
	}
	return f, nil
}

// CertFingerprint is the hex SHA-256 of a certificate's DER bytes.
func CertFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// ErrFingerprintMismatch is returned (wrapped) when a server shows a
// certificate other than the pinned one.
var ErrFingerprintMismatch = errors.New("the server's certificate does not match the pinned fingerprint")

// Config returns the tls.Config of t.
func (t TLS) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: t.CAs}
	if t.Fingerprint == "" {
		return cfg, nil
	}
	want, err := NormalizeFingerprint(t.Fingerprint)
	if err != nil {
		return nil, err
	}
	// The pin replaces the chain's verification: the one certificate the
	// user accepted is trusted, whatever its issuer, names or dates.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return ErrFingerprintMismatch
		}
		if got := CertFingerprint(cs.PeerCertificates[0].Raw); got != want {
			return fmt.Errorf("%w: got %s, want %s", ErrFingerprintMismatch, got, want)
		}
		return nil
	}
	return cfg, nil
}

// HTTPClient returns an HTTP client that trusts servers as t says, to
// pass to New.
func (t TLS) HTTPClient() (*http.Client, error) {
	cfg, err := t.Config()
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr}, nil
}

// ServerCertificate is what Inspect learned of a server's certificate.
type ServerCertificate struct {
	// Fingerprint is the hex SHA-256 of the certificate the server showed.
	Fingerprint string
	// Subject is the certificate's subject, for the user to read.
	Subject string
	// Trusted reports that the system's roots verify it for the URL's host;
	// when not, VerifyError says why.
	Trusted     bool
	VerifyError error
}

// Inspect connects to an https:// baseURL without trusting it, and returns
// the certificate it shows, whether the system's roots (or cas, when not
// nil) verify it, and its fingerprint to pin when they do not.
func Inspect(ctx context.Context, baseURL string, cas *x509.CertPool) (ServerCertificate, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return ServerCertificate{}, fmt.Errorf("server URL %q: want https://HOST[:PORT]", baseURL)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second},
		Config: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}} // inspected, not trusted
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return ServerCertificate{}, fmt.Errorf("connect to %s: %w", u.Host, err)
	}
	defer conn.Close()
	certs := conn.(*tls.Conn).ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return ServerCertificate{}, fmt.Errorf("%s showed no certificate", u.Host)
	}
	leaf := certs[0]
	sc := ServerCertificate{Fingerprint: CertFingerprint(leaf.Raw), Subject: leaf.Subject.String()}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, sc.VerifyError = leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: cas, Intermediates: inter})
	sc.Trusted = sc.VerifyError == nil
	return sc, nil
}
