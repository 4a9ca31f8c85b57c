package esxi

import (
	"context"

	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// Driver is the hypervisor driver of one standalone ESXi host; Storage and
// Network return the storage and network drivers that share its session.
// Its methods are safe for concurrent use.
type Driver struct {
	c *conn
}

var (
	_ hypervisor.Driver      = (*Driver)(nil)
	_ hypervisor.Snapshotter = (*Driver)(nil)
	_ hypervisor.Registrar   = (*Driver)(nil)
)

// Dial connects to the host cfg names, verifying its certificate, logs in,
// and checks that the endpoint is a standalone ESXi host (About.ApiType
// "HostAgent"). A wrong password is ovm.ErrInvalid, a host that does not
// answer ovm.ErrUnavailable, a certificate that does not match
// ovm.ErrInvalid.
func Dial(ctx context.Context, cfg Config) (*Driver, error) {
	c, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return &Driver{c: c}, nil
}

// Storage returns the storage driver of the host (datastores and VMDKs).
func (d *Driver) Storage() *Storage { return &Storage{c: d.c} }

// Network returns the network driver of the host (port groups).
func (d *Driver) Network() *Network { return &Network{c: d.c} }

// Kind is ovm.HostESXi.
func (d *Driver) Kind() ovm.HostKind { return ovm.HostESXi }

// MigrationNote is why a standalone host announces no migration.
const MigrationNote = "a standalone ESXi host cannot migrate running VMs (vMotion and Storage vMotion need vCenter); " +
	"OVM moves them cold (power off, copy, register, power on) or by HA restart from a shared datastore (Register)"

// Capabilities announces snapshots, cold migration, Register, Mark,
// user-data (cloud-init's guestinfo keys) and, when the host has a guest
// account, exec (VMware Tools guest operations). Live resize depends on
// each VM's hot-add flags (Reconfigure says per call whether the change is
// live), so it is not announced for every VM.
func (d *Driver) Capabilities() hypervisor.Capabilities {
	return hypervisor.Capabilities{
		InstanceTypes:    []ovm.InstanceType{ovm.TypeVM},
		Snapshots:        true,
		MigrationNote:    MigrationNote,
		ColdMigration:    true,
		RegisterExisting: true,
		Mark:             true,
		UserData:         true,
		Exec:             d.c.cfg.GuestUser != "",
	}
}

// Ping asks the host for its clock.
func (d *Driver) Ping(ctx context.Context) error {
	if err := d.c.ready(ctx, "ping"); err != nil {
		return err
	}
	_, err := methods.GetCurrentTime(ctx, d.c.client)
	return d.c.wrap(err, "ping")
}

// Info reports the host's identity, capacity (physical cores and memory,
// datastore space) and what its VMs are given; it reads the licence again,
// so that a host whose licence changed is seen read-only (or writable).
func (d *Driver) Info(ctx context.Context) (hypervisor.HostInfo, error) {
	if err := d.c.ready(ctx, "info"); err != nil {
		return hypervisor.HostInfo{}, err
	}
	var h mo.HostSystem
	err := property.DefaultCollector(d.c.client).RetrieveOne(ctx, d.c.hostSys.Reference(),
		[]string{"name", "summary.hardware", "datastore"}, &h)
	if err != nil {
		return hypervisor.HostInfo{}, d.c.wrap(err, "info")
	}
	if err := d.c.checkLicence(ctx); err != nil {
		return hypervisor.HostInfo{}, err
	}
	info := hypervisor.HostInfo{
		Kind:     ovm.HostESXi,
		Hostname: h.Name,
		Product:  d.c.about.Name,
		Version:  d.c.about.Version,
	}
	if hw := h.Summary.Hardware; hw != nil {
		// The hardware UUID (hardware.systemInfo.uuid, which the summary
		// repeats): the host's own identity, whatever URL reaches it.
		info.UUID = hw.Uuid
		threads := int64(hw.NumCpuThreads)
		if threads == 0 {
			threads = int64(hw.NumCpuCores)
		}
		info.Capacity.CPU = ovm.CPUs(threads)
		info.Capacity.Memory = ovm.Bytes(hw.MemorySize)
	}
	if len(h.Datastore) > 0 {
		var dss []mo.Datastore
		if err := property.DefaultCollector(d.c.client).Retrieve(ctx, h.Datastore, []string{"summary"}, &dss); err != nil {
			return hypervisor.HostInfo{}, d.c.wrap(err, "info: datastores")
		}
		for _, ds := range dss {
			info.Capacity.Disk += ovm.Bytes(ds.Summary.Capacity)
		}
	}
	vms, err := d.c.allVMs(ctx, []string{"config.hardware.numCPU", "config.hardware.memoryMB", "runtime.powerState", "summary.storage"})
	if err != nil {
		return hypervisor.HostInfo{}, d.c.wrap(err, "info: vms")
	}
	for _, vm := range vms {
		if vm.Config == nil {
			continue
		}
		info.Allocated.CPU += ovm.CPUs(int64(vm.Config.Hardware.NumCPU))
		info.Allocated.Memory += ovm.Bytes(vm.Config.Hardware.MemoryMB) * ovm.MiB
		if vm.Summary.Storage != nil {
			info.Allocated.Disk += ovm.Bytes(vm.Summary.Storage.Committed + vm.Summary.Storage.Uncommitted)
		}
	}
	d.c.mu.Lock()
	info.ReadOnly, info.ReadOnlyReason = d.c.readOnly != "", d.c.readOnly
	d.c.mu.Unlock()
	return info, nil
}

// Close logs out of the host. The storage and network drivers share the
// session and stop working too.
func (d *Driver) Close() error { return d.c.close() }

// allVMs reads props of every VM under the host's vm folder in one call.
func (c *conn) allVMs(ctx context.Context, props []string) ([]mo.VirtualMachine, error) {
	var vms []mo.VirtualMachine
	err := c.collect(ctx, c.vmFolder.Reference(), "VirtualMachine", props, &vms)
	return vms, err
}

// collect reads props of every object of type typ under the folder root
// (and its sub-folders) in one call, into dst (a pointer to a slice of mo
// types).
func (c *conn) collect(ctx context.Context, root types.ManagedObjectReference, typ string, props []string, dst any) error {
	req := types.RetrieveProperties{SpecSet: []types.PropertyFilterSpec{{
		ObjectSet: []types.ObjectSpec{{
			Obj:  root,
			Skip: types.NewBool(true),
			SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{
				SelectionSpec: types.SelectionSpec{Name: "folder"},
				Type:          "Folder",
				Path:          "childEntity",
				Skip:          types.NewBool(false),
				SelectSet:     []types.BaseSelectionSpec{&types.SelectionSpec{Name: "folder"}},
			}},
		}},
		PropSet: []types.PropertySpec{{Type: typ, PathSet: props}},
	}}}
	res, err := property.DefaultCollector(c.client).RetrieveProperties(ctx, req)
	if err != nil {
		return err
	}
	return mo.LoadObjectContent(res.Returnval, dst)
}
