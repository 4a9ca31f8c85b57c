package cli

import (
	"bufio"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"golang.org/x/term"

	"github.com/openovm/ovm/server/client"
)

// acceptFlag is --accept-fingerprint: alone it accepts the certificate the
// server shows; with a value (--accept-fingerprint=SHA256) only that one.
type acceptFlag struct {
	set  bool
	want string
}

func (f *acceptFlag) String() string   { return f.want }
func (f *acceptFlag) IsBoolFlag() bool { return true }
func (f *acceptFlag) Set(v string) error {
	switch strings.ToLower(v) {
	case "true":
		f.set, f.want = true, ""
	case "false":
		f.set, f.want = false, ""
	default:
		fp, err := client.NormalizeFingerprint(v)
		if err != nil {
			return err
		}
		f.set, f.want = true, fp
	}
	return nil
}

// trustOf is how a context trusts its server: its pinned fingerprint, or
// the CA in its CA file.
func trustOf(c Context) (client.TLS, error) {
	t := client.TLS{Fingerprint: c.Fingerprint}
	if c.CAFile != "" {
		cas, err := readCAs(c.CAFile)
		if err != nil {
			return client.TLS{}, fmt.Errorf("context %q: %w", c.Name, err)
		}
		t.CAs = cas
	}
	return t, nil
}

func readCAs(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	cas := x509.NewCertPool()
	if !cas.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate in it", file)
	}
	return cas, nil
}

// newClient returns a client of server that trusts it as t says.
func newClient(server, token string, t client.TLS) (*client.Client, error) {
	var hc *http.Client
	if t.Fingerprint != "" || t.CAs != nil {
		c, err := t.HTTPClient()
		if err != nil {
			return nil, err
		}
		hc = c
	}
	cl, err := client.New(server, token, hc)
	if err != nil {
		return nil, err
	}
	cl.UserAgent = "ovm-cli"
	return cl, nil
}

// pinFor decides how login trusts an https:// server: nothing to pin when
// the system's roots (or the CA file) verify it; otherwise it shows the
// certificate's fingerprint and returns it to pin once the user accepted
// it, at the prompt of a terminal or with --accept-fingerprint. A
// fingerprint a context already pinned for the server (known) is trusted
// again without asking.
func (a *app) pinFor(server string, cas *x509.CertPool, accept acceptFlag, known []string) (string, error) {
	if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(server)), "https://") {
		return "", nil
	}
	sc, err := client.Inspect(a.ctx, server, cas)
	if err != nil {
		return "", err
	}
	if sc.Trusted {
		return "", nil
	}
	if slices.Contains(known, sc.Fingerprint) {
		return sc.Fingerprint, nil
	}
	fmt.Fprintf(a.env.Stderr, "The certificate of %s is not trusted: %v\nIts SHA-256 fingerprint is\n\n    %s\n\n"+
		"Compare it with the one the server printed on its first start.\n", server, sc.VerifyError, sc.Fingerprint)
	switch {
	case accept.set && accept.want == "":
		return sc.Fingerprint, nil
	case accept.set && accept.want == sc.Fingerprint:
		return sc.Fingerprint, nil
	case accept.set:
		return "", fmt.Errorf("the server's certificate has the fingerprint %s, not the %s given with --accept-fingerprint", sc.Fingerprint, accept.want)
	}
	f, ok := a.env.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("the server's certificate is not trusted: check its fingerprint and log in again with --accept-fingerprint=" + sc.Fingerprint)
	}
	fmt.Fprint(a.env.Stderr, "Trust this certificate and pin it in the context? [y/N] ")
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read the answer: %w", err)
	}
	if ans := strings.ToLower(strings.TrimSpace(line)); ans != "y" && ans != "yes" {
		return "", errors.New("the server's certificate was not accepted")
	}
	return sc.Fingerprint, nil
}
