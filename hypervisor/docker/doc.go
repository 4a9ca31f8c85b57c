// Package docker is OVM's driver for Docker hosts, on the Docker Engine API
// (github.com/docker/docker/client): containers are instances, Docker
// volumes are OVM volumes, Docker networks are OVM segments, and the host's
// image store is an image catalog that pulls from a private registry.
//
// Connect reaches one engine, over its local unix socket, tcp:// with TLS
// client certificates, or ssh:// (through `docker system dial-stdio` on the
// remote host), and negotiates the API version down to the engine's (20.10
// speaks 1.41):
//
//	d, err := docker.Connect(ctx, docker.Options{Host: "unix:///var/run/docker.sock"})
//	inst, err := d.Create(ctx, spec)           // hypervisor.Driver
//	vols := d.Storage()                        // storage.Driver
//	nets := d.Networks(docker.NetworkOptions{}) // network.Driver
//	imgs := d.Images()                         // image.Catalog, and Pull
//
// Identity: every object OVM makes carries its OVM id in the label
// org.openovm.id (LabelID), and an instance its VDC in org.openovm.vdc
// (LabelVDC). Create is idempotent by that id: a retried Create finds the
// container the first one made. List returns every container of the host;
// those without the label are unmanaged and can be imported as they are
// (importing writes nothing on the engine).
//
// Every call is bounded by its context. A host that does not answer within
// the context's deadline is ovm.ErrUnavailable (with context.DeadlineExceeded
// in the chain); a host that refuses the connection is ovm.ErrUnavailable too.
// Engine errors keep the engine's text and get an ovm kind: no such image or
// container is ovm.ErrNotFound, a name in use or a port already allocated is
// ovm.ErrConflict, an invalid reference or name is ovm.ErrInvalid.
package docker
