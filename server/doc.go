// Package server is OVM's reference server: a REST API (OpenAPI 3.1, RFC 9457
// errors) over a transactional store, a persisted task engine and the
// controllers (inventory sync, host monitor and HA), composed from the SDK's
// packages.
package server
