//go:build integration

package docker_test

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/docker/docker/api/types/container"
	dimage "github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/volume"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/image"
	"github.com/openovm/ovm/network"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

// exec runs cmd in instance id and returns its stdout, requiring exit 0.
func execOut(t *testing.T, d *docker.Driver, id ovm.ID, cmd ...string) string {
	t.Helper()
	res, err := d.Exec(t.Context(), hypervisor.ByID(id), hypervisor.ExecSpec{Command: cmd})
	require.NoError(t, err, "Exec %q", cmd)
	require.Equal(t, 0, res.ExitCode, "Exec %q: exit code: got %d, want 0 (stderr %q)", cmd, res.ExitCode, res.Stderr)
	return string(res.Stdout)
}

// TestSecondHostSharedVolume: a container on host 1 writes to a volume of a
// shared pool; it is deleted, and the container recreated on host 2 (a
// second dockerd) from the same volume finds the data.
func TestSecondHostSharedVolume(t *testing.T) {
	e := environment(t)
	h1, h2 := connect(t, e.host), connect(t, e.host2)
	st := h1.Storage()
	poolName := "ovmshared-" + uniq()
	pool, err := st.CreatePool(t.Context(), storage.PoolSpec{ID: ovm.NewID(), Name: poolName, Kind: ovm.StorageShared, Path: e.shared + "/" + poolName})
	require.NoError(t, err, "CreatePool shared")
	t.Cleanup(func() { _ = os.RemoveAll(pool.Path) }) // the volume's directory: the engine leaves it
	vol, err := st.CreateVolume(t.Context(), storage.VolumeSpec{ID: ovm.NewID(), Name: "data", PoolID: pool.ID, Size: 64 * ovm.MiB})
	require.NoError(t, err, "CreateVolume")
	t.Cleanup(func() {
		assert.NoError(t, st.DeleteVolume(bg(), vol.ID), "cleanup: DeleteVolume")
		assert.NoError(t, st.DeletePool(bg(), pool.ID), "cleanup: DeletePool")
	})

	spec := smallSpec(e, "ovmha-"+uniq())
	spec.Spec.HA = ovm.HAPolicy{Enabled: true}
	spec.Spec.Disks = []ovm.DiskSpec{{VolumeID: vol.ID, MountPath: "/data"}}
	spec.Disks = []hypervisor.DiskAttachment{{Volume: vol, Pool: pool, MountPath: "/data"}}
	token := "written-on-host-1-" + uniq()

	track(t, h1, spec.ID)
	_, err = h1.Create(t.Context(), spec)
	require.NoError(t, err, "Create on host 1")
	require.NoError(t, h1.Start(t.Context(), hypervisor.ByID(spec.ID)), "Start on host 1")
	execOut(t, h1, spec.ID, "sh", "-c", "echo "+token+" > /data/token && sync")
	require.NoError(t, h1.Stop(t.Context(), hypervisor.ByID(spec.ID), hypervisor.StopOptions{Force: true}), "Stop on host 1")
	require.NoError(t, h1.Delete(t.Context(), hypervisor.ByID(spec.ID)), "Delete on host 1")

	track(t, h2, spec.ID)
	inst, err := h2.Create(t.Context(), spec)
	require.NoError(t, err, "Create on host 2")
	assert.Equal(t, spec.ID, inst.OVMID, "host 2: OVMID: got %s, want %s", inst.OVMID, spec.ID)
	require.NoError(t, h2.Start(t.Context(), hypervisor.ByID(spec.ID)), "Start on host 2")
	got := execOut(t, h2, spec.ID, "cat", "/data/token")
	assert.Equal(t, token+"\n", got, "the volume's data on host 2: got %q, want %q", got, token+"\n")
	_, err = h1.Get(t.Context(), hypervisor.ByID(spec.ID))
	assert.ErrorIs(t, err, ovm.ErrNotFound, "host 1 after the move: got %v, want not found", err)
}

// TestLocalVolumeSurvivesRecreate: a local volume keeps its data when the
// container that wrote it is deleted and another one mounts it.
func TestLocalVolumeSurvivesRecreate(t *testing.T) {
	e := environment(t)
	d := connect(t, e.host)
	st := d.Storage()
	pool, err := st.CreatePool(t.Context(), storage.PoolSpec{ID: ovm.NewID(), Name: "ovmlocal-" + uniq(), Kind: ovm.StorageLocal, Path: "/var/lib/docker/volumes"})
	require.NoError(t, err)
	vol, err := st.CreateVolume(t.Context(), storage.VolumeSpec{ID: ovm.NewID(), Name: "data", PoolID: pool.ID, Size: 64 * ovm.MiB})
	require.NoError(t, err)
	t.Cleanup(func() {
		assert.NoError(t, st.DeleteVolume(bg(), vol.ID), "cleanup: DeleteVolume")
		assert.NoError(t, st.DeletePool(bg(), pool.ID), "cleanup: DeletePool")
	})
	for i, want := range []string{"", "kept\n"} {
		spec := smallSpec(e, "ovmvol-"+uniq())
		spec.Spec.Disks = []ovm.DiskSpec{{VolumeID: vol.ID, MountPath: "/data"}}
		spec.Disks = []hypervisor.DiskAttachment{{Volume: vol, Pool: pool, MountPath: "/data"}}
		track(t, d, spec.ID)
		_, err := d.Create(t.Context(), spec)
		require.NoError(t, err, "Create #%d", i)
		require.NoError(t, d.Start(t.Context(), hypervisor.ByID(spec.ID)))
		got, err := st.GetVolume(t.Context(), vol.ID)
		require.NoError(t, err)
		assert.Equal(t, spec.ID, got.AttachedTo, "GetVolume while mounted: AttachedTo: got %q, want %q", got.AttachedTo, spec.ID)
		assert.ErrorIs(t, st.DeleteVolume(t.Context(), vol.ID), ovm.ErrConflict, "DeleteVolume while mounted")
		if want != "" {
			assert.Equal(t, want, execOut(t, d, spec.ID, "cat", "/data/f"), "#%d: the volume's data", i)
		}
		execOut(t, d, spec.ID, "sh", "-c", "echo kept > /data/f")
		require.NoError(t, d.Stop(t.Context(), hypervisor.ByID(spec.ID), hypervisor.StopOptions{Force: true}))
		require.NoError(t, d.Delete(t.Context(), hypervisor.ByID(spec.ID)))
	}
}

// TestCreateSettings: what the spec asks for is what the engine runs.
func TestCreateSettings(t *testing.T) {
	e := environment(t)
	d := connect(t, e.host)
	c := raw(t, e.host)
	port := freePort(t)
	spec := smallSpec(e, "ovmset-"+uniq())
	spec.Spec.Env = map[string]string{"GREETING": "hello", "TARGET": "ovm"}
	spec.Spec.Ports = []ovm.PortMapping{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: port, ContainerPort: 8080}}
	spec.Spec.RestartPolicy = "unless-stopped"
	spec.Spec.Labels = map[string]string{"team": "web"}
	track(t, d, spec.ID)
	inst, err := d.Create(t.Context(), spec)
	require.NoError(t, err)

	got, err := c.ContainerInspect(t.Context(), inst.NativeID)
	require.NoError(t, err)
	assert.Equal(t, string(spec.ID), got.Config.Labels[docker.LabelID], "label %s", docker.LabelID)
	assert.Equal(t, string(spec.VDCID), got.Config.Labels[docker.LabelVDC], "label %s", docker.LabelVDC)
	assert.Equal(t, "web", got.Config.Labels["team"], "the spec's own label")
	assert.Subset(t, got.Config.Env, []string{"GREETING=hello", "TARGET=ovm"}, "env: got %v", got.Config.Env)
	assert.Equal(t, bootCommand, []string(got.Config.Cmd), "command")
	assert.Equal(t, int64(500_000_000), got.HostConfig.NanoCPUs, "NanoCPUs: 500 milli-CPU = 0.5e9")
	assert.Equal(t, int64(64*ovm.MiB), got.HostConfig.Memory, "memory limit")
	assert.Equal(t, container.RestartPolicyUnlessStopped, got.HostConfig.RestartPolicy.Name, "restart policy")
	b := got.HostConfig.PortBindings["8080/tcp"]
	require.Len(t, b, 1, "port bindings of 8080/tcp: got %v", got.HostConfig.PortBindings)
	assert.Equal(t, "127.0.0.1", b[0].HostIP)
	assert.Equal(t, strconv.Itoa(int(port)), b[0].HostPort)

	ref := hypervisor.ByID(spec.ID)
	require.NoError(t, d.Start(t.Context(), ref))
	assert.Equal(t, "hello ovm\n", execOut(t, d, spec.ID, "sh", "-c", "echo $GREETING $TARGET"), "env in the container")

	res, err := d.Reconfigure(t.Context(), ref, hypervisor.Resize{CPU: 1000, Memory: 128 * ovm.MiB})
	require.NoError(t, err, "Reconfigure running")
	assert.True(t, res.Live, "Reconfigure running: Live")
	got, err = c.ContainerInspect(t.Context(), inst.NativeID)
	require.NoError(t, err)
	assert.Equal(t, int64(1e9), got.HostConfig.NanoCPUs, "NanoCPUs after the resize: 1000 milli-CPU = 1e9")
	assert.Equal(t, int64(128*ovm.MiB), got.HostConfig.Memory, "memory after the resize")
	assert.True(t, got.State.Running, "still running after the live resize")

	execOut(t, d, spec.ID, "sh", "-c", "dd if=/dev/zero of=/tmp/x bs=1M count=8 2>/dev/null; sync")
	st, err := d.Stats(t.Context(), ref)
	require.NoError(t, err)
	assert.Equal(t, 128*ovm.MiB, st.MemoryLimit, "Stats.MemoryLimit: the container's limit")
	assert.Positive(t, st.MemoryUsed, "Stats.MemoryUsed")
}

// TestDeleteRemovesAnonymousVolumes: deleting an (imported) container
// removes the anonymous volume it had.
func TestDeleteRemovesAnonymousVolumes(t *testing.T) {
	e := environment(t)
	d := connect(t, e.host)
	c := raw(t, e.host)
	resp, err := c.ContainerCreate(t.Context(), &container.Config{Image: e.image, Cmd: bootCommand, Volumes: map[string]struct{}{"/anon": {}}}, nil, nil, nil, "ovmanon-"+uniq())
	require.NoError(t, err)
	t.Cleanup(func() { removeContainer(t, c, resp.ID) })
	insp, err := c.ContainerInspect(t.Context(), resp.ID)
	require.NoError(t, err)
	require.Len(t, insp.Mounts, 1, "mounts of a container with an anonymous volume")
	anon := insp.Mounts[0].Name

	inst, err := d.Get(t.Context(), hypervisor.ByNative(resp.ID))
	require.NoError(t, err)
	assert.False(t, inst.Managed(), "an out-of-band container: Managed: got true, want false")
	require.NoError(t, d.Delete(t.Context(), hypervisor.ByNative(resp.ID)))
	_, err = c.VolumeInspect(t.Context(), anon)
	assert.Error(t, err, "anonymous volume %s after Delete: got it, want it removed", anon)
	vols, err := c.VolumeList(t.Context(), volume.ListOptions{})
	require.NoError(t, err)
	assert.False(t, slices.ContainsFunc(vols.Volumes, func(v *volume.Volume) bool { return v.Name == anon }), "VolumeList still has %s", anon)
}

// TestImportUnmanaged: a running container made out of band is listed
// without an OVM id and can be managed in place: importing writes nothing
// on the engine and the container keeps running.
func TestImportUnmanaged(t *testing.T) {
	e := environment(t)
	d := connect(t, e.host)
	c := raw(t, e.host)
	name := "ovmimport-" + uniq()
	id := makeUnmanaged(t, e, e.host, name)
	require.NoError(t, c.ContainerStart(t.Context(), id, container.StartOptions{}))
	before, err := c.ContainerInspect(t.Context(), id)
	require.NoError(t, err)

	list, err := d.List(t.Context())
	require.NoError(t, err)
	i := slices.IndexFunc(list, func(x hypervisor.Instance) bool { return x.NativeID == id })
	require.GreaterOrEqual(t, i, 0, "List: got no %s, want the unmanaged container", id)
	assert.Empty(t, list[i].OVMID, "List: unmanaged OVMID")
	assert.Equal(t, ovm.PowerRunning, list[i].Power)
	assert.Equal(t, name, list[i].Name)

	// Managed by native id from now on: exec works, labels are untouched.
	assert.Equal(t, "imported\n", func() string {
		res, err := d.Exec(t.Context(), hypervisor.ByNative(id), hypervisor.ExecSpec{Command: []string{"echo", "imported"}})
		require.NoError(t, err)
		return string(res.Stdout)
	}())
	after, err := c.ContainerInspect(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, before.Config.Labels, after.Config.Labels, "labels after import: got %v, want unchanged %v", after.Config.Labels, before.Config.Labels)
	assert.True(t, after.State.Running, "still running after import")
}

// TestNICsStaticAddress: a container created on an OVM segment gets the
// address IPAM chose and the MAC asked for; a second segment attached live
// gets its address too.
func TestNICsStaticAddress(t *testing.T) {
	e := environment(t)
	d := connect(t, e.host)
	nets := d.Networks(docker.NetworkOptions{})
	mk := func() (ovm.Network, network.Segment) {
		n := networkFor("ovmnic-" + uniq())
		s, err := nets.CreateNetwork(t.Context(), n)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, nets.DeleteNetwork(bg(), n.ID), "cleanup: DeleteNetwork") })
		return n, s
	}
	n1, s1 := mk()
	n2, _ := mk()
	ipam, err := network.NewIPAM(n1, nil)
	require.NoError(t, err)
	spec := smallSpec(e, "ovmnic-"+uniq())
	ip, err := ipam.Allocate(spec.ID)
	require.NoError(t, err)
	mac := "52:54:00:ab:cd:ef"
	spec.Spec.NICs = []ovm.NICSpec{{NetworkID: n1.ID, MAC: mac, IP: ip}}
	spec.NICs = []hypervisor.NICAttachment{{Network: n1, MAC: mac, IP: ip, Bridge: s1.NativeID}}
	track(t, d, spec.ID)
	t.Cleanup(func() { _ = nets.Detach(bg(), n2.ID, spec.ID) })
	_, err = d.Create(t.Context(), spec)
	require.NoError(t, err)
	require.NoError(t, d.Start(t.Context(), hypervisor.ByID(spec.ID)))
	inst, err := d.Get(t.Context(), hypervisor.ByID(spec.ID))
	require.NoError(t, err)
	assert.Contains(t, inst.Addresses, ip, "Addresses: got %v, want IPAM's %s", inst.Addresses, ip)
	assert.Contains(t, execOut(t, d, spec.ID, "ip", "-4", "addr", "show", "eth0"), ip.String()+"/24", "eth0 in the container")
	assert.Equal(t, mac+"\n", execOut(t, d, spec.ID, "cat", "/sys/class/net/eth0/address"), "eth0's MAC")

	// TestAttachWithoutMAC: live attach, address from IPAM, engine's MAC.
	ipam2, err := network.NewIPAM(n2, nil)
	require.NoError(t, err)
	ip2, err := ipam2.Allocate(spec.ID)
	require.NoError(t, err)
	a, err := nets.Attach(t.Context(), n2.ID, spec.ID, network.AttachSpec{IP: ip2})
	require.NoError(t, err, "Attach without a MAC")
	assert.Equal(t, ip2, a.IP, "Attach: IP")
	_, err = ovm.ParseMAC(a.MAC)
	assert.NoError(t, err, "Attach: MAC %q", a.MAC)
	assert.Contains(t, execOut(t, d, spec.ID, "ip", "-4", "addr"), ip2.String()+"/24", "the attached address in the container")
	_, err = nets.Attach(t.Context(), n2.ID, spec.ID, network.AttachSpec{IP: ip2})
	assert.ErrorIs(t, err, ovm.ErrConflict, "Attach twice")
}

// TestPullProgress: an image new to host 2 is pulled from the registry
// with progress reported from 0 to 100, never going back, and is then
// listed.
func TestPullProgress(t *testing.T) {
	e := environment(t)
	c1, c2 := raw(t, e.host), raw(t, e.host2)
	ref := e.registry + "/ovm-pull-" + uniq() + ":1"
	// A 2 MiB layer of random bytes, so that host 2 has none of it.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	blob := make([]byte, 2<<20)
	_, _ = rand.Read(blob)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "blob", Mode: 0o644, Size: int64(len(blob))}))
	_, _ = tw.Write(blob)
	require.NoError(t, tw.Close())
	rc, err := c1.ImageImport(t.Context(), dimage.ImportSource{Source: &buf, SourceName: "-"}, ref, dimage.ImportOptions{})
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, rc)
	_ = rc.Close()
	t.Cleanup(func() { _, _ = c1.ImageRemove(bg(), ref, dimage.RemoveOptions{Force: true}) })
	rc, err = c1.ImagePush(t.Context(), ref, dimage.PushOptions{RegistryAuth: "e30="})
	require.NoError(t, err)
	out, _ := io.ReadAll(rc)
	_ = rc.Close()
	require.NotContains(t, string(out), `"error"`, "push %s: %s", ref, out)

	d2 := connect(t, e.host2)
	t.Cleanup(func() { _, _ = c2.ImageRemove(bg(), ref, dimage.RemoveOptions{Force: true}) })
	var percents []int
	require.NoError(t, d2.Images().Pull(t.Context(), ref, func(p int, _ string) { percents = append(percents, p) }), "Pull %s", ref)
	require.NotEmpty(t, percents)
	assert.Equal(t, 0, percents[0], "first progress: got %v", percents)
	assert.Equal(t, 100, percents[len(percents)-1], "last progress: got %v", percents)
	assert.Greater(t, len(percents), 2, "progress while downloading: got %v, want reports between 0 and 100", percents)
	assert.True(t, slices.IsSorted(percents), "progress never goes back: got %v", percents)
	imgs, err := d2.Images().List(t.Context())
	require.NoError(t, err)
	assert.True(t, slices.ContainsFunc(imgs, func(i image.Image) bool { return i.Ref.Name == ref }), "List after the pull: want %s", ref)
	img, err := d2.Images().Get(t.Context(), ovm.ContainerImage(ref))
	require.NoError(t, err)
	assert.Positive(t, img.Size, "Get: size")
}

// TestCreateAfterCrash: a Create that made its container and crashed
// before answering is retried; the retry finds that container. Two drivers
// (two processes) creating one id at once make one container.
func TestCreateAfterCrash(t *testing.T) {
	e := environment(t)
	c := raw(t, e.host)
	spec := smallSpec(e, "ovmcrash-"+uniq())
	// What the crashed Create left: the container, labelled, stopped.
	resp, err := c.ContainerCreate(t.Context(), &container.Config{Image: e.image, Cmd: bootCommand,
		Labels: map[string]string{docker.LabelID: string(spec.ID), docker.LabelVDC: string(spec.VDCID)}}, nil, nil, nil, spec.Name)
	require.NoError(t, err)
	t.Cleanup(func() { removeContainer(t, c, resp.ID) })
	d := connect(t, e.host)
	inst, err := d.Create(t.Context(), spec)
	require.NoError(t, err, "the retried Create")
	assert.Equal(t, resp.ID, inst.NativeID, "the retried Create: got container %s, want the one made before the crash %s", inst.NativeID, resp.ID)
	assert.Len(t, containersNamed(t, c, spec.Name), 1, "containers named %s", spec.Name)

	race := smallSpec(e, "ovmrace-"+uniq())
	drivers := []*docker.Driver{connect(t, e.host), connect(t, e.host), connect(t, e.host)}
	track(t, drivers[0], race.ID)
	natives := make([]string, len(drivers))
	errs := make([]error, len(drivers))
	var wg sync.WaitGroup
	for i, d := range drivers {
		wg.Go(func() {
			inst, err := d.Create(t.Context(), race)
			natives[i], errs[i] = inst.NativeID, err
		})
	}
	wg.Wait()
	for i := range drivers {
		require.NoError(t, errs[i], "driver %d: Create of the same id at once", i)
		assert.Equal(t, natives[0], natives[i], "driver %d: got container %s, want the one container %s", i, natives[i], natives[0])
	}
	assert.Len(t, containersNamed(t, c, race.Name), 1, "containers named %s after the racing creates", race.Name)
}
