package hypervisortest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
)

func TestHarnessCheck(t *testing.T) {
	newDriver := func(t *testing.T) hypervisor.Driver { return nil }
	spec := func(t *testing.T, name string) hypervisor.CreateSpec { return hypervisor.CreateSpec{} }
	tests := []struct {
		name    string
		h       Harness
		wantErr []string // substrings the error must contain; none means no error
	}{
		{"complete", Harness{New: newDriver, Spec: spec}, nil},
		{"justified exceptions", Harness{New: newDriver, Spec: spec, Exceptions: map[string]string{
			TestMigrate: "containers do not migrate", TestConsole: "no serial port"}}, nil},
		{"no new", Harness{Spec: spec}, []string{"New: is required"}},
		{"no spec", Harness{New: newDriver}, []string{"Spec: is required"}},
		{"unknown exception", Harness{New: newDriver, Spec: spec, Exceptions: map[string]string{"no-such-test": "because"}},
			[]string{`Exceptions["no-such-test"]: names no test`, TestPowerCycle}},
		{"exception without reason", Harness{New: newDriver, Spec: spec, Exceptions: map[string]string{TestPing: "  "}},
			[]string{`Exceptions["ping"]: needs a justification`}},
		{"negative concurrency", Harness{New: newDriver, Spec: spec, Concurrency: -1}, []string{"must not be negative"}},
		{"every problem at once", Harness{Exceptions: map[string]string{"x": "y", TestStats: ""}},
			[]string{"New: is required", "Spec: is required", `Exceptions["x"]: names no test`, `Exceptions["stats"]: needs a justification`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.h.check()
			if len(tt.wantErr) == 0 {
				require.NoError(t, err, "check: got an error, want none")
				return
			}
			require.Error(t, err, "check: got nil, want an error containing %q", tt.wantErr)
			for _, want := range tt.wantErr {
				assert.Contains(t, err.Error(), want, "check: got %q, want it to contain %q", err, want)
			}
		})
	}
}

func TestTestsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, name := range Tests() {
		assert.False(t, seen[name], "Tests: got %q twice, want each name once", name)
		seen[name] = true
	}
	// 24 sub-tests: 14 core (info .. reconfigure), 7 facets (capabilities ..
	// mark), concurrency, cancellation and template delivery.
	assert.Len(t, seen, 24, "Tests: got %d names, want 24", len(seen))
}

func TestName(t *testing.T) {
	s := &suite{suffix: "abc123"}
	tests := []struct {
		name, tag, want string
	}{
		{"short", "power", "ovmt-abc123-power"},
		// "ovmt-abc123-" is 12 characters, so 63-12 = 51 of the tag's 56 are
		// kept: "xx-" 17 times, whose trailing hyphen is dropped.
		{"too long", "xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx", "ovmt-abc123-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx-xx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.name(tt.tag)
			assert.Equal(t, tt.want, got, "name(%q): got %q, want %q", tt.tag, got, tt.want)
			assert.LessOrEqual(t, len(got), 63, "name(%q): got %d characters, want at most 63", tt.tag, len(got))
		})
	}
}
