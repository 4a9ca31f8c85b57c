package docker

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"
	"github.com/docker/go-connections/nat"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

func TestClassify(t *testing.T) {
	live := context.Background()
	expired, cancel := context.WithDeadline(live, time.Now().Add(-time.Second))
	defer cancel()
	cancelled, cancel2 := context.WithCancel(live)
	cancel2()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want ovm.Kind
	}{
		{"no such container", live, fmt.Errorf("No such container: x: %w", cerrdefs.ErrNotFound), ovm.KindNotFound},
		{"no such image", live, errors.New("Error response from daemon: No such image: busybox:1"), ovm.KindNotFound},
		{"manifest unknown in a pull stream", live, errors.New("manifest for 127.0.0.1:5000/x:1 not found: manifest unknown: manifest unknown"), ovm.KindNotFound},
		{"name in use", live, fmt.Errorf(`Conflict. The container name "/web" is already in use: %w`, cerrdefs.ErrConflict), ovm.KindConflict},
		{"port allocated at start", live, errors.New("driver failed programming external connectivity: Bind for 127.0.0.1:8080 failed: port is already allocated"), ovm.KindConflict},
		{"subnet overlaps", live, errors.New("Pool overlaps with other one on this address space"), ovm.KindConflict},
		{"address in use at start", live, errors.New("listen tcp4 127.0.0.1:8080: bind: address already in use"), ovm.KindConflict},
		{"invalid reference", live, errors.New("invalid reference format: repository name must be lowercase"), ovm.KindInvalid},
		{"invalid parameter", live, fmt.Errorf("Minimum memory limit allowed is 6MB: %w", cerrdefs.ErrInvalidArgument), ovm.KindInvalid},
		{"daemon down", live, client.ErrorConnectionFailed("unix:///x.sock"), ovm.KindUnavailable},
		{"unavailable", live, cerrdefs.ErrUnavailable, ovm.KindUnavailable},
		{"deadline", expired, context.DeadlineExceeded, ovm.KindUnavailable},
		{"cancelled by a deadline", expired, context.Canceled, ovm.KindUnavailable},
		{"cancelled by the caller", cancelled, context.Canceled, ovm.KindInternal},
		{"already an ovm kind", live, ovm.NotFound("pool", "p"), ovm.KindNotFound},
		{"anything else", live, errors.New("boom"), ovm.KindInternal},
		{"nil", live, nil, ovm.KindInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify(tt.ctx, tt.err)
			assert.Equal(t, tt.want, got, "classify(%v): got %s, want %s", tt.err, got, tt.want)
		})
	}
}

func TestEngineErrorKeepsTheEnginesText(t *testing.T) {
	c := &conn{name: "h1"}
	engine := fmt.Errorf("No such container: abc: %w", cerrdefs.ErrNotFound)
	err := c.engineError(context.Background(), engine, "", "start %s", "web")
	require.ErrorIs(t, err, ovm.ErrNotFound)
	require.ErrorIs(t, err, engine, "the engine's error stays in the chain")
	assert.Equal(t, "docker host h1: start web: No such container: abc: not found", err.Error())

	inv := c.engineError(context.Background(), errors.New("invalid reference format"), "spec.image.name", "create web")
	require.ErrorIs(t, inv, ovm.ErrInvalid)
	assert.Equal(t, []ovm.FieldError{{Field: "spec.image.name", Reason: "refused by the engine"}}, ovm.FieldsOf(inv))

	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	late := c.engineError(expired, context.DeadlineExceeded, "", "ping")
	assert.ErrorIs(t, late, ovm.ErrUnavailable)
	assert.ErrorIs(t, late, context.DeadlineExceeded)
	assert.Contains(t, late.Error(), "no answer within the deadline")
}

func TestContainerConfig(t *testing.T) {
	id, vdc := ovm.NewID(), ovm.NewID()
	n := ovm.Network{ID: ovm.NewID(), Name: "front", Subnet: netip.MustParsePrefix("10.1.0.0/24")}
	back := ovm.Network{ID: ovm.NewID(), Name: "back", Subnet: netip.MustParsePrefix("10.2.0.0/24")}
	local := ovm.StoragePool{ID: ovm.NewID(), Kind: ovm.StorageLocal, Path: "/var/lib/ovm"}
	shared := ovm.StoragePool{ID: ovm.NewID(), Kind: ovm.StorageShared, Path: "/srv/shared"}
	spec := hypervisor.CreateSpec{
		ID: id, Name: "web", VDCID: vdc,
		Spec: ovm.InstanceSpec{
			Type: ovm.TypeContainer, CPU: 1500, Memory: 256 * ovm.MiB,
			Image:   ovm.ContainerImage("127.0.0.1:5000/web:1"),
			Command: []string{"httpd", "-f"}, Env: map[string]string{"B": "2", "A": "1"},
			Ports: []ovm.PortMapping{
				{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 8080, ContainerPort: 80},
				{HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
			},
			RestartPolicy: "on-failure",
			Labels:        map[string]string{"team": "web"},
		},
		NICs: []hypervisor.NICAttachment{
			{Network: n, MAC: "52:54:00:00:00:01", IP: netip.MustParseAddr("10.1.0.10")},
			{Network: back, IP: netip.MustParseAddr("10.2.0.10"), Bridge: "back-net"},
		},
		Disks: []hypervisor.DiskAttachment{
			{Volume: ovm.Volume{ID: "v1", NativeID: "ovm-vol-v1"}, Pool: local, MountPath: "/data"},
			{Volume: ovm.Volume{ID: "v2"}, Pool: shared, MountPath: "/shared"},
		},
	}
	for _, api := range []string{"1.41", "1.44"} {
		t.Run("api "+api, func(t *testing.T) {
			cfg, err := containerConfig(spec, api)
			require.NoError(t, err)
			c, h := cfg.config, cfg.host
			assert.Equal(t, "127.0.0.1:5000/web:1", c.Image)
			assert.Equal(t, []string{"httpd", "-f"}, []string(c.Cmd))
			assert.Equal(t, []string{"A=1", "B=2"}, c.Env, "env, sorted by name")
			assert.Equal(t, map[string]string{LabelID: string(id), LabelVDC: string(vdc), "team": "web"}, c.Labels)
			assert.Equal(t, int64(1_500_000_000), h.NanoCPUs, "1500 milli-CPU = 1.5e9 nano-CPU")
			assert.Equal(t, int64(256*ovm.MiB), h.Memory)
			assert.Equal(t, h.Memory, h.MemorySwap, "no swap beyond the limit")
			assert.Equal(t, container.RestartPolicyOnFailure, h.RestartPolicy.Name)
			assert.Equal(t, nat.PortMap{
				"80/tcp": {{HostIP: "127.0.0.1", HostPort: "8080"}},
				"53/udp": {{HostPort: "5353"}},
			}, h.PortBindings)
			assert.Contains(t, c.ExposedPorts, nat.Port("80/tcp"))
			assert.Equal(t, []mount.Mount{{Type: mount.TypeVolume, Source: "ovm-vol-v1", Target: "/data"}}, h.Mounts)
			assert.Equal(t, []string{"/srv/shared/ovm-vol-v2:/shared"}, h.Binds, "a shared pool's volume is bound from the shared path")
			assert.Equal(t, container.NetworkMode("front"), h.NetworkMode)
			ep := cfg.network.EndpointsConfig["front"]
			require.NotNil(t, ep, "endpoint of the first NIC")
			assert.Equal(t, "10.1.0.10", ep.IPAMConfig.IPv4Address, "the address IPAM chose")
			if api == "1.41" {
				assert.Equal(t, "52:54:00:00:00:01", c.MacAddress, "API 1.41: the MAC is the container's")
				assert.Empty(t, ep.MacAddress)
			} else {
				assert.Empty(t, c.MacAddress)
				assert.Equal(t, "52:54:00:00:00:01", ep.MacAddress, "API 1.44: the MAC is the endpoint's")
			}
			require.Len(t, cfg.extraNICs, 1, "NICs past the first are connected after create")
			assert.Equal(t, "back-net", bridgeOf(cfg.extraNICs[0]))
		})
	}
	t.Run("defaults", func(t *testing.T) {
		cfg, err := containerConfig(hypervisor.CreateSpec{ID: id, Name: "x", Spec: ovm.InstanceSpec{Type: ovm.TypeContainer, CPU: 100, Memory: 8 * ovm.MiB, Image: ovm.ContainerImage("busybox")}}, "1.41")
		require.NoError(t, err)
		assert.Equal(t, container.RestartPolicyDisabled, cfg.host.RestartPolicy.Name, "no restart policy means no")
		assert.Nil(t, cfg.network, "no NIC: the engine's default network")
		assert.Nil(t, cfg.config.Cmd, "no command: the image's")
		assert.Equal(t, map[string]string{LabelID: string(id)}, cfg.config.Labels, "no VDC label without a VDC")
	})
}

func TestBridgeOf(t *testing.T) {
	id := strings.Repeat("ab", 32)
	for _, tt := range []struct {
		name string
		nic  hypervisor.NICAttachment
		want string
	}{
		{"bridge name", hypervisor.NICAttachment{Bridge: "ovm-front", Network: ovm.Network{Name: "front"}}, "ovm-front"},
		{"engine id: the segment itself (Create names it first)", hypervisor.NICAttachment{Bridge: id, Network: ovm.Network{Name: "front"}}, id},
		{"engine id alone", hypervisor.NICAttachment{Bridge: id}, id},
		{"no bridge", hypervisor.NICAttachment{Network: ovm.Network{Name: "front"}}, "front"},
	} {
		assert.Equal(t, tt.want, bridgeOf(tt.nic), tt.name)
	}
}

func TestNetworkCreate(t *testing.T) {
	n := ovm.Network{
		ID: ovm.NewID(), Name: "front", VLAN: 120, Subnet: netip.MustParsePrefix("10.9.0.0/24"),
		Gateway: netip.MustParseAddr("10.9.0.1"),
		Ranges:  []ovm.AddrRange{{Start: netip.MustParseAddr("10.9.0.10"), End: netip.MustParseAddr("10.9.0.99")}},
	}
	for _, tt := range []struct {
		name, uplink, driver, parent string
		vlan                         int
	}{
		{"bridge without uplink", "", "bridge", "", 0},
		{"macvlan on the VLAN sub-interface", "eth1", "macvlan", "eth1.120", 120},
		{"macvlan untagged on the uplink", "eth1", "macvlan", "eth1", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := n
			n.VLAN = tt.vlan
			o := networkCreate(n, tt.uplink)
			assert.Equal(t, tt.driver, o.Driver)
			assert.Equal(t, tt.parent, o.Options["parent"], "parent interface")
			require.Len(t, o.IPAM.Config, 1)
			assert.Equal(t, "10.9.0.0/24", o.IPAM.Config[0].Subnet)
			assert.Equal(t, "10.9.0.1", o.IPAM.Config[0].Gateway)
			assert.False(t, *o.EnableIPv6)
			assert.Equal(t, string(n.ID), o.Labels[LabelID])
			assert.Equal(t, fmt.Sprint(tt.vlan), o.Labels[labelVLAN])
		})
	}
}

func TestStatsOf(t *testing.T) {
	var s container.StatsResponse
	s.Read = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// 0.25 s of CPU over 1 s of system time on 2 CPUs: 0.25/1 x 2 x 100 = 50%.
	s.PreCPUStats.CPUUsage.TotalUsage, s.CPUStats.CPUUsage.TotalUsage = 1_000_000_000, 1_250_000_000
	s.PreCPUStats.SystemUsage, s.CPUStats.SystemUsage = 10_000_000_000, 11_000_000_000
	s.CPUStats.OnlineCPUs = 2
	// 40 MiB used of which 10 MiB page cache: 30 MiB.
	s.MemoryStats = container.MemoryStats{Usage: 40 << 20, Limit: 64 << 20, Stats: map[string]uint64{"inactive_file": 10 << 20}}
	s.Networks = map[string]container.NetworkStats{"eth0": {RxBytes: 100, TxBytes: 50}, "eth1": {RxBytes: 1, TxBytes: 2}}
	s.BlkioStats.IoServiceBytesRecursive = []container.BlkioStatEntry{{Op: "Read", Value: 4096}, {Op: "write", Value: 512}, {Op: "Total", Value: 4608}}
	s.BlkioStats.IoServicedRecursive = []container.BlkioStatEntry{{Op: "Read", Value: 3}, {Op: "Write", Value: 2}, {Op: "Total", Value: 5}}
	got := statsOf(s, 0)
	assert.Equal(t, hypervisor.Stats{
		Time: s.Read, CPUPercent: 50, MemoryUsed: 30 * ovm.MiB, MemoryLimit: 64 * ovm.MiB,
		NetRxBytes: 101, NetTxBytes: 52, DiskRead: 4096, DiskWrite: 512, DiskReadOps: 3, DiskWriteOps: 2,
	}, got)

	for _, tt := range []struct {
		name     string
		nanoCPUs int64
		want     float64
	}{
		{"no limit", 0, 50},
		{"limit above the use", 1_000_000_000, 50},      // 1 CPU: 100% cap, 50% used
		{"limit below the skewed use", 400_000_000, 40}, // 0.4 CPU: capped at 40%
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.InDelta(t, tt.want, statsOf(s, tt.nanoCPUs).CPUPercent, 1e-9)
		})
	}

	var first container.StatsResponse // no previous sample: no CPU share
	first.CPUStats.CPUUsage.TotalUsage, first.CPUStats.SystemUsage = 5, 10
	assert.Zero(t, statsOf(first, 0).CPUPercent)
}

func TestReadPull(t *testing.T) {
	stream := strings.Join([]string{
		`{"status":"Pulling from ovm-busybox","id":"1"}`,
		`{"status":"Pulling fs layer","progressDetail":{},"id":"a"}`,
		`{"status":"Downloading","progressDetail":{"current":100,"total":400},"id":"a"}`,
		`{"status":"Downloading","progressDetail":{"current":100,"total":100},"id":"b"}`,
		`{"status":"Downloading","progressDetail":{"current":400,"total":400},"id":"a"}`,
		`{"status":"Extracting","progressDetail":{"current":10,"total":400},"id":"a"}`,
		`{"status":"Pull complete","progressDetail":{},"id":"a"}`,
		`{"status":"Status: Downloaded newer image"}`,
	}, "\n")
	var got []int
	require.NoError(t, readPull(strings.NewReader(stream), func(p int, _ string) { got = append(got, p) }))
	// a: 100/400 = 25%; a+b: 200/500 = 40%; a+b: 500/500 = 100%, capped at 99 until the end.
	assert.Equal(t, []int{25, 40, 99}, got)

	err := readPull(strings.NewReader(`{"errorDetail":{"message":"manifest unknown"},"error":"manifest unknown"}`), func(int, string) {})
	require.Error(t, err)
	assert.Equal(t, ovm.KindNotFound, classify(context.Background(), err), "an error in the stream: got %v", err)
}

func TestSSHArgv(t *testing.T) {
	for _, tt := range []struct {
		name, host string
		opts       SSHOptions
		want       []string
	}{
		{"plain", "ssh://docker1", SSHOptions{}, []string{"ssh", "--", "docker1", "docker", "system", "dial-stdio"}},
		{"user and port", "ssh://ovm@docker1:2222", SSHOptions{Args: []string{"-i", "/k"}},
			[]string{"ssh", "-p", "2222", "-l", "ovm", "-i", "/k", "--", "docker1", "docker", "system", "dial-stdio"}},
		{"own command", "ssh://h", SSHOptions{Command: []string{"/bin/fake-ssh", "-q"}, RemoteCommand: []string{"dial"}},
			[]string{"/bin/fake-ssh", "-q", "--", "h", "dial"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			u, err := url.Parse(tt.host)
			require.NoError(t, err)
			got, err := sshArgv(u, tt.opts)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	u, _ := url.Parse("ssh://h/some/path")
	_, err := sshArgv(u, SSHOptions{})
	assert.ErrorIs(t, err, ovm.ErrInvalid, "an ssh URL with a path")
}

func TestKeyedMutex(t *testing.T) {
	var k keyedMutex
	unlock, err := k.lock(context.Background(), "a")
	require.NoError(t, err)
	other, err := k.lock(context.Background(), "b")
	require.NoError(t, err, "another key is not held")
	other()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = k.lock(ctx, "a")
	assert.ErrorIs(t, err, context.DeadlineExceeded, "a held key waits for the context")
	unlock()
	again, err := k.lock(context.Background(), "a")
	require.NoError(t, err, "a released key")
	again()
	assert.Empty(t, k.m, "no lock kept once released")
}

func TestInstanceOfLimits(t *testing.T) {
	for _, tt := range []struct {
		name string
		hc   container.HostConfig
		cpu  ovm.MilliCPU
		mem  ovm.Bytes
	}{
		{"no limits", container.HostConfig{}, 0, 0},
		{"--cpus and --memory", container.HostConfig{Resources: container.Resources{NanoCPUs: 1.5e9, Memory: 64 << 20}}, 1500, 64 << 20},
		{"--cpu-quota and --cpu-period", container.HostConfig{Resources: container.Resources{CPUQuota: 50000, CPUPeriod: 100000}}, 500, 0},
		{"quota without period", container.HostConfig{Resources: container.Resources{CPUQuota: 50000}}, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hc := tt.hc
			got := instanceOf(container.InspectResponse{ContainerJSONBase: &container.ContainerJSONBase{ID: "c1", Name: "/c1", HostConfig: &hc}})
			assert.Equal(t, tt.cpu, got.CPU, "CPU")
			assert.Equal(t, tt.mem, got.Memory, "Memory")
		})
	}
}
