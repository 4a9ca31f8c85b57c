package auth_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/openovm/ovm/server/auth"
)

func TestThrottle(t *testing.T) {
	lim := auth.ThrottleLimits{Free: 2, Base: time.Second, Max: 10 * time.Second, Forget: time.Minute}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	type step struct {
		op   string // "try", "forgive", "reset"
		at   float64
		want time.Duration // of try
	}
	tests := []struct {
		name  string
		steps []step
	}{
		// Two free failures, then 1s, 2s, 4s, 8s, 10s (capped).
		{"waits double after the free failures", []step{{"try", 0, 0}, {"try", 0, 0}, {"try", 0, 0},
			{"try", 0.5, 500 * time.Millisecond}, {"try", 1, 0}, {"try", 2, time.Second}, {"try", 3, 0},
			{"try", 6.5, 500 * time.Millisecond}, {"try", 7, 0}, {"try", 14, time.Second}, {"try", 15, 0}, {"try", 16, 9 * time.Second}, {"try", 25, 0}}},
		{"a refused try counts nothing", []step{{"try", 0, 0}, {"try", 0, 0}, {"try", 0, 0},
			{"try", 0.1, 900 * time.Millisecond}, {"try", 0.2, 800 * time.Millisecond}, {"try", 1, 0}, {"try", 1, 2 * time.Second}}},
		{"a success forgiven does not count", []step{{"try", 0, 0}, {"forgive", 0, 0}, {"try", 0, 0}, {"forgive", 0, 0},
			{"try", 0, 0}, {"try", 0, 0}, {"try", 0, 0}, {"try", 0, time.Second}}},
		{"reset forgets", []step{{"try", 0, 0}, {"try", 0, 0}, {"try", 0, 0}, {"reset", 0, 0}, {"try", 0, 0}, {"try", 0, 0}, {"try", 0, 0}}},
		{"failures are forgotten after a while", []step{{"try", 0, 0}, {"try", 0, 0}, {"try", 0, 0}, {"try", 60, 0}, {"try", 60, 0}, {"try", 60, 0}, {"try", 60, time.Second}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			th := auth.NewThrottle(lim)
			for i, s := range tc.steps {
				switch s.op {
				case "try":
					assert.Equal(t, s.want, th.Try(at(s.at), "alice"), "step %d: try at %vs", i, s.at)
				case "forgive":
					th.Forgive("alice")
				case "reset":
					th.Reset("alice")
				}
			}
			assert.Zero(t, th.Try(at(0), "bob"), "another key is not throttled")
		})
	}
}
