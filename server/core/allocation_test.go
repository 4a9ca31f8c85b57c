package core_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/openovm/ovm/ha"
	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/server/core"
	"github.com/openovm/ovm/server/store"
)

// templateDisk is the size of the boot disk a fake host copies from a
// VM's template when the spec declares no disk.
const templateDisk = ovm.GiB

// fleetRun is one platform of the property test: a pool of fake hosts and
// a VDC, on a fixture shared by every run.
type fleetRun struct {
	f     *fixture
	vdc   ovm.VDC
	hosts []ovm.Host
}

func newFleetRun(t require.TestingT, ctx context.Context, f *fixture, hosts int) *fleetRun {
	tag := string(ovm.NewID().Short())
	dc, err := f.svc.CreateDatacenter(ctx, f.admin, core.CreateDatacenter{Name: "dc-" + tag})
	require.NoError(t, err)
	pool, err := f.svc.CreatePool(ctx, f.admin, core.CreatePool{Name: "pool-" + tag, DatacenterID: dc.ID, Policy: ovm.PolicyPerformance})
	require.NoError(t, err)
	r := &fleetRun{f: f}
	for i := range hosts {
		h, err := f.svc.RegisterHost(ctx, f.admin, core.RegisterHost{Name: fmt.Sprintf("h%d-%s", i, tag), Kind: ovm.HostFake,
			Endpoint: fmt.Sprintf("fake://%s-h%d", tag, i), PoolID: pool.ID})
		require.NoError(t, err)
		r.hosts = append(r.hosts, h)
	}
	r.vdc, err = f.svc.CreateVDC(ctx, f.admin, core.CreateVDC{Name: "vdc-" + tag, PoolID: pool.ID, Quota: ovm.Unlimited})
	require.NoError(t, err)
	return r
}

// wait waits for a task to end.
func (r *fleetRun) wait(t require.TestingT, ctx context.Context, task *ovm.Task) ovm.Task {
	require.NotNil(t, task)
	done, err := r.f.svc.WaitTask(ctx, r.f.admin, task.ID)
	require.NoError(t, err)
	return done
}

// held is what the records on a host add up to: an instance that is not
// failed holds its CPU, memory and disks (its template's copy when it
// declares none) and is a member of its vApp's group; a volume that is not
// failed holds its size.
func (r *fleetRun) held(t require.TestingT, ctx context.Context) (map[ovm.ID]store.HostAllocation, ovm.Usage) {
	want := map[ovm.ID]store.HostAllocation{}
	var usage ovm.Usage
	add := func(h ovm.ID, res ovm.Resources, n int64, group ovm.ID) {
		a := want[h]
		a.Resources, a.Instances = a.Resources.Add(res), a.Instances+n
		if group != "" {
			if a.Groups == nil {
				a.Groups = map[ovm.ID]int64{}
			}
			a.Groups[group]++
		}
		want[h] = a
	}
	require.NoError(t, core.NewSystem(r.f.svc).Store().View(ctx, func(ctx context.Context, tx store.Tx) error {
		clear(want)
		usage = ovm.Usage{}
		for _, kind := range []store.Kind{store.KindInstance, store.KindVolume} {
			rs, _, err := tx.List(ctx, store.Filter{Kind: kind, VDCID: r.vdc.ID}, store.Page{Limit: 1000})
			if err != nil {
				return err
			}
			for _, rec := range rs {
				var v struct {
					ovm.Instance
					Size  ovm.Bytes `json:"sizeBytes"`
					Phase ovm.Phase `json:"phase"`
				}
				if err := json.Unmarshal(rec.Data, &v); err != nil {
					return err
				}
				if kind == store.KindVolume {
					if v.Phase != ovm.PhaseFailed {
						add(rec.HostID, ovm.Resources{Disk: v.Size}, 0, "")
						usage.Disk += v.Size
					}
					continue
				}
				if v.Status.Phase == ovm.PhaseFailed {
					continue
				}
				d := v.Spec.Demand()
				if v.Spec.Type == ovm.TypeVM && len(v.Spec.Disks) == 0 && v.Status.Phase != ovm.PhaseCreating {
					d.Disk = templateDisk
				}
				add(rec.HostID, d, 1, v.VAppID)
				usage = usage.Add(ovm.Usage{CPU: d.CPU, Memory: d.Memory, Disk: d.Disk, Instances: 1})
			}
		}
		return nil
	}))
	return want, usage
}

// check asserts that every host's stored allocation is what its records
// hold, and the VDC's usage what they all hold.
func (r *fleetRun) check(t require.TestingT, ctx context.Context) {
	want, usage := r.held(t, ctx)
	ids := make([]ovm.ID, len(r.hosts))
	for i, h := range r.hosts {
		ids[i] = h.ID
	}
	var got map[ovm.ID]store.HostAllocation
	require.NoError(t, core.NewSystem(r.f.svc).Store().View(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		got, err = tx.HostAllocations(ctx, ids, true)
		return err
	}))
	for _, h := range r.hosts {
		assert.Equal(t, want[h.ID], got[h.ID], "allocation of host %s", h.Name)
		shown, _, err := r.f.svc.GetHost(ctx, r.f.admin, h.ID)
		require.NoError(t, err)
		assert.Equal(t, want[h.ID].Resources, shown.Allocated, "allocation shown for host %s", h.Name)
	}
	v, _, err := r.f.svc.GetVDC(ctx, r.f.admin, r.vdc.ID)
	require.NoError(t, err)
	usage.Networks = v.Usage.Networks
	assert.Equal(t, usage, v.Usage, "usage of the vdc")
}

// instances lists the VDC's instances.
func (r *fleetRun) instances(t require.TestingT, ctx context.Context) []ovm.Instance {
	page, err := r.f.svc.ListInstances(ctx, r.f.admin, core.ListOptions{VDCID: r.vdc.ID, Limit: 1000})
	require.NoError(t, err)
	return page.Items
}

func (r *fleetRun) fakeHost(t require.TestingT, i int) *fake.Driver {
	fh, err := r.f.fakes.Host(r.hosts[i].Endpoint)
	require.NoError(t, err)
	return fh.Hypervisor
}

// TestHostAllocationProperty: after any interleaving of create (some
// failing on their host), vApp deploy, volume create, delete, resize,
// evacuation and import, every host's stored allocation equals the sum of
// what its records hold, and the VDC's usage the sum of all of them.
func TestHostAllocationProperty(t *testing.T) {
	f := newFixtureWith(t, fake.Options{TemplateDisk: templateDisk,
		Capacity: ovm.Resources{CPU: ovm.CPUs(64), Memory: 256 * ovm.GiB, Disk: 4 * ovm.TiB}}, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	fewerChecks(t, 25)
	rapid.Check(t, func(rt *rapid.T) {
		r := newFleetRun(rt, ctx, f, 3)
		n := 0
		name := func() string { n++; return fmt.Sprintf("i%d", n) }
		pick := func(rt *rapid.T, phase ovm.Phase) (ovm.Instance, bool) {
			var out []ovm.Instance
			for _, i := range r.instances(rt, ctx) {
				if phase == "" || i.Status.Phase == phase {
					out = append(out, i)
				}
			}
			if len(out) == 0 {
				return ovm.Instance{}, false
			}
			return rapid.SampledFrom(out).Draw(rt, "instance"), true
		}
		genSpec := func(rt *rapid.T) ovm.InstanceSpec {
			s := ovm.InstanceSpec{Type: ovm.TypeVM, CPU: ovm.CPUs(rapid.Int64Range(1, 2).Draw(rt, "cpus")),
				Memory: ovm.Bytes(rapid.Int64Range(1, 4).Draw(rt, "mem")) * 256 * ovm.MiB, Image: ovm.Template("debian.qcow2"),
				HA: ovm.HAPolicy{Enabled: rapid.Bool().Draw(rt, "ha")}}
			if rapid.Bool().Draw(rt, "disk") {
				s.Disks = []ovm.DiskSpec{{Size: ovm.Bytes(rapid.Int64Range(1, 20).Draw(rt, "gib")) * ovm.GiB}}
			}
			return s
		}
		rt.Repeat(map[string]func(*rapid.T){
			"create": func(rt *rapid.T) {
				start := rapid.Bool().Draw(rt, "start")
				if rapid.IntRange(0, 3).Draw(rt, "fail") == 0 {
					// Every host stops answering: the create task fails
					// and rolls back.
					for i := range r.hosts {
						r.fakeHost(rt, i).SetUnreachable(true)
					}
					defer func() {
						for i := range r.hosts {
							r.fakeHost(rt, i).SetUnreachable(false)
						}
					}()
				}
				it, err := f.svc.CreateInstance(ctx, f.admin, core.CreateInstance{VDCID: r.vdc.ID, Name: name(), Spec: genSpec(rt), Start: start})
				require.NoError(rt, err)
				r.wait(rt, ctx, it.Task)
			},
			"vapp": func(rt *rapid.T) {
				vt, err := f.svc.DeployVApp(ctx, f.admin, core.CreateVApp{VDCID: r.vdc.ID, Name: name(), AntiAffinity: true,
					Members: []ovm.VAppMember{{Name: name(), Spec: genSpec(rt)}, {Name: name(), Spec: genSpec(rt)}}})
				require.NoError(rt, err)
				for _, task := range vt.Tasks {
					r.wait(rt, ctx, &task)
				}
				// Then the vApp's own task starts every member.
				require.Eventually(rt, func() bool {
					app, _, err := f.svc.GetVApp(ctx, f.admin, vt.VApp.ID)
					require.NoError(rt, err)
					return app.Phase != ovm.PhaseCreating && app.TaskID == ""
				}, time.Minute, 5*time.Millisecond, "vApp %s never deployed", vt.VApp.Name)
			},
			"volume": func(rt *rapid.T) {
				vt, err := f.svc.CreateVolume(ctx, f.admin, core.CreateVolume{VDCID: r.vdc.ID, Name: name(),
					Size: ovm.Bytes(rapid.Int64Range(1, 8).Draw(rt, "gib")) * ovm.GiB})
				require.NoError(rt, err)
				r.wait(rt, ctx, vt.Task)
			},
			"delete": func(rt *rapid.T) {
				inst, ok := pick(rt, "")
				if !ok || inst.VAppID != "" || inst.Status.Phase == ovm.PhaseDeleting {
					return // no instance to delete: nothing to do
				}
				it, err := f.svc.DeleteInstance(ctx, f.admin, inst.ID, 0)
				require.NoError(rt, err)
				r.wait(rt, ctx, it.Task)
			},
			"resize": func(rt *rapid.T) {
				inst, ok := pick(rt, ovm.PhaseReady)
				if !ok {
					return // no ready instance: nothing to do
				}
				cpu := ovm.CPUs(rapid.Int64Range(1, 3).Draw(rt, "cpus"))
				if rapid.Bool().Draw(rt, "fails") {
					h := r.fakeHost(rt, slicesIndex(r.hosts, inst.Status.HostID))
					h.SetUnreachable(true)
					defer h.SetUnreachable(false)
				}
				it, err := f.svc.UpdateInstance(ctx, f.admin, inst.ID, core.UpdateInstance{CPU: &cpu}, 0)
				require.NoError(rt, err)
				if it.Task != nil {
					r.wait(rt, ctx, it.Task)
				}
			},
			"evacuate": func(rt *rapid.T) {
				i := rapid.IntRange(0, len(r.hosts)-1).Draw(rt, "host")
				h := r.hosts[i].ID
				require.NoError(rt, core.NewSystem(f.svc).SetHostState(ctx, h, ovm.HostFailed, "probe failed", nil))
				plan, err := core.NewSystem(f.svc).EvacuateHost(ctx, h, ha.FenceResult{Host: h, Method: ha.FencePowerOff, Outcome: ha.FenceConfirmed}, ha.PlanEvacuation, nil)
				require.NoError(rt, err)
				for _, rs := range plan.Restarts {
					inst, _, err := f.svc.GetInstance(ctx, f.admin, rs.Instance)
					require.NoError(rt, err)
					if inst.Status.Phase == ovm.PhaseCreating {
						_ = waitInstance(ctx, f, rs.Instance)
					}
				}
				require.NoError(rt, core.NewSystem(f.svc).SetHostState(ctx, h, ovm.HostUp, "", nil))
			},
			"import": func(rt *rapid.T) {
				i := rapid.IntRange(0, len(r.hosts)-1).Draw(rt, "host")
				spec := ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: ovm.CPUs(1), Memory: 128 * ovm.MiB, Image: ovm.ContainerImage("busybox")}
				if _, err := r.fakeHost(rt, i).AddUnmanaged("found-"+name(), spec, true); ovm.KindOf(err) == ovm.KindConflict {
					return // the host is full: nothing to do
				} else {
					require.NoError(rt, err)
				}
				ds, err := f.svc.SyncHost(ctx, f.admin, r.hosts[i].ID)
				require.NoError(rt, err)
				require.NotEmpty(rt, ds)
				_, err = f.svc.Import(ctx, f.admin, ds[0].ID, core.ImportDiscovered{VDCID: r.vdc.ID, Name: name()})
				require.NoError(rt, err)
			},
			"": func(rt *rapid.T) { r.check(rt, ctx) },
		})
	})
}

// fewerChecks makes rapid run n checks unless -rapid.checks was given:
// each check builds a platform and runs its tasks.
func fewerChecks(t *testing.T, n int) {
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "rapid.checks" })
	if f := flag.Lookup("rapid.checks"); f != nil && !given {
		old := f.Value.String()
		require.NoError(t, f.Value.Set(strconv.Itoa(n)))
		t.Cleanup(func() { _ = f.Value.Set(old) })
	}
}

// waitInstance waits until an instance no longer has a task in flight.
func waitInstance(ctx context.Context, f *fixture, id ovm.ID) error {
	for ctx.Err() == nil {
		inst, _, err := f.svc.GetInstance(ctx, f.admin, id)
		if err != nil || inst.Status.Phase != ovm.PhaseCreating {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return ctx.Err()
}

func slicesIndex(hosts []ovm.Host, id ovm.ID) int {
	for i, h := range hosts {
		if h.ID == id {
			return i
		}
	}
	return 0
}

// TestHoldExisting: records made before hosts' allocations were stored
// (no hold, no allocation row) get their share at start, once.
func TestHoldExisting(t *testing.T) {
	f := newFixtureWith(t, fake.Options{TemplateDisk: templateDisk}, nil)
	ctx := t.Context()
	r := newFleetRun(t, ctx, f, 2)
	for i, s := range []ovm.InstanceSpec{spec(), {Type: ovm.TypeVM, CPU: ovm.CPUs(2), Memory: ovm.GiB, Image: ovm.Template("debian.qcow2")}} {
		it, err := f.svc.CreateInstance(ctx, f.admin, core.CreateInstance{VDCID: r.vdc.ID, Name: fmt.Sprintf("old%d", i), Spec: s})
		require.NoError(t, err)
		require.Equal(t, ovm.TaskSucceeded, r.wait(t, ctx, it.Task).State)
	}
	vt, err := f.svc.CreateVolume(ctx, f.admin, core.CreateVolume{VDCID: r.vdc.ID, Name: "data", Size: 3 * ovm.GiB})
	require.NoError(t, err)
	require.Equal(t, ovm.TaskSucceeded, r.wait(t, ctx, vt.Task).State)
	r.check(t, ctx)

	// As an older server left them: no hold in the records, no rows.
	require.NoError(t, core.NewSystem(f.svc).Store().Tx(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, h := range r.hosts {
			if err := tx.DeleteHostAllocation(ctx, h.ID); err != nil {
				return err
			}
		}
		for _, kind := range []store.Kind{store.KindInstance, store.KindVolume} {
			rs, _, err := tx.List(ctx, store.Filter{Kind: kind, VDCID: r.vdc.ID}, store.Page{})
			if err != nil {
				return err
			}
			for _, rec := range rs {
				var m map[string]json.RawMessage
				if err := json.Unmarshal(rec.Data, &m); err != nil {
					return err
				}
				require.Contains(t, m, "held")
				delete(m, "held")
				if rec.Data, err = json.Marshal(m); err != nil {
					return err
				}
				if err := tx.Update(ctx, &rec, 0); err != nil {
					return err
				}
			}
		}
		return nil
	}))
	n, err := core.NewSystem(f.svc).HoldExisting(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n, "two instances and a volume")
	r.check(t, ctx)
	n, err = core.NewSystem(f.svc).HoldExisting(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "a second run changes nothing")
	r.check(t, ctx)
}

// TestCreatePlacesByNetworkAndStorage: every create fills the networks and
// shared storage of the hosts, so placement sends an instance only where
// its networks and disks are reachable.
func TestCreatePlacesByNetworkAndStorage(t *testing.T) {
	f := newFixtureWith(t, fake.Options{}, []ovm.HostKind{ovm.HostDocker})
	ctx := t.Context()
	dc, err := f.svc.CreateDatacenter(ctx, f.admin, core.CreateDatacenter{Name: "dc"})
	require.NoError(t, err)
	pool, err := f.svc.CreatePool(ctx, f.admin, core.CreatePool{Name: "pool", DatacenterID: dc.ID, Policy: ovm.PolicyPerformance})
	require.NoError(t, err)
	register := func(name string, kind ovm.HostKind) ovm.Host {
		h, err := f.svc.RegisterHost(ctx, f.admin, core.RegisterHost{Name: name, Kind: kind, Endpoint: "fake://" + name + "-" + string(ovm.NewID().Short()), PoolID: pool.ID})
		require.NoError(t, err)
		return h
	}
	// A Docker host without an uplink carries no VLAN; the fake host does.
	docker, fk := register("docker1", ovm.HostDocker), register("fake1", ovm.HostFake)
	v, err := f.svc.CreateVDC(ctx, f.admin, core.CreateVDC{Name: "vdc", PoolID: pool.ID, Quota: ovm.Unlimited})
	require.NoError(t, err)
	vlan, err := f.svc.CreateNetwork(ctx, f.admin, core.CreateNetwork{VDCID: v.ID, Network: ovm.Network{Name: "tagged", VLAN: 42, Subnet: mustPrefix("10.1.0.0/24")}})
	require.NoError(t, err)
	flat, err := f.svc.CreateNetwork(ctx, f.admin, core.CreateNetwork{VDCID: v.ID, Network: ovm.Network{Name: "flat", Subnet: mustPrefix("10.2.0.0/24")}})
	require.NoError(t, err)
	// A shared storage pool only the Docker host sees.
	sp := ovm.StoragePool{ID: ovm.NewID(), Name: "nfs1", Kind: ovm.StorageNFS, Path: "/mnt/nfs1", HostIDs: []ovm.ID{docker.ID}}
	rec, err := store.NewRecord(store.KindStoragePool, sp.ID, "", sp.Name, sp)
	require.NoError(t, err)
	require.NoError(t, core.NewSystem(f.svc).Store().Tx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.Insert(ctx, &rec) }))

	ctr := func(nets []ovm.ID, disks []ovm.DiskSpec) ovm.InstanceSpec {
		s := ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 100, Memory: 16 * ovm.MiB, Image: ovm.ContainerImage("busybox:1"), Disks: disks}
		for _, n := range nets {
			s.NICs = append(s.NICs, ovm.NICSpec{NetworkID: n})
		}
		return s
	}
	onShared := []ovm.DiskSpec{{Size: ovm.GiB, StoragePoolID: sp.ID, MountPath: "/data"}}
	tests := []struct {
		name string
		spec ovm.InstanceSpec
		want []ovm.ID // hosts it may land on, over four creates
		fits bool
	}{
		{"untagged network: either host", ctr([]ovm.ID{flat.ID}, nil), []ovm.ID{docker.ID, fk.ID}, true},
		{"vlan network: the host that carries it", ctr([]ovm.ID{vlan.ID}, nil), []ovm.ID{fk.ID}, true},
		{"shared storage: the host that sees it", ctr(nil, onShared), []ovm.ID{docker.ID}, true},
		{"vlan and that storage: no host", ctr([]ovm.ID{vlan.ID}, onShared), nil, false},
	}
	n := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			used := map[ovm.ID]bool{}
			for range 4 {
				n++
				it, err := f.svc.CreateInstance(ctx, f.admin, core.CreateInstance{VDCID: v.ID, Name: fmt.Sprintf("c%d", n), Spec: tc.spec})
				if !tc.fits {
					require.Error(t, err)
					assert.Equal(t, ovm.KindUnavailable, ovm.KindOf(err), "error %v", err)
					return
				}
				require.NoError(t, err)
				used[it.Instance.Status.HostID] = true
			}
			for h := range used {
				assert.Contains(t, tc.want, h, "a host the instance cannot reach")
			}
			assert.Len(t, used, len(tc.want), "round-robin over the hosts that fit")
		})
	}
}
