// Package tlscert gives the server the certificate of its HTTPS listener:
// the operator's own (a PEM certificate chain and key), or a self-signed
// one generated on the first start and kept in the data directory, and the
// SHA-256 fingerprint a client pins when it cannot verify it otherwise.
package tlscert
