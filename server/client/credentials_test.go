package client_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
)

// everyCredential returns credentials with every field set to a value
// naming it and tag.
func everyCredential(tag string) apitypes.Credentials {
	var c apitypes.Credentials
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		v.Field(i).SetString(tag + "-" + v.Type().Field(i).Name)
	}
	return c
}

// TestHostCredentialsReachDriver: every credential field the client sends
// (sshKey for qemu+ssh:// and ssh:// hosts among them) reaches the host's
// driver on the server, through encryption at rest, at registration and
// after a credentials change.
func TestHostCredentialsReachDriver(t *testing.T) {
	srv, admin, _ := setup(t, quota)
	ctx := t.Context()
	pools, err := admin.ListPools(ctx)
	require.NoError(t, err)
	require.Len(t, pools, 1)

	first := everyCredential("first")
	require.NotEmpty(t, first.SSHKey)
	h, err := admin.RegisterHost(ctx, apitypes.HostRegister{Name: "h2", Kind: ovm.HostFake, Endpoint: "fake://h2", PoolID: pools[0].ID, Credentials: first})
	require.NoError(t, err)
	got, ok := srv.Credentials("fake://h2")
	require.True(t, ok, "the server connected to h2")
	assert.Equal(t, first, got, "the credentials the driver got at registration")

	second := everyCredential("second")
	_, err = admin.UpdateHost(ctx, h.ID, apitypes.HostPatch{Credentials: &second})
	require.NoError(t, err)
	_, err = admin.SyncHost(ctx, h.ID) // the next call reconnects
	require.NoError(t, err)
	got, _ = srv.Credentials("fake://h2")
	assert.Equal(t, second, got, "the credentials the driver got after the change")
}
