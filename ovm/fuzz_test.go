package ovm_test

import (
	"encoding/json"
	"errors"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openovm/ovm/ovm"
)

// requireInvalid checks that err is an ovm invalid error.
func requireInvalid(t *testing.T, err error, what string, in any) {
	t.Helper()
	require.Error(t, err, "%s(%q): got no error", what, in)
	require.True(t, errors.Is(err, ovm.ErrInvalid), "%s(%q): error %v is not ovm.ErrInvalid", what, in, err)
}

var canonicalUUID = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// FuzzParseID: ParseID accepts exactly the canonical lower-case UUIDs, returns
// them unchanged, and refuses the rest with ovm.ErrInvalid.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{string(ovm.NewID()), "00000000-0000-4000-8000-000000000000", "",
		"00000000-0000-4000-8000-00000000000", "00000000-0000-4000-8000-0000000000000", "00000000-0000-4000-8000-00000000000A",
		"00000000x0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000000\n", "\n00000000-0000-4000-8000-000000000000",
		"{00000000-0000-4000-8000-000000000000}", "g0000000-0000-4000-8000-000000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ovm.ParseID(s)
		if !canonicalUUID.MatchString(s) {
			requireInvalid(t, err, "ParseID", s)
			assert.True(t, id.IsZero(), "ParseID(%q) failed but returned %q", s, id)
			assert.False(t, ovm.ID(s).Valid(), "ID(%q).Valid: got true for a refused id", s)
			return
		}
		require.NoError(t, err, "ParseID(%q)", s)
		assert.Equal(t, s, id.String(), "ParseID(%q): the id changed", s)
		assert.True(t, id.Valid(), "ParseID(%q).Valid: got false", s)
		assert.Equal(t, s[:8], id.Short())
		again, err := ovm.ParseID(id.String())
		require.NoError(t, err)
		assert.Equal(t, id, again, "ParseID(String()) round trip")
	})
}

// FuzzParseMAC: an accepted MAC is a lower-case, colon-separated unicast
// EUI-48 address that ParseMAC returns unchanged (idempotent); every refusal
// is ovm.ErrInvalid.
func FuzzParseMAC(f *testing.F) {
	for _, s := range []string{"52:54:00:12:34:56", "52-54-00-12-34-56", "AA:BB:CC:DD:EE:FF", "ab:bb:cc:dd:ee:ff", "01:00:5e:00:00:01",
		"5254.0012.3456", "52:54:00:12:34", "52:54:00:12:34:56:78", "02:00:00:00:00:00:00:00", "", "zz:zz:zz:zz:zz:zz", "52:54:00:12:34:5"} {
		f.Add(s)
	}
	mac := regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)
	f.Fuzz(func(t *testing.T, s string) {
		out, err := ovm.ParseMAC(s)
		if err != nil {
			requireInvalid(t, err, "ParseMAC", s)
			assert.Empty(t, out)
			return
		}
		require.Regexp(t, mac, out, "ParseMAC(%q) = %q: not lower-case colon form", s, out)
		hw, err := net.ParseMAC(out)
		require.NoError(t, err)
		assert.Zero(t, hw[0]&1, "ParseMAC(%q) = %q: a multicast address", s, out)
		ref, err := net.ParseMAC(s)
		require.NoError(t, err)
		assert.Equal(t, ref.String(), out, "ParseMAC(%q): not the address given", s)
		again, err := ovm.ParseMAC(out)
		require.NoError(t, err, "ParseMAC(%q) of its own output", out)
		assert.Equal(t, out, again, "ParseMAC is not idempotent")
	})
}

// FuzzValidateName: a valid name is a DNS label of 1 to 63 lower-case
// letters, digits and hyphens, not starting or ending with a hyphen.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"web", "a", "a-b", "0", strings.Repeat("a", 63), strings.Repeat("a", 64), "", "-a", "a-", "A", "a_b", "a.b", "a\n", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		reason := ovm.ValidateName(s)
		ok := len(s) >= 1 && len(s) <= 63 && s[0] != '-' && s[len(s)-1] != '-' &&
			!strings.ContainsFunc(s, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') })
		if ok {
			assert.Empty(t, reason, "ValidateName(%q): refused a DNS label", s)
		} else {
			assert.NotEmpty(t, reason, "ValidateName(%q): accepted a name that is not a DNS label", s)
		}
	})
}

// FuzzParseBytes: an accepted size is non-negative; its plain byte count
// parses back exactly; its String form parses back to within the two
// decimals String keeps, and that value formats to the same String.
// Refusals are ovm.ErrInvalid.
func FuzzParseBytes(f *testing.F) {
	for _, s := range []string{"512MiB", "10GiB", "1.5G", "100M", "4096", "1Ki", "1KB", "1k", " 2 GiB ", "0", "0.5", ".5K", "1e3", "1e3M",
		"", "-1", "-1G", "NaN", "Inf", "1I", "1iB", "G", "1.5.5G", "1EiB", "8P", "9999999P", "1e400", "0x10", "0x1p4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ovm.ParseBytes(s)
		if err != nil {
			requireInvalid(t, err, "ParseBytes", s)
			return
		}
		require.GreaterOrEqual(t, b, ovm.Bytes(0), "ParseBytes(%q): negative size", s)
		require.LessOrEqual(t, int64(b), int64(math.MaxInt64/2+1), "ParseBytes(%q): above the documented bound", s)

		plain := strconv.FormatInt(int64(b), 10)
		exact, err := ovm.ParseBytes(plain)
		require.NoError(t, err, "ParseBytes(%q) of the byte count of ParseBytes(%q)", plain, s)
		assert.Equal(t, b, exact, "ParseBytes(%q): the byte count does not round-trip", plain)

		str := b.String()
		b2, err := ovm.ParseBytes(str)
		require.NoError(t, err, "ParseBytes(%q) of (%d).String()", str, b)
		unit := ovm.Bytes(1)
		for _, u := range []ovm.Bytes{ovm.PiB, ovm.TiB, ovm.GiB, ovm.MiB, ovm.KiB} {
			if b >= u {
				unit = u
				break
			}
		}
		// Two decimals: off by at most half a hundredth of the unit.
		diff := math.Abs(float64(b2) - float64(b))
		assert.LessOrEqual(t, diff, float64(unit)/200+1, "ParseBytes(%q) = %d: (%d).String() = %q parses to %d", s, b, b, str, b2)
		assert.Equal(t, str, b2.String(), "String of ParseBytes(%q) is not stable", str)
	})
}

// FuzzImageRef: a valid reference has a known format, a name without
// whitespace (and, for templates, no path), runs on at least one host kind
// including fake, and its instance type follows its format.
func FuzzImageRef(f *testing.F) {
	for _, c := range [][2]string{{"oci", "busybox:1"}, {"qcow2", "debian-12.qcow2"}, {"raw", "d.img"}, {"vmdk", "w.vmdk"}, {"oci", "127.0.0.1:5000/a/b:c"},
		{"", "x"}, {"iso", "x"}, {"qcow2", ""}, {"qcow2", "../etc/passwd"}, {"oci", "..0"}, {"qcow2", "/abs"}, {"oci", "a b"}, {"OCI", "x"}, {"qcow2", strings.Repeat("a", 256)}} {
		f.Add(c[0], c[1])
	}
	f.Fuzz(func(t *testing.T, format, name string) {
		r := ovm.ImageRef{Format: ovm.ImageFormat(format), Name: name}
		err := r.Validate()
		if err != nil {
			requireInvalid(t, err, "ImageRef.Validate", r)
			return
		}
		require.Contains(t, []ovm.ImageFormat{ovm.FormatQCOW2, ovm.FormatRaw, ovm.FormatVMDK, ovm.FormatOCI}, r.Format)
		require.NotEmpty(t, r.Name)
		require.LessOrEqual(t, len(r.Name), 255)
		require.False(t, strings.ContainsAny(r.Name, " \t\n\r\x00"), "valid %v: name holds whitespace", r)
		if r.Format != ovm.FormatOCI {
			require.False(t, strings.Contains(r.Name, "..") || strings.HasPrefix(r.Name, "/"), "valid template %v is a path", r)
		}
		kinds := r.HostKinds()
		require.NotEmpty(t, kinds, "valid %v runs on no host kind", r)
		require.Contains(t, kinds, ovm.HostFake)
		for _, k := range kinds {
			require.True(t, k.Valid(), "HostKinds of %v: unknown kind %q", r, k)
		}
		want := ovm.TypeVM
		if r.Format == ovm.FormatOCI {
			want = ovm.TypeContainer
			require.Equal(t, r, ovm.ContainerImage(name))
			require.Contains(t, kinds, ovm.HostDocker)
		} else {
			require.NotContains(t, kinds, ovm.HostDocker, "a template runs on docker")
		}
		require.Equal(t, want, r.InstanceType())
		require.Equal(t, format+":"+name, r.String())
		// Template reads the format from the name's extension; a valid
		// template name always yields a valid reference.
		if r.Format != ovm.FormatOCI {
			require.NoError(t, ovm.Template(name).Validate(), "Template(%q) of a valid name", name)
		}
	})
}

// FuzzNetworkValidate decodes a network from arbitrary JSON. A valid one has
// the shape Validate promises (VLAN 0-4094, a canonical subnet of at most
// /30 or /126, the gateway, ranges and DNS inside and in order), and
// survives a JSON round trip unchanged and still valid.
func FuzzNetworkValidate(f *testing.F) {
	for _, s := range []string{
		`{"name":"net","subnet":"10.0.0.0/24","gateway":"10.0.0.1","vlan":10}`,
		`{"name":"v6","subnet":"fd00::/64","ranges":[{"start":"fd00::10","end":"fd00::20"}],"dns":["fd00::1"]}`,
		`{"name":"r","subnet":"10.0.0.0/24","ranges":[{"start":"10.0.0.10","end":"10.0.0.20"},{"start":"10.0.0.30","end":"10.0.0.30"}]}`,
		`{"name":"bad","subnet":"10.0.0.0/33"}`, `{"name":"bad","subnet":"10.0.0.5/24"}`, `{"name":"s","subnet":"10.0.0.0/31"}`,
		`{"name":"r","subnet":"10.0.0.0/24","ranges":[{"start":"10.0.0.20","end":"10.0.0.10"}]}`,
		`{"name":"o","subnet":"10.0.0.0/24","ranges":[{"start":"10.0.0.1","end":"10.0.0.9"},{"start":"10.0.0.5","end":"10.0.0.20"}]}`,
		`{"name":"m","subnet":"::ffff:10.0.0.0/120","gateway":"10.0.0.1"}`, `{"name":"g","subnet":"10.0.0.0/24","gateway":"fe80::1%eth0"}`,
		`{"name":"v","subnet":"10.0.0.0/24","vlan":4095}`, `{"name":"v","subnet":"10.0.0.0/24","vlan":-1}`, `{}`, `null`, `{"subnet":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var n ovm.Network
		if json.Unmarshal(data, &n) != nil {
			return
		}
		err := n.Validate()
		if err != nil {
			requireInvalid(t, err, "Network.Validate", n)
			require.NotEmpty(t, ovm.FieldsOf(err), "Network.Validate of %s: an error naming no field", data)
			return
		}
		require.Empty(t, ovm.ValidateName(n.Name))
		require.True(t, n.VLAN >= 0 && n.VLAN <= 4094, "valid network with vlan %d", n.VLAN)
		require.True(t, n.Subnet.IsValid() && n.Subnet.Masked() == n.Subnet, "valid network with subnet %s", n.Subnet)
		if n.Subnet.Addr().Is4() {
			require.LessOrEqual(t, n.Subnet.Bits(), 30)
		} else {
			require.LessOrEqual(t, n.Subnet.Bits(), 126)
		}
		if n.Gateway.IsValid() {
			require.True(t, n.Subnet.Contains(n.Gateway), "gateway %s outside %s", n.Gateway, n.Subnet)
		}
		for i, r := range n.Ranges {
			require.True(t, n.Subnet.Contains(r.Start) && n.Subnet.Contains(r.End), "range %d outside %s", i, n.Subnet)
			require.False(t, r.End.Less(r.Start), "range %d backwards", i)
			for j := range i {
				o := n.Ranges[j]
				require.True(t, r.End.Less(o.Start) || o.End.Less(r.Start), "ranges %d and %d overlap", j, i)
			}
		}
		for _, d := range n.DNS {
			require.True(t, d.IsValid())
		}
		b, err := json.Marshal(n)
		require.NoError(t, err)
		var back ovm.Network
		require.NoError(t, json.Unmarshal(b, &back), "decode %s", b)
		require.NoError(t, back.Validate(), "the JSON round trip of a valid network: %s", b)
		require.Equal(t, n.Subnet, back.Subnet)
		require.Equal(t, n.Gateway, back.Gateway)
		require.Equal(t, len(n.Ranges), len(back.Ranges))
		for i := range n.Ranges {
			require.Equal(t, n.Ranges[i], back.Ranges[i])
		}
		require.True(t, slices.Equal(n.DNS, back.DNS))
	})
}

// FuzzInstanceSpecValidate decodes a spec from arbitrary JSON. A valid spec
// keeps the limits Validate promises, and its JSON round trip is valid too.
func FuzzInstanceSpecValidate(f *testing.F) {
	for _, s := range []string{
		`{"type":"container","cpuMilli":100,"memoryBytes":16777216,"image":{"format":"oci","name":"busybox"}}`,
		`{"type":"vm","cpuMilli":1000,"memoryBytes":536870912,"image":{"format":"qcow2","name":"d.qcow2"},"disks":[{"sizeBytes":1073741824}],"hostname":"vm1"}`,
		`{"type":"container","cpuMilli":500,"memoryBytes":67108864,"image":{"format":"oci","name":"b"},"ports":[{"containerPort":80,"hostPort":8080,"protocol":"udp"}],"disks":[{"sizeBytes":1,"mountPath":"/d"}],"restartPolicy":"always"}`,
		`{"type":"vm","cpuMilli":1500,"memoryBytes":1024,"image":{"format":"oci","name":"b"}}`,
		`{"type":"vm","cpuMilli":1000,"memoryBytes":536870912,"image":{"format":"qcow2","name":"d.qcow2"},"nics":[{"networkId":"00000000-0000-4000-8000-000000000000","mac":"01:00:00:00:00:00","ip":"224.0.0.1"}]}`,
		`{"type":"vm","cpuMilli":1000,"memoryBytes":536870912,"image":{"format":"qcow2","name":"d.qcow2"},"nics":[{"networkId":"00000000-0000-4000-8000-000000000000","ip":"10.0.0.5"}],"ha":{"enabled":true,"priority":1001}}`,
		`{"type":"x"}`, `{}`, `{"disks":[{"volumeId":"x","sizeBytes":1}]}`, `{"type":"container","ports":[{"containerPort":0,"protocol":"sctp"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s ovm.InstanceSpec
		if json.Unmarshal(data, &s) != nil {
			return
		}
		err := s.Validate()
		if err != nil {
			requireInvalid(t, err, "InstanceSpec.Validate", string(data))
			require.NotEmpty(t, ovm.FieldsOf(err))
			return
		}
		require.Contains(t, []ovm.InstanceType{ovm.TypeVM, ovm.TypeContainer}, s.Type)
		require.True(t, s.CPU > 0 && s.CPU <= ovm.MaxCPU, "cpu %d", s.CPU)
		if s.Type == ovm.TypeVM {
			require.Zero(t, s.CPU%1000, "a vm with fractional cpu %d", s.CPU)
			require.Empty(t, s.Ports)
		}
		require.True(t, s.Memory >= ovm.MinMemory && s.Memory <= ovm.MaxMemory, "memory %d", s.Memory)
		require.NoError(t, s.Image.Validate())
		require.Equal(t, s.Type, s.Image.InstanceType())
		require.LessOrEqual(t, len(s.Disks), ovm.MaxDisks)
		require.LessOrEqual(t, len(s.NICs), ovm.MaxNICs)
		for _, d := range s.Disks {
			if d.VolumeID.IsZero() {
				require.Positive(t, int64(d.Size))
			} else {
				require.Zero(t, d.Size)
			}
			require.LessOrEqual(t, d.Size, 64*ovm.TiB)
			if s.Type == ovm.TypeContainer {
				require.NotEmpty(t, d.MountPath)
			}
		}
		for _, n := range s.NICs {
			require.False(t, n.NetworkID.IsZero())
			if n.MAC != "" {
				_, err := ovm.ParseMAC(n.MAC)
				require.NoError(t, err)
			}
			if n.IP.IsValid() {
				require.False(t, n.IP.IsUnspecified() || n.IP.IsMulticast(), "nic ip %s", n.IP)
			}
		}
		for _, p := range s.Ports {
			require.NotZero(t, p.ContainerPort)
			require.Contains(t, []string{"", "tcp", "udp"}, string(p.Protocol))
		}
		require.True(t, s.HA.Priority >= 0 && s.HA.Priority <= 1000)
		d := s.Demand()
		require.Equal(t, s.CPU, d.CPU)
		require.Equal(t, ovm.Usage{CPU: d.CPU, Memory: d.Memory, Disk: d.Disk, Instances: 1}, ovm.UsageOf(s))

		b, err := json.Marshal(s)
		require.NoError(t, err)
		var back ovm.InstanceSpec
		require.NoError(t, json.Unmarshal(b, &back), "decode %s", b)
		require.NoError(t, back.Validate(), "the JSON round trip of a valid spec: %s", b)
		require.Equal(t, s.Demand(), back.Demand())

		// A vApp of that member is valid exactly when its name is.
		v := ovm.VApp{Name: "app", Members: []ovm.VAppMember{{Name: "m1", Spec: s}, {Name: "m2", Spec: s}}}
		require.NoError(t, v.Validate())
		v.Members[1].Name = "m1"
		requireInvalid(t, v.Validate(), "VApp.Validate with duplicate members", v.Name)
	})
}

// FuzzQuotaValidate: a quota is valid exactly when no limit is negative; a
// valid quota admits a request exactly when the usage after it fits.
func FuzzQuotaValidate(f *testing.F) {
	f.Add(int64(0), int64(0), int64(0), int64(0), int64(0), int64(1), int64(1))
	f.Add(int64(16000), int64(1<<35), int64(1<<40), int64(50), int64(5), int64(1000), int64(1<<30))
	f.Add(int64(-1), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0))
	f.Add(int64(0), int64(0), int64(0), int64(-5), int64(0), int64(-1), int64(0))
	f.Add(int64(math.MinInt64), int64(math.MaxInt64), int64(0), int64(0), int64(-1), int64(5), int64(5))
	f.Fuzz(func(t *testing.T, cpu, mem, disk, inst, nets, reqCPU, reqMem int64) {
		q := ovm.Quota{CPU: ovm.MilliCPU(cpu), Memory: ovm.Bytes(mem), Disk: ovm.Bytes(disk), Instances: inst, Networks: nets}
		err := q.Validate()
		neg := cpu < 0 || mem < 0 || disk < 0 || inst < 0 || nets < 0
		if neg {
			requireInvalid(t, err, "Quota.Validate", q)
			require.Len(t, ovm.FieldsOf(err), btoi(cpu < 0)+btoi(mem < 0)+btoi(disk < 0)+btoi(inst < 0)+btoi(nets < 0))
			return
		}
		require.NoError(t, err, "Quota.Validate(%+v)", q)
		// Keep the arithmetic of Admit away from overflow.
		if reqCPU < 0 || reqMem < 0 || reqCPU > 1<<50 || reqMem > 1<<60 || cpu > 1<<50 || mem > 1<<60 {
			return
		}
		req := ovm.Usage{CPU: ovm.MilliCPU(reqCPU), Memory: ovm.Bytes(reqMem), Instances: 1}
		aerr := q.Admit(ovm.Usage{}, req)
		fits := (reqCPU == 0 || reqCPU <= cpu) && (reqMem == 0 || reqMem <= mem) && inst >= 1
		if fits {
			require.NoError(t, aerr, "Admit %+v in %+v", req, q)
		} else {
			require.True(t, errors.Is(aerr, ovm.ErrQuotaExceeded), "Admit %+v in %+v: %v", req, q, aerr)
		}
	})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzResourcePoolValidate: a valid pool has a DNS-label name, a known or
// empty policy, a complete scope and overcommit ratios of 0 or 1 to 64 (never
// NaN), so that Apply never shrinks or negates a capacity.
func FuzzResourcePoolValidate(f *testing.F) {
	f.Add("pool1", "PERFORMANCE", "", 0.0, 0.0, 0.0, int64(4000))
	f.Add("p", "PROGRESSIVE", "pool", 4.0, 1.5, 64.0, int64(1))
	f.Add("p", "", "hosts", 1.0, 0.5, 65.0, int64(0))
	f.Add("Bad", "random", "x", math.NaN(), math.Inf(1), -1.0, int64(-1))
	f.Add("p", "PERFORMANCE", "datacenter", 0.0, 0.0, 0.0, int64(1<<40))
	f.Fuzz(func(t *testing.T, name, policy, scope string, oc, om, od float64, capacity int64) {
		p := ovm.ResourcePool{Name: name, Policy: ovm.PlacementPolicy(policy), Scope: ovm.Scope{Kind: ovm.ScopeKind(scope)},
			Overcommit: ovm.Overcommit{CPU: oc, Memory: om, Disk: od}}
		err := p.Validate()
		if err != nil {
			requireInvalid(t, err, "ResourcePool.Validate", p)
			return
		}
		require.Empty(t, ovm.ValidateName(p.Name))
		require.True(t, p.Policy == "" || p.Policy.Valid())
		require.Empty(t, p.Scope.Kind, "a scope of kind %q names no target, yet the pool is valid", p.Scope.Kind)
		for _, r := range []float64{oc, om, od} {
			require.True(t, r == 0 || (r >= 1 && r <= 64), "ratio %v", r)
		}
		if capacity >= 0 && capacity <= 1<<40 {
			c := ovm.Resources{CPU: ovm.MilliCPU(capacity), Memory: ovm.Bytes(capacity), Disk: ovm.Bytes(capacity)}
			a := p.Overcommit.Apply(c)
			require.True(t, c.Fits(a), "Apply(%v) = %v shrinks the capacity", c, a)
		}
	})
}
