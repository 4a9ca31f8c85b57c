//go:build integration

package app_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
)

// binDir holds the ovm command the tests build; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary builds the ovm command once per test binary.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ovm-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "ovm")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/openovm/ovm/server/cmd/ovm").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// proc is a running `ovm server` process.
type proc struct {
	cmd      *exec.Cmd
	url      string
	mu       sync.Mutex
	password string // guarded by mu
	done     chan struct{}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startProc starts `ovm server` on dir and addr and waits until it answers.
func startProc(t *testing.T, dir, addr string, extra ...string) *proc {
	t.Helper()
	bin, err := binary()
	require.NoError(t, err)
	args := append([]string{"server", "--listen", addr, "--data-dir", dir, "--log-format", "json", "--task-lease", "2s"}, extra...)
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	logf, err := os.Create(filepath.Join(t.TempDir(), "server.log"))
	require.NoError(t, err)
	cmd.Stderr = logf
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, url: "http://" + addr, done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`password: (\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				p.mu.Lock()
				p.password = m[1]
				p.mu.Unlock()
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("server log:\n%s", b)
		}
		logf.Close()
	})
	require.Eventually(t, func() bool {
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, 50*time.Millisecond, "the server answers /readyz")
	return p
}

// adminPassword is the password the server printed, once read.
func (p *proc) adminPassword() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.password
}

func apiLogin(t *testing.T, base, name, password string) string {
	t.Helper()
	var s core.Session
	require.Equal(t, http.StatusOK, call(t, base, "POST", "/v1/login", "", map[string]string{"name": name, "password": password}, &s))
	return s.Token
}

// TestKill9ServerWithDockerHost runs the real binary against the real
// dockerd: a tenant asks for several containers, the server is killed with
// SIGKILL while their tasks run, and after a restart on the same data
// directory every task ends, every instance has exactly one container on
// the engine, and no container is left that OVM does not know.
func TestKill9ServerWithDockerHost(t *testing.T) {
	image := os.Getenv("OVM_TEST_DOCKER_IMAGE")
	endpoint := os.Getenv("DOCKER_HOST")
	require.NotEmpty(t, image, "OVM_TEST_DOCKER_IMAGE is not set: run make testenv and . ./.testenv")
	require.NotEmpty(t, endpoint, "DOCKER_HOST is not set: run make testenv and . ./.testenv")
	cli, err := client.NewClientWithOpts(client.WithHost(endpoint), client.WithAPIVersionNegotiation())
	require.NoError(t, err)
	t.Cleanup(func() { cli.Close() })

	dir := filepath.Join(t.TempDir(), "data")
	addr := freePort(t)
	p := startProc(t, dir, addr)
	require.Eventually(t, func() bool { return p.adminPassword() != "" }, 30*time.Second, 10*time.Millisecond,
		"the first start prints the administrator's password")
	admin := apiLogin(t, p.url, "admin", p.adminPassword())

	var dc ovm.Datacenter
	require.Equal(t, http.StatusCreated, call(t, p.url, "POST", "/v1/datacenters", admin, map[string]any{"name": "dc1"}, &dc))
	var pool ovm.ResourcePool
	require.Equal(t, http.StatusCreated, call(t, p.url, "POST", "/v1/pools", admin, map[string]any{"name": "pool1", "datacenterId": dc.ID, "policy": "PERFORMANCE"}, &pool))
	var host ovm.Host
	require.Equal(t, http.StatusCreated, call(t, p.url, "POST", "/v1/hosts", admin, map[string]any{"name": "docker1", "kind": "docker", "endpoint": endpoint, "poolId": pool.ID}, &host))
	var vdc ovm.VDC
	q := ovm.Quota{CPU: ovm.CPUs(8), Memory: 8 * ovm.GiB, Disk: 100 * ovm.GiB, Instances: 20, Networks: 2}
	require.Equal(t, http.StatusCreated, call(t, p.url, "POST", "/v1/vdcs", admin, map[string]any{"name": "acme", "poolId": pool.ID, "quota": q}, &vdc))
	t.Cleanup(func() {
		ctx := context.Background()
		list, _ := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelVDC+"="+string(vdc.ID)))})
		for _, c := range list {
			_ = cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
		}
	})
	require.Equal(t, http.StatusCreated, call(t, p.url, "POST", "/v1/users", admin, map[string]any{"name": "ann", "role": "vdc-admin", "vdcId": vdc.ID, "password": "tenant-password-1"}, nil))
	tenant := apiLogin(t, p.url, "ann", "tenant-password-1")

	const n = 6
	var its []core.InstanceTask
	for i := range n {
		var it core.InstanceTask
		spec := map[string]any{"type": "container", "cpuMilli": 100, "memoryBytes": 32 << 20,
			"image": map[string]string{"format": "oci", "name": image}, "command": []string{"sleep", "600"}}
		require.Equal(t, http.StatusAccepted, call(t, p.url, "POST", "/v1/instances", tenant, map[string]any{"name": fmt.Sprintf("web%d", i), "spec": spec, "start": true}, &it))
		its = append(its, it)
	}
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL), "kill -9 the server")
	<-p.done

	// Restart on the same data directory: the dead process's leases expire
	// (2s) and the new one resumes or rolls back each task.
	p2 := startProc(t, dir, addr)
	assert.Empty(t, p2.adminPassword(), "a restart creates no administrator")
	tenant = apiLogin(t, p2.url, "ann", "tenant-password-1")
	for _, it := range its {
		var task ovm.Task
		require.Eventually(t, func() bool {
			require.Equal(t, http.StatusOK, call(t, p2.url, "GET", "/v1/tasks/"+string(it.Task.ID), tenant, nil, &task))
			return task.State.Final()
		}, 3*time.Minute, 100*time.Millisecond, "task %s of %s ends after the restart", it.Task.ID, it.Instance.Name)
		assert.Equal(t, ovm.TaskSucceeded, task.State, "task of %s: %s", it.Instance.Name, task.Error)
	}

	ctx := context.Background()
	list, err := cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelVDC+"="+string(vdc.ID)))})
	require.NoError(t, err)
	byID := map[string]int{}
	for _, c := range list {
		byID[c.Labels[docker.LabelID]]++
	}
	for _, it := range its {
		assert.Equal(t, 1, byID[string(it.Instance.ID)], "containers of instance %s", it.Instance.Name)
		delete(byID, string(it.Instance.ID))
		var inst ovm.Instance
		require.Equal(t, http.StatusOK, call(t, p2.url, "GET", "/v1/instances/"+string(it.Instance.ID), tenant, nil, &inst))
		assert.Equal(t, ovm.PowerRunning, inst.Status.Power, "instance %s runs", it.Instance.Name)
	}
	assert.Empty(t, byID, "containers OVM does not know")

	// Deleting through the API leaves nothing on the engine.
	for _, it := range its {
		var dt core.InstanceTask
		require.Equal(t, http.StatusAccepted, call(t, p2.url, "DELETE", "/v1/instances/"+string(it.Instance.ID), tenant, nil, &dt))
		var task ovm.Task
		require.Eventually(t, func() bool {
			call(t, p2.url, "GET", "/v1/tasks/"+string(dt.Task.ID), tenant, nil, &task)
			return task.State.Final()
		}, time.Minute, 50*time.Millisecond)
		assert.Equal(t, ovm.TaskSucceeded, task.State, "delete of %s: %s", it.Instance.Name, task.Error)
	}
	list, err = cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", docker.LabelVDC+"="+string(vdc.ID)))})
	require.NoError(t, err)
	assert.Empty(t, list, "containers left after the deletes")
}
