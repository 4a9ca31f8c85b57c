// Package esxisim runs govmomi's simulator in ESX mode as a standalone ESXi
// host for the server's tests, with a govmomi client of the test's own to
// make things beside OVM and to check the host's inventory.
package esxisim

import (
	"context"
	"crypto/tls"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"

	"github.com/openovm/ovm/hypervisor/esxi"
	"github.com/openovm/ovm/ovm"
)

// Host is a simulated standalone ESXi host in this process.
type Host struct {
	Server *simulator.Server
	// Thumbprint is the SHA-256 thumbprint of its certificate, as OVM pins it.
	Thumbprint string
	// Client is logged in as the host's user; it trusts the host by its
	// SHA-1 thumbprint, as govc does.
	Client *vim25.Client
}

// Start starts a simulated host whose user is user with password, stopped
// when t ends.
func Start(t testing.TB, user, password string) *Host {
	t.Helper()
	m := simulator.ESX()
	require.NoError(t, m.Create(), "simulator.ESX().Create")
	// Every simulated ESX host starts with the same hardware UUID; a real
	// host has its own, and OVM refuses a second registration of one UUID.
	uuid := string(ovm.NewID())
	hs := m.Map().Get(esx.HostSystem.Reference()).(*simulator.HostSystem)
	hs.Summary.Hardware.Uuid, hs.Hardware.SystemInfo.Uuid = uuid, uuid
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{User: url.UserPassword(user, password)}
	s := m.Service.NewServer()
	t.Cleanup(func() {
		s.Close()
		m.Remove()
	})
	s256, _ := esxi.Thumbprints(s.Certificate())

	ctx := context.Background()
	u := &url.URL{Scheme: "https", Host: s.URL.Host, Path: "/sdk"}
	sc := soap.NewClient(u, false)
	sc.SetThumbprint(u.Host, soap.ThumbprintSHA1(s.Certificate()))
	c, err := vim25.NewClient(ctx, sc)
	require.NoError(t, err, "govmomi client")
	require.NoError(t, session.NewManager(c).Login(ctx, url.UserPassword(user, password)), "govmomi login")
	t.Cleanup(func() { _ = session.NewManager(c).Logout(context.Background()) })
	return &Host{Server: s, Thumbprint: s256, Client: c}
}

// Endpoint is the host's SDK URL.
func (h *Host) Endpoint() string { return "https://" + h.Server.URL.Host + "/sdk" }

// VMs returns the host's VMs by name with their power state, by the host's
// own word.
func (h *Host) VMs(t testing.TB) map[string]mo.VirtualMachine {
	t.Helper()
	ctx := context.Background()
	v, err := view.NewManager(h.Client).CreateContainerView(ctx, h.Client.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	require.NoError(t, err)
	defer func() { _ = v.Destroy(ctx) }()
	var vms []mo.VirtualMachine
	require.NoError(t, v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "runtime.powerState"}, &vms))
	out := map[string]mo.VirtualMachine{}
	for _, vm := range vms {
		out[vm.Name] = vm
	}
	return out
}

// Remove powers off and destroys a VM by name, if it is there (cleanup).
func (h *Host) Remove(t testing.TB, name string) {
	vm, ok := h.VMs(t)[name]
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := object.NewVirtualMachine(h.Client, vm.Reference())
	if task, err := o.PowerOff(ctx); err == nil {
		_ = task.Wait(ctx)
	}
	task, err := o.Destroy(ctx)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Errorf("cleanup: destroy %s: %v", name, err)
	}
}
