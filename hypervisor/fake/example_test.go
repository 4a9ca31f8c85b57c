package fake_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/fake"
	"github.com/openovm/ovm/ovm"
)

// A fake host runs instances like a real one, and can be made to fail.
func Example() {
	ctx := context.Background()
	host := fake.New(fake.Options{
		Name:     "kvm-1",
		Kind:     ovm.HostKVM,
		Capacity: ovm.Resources{CPU: ovm.CPUs(8), Memory: 16 * ovm.GiB, Disk: 500 * ovm.GiB},
	})
	spec := hypervisor.CreateSpec{
		ID:   ovm.NewID(),
		Name: "web",
		Spec: ovm.InstanceSpec{Type: ovm.TypeVM, CPU: ovm.CPUs(2), Memory: 4 * ovm.GiB, Image: ovm.Template("debian-12.qcow2")},
	}
	inst, err := host.Create(ctx, spec)
	if err != nil {
		panic(err)
	}
	if err := host.Start(ctx, hypervisor.RefOf(inst)); err != nil {
		panic(err)
	}
	res, _ := host.Exec(ctx, hypervisor.RefOf(inst), hypervisor.ExecSpec{Command: []string{"hostname"}})
	fmt.Printf("exec: %q exit %d\n", res.Stdout, res.ExitCode)

	info, _ := host.Info(ctx)
	fmt.Println("allocated:", info.Allocated)

	big := spec
	big.ID, big.Name, big.Spec.Memory = ovm.NewID(), "big", 16*ovm.GiB
	_, err = host.Create(ctx, big)
	fmt.Println("too big:", errors.Is(err, ovm.ErrConflict), err)

	host.SetUnreachable(true)
	fmt.Println("ping a dead host:", errors.Is(host.Ping(ctx), ovm.ErrUnavailable))
	fmt.Println("pings:", host.Calls(fake.MethodPing))
	// Output:
	// exec: "web\n" exit 0
	// allocated: cpu=2 memory=4GiB disk=0B
	// too big: true fake host kvm-1 has no room for instance big: memory: need 16GiB, 12GiB free
	// ping a dead host: true
	// pings: 1
}

// Instances move between fakes; a destination that refuses leaves the
// instance running where it was.
func ExampleDriver_Migrate() {
	ctx := context.Background()
	src, dst := fake.New(fake.Options{Name: "a"}), fake.New(fake.Options{Name: "b"})
	spec := hypervisor.CreateSpec{ID: ovm.NewID(), Name: "db", Spec: ovm.InstanceSpec{
		Type: ovm.TypeContainer, CPU: 500, Memory: ovm.GiB, Image: ovm.ContainerImage("postgres:17"),
	}}
	if _, err := src.Create(ctx, spec); err != nil {
		panic(err)
	}
	ref := hypervisor.ByID(spec.ID)
	_ = src.Start(ctx, ref)

	dst.FailNext(fake.MethodReceive, ovm.Errorf(ovm.KindUnavailable, "link down"))
	to := hypervisor.MigrationTarget{Kind: hypervisor.MigrateLive, Destination: dst}
	err := src.Migrate(ctx, ref, to, nil)
	fmt.Println("first try unavailable:", errors.Is(err, ovm.ErrUnavailable))
	still, _ := src.Get(ctx, ref)
	fmt.Println("on a:", still.Name, still.Power)
	err = src.Migrate(ctx, ref, to, func(p int, msg string) { fmt.Printf("  %3d%% %s\n", p, msg) })
	fmt.Println("second try:", err)
	inst, _ := dst.Get(ctx, ref)
	fmt.Println("on b:", inst.Name, inst.Power)
	// Output:
	// first try unavailable: true
	// on a: db running
	//     0% starting live migration
	//    50% copying to host b
	//   100% running on host b
	// second try: <nil>
	// on b: db running
}
