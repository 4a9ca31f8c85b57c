// Package ovm holds the vocabulary every layer of OVM speaks: identifiers,
// the datacenter, pool, host, instance, volume, network, image, vApp, VDC and
// task types, resource arithmetic, and the error kinds (not found, conflict,
// invalid, quota exceeded, unsupported, unavailable) that drivers return and
// the server maps to HTTP status in one place.
//
// The package has no I/O and no dependencies outside the standard library
// but github.com/distribution/reference (the Docker image reference grammar,
// itself a leaf), so every other package, and every program embedding OVM,
// can import it.
package ovm
