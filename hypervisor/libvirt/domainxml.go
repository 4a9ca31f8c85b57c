package libvirt

import (
	"encoding/xml"
	"fmt"
	"time"

	"libvirt.org/go/libvirtxml"

	"github.com/openovm/ovm/ovm"
)

// MetadataNS is the XML namespace of the OVM element in a domain's
// <metadata>; MetadataPrefix is the prefix it is written with.
const (
	MetadataNS     = "https://openovm.org/xmlns/libvirt/instance/1"
	MetadataPrefix = "ovm"
)

// Metadata is what OVM writes in a domain's <metadata>: the instance's
// identity, the parts of its spec libvirt does not keep (milli-CPU, image),
// and the volumes the instance owns (removed with it).
type Metadata struct {
	ID        ovm.ID
	VDCID     ovm.ID
	Name      string
	CPU       ovm.MilliCPU
	Image     ovm.ImageRef
	CreatedAt time.Time
	Labels    map[string]string
	// Volumes are the paths of the volumes the instance owns.
	Volumes []string
	// Disk is the capacity of the boot disk made for the instance.
	Disk ovm.Bytes
}

// metaLabel is one label in the metadata element.
type metaLabel struct {
	Key   string `xml:"key,attr"`
	Value string `xml:",chardata"`
}

// metaOut is the metadata element as written (prefixed names).
type metaOut struct {
	XMLName xml.Name    `xml:"ovm:instance"`
	NS      string      `xml:"xmlns:ovm,attr"`
	ID      string      `xml:"ovm:id"`
	VDC     string      `xml:"ovm:vdc,omitempty"`
	Name    string      `xml:"ovm:name"`
	CPU     int64       `xml:"ovm:cpuMilli"`
	Format  string      `xml:"ovm:image>ovm:format"`
	Image   string      `xml:"ovm:image>ovm:name"`
	Created string      `xml:"ovm:created"`
	Labels  []metaLabel `xml:"ovm:label"`
	Volumes []string    `xml:"ovm:volume"`
	Disk    int64       `xml:"ovm:diskBytes,omitempty"`
}

// metaIn is the metadata element as read (namespace-qualified names).
type metaIn struct {
	XMLName xml.Name    `xml:"https://openovm.org/xmlns/libvirt/instance/1 instance"`
	ID      string      `xml:"https://openovm.org/xmlns/libvirt/instance/1 id"`
	VDC     string      `xml:"https://openovm.org/xmlns/libvirt/instance/1 vdc"`
	Name    string      `xml:"https://openovm.org/xmlns/libvirt/instance/1 name"`
	CPU     int64       `xml:"https://openovm.org/xmlns/libvirt/instance/1 cpuMilli"`
	Format  string      `xml:"https://openovm.org/xmlns/libvirt/instance/1 image>format"`
	Image   string      `xml:"https://openovm.org/xmlns/libvirt/instance/1 image>name"`
	Created string      `xml:"https://openovm.org/xmlns/libvirt/instance/1 created"`
	Labels  []metaLabel `xml:"https://openovm.org/xmlns/libvirt/instance/1 label"`
	Volumes []string    `xml:"https://openovm.org/xmlns/libvirt/instance/1 volume"`
	Disk    int64       `xml:"https://openovm.org/xmlns/libvirt/instance/1 diskBytes"`
}

// MarshalMetadata renders m as the element OVM puts in <metadata>.
func MarshalMetadata(m Metadata) (string, error) {
	out := metaOut{
		NS: MetadataNS, ID: string(m.ID), VDC: string(m.VDCID), Name: m.Name, CPU: int64(m.CPU),
		Format: string(m.Image.Format), Image: m.Image.Name, Created: m.CreatedAt.UTC().Format(time.RFC3339),
		Volumes: m.Volumes, Disk: int64(m.Disk),
	}
	for _, k := range sortedKeys(m.Labels) {
		out.Labels = append(out.Labels, metaLabel{Key: k, Value: m.Labels[k]})
	}
	b, err := xml.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("libvirt: render metadata: %w", err)
	}
	return string(b), nil
}

// ParseMetadata finds OVM's element in a domain's <metadata> content. ok is
// false when there is none (an unmanaged domain).
func ParseMetadata(inner string) (m Metadata, ok bool, err error) {
	// The metadata may hold other applications' elements: wrap and scan.
	var wrapper struct {
		Items []metaIn `xml:"https://openovm.org/xmlns/libvirt/instance/1 instance"`
	}
	if err := xml.Unmarshal([]byte("<metadata>"+inner+"</metadata>"), &wrapper); err != nil {
		return Metadata{}, false, fmt.Errorf("libvirt: parse metadata: %w", err)
	}
	if len(wrapper.Items) == 0 || wrapper.Items[0].ID == "" {
		return Metadata{}, false, nil
	}
	in := wrapper.Items[0]
	m = Metadata{ID: ovm.ID(in.ID), VDCID: ovm.ID(in.VDC), Name: in.Name, CPU: ovm.MilliCPU(in.CPU),
		Image: ovm.ImageRef{Format: ovm.ImageFormat(in.Format), Name: in.Image}, Volumes: in.Volumes, Disk: ovm.Bytes(in.Disk)}
	if t, err := time.Parse(time.RFC3339, in.Created); err == nil {
		m.CreatedAt = t
	}
	for _, l := range in.Labels {
		if m.Labels == nil {
			m.Labels = map[string]string{}
		}
		m.Labels[l.Key] = l.Value
	}
	return m, true, nil
}

// DiskSpec is one disk of a domain.
type DiskSpec struct {
	Path   string
	Format string // qcow2, raw
	Target string // vda, vdb...
	// ReadOnly disks (the cloud-init seed) are also left out of snapshots.
	ReadOnly bool
}

// NICSpec is one NIC of a domain: a tap on a Linux bridge. The bridge
// realises the segment (and its VLAN, when it sits on a VLAN interface).
type NICSpec struct {
	Bridge string
	MAC    string
}

// DomainSpec is what DomainXML renders.
type DomainSpec struct {
	// Type is "kvm" or "qemu".
	Type      string
	Name      string
	UUID      string // empty: libvirt generates one
	VCPUs     uint
	MemoryKiB uint
	Machine   string // empty: libvirt's default
	// Kernel, Initrd and Cmdline boot the guest directly when Kernel is set.
	Kernel, Initrd, Cmdline string
	Disks                   []DiskSpec
	NICs                    []NICSpec
	Metadata                Metadata
	// VNC gives the domain a VNC display, the browser's display: a port
	// libvirt picks, on the address of the host's qemu.conf (vnc_listen,
	// loopback by default), so that the domain migrates to a host that
	// listens elsewhere.
	VNC bool
}

// DomainXML builds the typed domain definition of s.
func DomainXML(s DomainSpec) (*libvirtxml.Domain, error) {
	meta, err := MarshalMetadata(s.Metadata)
	if err != nil {
		return nil, err
	}
	port := uint(0)
	d := &libvirtxml.Domain{
		Type:          s.Type,
		Name:          s.Name,
		UUID:          s.UUID,
		Metadata:      &libvirtxml.DomainMetadata{XML: meta},
		Memory:        &libvirtxml.DomainMemory{Value: s.MemoryKiB, Unit: "KiB"},
		CurrentMemory: &libvirtxml.DomainCurrentMemory{Value: s.MemoryKiB, Unit: "KiB"},
		VCPU:          &libvirtxml.DomainVCPU{Placement: "static", Value: s.VCPUs},
		OS: &libvirtxml.DomainOS{
			Type: &libvirtxml.DomainOSType{Arch: "x86_64", Machine: s.Machine, Type: "hvm"},
		},
		Features:   &libvirtxml.DomainFeatureList{ACPI: &libvirtxml.DomainFeature{}, APIC: &libvirtxml.DomainFeatureAPIC{}},
		OnPoweroff: "destroy",
		OnReboot:   "restart",
		OnCrash:    "destroy",
		Devices: &libvirtxml.DomainDeviceList{
			Serials: []libvirtxml.DomainSerial{{
				Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
				Target: &libvirtxml.DomainSerialTarget{Port: &port},
			}},
			Consoles: []libvirtxml.DomainConsole{{
				Source: &libvirtxml.DomainChardevSource{Pty: &libvirtxml.DomainChardevSourcePty{}},
				Target: &libvirtxml.DomainConsoleTarget{Type: "serial", Port: &port},
			}},
			Channels:   []libvirtxml.DomainChannel{agentChannel()},
			MemBalloon: &libvirtxml.DomainMemBalloon{Model: "virtio"},
		},
	}
	if s.VNC {
		d.Devices.Graphics = []libvirtxml.DomainGraphic{{VNC: &libvirtxml.DomainGraphicVNC{AutoPort: "yes"}}}
	}
	if s.Kernel != "" {
		d.OS.Kernel, d.OS.Initrd, d.OS.Cmdline = s.Kernel, s.Initrd, s.Cmdline
	} else {
		d.OS.BootDevices = []libvirtxml.DomainBootDevice{{Dev: "hd"}}
	}
	for _, disk := range s.Disks {
		dd := libvirtxml.DomainDisk{
			Device: "disk",
			Driver: &libvirtxml.DomainDiskDriver{Name: "qemu", Type: disk.Format},
			Source: &libvirtxml.DomainDiskSource{File: &libvirtxml.DomainDiskSourceFile{File: disk.Path}},
			Target: &libvirtxml.DomainDiskTarget{Dev: disk.Target, Bus: "virtio"},
		}
		if disk.ReadOnly {
			dd.ReadOnly = &libvirtxml.DomainDiskReadOnly{}
			dd.Snapshot = "no"
		}
		d.Devices.Disks = append(d.Devices.Disks, dd)
	}
	for _, nic := range s.NICs {
		i := libvirtxml.DomainInterface{
			Source: &libvirtxml.DomainInterfaceSource{Bridge: &libvirtxml.DomainInterfaceSourceBridge{Bridge: nic.Bridge}},
			Model:  &libvirtxml.DomainInterfaceModel{Type: "virtio"},
		}
		if nic.MAC != "" {
			i.MAC = &libvirtxml.DomainInterfaceMAC{Address: nic.MAC}
		}
		d.Devices.Interfaces = append(d.Devices.Interfaces, i)
	}
	return d, nil
}

// diskTarget returns the name of the i-th virtio disk: vda, vdb, ... vdz, vdaa.
func diskTarget(i int) string {
	name := ""
	for i++; i > 0; i = (i - 1) / 26 {
		name = string(rune('a'+(i-1)%26)) + name
	}
	return "vd" + name
}

// memoryBytes returns a domain's memory in bytes from its <memory>.
func memoryBytes(m *libvirtxml.DomainMemory) ovm.Bytes {
	if m == nil {
		return 0
	}
	v := ovm.Bytes(m.Value)
	switch m.Unit {
	case "", "KiB", "k", "K":
		return v * ovm.KiB
	case "b", "bytes":
		return v
	case "MiB", "M":
		return v * ovm.MiB
	case "GiB", "G":
		return v * ovm.GiB
	}
	return 0
}
