//go:build integration

package app_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	dockerclient "github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/internal/pgtest"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/apitypes"
	"github.com/openovm/ovm/server/client"
)

// replicaLoad is what the clients of TestReplicasUnderLoad did.
type replicaLoad struct {
	mu       sync.Mutex
	created  map[string]ovm.ID // instance name → id, once a create answered
	deleted  map[ovm.ID]bool
	retried  atomic.Int64 // requests that failed in transport and were sent again
	problems []error      // answers with a problem: none expected
}

// TestReplicasUnderLoad runs three `ovm server` replicas on one PostgreSQL
// database with clients spread over them sending creates (each with an
// idempotency key), reads and deletes. One replica is killed with SIGKILL
// mid-load, another paused (SIGSTOP) for longer than the task lease and
// resumed. A request that fails in transport (in flight at the kill, or
// to the paused replica) is sent again to another replica with the same
// key. Afterwards: no request was refused, every create made exactly one
// instance, nothing deleted is left, and every task ended. The hosts are
// the servers' in-memory fake hosts (one per replica): this run is about
// the store, the leases and the API; TestReplicasUnderLoadDocker runs the
// same on the real dockerd.
func TestReplicasUnderLoad(t *testing.T) {
	spec := ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 10, Memory: 16 * ovm.MiB, Image: ovm.ImageRef{Format: ovm.FormatOCI, Name: "busybox:1"}}
	replicasUnderLoad(t, apitypes.HostRegister{Name: "h1", Kind: ovm.HostFake, Endpoint: "fake://h1"}, spec, 25)
}

// replicasUnderLoad runs the load of TestReplicasUnderLoad on host with
// six workers of perWorker creates each, checks what it says, and returns
// the load and the VDC.
func replicasUnderLoad(t *testing.T, host apitypes.HostRegister, spec ovm.InstanceSpec, perWorker int) (*replicaLoad, ovm.ID) {
	db := pgtest.Schema(t)
	dir := t.TempDir()
	key := filepath.Join(dir, "secret.key")
	start := func(i int) *proc {
		return startProc(t, filepath.Join(dir, fmt.Sprintf("r%d", i)), freePort(t), "--database", db, "--fake-hosts",
			"--secret-key-file", key, "--replica", fmt.Sprintf("r%d", i))
	}
	reps := []*proc{start(0)}
	require.Eventually(t, func() bool { return reps[0].adminPassword() != "" }, 30*time.Second, 10*time.Millisecond)
	reps = append(reps, start(1), start(2))
	ctx := t.Context()
	hc := &http.Client{Timeout: 3 * time.Second}
	clientOf := func(i int, token string) *client.Client {
		c, err := client.New(reps[i].url, token, hc)
		require.NoError(t, err)
		return c
	}
	sess, err := clientOf(0, "").Login(ctx, "admin", reps[0].adminPassword())
	require.NoError(t, err)
	adm := clientOf(2, sess.Token)
	dc, err := adm.CreateDatacenter(ctx, apitypes.DatacenterCreate{Name: "dc1"})
	require.NoError(t, err)
	pool, err := adm.CreatePool(ctx, apitypes.PoolCreate{Name: "pool1", DatacenterID: dc.ID})
	require.NoError(t, err)
	host.PoolID = pool.ID
	_, err = adm.RegisterHost(ctx, host)
	require.NoError(t, err)
	vdc, err := adm.CreateVDC(ctx, apitypes.VDCCreate{Name: "acme", PoolID: pool.ID,
		Quota: ovm.Quota{CPU: ovm.CPUs(1000), Memory: 1000 * ovm.GiB, Disk: 100 * ovm.TiB, Instances: 5000, Networks: 5}})
	require.NoError(t, err)
	_, err = adm.CreateUser(ctx, apitypes.UserCreate{Name: "acme-admin", Role: apitypes.RoleVDCAdmin, VDCID: vdc.ID, Password: "tenant-password-1"})
	require.NoError(t, err)
	tsess, err := adm.Login(ctx, "acme-admin", "tenant-password-1")
	require.NoError(t, err)
	tenants := []*client.Client{clientOf(0, tsess.Token), clientOf(1, tsess.Token), clientOf(2, tsess.Token)}

	load := &replicaLoad{created: map[string]ovm.ID{}, deleted: map[ovm.ID]bool{}}
	var killed atomic.Bool
	// do sends a request to replica (w+attempt) % 3 until it is answered,
	// skipping the killed one.
	do := func(w int, req func(c *client.Client) error) error {
		for attempt := 0; ; attempt++ {
			i := (w + attempt) % 3
			if i == 0 && killed.Load() {
				continue
			}
			err := req(tenants[i])
			if err == nil || client.StatusOf(err) != 0 {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			load.retried.Add(1)
			if attempt > 30 {
				return fmt.Errorf("no replica answered: %w", err)
			}
		}
	}
	const workers = 6
	var total atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				name := fmt.Sprintf("w%d-%d", w, i)
				in := apitypes.InstanceCreate{Name: name, Spec: spec, IdempotencyKey: "create-" + name}
				var it apitypes.InstanceTask
				err := do(w+i, func(c *client.Client) error {
					var err error
					it, err = c.CreateInstance(ctx, in)
					return err
				})
				if err != nil {
					load.mu.Lock()
					load.problems = append(load.problems, fmt.Errorf("create %s: %w", name, err))
					load.mu.Unlock()
					continue
				}
				total.Add(1)
				load.mu.Lock()
				load.created[name] = it.Instance.ID
				load.mu.Unlock()
				if err := do(w+i+1, func(c *client.Client) error { _, err := c.GetInstance(ctx, it.Instance.ID); return err }); err != nil {
					load.mu.Lock()
					load.problems = append(load.problems, fmt.Errorf("read %s: %w", name, err))
					load.mu.Unlock()
				}
				if i%4 == 3 {
					// Delete once the create ended (a delete of an instance
					// still being created is a conflict).
					err := do(w+i+2, func(c *client.Client) error {
						for {
							tk, err := c.GetTask(ctx, it.Task.ID)
							if err != nil || tk.State.Final() {
								return err
							}
							time.Sleep(20 * time.Millisecond)
						}
					})
					retry := false
					if err == nil {
						err = do(w+i+2, func(c *client.Client) error {
							_, err := c.DeleteInstance(ctx, it.Instance.ID)
							// A delete sent again after an answer that was
							// lost finds the instance deleting or gone.
							if s := client.StatusOf(err); retry && (s == http.StatusConflict || s == http.StatusNotFound) {
								return nil
							}
							retry = client.StatusOf(err) == 0 && err != nil
							return err
						})
					}
					load.mu.Lock()
					if err != nil {
						load.problems = append(load.problems, fmt.Errorf("delete %s: %w", name, err))
					} else {
						load.deleted[it.Instance.ID] = true
					}
					load.mu.Unlock()
				}
			}
		})
	}
	waitFor := func(n int64) {
		require.Eventually(t, func() bool { return total.Load() >= n }, 2*time.Minute, 5*time.Millisecond)
	}
	waitFor(int64(workers * perWorker / 5))
	require.NoError(t, reps[0].cmd.Process.Signal(syscall.SIGKILL))
	killed.Store(true)
	killedAt := time.Now()
	<-reps[0].done
	waitFor(int64(workers * perWorker * 2 / 5))
	require.NoError(t, reps[1].cmd.Process.Signal(syscall.SIGSTOP))
	time.Sleep(4 * time.Second) // twice the task lease
	require.NoError(t, reps[1].cmd.Process.Signal(syscall.SIGCONT))
	wg.Wait()

	// Every task ends.
	var open int
	require.Eventually(t, func() bool {
		ts, err := adm.ListTasks(ctx, client.ListOptions{})
		if err != nil {
			return false
		}
		open = 0
		for _, tk := range ts {
			if !tk.State.Final() {
				open++
			}
		}
		return open == 0
	}, 5*time.Minute, 100*time.Millisecond, "every task ends")
	settled := time.Since(killedAt)

	assert.Empty(t, load.problems, "no request refused")
	insts, err := adm.ListInstances(ctx, client.ListOptions{})
	require.NoError(t, err)
	byName := map[string][]ovm.ID{}
	for _, in := range insts {
		byName[in.Name] = append(byName[in.Name], in.ID)
	}
	for name, id := range load.created {
		if load.deleted[id] {
			assert.Empty(t, byName[name], "%s was deleted", name)
			continue
		}
		assert.Equal(t, []ovm.ID{id}, byName[name], "exactly the one instance %s the create answered", name)
	}
	assert.Len(t, insts, len(load.created)-len(load.deleted), "no instance the clients do not know")
	ts, err := adm.ListTasks(ctx, client.ListOptions{})
	require.NoError(t, err)
	failed := 0
	for _, tk := range ts {
		if tk.State != ovm.TaskSucceeded {
			failed++
			t.Logf("task %s %s: %s %s", tk.ID, tk.Kind, tk.State, tk.Error)
		}
	}
	assert.Zero(t, failed, "tasks that did not succeed")
	t.Logf("%d creates, %d deletes, %d tasks; %d requests retried after a transport failure (the kill and the pause); every task ended %s after the kill",
		len(load.created), len(load.deleted), len(ts), load.retried.Load(), settled.Round(100*time.Millisecond))
	return load, vdc.ID
}

// TestReplicasUnderLoadDocker runs the load of TestReplicasUnderLoad on the
// real dockerd, shared by the three replicas, and then finds on the engine
// exactly one container for each instance and none for a deleted one.
func TestReplicasUnderLoadDocker(t *testing.T) {
	image := os.Getenv("OVM_TEST_DOCKER_IMAGE")
	endpoint := os.Getenv("DOCKER_HOST")
	require.NotEmpty(t, image, "OVM_TEST_DOCKER_IMAGE is not set: run make testenv and . ./.testenv")
	require.NotEmpty(t, endpoint, "DOCKER_HOST is not set: run make testenv and . ./.testenv")
	cli, err := dockerclient.NewClientWithOpts(dockerclient.WithHost(endpoint), dockerclient.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })
	var vdc ovm.ID
	listVDC := func() []container.Summary {
		list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true,
			Filters: filters.NewArgs(filters.Arg("label", docker.LabelVDC+"="+string(vdc)))})
		require.NoError(t, err)
		return list
	}
	t.Cleanup(func() {
		if vdc == "" {
			return
		}
		for _, c := range listVDC() {
			_ = cli.ContainerRemove(context.Background(), c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		}
	})
	spec := ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 10, Memory: 16 * ovm.MiB, Image: ovm.ImageRef{Format: ovm.FormatOCI, Name: image},
		Command: []string{"sleep", "600"}}
	load, id := replicasUnderLoad(t, apitypes.HostRegister{Name: "docker1", Kind: ovm.HostDocker, Endpoint: endpoint}, spec, 8)
	vdc = id
	byID := map[string]int{}
	for _, c := range listVDC() {
		byID[c.Labels[docker.LabelID]]++
	}
	for name, id := range load.created {
		if load.deleted[id] {
			assert.Zero(t, byID[string(id)], "containers of %s, deleted", name)
			continue
		}
		assert.Equal(t, 1, byID[string(id)], "containers of %s", name)
		delete(byID, string(id))
	}
	for id, n := range byID {
		if n > 0 && !load.deleted[ovm.ID(id)] {
			t.Errorf("%d containers of %s, which no create answered", n, id)
		}
	}
}
