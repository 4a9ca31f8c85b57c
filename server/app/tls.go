package app

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"

	"github.com/openovm/ovm/server/config"
	"github.com/openovm/ovm/server/tlscert"
)

// serverTLS returns the API's TLS configuration, or nil for plain HTTP
// (loopback, or explicitly allowed): the operator's certificate when
// given, else the self-signed one of the data directory, generated on the
// first start.
func serverTLS(cfg config.Config, log *slog.Logger) (*tls.Config, error) {
	if cfg.PlainHTTP() {
		if !cfg.Loopback() {
			log.Warn("serving plain HTTP beyond loopback, as allowed: terminate TLS in front of this server", "listen", cfg.Listen)
		}
		return nil, nil
	}
	var (
		cert tls.Certificate
		err  error
	)
	if cfg.TLSCert != "" {
		if cert, err = tlscert.Load(cfg.TLSCert, cfg.TLSKey); err != nil {
			return nil, err
		}
	} else {
		host, _, _ := net.SplitHostPort(cfg.Listen)
		var created bool
		if cert, created, err = tlscert.LoadOrCreate(cfg.DataDir, []string{host}); err != nil {
			return nil, fmt.Errorf("the API's certificate: %w", err)
		}
		if created {
			log.Info("generated a self-signed TLS certificate", "dir", cfg.DataDir,
				"fingerprint", tlscert.Fingerprint(cert.Certificate[0]))
		}
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
