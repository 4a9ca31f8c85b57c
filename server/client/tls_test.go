package client_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/server/client"
)

func TestNormalizeFingerprint(t *testing.T) {
	hex := strings.Repeat("0a", 32)
	tests := []struct {
		name, in, want, wantErr string
	}{
		{name: "plain", in: hex, want: hex},
		{name: "upper with colons", in: strings.TrimSuffix(strings.Repeat("0A:", 32), ":"), want: hex},
		{name: "prefixed", in: " SHA256:" + hex + " ", want: hex},
		{name: "short", in: "0a0b", wantErr: "64 hex digits"},
		{name: "not hex", in: strings.Repeat("zz", 32), wantErr: "64 hex digits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := client.NormalizeFingerprint(tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestPinnedFingerprint: a client trusts a TLS server by the fingerprint
// of its certificate, and only that one.
func TestPinnedFingerprint(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	fp := client.CertFingerprint(srv.Certificate().Raw)
	sc, err := client.Inspect(t.Context(), srv.URL, nil)
	require.NoError(t, err)
	assert.Equal(t, fp, sc.Fingerprint)
	assert.False(t, sc.Trusted)
	_, err = client.Inspect(t.Context(), "http://"+srv.Listener.Addr().String(), nil)
	require.ErrorContains(t, err, "want https://")

	tests := []struct {
		name    string
		trust   client.TLS
		wantErr string
	}{
		{name: "pinned", trust: client.TLS{Fingerprint: fp}},
		{name: "other pin", trust: client.TLS{Fingerprint: strings.Repeat("ff", 32)}, wantErr: "does not match the pinned fingerprint"},
		{name: "no pin", trust: client.TLS{}, wantErr: "certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc, err := tt.trust.HTTPClient()
			require.NoError(t, err)
			cl, err := client.New(srv.URL, "", hc)
			require.NoError(t, err)
			var out map[string]bool
			_, err = cl.Do(t.Context(), client.Request{Method: http.MethodGet, Path: "/x"}, &out)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.True(t, out["ok"])
		})
	}
	_, err = client.TLS{Fingerprint: "nope"}.HTTPClient()
	require.ErrorContains(t, err, "64 hex digits")
}
