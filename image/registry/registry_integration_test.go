//go:build integration

package registry_test

import (
	"os"
	"testing"

	"github.com/openovm/ovm/image/imagetest"
)

// TestConformance runs the suite on the registry of the test environment
// (distribution, with deletion enabled).
func TestConformance(t *testing.T) {
	host := os.Getenv("OVM_TEST_REGISTRY")
	if host == "" {
		t.Fatal("OVM_TEST_REGISTRY is not set: run `make testenv` and `. ./.testenv` first")
	}
	imagetest.Run(t, harness(host))
}
