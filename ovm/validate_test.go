package ovm_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

func goodVM() ovm.InstanceSpec {
	return ovm.InstanceSpec{
		Type: ovm.TypeVM, CPU: ovm.CPUs(2), Memory: 2 * ovm.GiB,
		Image: ovm.Template("debian-12.qcow2"),
		Disks: []ovm.DiskSpec{{Name: "root", Size: 10 * ovm.GiB}},
		NICs:  []ovm.NICSpec{{NetworkID: ovm.NewID(), MAC: "52:54:00:12:34:56"}},
	}
}

func goodContainer() ovm.InstanceSpec {
	return ovm.InstanceSpec{
		Type: ovm.TypeContainer, CPU: 500, Memory: 64 * ovm.MiB,
		Image: ovm.ContainerImage("127.0.0.1:5000/busybox:1"),
		Ports: []ovm.PortMapping{{HostPort: 8080, ContainerPort: 80}},
		Disks: []ovm.DiskSpec{{Size: ovm.GiB, MountPath: "/data"}},
	}
}

// fields returns the names of the invalid fields of err.
func fields(err error) []string {
	var out []string
	for _, f := range ovm.FieldsOf(err) {
		out = append(out, f.Field)
	}
	return out
}

func TestInstanceSpecValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*ovm.InstanceSpec)
		base   func() ovm.InstanceSpec
		want   []string // invalid fields; nil = valid
	}{
		{"valid vm", func(*ovm.InstanceSpec) {}, goodVM, nil},
		{"valid container", func(*ovm.InstanceSpec) {}, goodContainer, nil},
		{"missing type", func(s *ovm.InstanceSpec) { s.Type = "" }, goodVM, []string{"type"}},
		{"unknown type", func(s *ovm.InstanceSpec) { s.Type = "lxc" }, goodVM, []string{"type"}},
		{"zero cpu", func(s *ovm.InstanceSpec) { s.CPU = 0 }, goodVM, []string{"cpuMilli"}},
		{"fractional vm cpu", func(s *ovm.InstanceSpec) { s.CPU = 1500 }, goodVM, []string{"cpuMilli"}},
		{"too much cpu", func(s *ovm.InstanceSpec) { s.CPU = ovm.MaxCPU + 1 }, goodContainer, []string{"cpuMilli"}},
		{"tiny memory", func(s *ovm.InstanceSpec) { s.Memory = ovm.KiB }, goodVM, []string{"memoryBytes"}},
		{"no image", func(s *ovm.InstanceSpec) { s.Image = ovm.ImageRef{} }, goodVM, []string{"image.format", "image.name"}},
		{"image path escape", func(s *ovm.InstanceSpec) { s.Image = ovm.Template("../../etc/shadow") }, goodVM, []string{"image.name"}},
		{"container image on vm", func(s *ovm.InstanceSpec) { s.Image = ovm.ContainerImage("busybox") }, goodVM, []string{"image.format"}},
		{"disk without size", func(s *ovm.InstanceSpec) { s.Disks[0].Size = 0 }, goodVM, []string{"disks[0].sizeBytes"}},
		{"disk bad name", func(s *ovm.InstanceSpec) { s.Disks[0].Name = "Root Disk" }, goodVM, []string{"disks[0].name"}},
		{"existing volume with size", func(s *ovm.InstanceSpec) { s.Disks[0].VolumeID = ovm.NewID() }, goodVM, []string{"disks[0].sizeBytes"}},
		{"container volume without mount", func(s *ovm.InstanceSpec) { s.Disks[0].MountPath = "" }, goodContainer, []string{"disks[0].mountPath"}},
		{"nic without network", func(s *ovm.InstanceSpec) { s.NICs[0].NetworkID = "" }, goodVM, []string{"nics[0].networkId"}},
		{"multicast mac", func(s *ovm.InstanceSpec) { s.NICs[0].MAC = "01:00:5e:00:00:01" }, goodVM, []string{"nics[0].mac"}},
		{"garbage mac", func(s *ovm.InstanceSpec) { s.NICs[0].MAC = "zz" }, goodVM, []string{"nics[0].mac"}},
		{"multicast ip", func(s *ovm.InstanceSpec) { s.NICs[0].IP = netip.MustParseAddr("224.0.0.1") }, goodVM, []string{"nics[0].ip"}},
		{"ports on a vm", func(s *ovm.InstanceSpec) { s.Ports = []ovm.PortMapping{{ContainerPort: 80}} }, goodVM, []string{"ports"}},
		{"port zero", func(s *ovm.InstanceSpec) { s.Ports[0].ContainerPort = 0 }, goodContainer, []string{"ports[0].containerPort"}},
		{"bad protocol", func(s *ovm.InstanceSpec) { s.Ports[0].Protocol = "sctp" }, goodContainer, []string{"ports[0].protocol"}},
		{"bad restart policy", func(s *ovm.InstanceSpec) { s.RestartPolicy = "sometimes" }, goodContainer, []string{"restartPolicy"}},
		{"bad hostname", func(s *ovm.InstanceSpec) { s.Hostname = "my_host" }, goodVM, []string{"hostname"}},
		{"ha priority out of range", func(s *ovm.InstanceSpec) { s.HA.Priority = -1 }, goodVM, []string{"ha.priority"}},
		{"several at once", func(s *ovm.InstanceSpec) { s.CPU = -1; s.Memory = 0 }, goodVM, []string{"cpuMilli", "memoryBytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.base()
			tt.mutate(&s)
			err := s.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ovm.ErrInvalid)
			assert.Equal(t, tt.want, fields(err))
		})
	}
}

func TestDemandAndUsage(t *testing.T) {
	s := goodVM()
	s.Disks = append(s.Disks, ovm.DiskSpec{Size: 5 * ovm.GiB})
	// 10GiB root + 5GiB data.
	assert.Equal(t, ovm.Resources{CPU: ovm.CPUs(2), Memory: 2 * ovm.GiB, Disk: 15 * ovm.GiB}, s.Demand())
	assert.Equal(t, ovm.Usage{CPU: ovm.CPUs(2), Memory: 2 * ovm.GiB, Disk: 15 * ovm.GiB, Instances: 1}, ovm.UsageOf(s))
}

func TestImageRef(t *testing.T) {
	tests := []struct {
		ref   ovm.ImageRef
		typ   ovm.InstanceType
		kinds []ovm.HostKind
	}{
		{ovm.Template("debian.qcow2"), ovm.TypeVM, []ovm.HostKind{ovm.HostKVM, ovm.HostFake}},
		{ovm.Template("disk.img"), ovm.TypeVM, []ovm.HostKind{ovm.HostKVM, ovm.HostFake}},
		{ovm.Template("win.vmdk"), ovm.TypeVM, []ovm.HostKind{ovm.HostESXi, ovm.HostFake}},
		{ovm.ContainerImage("nginx:1"), ovm.TypeContainer, []ovm.HostKind{ovm.HostDocker, ovm.HostFake}},
	}
	for _, tt := range tests {
		t.Run(tt.ref.String(), func(t *testing.T) {
			require.NoError(t, tt.ref.Validate())
			assert.Equal(t, tt.typ, tt.ref.InstanceType())
			assert.Equal(t, tt.kinds, tt.ref.HostKinds())
		})
	}
}

func TestNetworkValidate(t *testing.T) {
	good := func() ovm.Network {
		return ovm.Network{
			Name: "lan", VLAN: 100, Subnet: netip.MustParsePrefix("10.1.0.0/24"),
			Gateway: netip.MustParseAddr("10.1.0.1"),
			Ranges: []ovm.AddrRange{
				{Start: netip.MustParseAddr("10.1.0.10"), End: netip.MustParseAddr("10.1.0.99")},
				{Start: netip.MustParseAddr("10.1.0.150"), End: netip.MustParseAddr("10.1.0.200")},
			},
		}
	}
	tests := []struct {
		name   string
		mutate func(*ovm.Network)
		want   []string
	}{
		{"valid", func(*ovm.Network) {}, nil},
		{"valid ipv6", func(n *ovm.Network) {
			n.Subnet = netip.MustParsePrefix("fd00:1::/64")
			n.Gateway = netip.MustParseAddr("fd00:1::1")
			n.Ranges = nil
		}, nil},
		{"vlan too high", func(n *ovm.Network) { n.VLAN = 4095 }, []string{"vlan"}},
		{"host bits", func(n *ovm.Network) { n.Subnet = netip.MustParsePrefix("10.1.0.5/24") }, []string{"subnet"}},
		{"no subnet", func(n *ovm.Network) { n.Subnet = netip.Prefix{} }, []string{"subnet"}},
		{"ipv4 too small", func(n *ovm.Network) {
			n.Subnet = netip.MustParsePrefix("10.1.0.0/31")
			n.Gateway = netip.Addr{}
			n.Ranges = nil
		}, []string{"subnet"}},
		{"gateway outside", func(n *ovm.Network) { n.Gateway = netip.MustParseAddr("10.2.0.1") }, []string{"gateway"}},
		{"range outside", func(n *ovm.Network) { n.Ranges[1].End = netip.MustParseAddr("10.1.1.5") }, []string{"ranges[1].end"}},
		{"range reversed", func(n *ovm.Network) { n.Ranges[0].End = netip.MustParseAddr("10.1.0.5") }, []string{"ranges[0].end"}},
		{"ranges overlap", func(n *ovm.Network) { n.Ranges[1].Start = netip.MustParseAddr("10.1.0.50") }, []string{"ranges[1]"}},
		{"bad name", func(n *ovm.Network) { n.Name = "LAN 1" }, []string{"name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := good()
			tt.mutate(&n)
			err := n.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ovm.ErrInvalid)
			assert.Equal(t, tt.want, fields(err))
		})
	}
}

func TestParseMAC(t *testing.T) {
	got, err := ovm.ParseMAC("52-54-00-AB-CD-EF")
	require.NoError(t, err)
	assert.Equal(t, "52:54:00:ab:cd:ef", got)
	_, err = ovm.ParseMAC("ff:ff:ff:ff:ff:ff")
	require.ErrorIs(t, err, ovm.ErrInvalid)
}

func TestScopeAndPoolValidate(t *testing.T) {
	tests := []struct {
		name string
		pool ovm.ResourcePool
		want []string
	}{
		{"valid", ovm.ResourcePool{Name: "gold", Policy: ovm.PolicyPerformance, Scope: ovm.Scope{Kind: ovm.ScopePool, PoolID: ovm.NewID()}}, nil},
		{"default scope", ovm.ResourcePool{Name: "gold", Policy: ovm.PolicyProgressive}, nil},
		{"bad policy", ovm.ResourcePool{Name: "gold", Policy: "RANDOM"}, []string{"policy"}},
		{"hosts scope without hosts", ovm.ResourcePool{Name: "gold", Scope: ovm.Scope{Kind: ovm.ScopeHosts}}, []string{"scope.hostIds"}},
		{"datacenter scope without id", ovm.ResourcePool{Name: "gold", Scope: ovm.Scope{Kind: ovm.ScopeDatacenter}}, []string{"scope.datacenterId"}},
		{"unknown scope", ovm.ResourcePool{Name: "gold", Scope: ovm.Scope{Kind: "galaxy"}}, []string{"scope.kind"}},
		{"overcommit below one", ovm.ResourcePool{Name: "gold", Overcommit: ovm.Overcommit{Memory: 0.5}}, []string{"overcommit.memory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.pool.Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ovm.ErrInvalid)
			assert.Equal(t, tt.want, fields(err))
		})
	}
}

func TestVAppValidate(t *testing.T) {
	v := ovm.VApp{Name: "shop", Members: []ovm.VAppMember{
		{Name: "web", Spec: goodContainer()},
		{Name: "web", Spec: goodContainer()},
		{Name: "db", Spec: ovm.InstanceSpec{}},
	}}
	err := v.Validate()
	require.ErrorIs(t, err, ovm.ErrInvalid)
	got := fields(err)
	assert.Contains(t, got, "members[1].name")
	assert.Contains(t, got, "members[2].spec.type")
	assert.NotContains(t, got, "members[0].name")
	require.ErrorIs(t, ovm.VApp{Name: "x"}.Validate(), ovm.ErrInvalid)
}
