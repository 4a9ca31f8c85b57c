package conformance_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openovm/ovm/internal/conformance"
	"github.com/openovm/ovm/ovm"
)

func TestCheckExceptions(t *testing.T) {
	names := []string{"a", "b"}
	tests := []struct {
		name       string
		exceptions map[string]string
		want       []string
	}{
		{"none", nil, nil},
		{"justified", map[string]string{"a": "the engine cannot"}, nil},
		{"unknown and unjustified, sorted", map[string]string{"z": "why", "b": " "}, []string{`Exceptions["b"]`, `Exceptions["z"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f ovm.Fields
			conformance.CheckExceptions(&f, tt.exceptions, names)
			var got []string
			for _, fe := range f {
				got = append(got, fe.Field)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRunSkipsExceptedTests(t *testing.T) {
	var ran []string
	tests := []conformance.Test{
		{Name: "a", Run: func(*testing.T) { ran = append(ran, "a") }},
		{Name: "b", Run: func(*testing.T) { ran = append(ran, "b") }},
		{Name: "c", Run: func(*testing.T) { ran = append(ran, "c") }},
	}
	conformance.Run(t, "demo", tests, map[string]string{"b": "not here"})
	assert.Equal(t, []string{"a", "c"}, ran)
	assert.Equal(t, []string{"a", "b", "c"}, conformance.Names(tests))
}
