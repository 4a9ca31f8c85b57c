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
//
// Create does not pull: an image missing on the host is ovm.ErrNotFound,
// and Images.Pull fetches it first with progress (a step of its own in a
// task). Volumes attach at create time: a local pool's volume is mounted by
// name, a shared pool's is a directory of the pool's path (which every host
// sees, as an NFS mount) bound into the container, so that a container
// recreated on another host finds its data. The engine gives no per-network
// MAC before API 1.44: on older engines the first NIC's MAC is the
// container's, and Networks.Attach with a MAC is ovm.ErrUnsupported.
//
// Tests: the unit tests need no engine (translation of specs, errors,
// statistics and pull progress; hosts that stop answering, faked with
// listeners). The integration tests (build tag integration) need the
// engines `make testenv` starts: two dockerd (DOCKER_HOST,
// OVM_TEST_DOCKER_HOST2), a registry (OVM_TEST_REGISTRY) and a busybox
// image (OVM_TEST_DOCKER_IMAGE). They run the hypervisortest, storagetest
// and networktest suites, start their own dockerd with --tlsverify on
// 127.0.0.1 for tcp:// with client certificates and freeze it with SIGSTOP,
// and drive ssh:// through a stand-in for ssh that runs
// `docker system dial-stdio` locally (no sshd runs on the test machines).
package docker
