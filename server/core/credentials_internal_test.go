package core

import (
	"crypto/rand"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/secrets"
	"github.com/openovm/ovm/server/store"
)

// TestCredentialsOpenedOncePerHostVersion: a host's sealed credentials are
// opened when its record's version is new to the cache, and served from
// the cache for the same version: a record whose sealed bytes could not be
// opened still gets the credentials of its version, and a new version is
// opened again (an unopenable one fails).
func TestCredentialsOpenedOncePerHostVersion(t *testing.T) {
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	box, err := secrets.New(key)
	require.NoError(t, err)
	id := ovm.NewID()
	seal := func(c drivers.Credentials) []byte {
		plain, err := json.Marshal(c)
		require.NoError(t, err)
		sealed, err := box.Seal(plain, []byte(id))
		require.NoError(t, err)
		return sealed
	}
	first := drivers.Credentials{Username: "root", Password: "first-pw"}
	second := drivers.Credentials{Username: "root", Password: "second-pw"}
	garbage := []byte("not sealed by this box")
	host := func(version int64, sealed []byte) hostRecord {
		// Read back as the store gives it, so that decode keeps the version.
		b, err := json.Marshal(hostRecord{Host: ovm.Host{ID: id, Name: "h1"}, Sealed: sealed})
		require.NoError(t, err)
		h, err := decode[hostRecord](store.Record{Kind: store.KindHost, ID: id, Version: version, Data: b})
		require.NoError(t, err)
		return h
	}

	var c credentialCache
	for _, tt := range []struct {
		name    string
		h       hostRecord
		want    drivers.Credentials
		wantErr bool
	}{
		{"first read of version 1", host(1, seal(first)), first, false},
		{"version 1 again: not opened", host(1, garbage), first, false},
		{"version 2: opened", host(2, seal(second)), second, false},
		{"version 2 again: not opened", host(2, garbage), second, false},
		{"version 3 unopenable", host(3, garbage), drivers.Credentials{}, true},
		{"an older version does not replace the newer one", host(1, seal(first)), first, false},
		{"version 2 still cached", host(2, garbage), second, false},
		{"a record not stored is always opened", host(0, garbage), drivers.Credentials{}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.open(box, tt.h)
			if tt.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "credentials of host h1")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	c.forget(id)
	_, err = c.open(box, host(2, garbage))
	assert.Error(t, err, "a forgotten host's credentials are opened again")
}
