package esxi_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"

	"github.com/vmware/govmomi/simulator"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/esxi"
	"github.com/openovm/ovm/ovm"
)

// Example connects to a standalone ESXi host (here VMware's simulator),
// pinning its certificate by thumbprint, then creates and starts a VM.
func Example() {
	m := simulator.ESX()
	if err := m.Create(); err != nil {
		panic(err)
	}
	defer m.Remove()
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{User: url.UserPassword("root", "secret")}
	s := m.Service.NewServer()
	defer s.Close()
	sha256, _ := esxi.Thumbprints(s.Certificate())

	ctx := context.Background()
	d, err := esxi.Dial(ctx, esxi.Config{Host: s.URL.Host, User: "root", Password: "secret", Thumbprint: sha256})
	if err != nil {
		panic(err)
	}
	defer d.Close()
	info, err := d.Info(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Println(info.Kind, "read-only:", info.ReadOnly)

	spec := hypervisor.CreateSpec{
		ID: ovm.NewID(), Name: "web-1", VDCID: ovm.NewID(),
		Spec: ovm.InstanceSpec{Type: ovm.TypeVM, CPU: ovm.CPUs(2), Memory: 512 * ovm.MiB,
			Image: ovm.Template("debian-12.vmdk"), Disks: []ovm.DiskSpec{{Size: ovm.GiB}}},
	}
	if _, err := d.Create(ctx, spec); err != nil {
		panic(err)
	}
	if err := d.Start(ctx, hypervisor.ByID(spec.ID)); err != nil {
		panic(err)
	}
	vm, err := d.Get(ctx, hypervisor.ByID(spec.ID))
	if err != nil {
		panic(err)
	}
	fmt.Println(vm.Name, vm.CPU, vm.Memory, vm.Power, vm.Managed())
	fmt.Println(d.Capabilities().MigrationNote != "")
	// Output:
	// esxi read-only: false
	// web-1 2 512MiB running true
	// true
}
