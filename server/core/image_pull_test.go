package core_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/auth"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/drivers"
	"github.com/openovm/ovm/server/secrets"
	"github.com/openovm/ovm/server/store/sqlstore"
	"github.com/openovm/ovm/server/tasks"
)

// pullingHost is a fake host that keeps images, as a Docker engine does:
// its Create refuses an image it does not have, and EnsureImage pulls from
// a registry of the test's own.
type pullingHost struct {
	*fake.Driver
	mu       sync.Mutex
	images   map[string]bool // on the host
	registry map[string]bool // in the registry
	pulls    []string
	// createdBeforePull counts pulls made after a Create already ran.
	createdBeforePull int
}

var _ hypervisor.ImagePuller = (*pullingHost)(nil)

func (h *pullingHost) EnsureImage(ctx context.Context, ref ovm.ImageRef, progress hypervisor.Progress) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.images[ref.Name] {
		return false, nil
	}
	if h.Calls(fake.MethodCreate) > 0 {
		h.createdBeforePull++
	}
	if !h.registry[ref.Name] {
		return false, ovm.Errorf(ovm.KindNotFound, "pull %s: manifest for %s not found: manifest unknown: manifest unknown", ref.Name, ref.Name)
	}
	h.pulls = append(h.pulls, ref.Name)
	for _, p := range []int{0, 10, 40, 30, 80, 99, 100} { // 30: a report going back is ignored
		progress(p, "Downloading layer")
	}
	h.images[ref.Name] = true
	return true, nil
}

func (h *pullingHost) Create(ctx context.Context, spec hypervisor.CreateSpec) (hypervisor.Instance, error) {
	h.mu.Lock()
	have := h.images[spec.Spec.Image.Name]
	h.mu.Unlock()
	if spec.Spec.Image.Format == ovm.FormatOCI && !have {
		return hypervisor.Instance{}, ovm.Errorf(ovm.KindNotFound, "image %q is not on the host (pull it first)", spec.Spec.Image.Name)
	}
	return h.Driver.Create(ctx, spec)
}

func (h *pullingHost) pulled() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.pulls...)
}

// pullFixture is a service whose fake hosts keep images (withPuller) or
// do not.
type pullFixture struct {
	*fixture
	mu    sync.Mutex
	hosts map[string]*pullingHost // by endpoint
}

func newPullFixture(t *testing.T, withPuller bool, registry ...string) *pullFixture {
	t.Helper()
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	eng := tasks.New(st, tasks.Options{PollInterval: 10 * time.Millisecond})
	reg := drivers.NewRegistry()
	fakes := drivers.NewFakeHosts(fake.Options{})
	pf := &pullFixture{hosts: map[string]*pullingHost{}}
	base := fakes.Factory()
	reg.Register(ovm.HostFake, func(ctx context.Context, host ovm.Host, cred drivers.Credentials) (drivers.Conn, error) {
		c, err := base(ctx, host, cred)
		if err != nil || !withPuller {
			return c, err
		}
		pf.mu.Lock()
		defer pf.mu.Unlock()
		h := pf.hosts[host.Endpoint]
		if h == nil {
			h = &pullingHost{Driver: c.Hypervisor.(*fake.Driver), images: map[string]bool{}, registry: map[string]bool{}}
			for _, r := range registry {
				h.registry[r] = true
			}
			pf.hosts[host.Endpoint] = h
		}
		c.Hypervisor = h
		return c, nil
	})
	key := make([]byte, secrets.KeySize)
	_, _ = rand.Read(key)
	box, err := secrets.New(key)
	require.NoError(t, err)
	svc, err := core.New(core.Options{Store: st, Tasks: eng, Drivers: reg, Secrets: box, Argon2: cheap, AuthCacheTTL: time.Minute})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = eng.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	pf.fixture = &fixture{svc: svc, fakes: fakes, admin: auth.Principal{UserID: ovm.NewID(), Name: "root", Role: auth.RoleAdmin}}
	return pf
}

func (pf *pullFixture) host(t *testing.T, endpoint string) *pullingHost {
	t.Helper()
	pf.mu.Lock()
	defer pf.mu.Unlock()
	h := pf.hosts[endpoint]
	require.NotNil(t, h, "the service connected to %s", endpoint)
	return h
}

func containerSpec(image string) ovm.InstanceSpec {
	return ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: ovm.CPUs(1), Memory: 64 * ovm.MiB, Image: ovm.ContainerImage(image)}
}

// createAndWait creates an instance and waits for its create task.
func (f *fixture) createAndWait(t *testing.T, vdc ovm.ID, name string, s ovm.InstanceSpec) (ovm.Instance, ovm.Task) {
	t.Helper()
	it, err := f.svc.CreateInstance(t.Context(), f.admin, core.CreateInstance{VDCID: vdc, Name: name, Spec: s, Start: true})
	require.NoError(t, err)
	done, err := f.svc.WaitTask(t.Context(), f.admin, it.Task.ID)
	require.NoError(t, err)
	inst, _, err := f.svc.GetInstance(t.Context(), f.admin, it.Instance.ID)
	require.NoError(t, err)
	return inst, done
}

func stepNames(task ovm.Task) []string {
	var out []string
	for _, s := range task.Steps {
		out = append(out, s.Name)
	}
	return out
}

func logText(task ovm.Task) string {
	var b strings.Builder
	for _, l := range task.Log {
		b.WriteString(l.Message + "\n")
	}
	return b.String()
}

func TestCreatePullsMissingImageFirst(t *testing.T) {
	const image = "registry.test:5000/app:1"
	pf := newPullFixture(t, true, image)
	v, hosts := pf.platform(t, ovm.PolicyPerformance, 1)

	inst, done := pf.createAndWait(t, v.ID, "web", containerSpec(image))
	require.Equal(t, ovm.TaskSucceeded, done.State, "task: %+v", done)
	assert.Equal(t, []string{"pull image", "create", "count disks", "start", "record"}, stepNames(done), "the pull comes before the create")
	h := pf.host(t, hosts[0].Endpoint)
	assert.Equal(t, []string{image}, h.pulled(), "pulled once")
	assert.Zero(t, h.createdBeforePull, "no create ran before the pull")
	assert.Equal(t, ovm.PhaseReady, inst.Status.Phase)
	assert.Equal(t, ovm.PowerRunning, inst.Status.Power)
	assert.Equal(t, 100, done.Progress)
	log := logText(done)
	assert.Contains(t, log, "pulling image "+image+" onto host h1")
	assert.Contains(t, log, "pull of image "+image+": 40%", "progress in the log")
	assert.Contains(t, log, "pull of image "+image+": 100%")
	assert.Contains(t, log, "pulled image "+image+" onto host h1")
	assert.NotContains(t, log, ": 30%", "progress never goes back")

	t.Run("image already there is not pulled again", func(t *testing.T) {
		_, done := pf.createAndWait(t, v.ID, "web2", containerSpec(image))
		require.Equal(t, ovm.TaskSucceeded, done.State, "task: %+v", done)
		assert.Equal(t, []string{image}, h.pulled(), "still one pull")
		assert.Contains(t, logText(done), "image "+image+" is already on host h1")
		assert.NotContains(t, logText(done), "pulling")
	})
}

func TestCreateFailsWhenTheRegistryLacksTheImage(t *testing.T) {
	pf := newPullFixture(t, true)
	v, hosts := pf.platform(t, ovm.PolicyPerformance, 1)
	const image = "registry.test:5000/does-not-exist:1"

	inst, done := pf.createAndWait(t, v.ID, "ghost", containerSpec(image))
	require.Contains(t, []ovm.TaskState{ovm.TaskFailed, ovm.TaskRolledBack}, done.State, "task: %+v", done)
	assert.Contains(t, done.Error, "pull image")
	assert.Contains(t, done.Error, "manifest unknown", "the registry's text")
	assert.Contains(t, logText(done), "manifest unknown")
	require.Len(t, done.Steps, 5)
	assert.Equal(t, ovm.StepFailed, done.Steps[0].State, "steps: %+v", done.Steps)
	for _, s := range done.Steps[1:] {
		assert.Equal(t, ovm.StepPending, s.State, "step %s never ran", s.Name)
	}

	assert.Equal(t, ovm.PhaseFailed, inst.Status.Phase)
	assert.Contains(t, inst.Status.Message, "manifest unknown")
	h := pf.host(t, hosts[0].Endpoint)
	assert.Zero(t, h.Calls(fake.MethodCreate), "nothing created on the host")
	onHost, err := h.List(t.Context())
	require.NoError(t, err)
	assert.Empty(t, onHost)
	got, _, err := pf.svc.GetVDC(t.Context(), pf.admin, v.ID)
	require.NoError(t, err)
	assert.Equal(t, ovm.Usage{}, got.Usage, "quota given back")
}

func TestPullStepDoesNothingWithoutTheFacet(t *testing.T) {
	pf := newPullFixture(t, false)
	v, hosts := pf.platform(t, ovm.PolicyPerformance, 1)
	for _, s := range []ovm.InstanceSpec{containerSpec("busybox:1"), spec()} {
		inst, done := pf.createAndWait(t, v.ID, "i"+strings.ToLower(string(ovm.NewID().Short())), s)
		require.Equal(t, ovm.TaskSucceeded, done.State, "task: %+v", done)
		assert.Equal(t, []string{"pull image", "create", "count disks", "start", "record"}, stepNames(done))
		assert.Equal(t, ovm.StepDone, done.Steps[0].State)
		assert.NotContains(t, logText(done), "pull")
		assert.Equal(t, ovm.PhaseReady, inst.Status.Phase)
	}
	fh, err := pf.fakes.Host(hosts[0].Endpoint)
	require.NoError(t, err)
	assert.Equal(t, 2, fh.Hypervisor.Calls(fake.MethodCreate))
}
