package ovm_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

func TestNewIDIsUniqueAndCanonical(t *testing.T) {
	seen := map[ovm.ID]bool{}
	for range 1000 {
		id := ovm.NewID()
		require.True(t, id.Valid(), "id %q", id)
		require.False(t, seen[id], "duplicate id %q", id)
		seen[id] = true
		assert.Equal(t, byte('4'), id[14], "version nibble of %q", id)
	}
}

func TestParseID(t *testing.T) {
	_, err := ovm.ParseID("8c1f7d2e-3b4a-4c5d-9e6f-0a1b2c3d4e5f")
	require.NoError(t, err)
	for _, bad := range []string{"", "x", "8C1F7D2E-3B4A-4C5D-9E6F-0A1B2C3D4E5F", "8c1f7d2e3b4a4c5d9e6f0a1b2c3d4e5f", "8c1f7d2e-3b4a-4c5d-9e6f-0a1b2c3d4e5f0"} {
		_, err := ovm.ParseID(bad)
		assert.ErrorIs(t, err, ovm.ErrInvalid, "ParseID(%q)", bad)
	}
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name  string
		valid bool
	}{
		{"web-1", true},
		{"a", true},
		{"0db", true},
		{"", false},
		{"-web", false},
		{"web-", false},
		{"Web", false},
		{"web_1", false},
		{"web.1", false},
		{string(make([]byte, 64)), false},
		{"a23456789012345678901234567890123456789012345678901234567890123", true}, // 63 characters
		{"a234567890123456789012345678901234567890123456789012345678901234", false},
	}
	for _, tt := range tests {
		reason := ovm.ValidateName(tt.name)
		assert.Equal(t, tt.valid, reason == "", "ValidateName(%q) = %q", tt.name, reason)
	}
}
