package core

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/openovm/ovm/image/convert"
)

// TestConversionPercent: a conversion's reports map to the task step's
// percent by the steps done and the bytes of the current one.
func TestConversionPercent(t *testing.T) {
	cases := []struct {
		p    convert.Progress
		want int
	}{
		{convert.Progress{Index: 1, Steps: 5}, 0},
		{convert.Progress{Index: 2, Steps: 5, Done: 50, Total: 100}, 30},
		{convert.Progress{Index: 4, Steps: 4, Done: 10, Total: 10}, 100},
		{convert.Progress{Index: 3, Steps: 4, Done: 500}, 50},             // no total: the step's start
		{convert.Progress{Index: 2, Steps: 4, Done: 300, Total: 100}, 50}, // more than announced: the step's end
		{convert.Progress{Index: 1, Steps: 0}, 0},                         // no steps announced
	}
	for _, c := range cases {
		assert.Equal(t, c.want, conversionPercent(c.p), "%+v", c.p)
	}
}
