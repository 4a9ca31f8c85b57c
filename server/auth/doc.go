// Package auth holds the reference server's authentication primitives:
// Argon2id password hashes, API tokens (a random secret shown once; only its
// SHA-256 is stored), the principal a request acts as, with its role, and
// the Throttle that slows down password guessing.
package auth
