package esxi

import (
	"context"
	"crypto/tls"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// The simulated hosts' credentials and their template.
const (
	simUser     = "root"
	simPassword = "ovm-s3cret"
	template    = "tiny.vmdk"
	templateDir = "templates"
)

// simHost is one simulated standalone ESXi host.
type simHost struct {
	model  *simulator.Model
	server *simulator.Server
	cfg    Config // trusts the host by its SHA-256 thumbprint
	ds     string // its local datastore
}

// newHost starts an ESX simulator, changed by tune before it serves, and
// stops it when t ends.
func newHost(t testing.TB, tune ...func(*simulator.Model)) *simHost {
	t.Helper()
	m := simulator.ESX()
	for _, f := range tune {
		f(m)
	}
	require.NoError(t, m.Create(), "simulator.ESX().Create")
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{User: url.UserPassword(simUser, simPassword)}
	s := m.Service.NewServer()
	t.Cleanup(func() {
		s.Close()
		m.Remove()
	})
	s256, _ := Thumbprints(s.Certificate())
	h := &simHost{model: m, server: s, ds: "LocalDS_0"}
	h.cfg = Config{Host: s.URL.Host, User: simUser, Password: simPassword, Thumbprint: s256,
		ImageLibrary: "[LocalDS_0] " + templateDir}
	return h
}

// dial connects a driver to h, closed when t ends.
func (h *simHost) dial(t testing.TB) *Driver {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := Dial(ctx, h.cfg)
	require.NoError(t, err, "Dial %s: got an error, want a driver", h.cfg.Host)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// admin returns a govmomi client of its own (not the driver's), to make
// things out of band and to check the inventory; it trusts the host by its
// SHA-1 thumbprint, as govc does.
func (h *simHost) admin(t testing.TB) *vim25.Client {
	t.Helper()
	ctx := context.Background()
	u := &url.URL{Scheme: "https", Host: h.server.URL.Host, Path: "/sdk"}
	sc := soap.NewClient(u, false)
	sc.SetThumbprint(u.Host, soap.ThumbprintSHA1(h.server.Certificate()))
	c, err := vim25.NewClient(ctx, sc)
	require.NoError(t, err, "admin client")
	require.NoError(t, session.NewManager(c).Login(ctx, url.UserPassword(simUser, simPassword)), "admin login")
	t.Cleanup(func() { _ = session.NewManager(c).Logout(context.Background()) })
	return c
}

// makeTemplate puts a small VMDK template in the host's image library.
func (h *simHost) makeTemplate(t testing.TB, c *vim25.Client) {
	t.Helper()
	ctx := context.Background()
	dc, err := find.NewFinder(c).DefaultDatacenter(ctx)
	require.NoError(t, err)
	require.NoError(t, object.NewFileManager(c).MakeDirectory(ctx, "[LocalDS_0] "+templateDir, dc, true))
	task, err := object.NewVirtualDiskManager(c).CreateVirtualDisk(ctx, "[LocalDS_0] "+templateDir+"/"+template, dc,
		&types.FileBackedVirtualDiskSpec{VirtualDiskSpec: types.VirtualDiskSpec{DiskType: "thin", AdapterType: "lsiLogic"}, CapacityKb: 32 * 1024})
	require.NoError(t, err)
	require.NoError(t, task.Wait(ctx), "create the template")
	t.Cleanup(func() {
		if task, err := object.NewFileManager(c).DeleteDatastoreFile(context.Background(), "[LocalDS_0] "+templateDir, dc); err == nil {
			_ = task.Wait(context.Background())
		}
	})
}

// vmNames lists the names of the VMs on the host, seen through a container
// view of the admin client.
func vmNames(t testing.TB, c *vim25.Client) []string {
	t.Helper()
	ctx := context.Background()
	v, err := view.NewManager(c).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	require.NoError(t, err)
	defer func() { _ = v.Destroy(ctx) }()
	var vms []mo.VirtualMachine
	require.NoError(t, v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name"}, &vms))
	out := make([]string, 0, len(vms))
	for _, vm := range vms {
		out = append(out, vm.Name)
	}
	return out
}

// dsFileExists reports whether "[ds] p" exists on the host.
func dsFileExists(t testing.TB, c *vim25.Client, ds, p string) bool {
	t.Helper()
	ctx := context.Background()
	dc, err := find.NewFinder(c).DefaultDatacenter(ctx)
	require.NoError(t, err)
	f := find.NewFinder(c).SetDatacenter(dc)
	d, err := f.Datastore(ctx, ds)
	require.NoError(t, err)
	_, err = d.Stat(ctx, p)
	if err == nil {
		return true
	}
	var nf object.DatastoreNoSuchFileError
	var nd object.DatastoreNoSuchDirectoryError
	if asErr(err, &nf) || asErr(err, &nd) {
		return false
	}
	require.NoError(t, err, "stat [%s] %s", ds, p)
	return false
}

// makeUnmanaged creates a VM without an OVM id through the admin client and
// destroys it when t ends.
func (h *simHost) makeUnmanaged(t *testing.T, c *vim25.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	f := find.NewFinder(c)
	dc, err := f.DefaultDatacenter(ctx)
	require.NoError(t, err)
	f.SetDatacenter(dc)
	folders, err := dc.Folders(ctx)
	require.NoError(t, err)
	pool, err := f.DefaultResourcePool(ctx)
	require.NoError(t, err)
	task, err := folders.VmFolder.CreateVM(ctx, types.VirtualMachineConfigSpec{
		Name: name, GuestId: "otherGuest64", NumCPUs: 1, MemoryMB: 64,
		Files: &types.VirtualMachineFileInfo{VmPathName: "[" + h.ds + "]"},
	}, pool, nil)
	require.NoError(t, err)
	info, err := task.WaitForResult(ctx, nil)
	require.NoError(t, err, "create the unmanaged vm %s", name)
	ref := info.Result.(types.ManagedObjectReference)
	t.Cleanup(func() {
		vm := object.NewVirtualMachine(c, ref)
		if t, err := vm.PowerOff(context.Background()); err == nil {
			_ = t.Wait(context.Background())
		}
		if t, err := vm.Destroy(context.Background()); err == nil {
			_ = t.Wait(context.Background())
		}
	})
	return ref.Value
}

// specSeq numbers the port groups and subnets of the tests' networks.
var specSeq atomic.Int32

// vmSpec is a small VM: one vCPU, 64MiB, a boot disk from the template
// grown to 64MiB, a NIC on "VM Network".
func vmSpec(name string) hypervisor.CreateSpec {
	return hypervisor.CreateSpec{
		ID: ovm.NewID(), Name: name, VDCID: ovm.NewID(),
		Spec: ovm.InstanceSpec{
			Type: ovm.TypeVM, CPU: ovm.CPUs(1), Memory: 64 * ovm.MiB,
			Image: ovm.ImageRef{Format: ovm.FormatVMDK, Name: template},
			Disks: []ovm.DiskSpec{{Size: 64 * ovm.MiB}},
		},
		NICs: []hypervisor.NICAttachment{{Network: ovm.Network{ID: ovm.NewID(), Name: "VM Network"}, Bridge: "VM Network"}},
	}
}

// sharedDir returns a directory that several simulated hosts mount as the
// same datastore, as they would an NFS export.
func sharedDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shared")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// asErr is errors.As for the test helpers.
func asErr(err error, target any) bool { return errors.As(err, target) }

// vmRef is the reference of VM nativeID.
func vmRef(nativeID string) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "VirtualMachine", Value: nativeID}
}
