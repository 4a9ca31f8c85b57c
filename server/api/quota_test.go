package api

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/core"
)

// TestQuotaRace: 200 concurrent creates, 16 at a time, against a quota with
// room for 50 instances: exactly 50 are accepted, the 150 others are 403
// quota problems naming "instances", and the usage ends at 50 (invariant 5).
func TestQuotaRace(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			const (
				attempts = 200
				room     = 50
				workers  = 16
			)
			e := newEnv(t, b.open(t))
			pl := e.setupPlatform(2)
			q := ovm.Quota{CPU: ovm.CPUs(64), Memory: 64 * ovm.GiB, Disk: ovm.TiB, Instances: room, Networks: 1}
			tn := e.newTenant("race", pl.pool, q)

			statuses := make([]int, attempts)
			tasks := make([]ovm.ID, attempts)
			problems := make([]string, attempts)
			next := make(chan int)
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for i := range next {
						r := e.do("POST", "/v1/instances", tn.token, map[string]any{"name": fmt.Sprintf("c%03d", i), "spec": container()})
						statuses[i] = r.status
						switch r.status {
						case http.StatusAccepted:
							var it core.InstanceTask
							r.decode(t, &it)
							tasks[i] = it.Task.ID
						default:
							problems[i] = string(r.body)
						}
					}
				})
			}
			for i := range attempts {
				next <- i
			}
			close(next)
			wg.Wait()

			accepted, refused := 0, 0
			for i, s := range statuses {
				switch s {
				case http.StatusAccepted:
					accepted++
				case http.StatusForbidden:
					refused++
					assert.Contains(t, problems[i], `"location":"quota.instances"`, "problem %d names the instances quota", i)
				default:
					t.Errorf("create %d: got status %d (%s), want 202 or 403", i, s, problems[i])
				}
			}
			assert.Equal(t, room, accepted, "accepted creates")
			assert.Equal(t, attempts-room, refused, "refused creates")
			for _, id := range tasks {
				if id != "" {
					require.Equal(t, ovm.TaskSucceeded, e.waitTask(tn.token, id).State, "task %s", id)
				}
			}
			var u apitypes.Usage
			e.must(http.StatusOK, "GET", "/v1/vdcs/"+string(tn.vdc)+"/usage", tn.token, nil).decode(t, &u)
			// 50 instances of 100 milli-vCPU and 16MiB each.
			assert.Equal(t, ovm.Usage{Instances: room, CPU: room * 100, Memory: room * 16 * ovm.MiB}, u.Usage, "final usage")
			var list List[ovm.Instance]
			e.must(http.StatusOK, "GET", "/v1/instances?limit=1000", tn.token, nil).decode(t, &list.Body)
			assert.Len(t, list.Body.Items, room, "instances recorded")
			for _, p := range problems {
				assert.NotContains(t, strings.ToLower(p), "sqlstate")
			}
		})
	}
}
