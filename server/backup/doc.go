// Package backup takes an online backup of the embedded store with the key
// that encrypts the host credentials (and the self-signed certificate, when
// the server made one), as one gzip-compressed tar archive, and restores
// such an archive into an empty data directory.
//
// The archive holds manifest.json first (what it is, when and by which
// server it was taken, the files), then ovm.db (a consistent copy of the
// store, taken while the server serves), secret.key, and tls.crt and
// tls.key when present. PostgreSQL and CockroachDB deployments use their
// databases' own backups (pg_dump, CockroachDB's BACKUP) and keep a copy
// of the secret key file beside them.
package backup
