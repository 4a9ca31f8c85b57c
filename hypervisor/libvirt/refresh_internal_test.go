package libvirt

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWhilePoolBusy: a refresh refused because the pool has volume jobs
// running is tried again until it passes; other errors return at once;
// the wait ends with ctx or its bound, with libvirt's last error.
func TestWhilePoolBusy(t *testing.T) {
	busy := errors.New("internal error: pool 'ovm-disks' has asynchronous jobs running.")
	other := errors.New("Storage pool not found")
	failing := func(n int, then error) (func() error, *int) {
		calls := 0
		return func() error {
			calls++
			if calls <= n {
				return busy
			}
			return then
		}, &calls
	}
	tests := []struct {
		name      string
		n         int
		then      error
		wait      time.Duration
		want      error
		wantCalls int
	}{
		{"busy then done", 3, nil, time.Minute, nil, 4},
		{"another error at once", 0, other, time.Minute, other, 1},
		{"busy then another error", 2, other, time.Minute, other, 3},
		{"busy past the bound", 1000, nil, 50 * time.Millisecond, busy, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn, calls := failing(tt.n, tt.then)
			err := whilePoolBusy(context.Background(), tt.wait, fn)
			require.ErrorIs(t, err, tt.want)
			if tt.want == nil {
				require.NoError(t, err)
			}
			if tt.wantCalls > 0 {
				assert.Equal(t, tt.wantCalls, *calls)
			} else {
				assert.Greater(t, *calls, 1, "tried more than once before giving up")
			}
		})
	}
	t.Run("ctx ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		fn, calls := failing(1000, nil)
		go func() { time.Sleep(50 * time.Millisecond); cancel() }()
		require.ErrorIs(t, whilePoolBusy(ctx, time.Minute, fn), busy)
		assert.Greater(t, *calls, 1)
	})
}
