package docker_test

import (
	"context"
	"fmt"
	"time"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/hypervisor/docker"
	"github.com/openovm/ovm/ovm"
)

// Pull an image with progress, then create and start a container from it.
// (Compiled, not run: it needs a Docker host.)
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := docker.Connect(ctx, docker.Options{Host: "unix:///var/run/docker.sock"})
	if err != nil {
		fmt.Println(err) // ovm.ErrUnavailable when the host does not answer
		return
	}
	defer d.Close()

	image := "127.0.0.1:5000/ovm-busybox:1"
	err = d.Images().Pull(ctx, image, func(percent int, msg string) { fmt.Printf("%3d%% %s\n", percent, msg) })
	if err != nil {
		fmt.Println(err)
		return
	}
	spec := hypervisor.CreateSpec{
		ID: ovm.NewID(), Name: "web-1", VDCID: ovm.NewID(),
		Spec: ovm.InstanceSpec{
			Type: ovm.TypeContainer, CPU: 500, Memory: 64 * ovm.MiB,
			Image:         ovm.ContainerImage(image),
			Command:       []string{"httpd", "-f", "-p", "8080"},
			Ports:         []ovm.PortMapping{{HostPort: 8080, ContainerPort: 8080}},
			RestartPolicy: "unless-stopped",
		},
	}
	inst, err := d.Create(ctx, spec) // idempotent by spec.ID
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := d.Start(ctx, hypervisor.RefOf(inst)); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("running", inst.Name, inst.NativeID[:12])
}
