package ovm

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
)

// ID identifies an OVM object. IDs are random UUIDs (version 4) in their
// canonical lower-case text form. OVM writes an object's ID onto the
// hypervisor object it manages (libvirt metadata, ESXi extraConfig, Docker
// label), so that creates are idempotent and inventory sync can tell managed
// objects from unmanaged ones.
type ID string

// NewID returns a new random ID.
func NewID() ID {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand.Read never returns an error on supported platforms.
		panic(fmt.Sprintf("ovm: crypto/rand failed: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return ID(s[:])
}

var idPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ParseID checks that s is a canonical lower-case UUID and returns it as an ID.
func ParseID(s string) (ID, error) {
	if !idPattern.MatchString(s) {
		return "", Invalid("invalid id", FieldError{Field: "id", Reason: "must be a lower-case UUID", Value: s})
	}
	return ID(s), nil
}

// Valid reports whether id is a canonical lower-case UUID.
func (id ID) Valid() bool { return idPattern.MatchString(string(id)) }

// IsZero reports whether id is empty.
func (id ID) IsZero() bool { return id == "" }

// String returns the ID's text.
func (id ID) String() string { return string(id) }

// Short returns the first eight characters, for logs and generated names.
func (id ID) Short() string {
	if len(id) < 8 {
		return string(id)
	}
	return string(id[:8])
}

// NamePattern is the regular expression of a valid object name (see
// ValidateName).
const NamePattern = `^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`

var namePattern = regexp.MustCompile(NamePattern)

// ValidateName checks an object name: 1 to 63 characters, lower-case letters,
// digits and hyphens, starting and ending with a letter or digit (a DNS label,
// which every hypervisor accepts as a domain, VM or container name).
// It returns a reason, or "" when the name is valid.
func ValidateName(name string) string {
	switch {
	case name == "":
		return "must not be empty"
	case len(name) > 63:
		return "must be at most 63 characters"
	case !namePattern.MatchString(name):
		return "must be lower-case letters, digits and hyphens, starting and ending with a letter or digit"
	}
	return ""
}
