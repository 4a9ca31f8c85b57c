//go:build integration

package portal_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// viewCheck runs axe-core on a browser's page and fails the test on a
// serious or critical violation.
type viewCheck struct {
	t   *testing.T
	axe string
}

func newViewCheck(t *testing.T) viewCheck {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(nodeModules(t), "axe-core", "axe.min.js"))
	require.NoError(t, err, "axe-core from the portal's npm packages")
	return viewCheck{t: t, axe: string(src)}
}

// accessible checks the page b shows, named where in a failure.
func (c viewCheck) accessible(b *browser, where string) {
	c.t.Helper()
	for _, v := range b.axe(c.axe) {
		assert.Failf(c.t, "accessibility", "%s: %s (%s) %s at %v", where, v.ID, v.Impact, v.Help, v.Nodes)
	}
}

// noneOf fails the test when text holds one of secrets (a tenant's page
// or response naming a host).
func noneOf(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			assert.Failf(t, "a tenant sees the infrastructure", "%s shows %q", where, s)
		}
	}
}

// taskState is a task as the tests read it.
type taskState struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Error    string `json:"error"`
	Progress int    `json:"progress"`
}

// waitTask polls a task until it is final, within d.
func (s *server) waitTask(t *testing.T, token, id string, d time.Duration) taskState {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		var k taskState
		s.must(t, http.StatusOK, "GET", "/v1/tasks/"+id, token, nil, &k)
		if k.State == "succeeded" || k.State == "failed" || k.State == "rolled-back" {
			return k
		}
		require.True(t, time.Now().Before(deadline), "task %s still %s after %s", id, k.State, d)
		time.Sleep(200 * time.Millisecond)
	}
}
