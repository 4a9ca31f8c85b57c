package cli

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

func TestWriteYAML(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, writeYAML(&b, map[string]any{"name": "web", "flag": "true", "count": "10", "n": 10, "list": []string{"a"}}))
	assert.Equal(t, "count: \"10\"\nflag: \"true\"\nlist:\n  - a\nn: 10\nname: web\n", b.String(), "strings that read as other types stay quoted")
}

func TestParseCPU(t *testing.T) {
	tests := []struct {
		in   string
		want ovm.MilliCPU
		ok   bool
	}{
		{"500m", 500, true}, {"1", 1000, true}, {"0.5", 500, true}, {"2.25", 2250, true},
		{"0", 0, false}, {"-1", 0, false}, {"m", 0, false}, {"1.5m", 0, false}, {"lots", 0, false}, {"", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseCPU(tc.in)
			if !tc.ok {
				assert.Error(t, err, "parseCPU(%q) = %d", tc.in, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestFlagsInterspersed(t *testing.T) {
	a := &app{env: Env{Stdout: &bytes.Buffer{}}}
	f := a.flags("x", "", "")
	wait := f.Bool("wait", false, "")
	pos, err := f.parse([]string{"web", "--wait", "-o", "json", "db", "--", "--not-a-flag", "x"})
	require.NoError(t, err)
	assert.Equal(t, []string{"web", "db", "--not-a-flag", "x"}, pos, "positionals")
	assert.True(t, *wait)
	assert.Equal(t, "json", a.g.output, "a global flag after the command")
}

func TestResolveIn(t *testing.T) {
	id1, id2 := ovm.ID("11111111-0000-4000-8000-000000000001"), ovm.ID("11112222-0000-4000-8000-000000000002")
	objs := []named{{id1, "web"}, {id2, "db"}, {ovm.ID("33333333-0000-4000-8000-000000000003"), "dup"}, {ovm.ID("44444444-0000-4000-8000-000000000004"), "dup"}}
	list := func() ([]named, error) { return objs, nil }
	tests := []struct {
		ref, want, err string
	}{
		{"web", string(id1), ""},
		{string(id2), string(id2), ""},
		{"1111", "", "have ids starting with"},
		{"11112", string(id2), ""},
		{"dup", "", "2 instances are named"},
		{"nosuch", "", `no instance named "nosuch"`},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			got, err := resolveIn("instance", tc.ref, list)
			if tc.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, ovm.ID(tc.want), got)
		})
	}
}
