package esxi

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
)

// The extraConfig keys OVM writes on the VMs it manages.
const (
	KeyID      = "ovm.id"
	KeyVDC     = "ovm.vdc"
	KeyImage   = "ovm.image"   // format:name
	KeyCreated = "ovm.created" // RFC 3339
	// KeyLabelPrefix prefixes one key per label.
	KeyLabelPrefix = "ovm.label."
	// KeyNetPrefix prefixes the address of the VM's NIC on a network:
	// ovm.net.<network id> = <ip>.
	KeyNetPrefix = "ovm.net."
)

// vmProps are the VM properties an Instance is made from.
var vmProps = []string{
	"name", "config.extraConfig", "config.hardware.numCPU", "config.hardware.memoryMB",
	"config.createDate", "config.template", "runtime.powerState", "guest.net", "config.hardware.device",
}

// diskBytes sums the capacity of the VM's own disks: every virtual disk
// but the OVM volumes attached to it (which are counted as volumes).
func diskBytes(vm mo.VirtualMachine) ovm.Bytes {
	if vm.Config == nil {
		return 0
	}
	var n ovm.Bytes
	for _, dev := range vm.Config.Hardware.Device {
		disk, ok := dev.(*types.VirtualDisk)
		if !ok {
			continue
		}
		if b, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok &&
			strings.Contains(b.GetVirtualDeviceFileBackingInfo().FileName, "] "+volumesDir+"/") {
			continue
		}
		size := ovm.Bytes(disk.CapacityInBytes)
		if size == 0 {
			size = ovm.Bytes(disk.CapacityInKB) * ovm.KiB
		}
		n += size
	}
	return n
}

// extra returns the VM's extraConfig as a map.
func extra(vm mo.VirtualMachine) map[string]string {
	out := map[string]string{}
	if vm.Config == nil {
		return out
	}
	for _, o := range vm.Config.ExtraConfig {
		v := o.GetOptionValue()
		if s, ok := v.Value.(string); ok {
			out[v.Key] = s
		}
	}
	return out
}

// power maps a vSphere power state to OVM's.
func power(s types.VirtualMachinePowerState) ovm.PowerState {
	switch s {
	case types.VirtualMachinePowerStatePoweredOn:
		return ovm.PowerRunning
	case types.VirtualMachinePowerStatePoweredOff:
		return ovm.PowerStopped
	case types.VirtualMachinePowerStateSuspended:
		return ovm.PowerPaused
	}
	return ovm.PowerUnknown
}

// parseImage reads "format:name" back into an ImageRef.
func parseImage(s string) ovm.ImageRef {
	f, n, ok := strings.Cut(s, ":")
	if !ok {
		return ovm.ImageRef{}
	}
	return ovm.ImageRef{Format: ovm.ImageFormat(f), Name: n}
}

// instanceOf converts a VM read with vmProps.
func instanceOf(vm mo.VirtualMachine) hypervisor.Instance {
	x := extra(vm)
	inst := hypervisor.Instance{
		NativeID: vm.Self.Value,
		OVMID:    ovm.ID(x[KeyID]),
		VDCID:    ovm.ID(x[KeyVDC]),
		Name:     vm.Name,
		Type:     ovm.TypeVM,
		Power:    power(vm.Runtime.PowerState),
		Image:    parseImage(x[KeyImage]),
	}
	if vm.Config != nil {
		inst.CPU = ovm.CPUs(int64(vm.Config.Hardware.NumCPU))
		inst.Memory = ovm.Bytes(vm.Config.Hardware.MemoryMB) * ovm.MiB
		inst.Disk = diskBytes(vm)
		if vm.Config.CreateDate != nil {
			inst.CreatedAt = *vm.Config.CreateDate
		}
	}
	if t, err := time.Parse(time.RFC3339Nano, x[KeyCreated]); err == nil {
		inst.CreatedAt = t
	}
	for k, v := range x {
		if l, ok := strings.CutPrefix(k, KeyLabelPrefix); ok {
			if inst.Labels == nil {
				inst.Labels = map[string]string{}
			}
			inst.Labels[l] = v
		}
	}
	if vm.Guest != nil {
		for _, n := range vm.Guest.Net {
			for _, a := range n.IpAddress {
				if ip, err := netip.ParseAddr(a); err == nil {
					inst.Addresses = append(inst.Addresses, ip)
				}
			}
		}
	}
	return inst
}

// identity returns the extraConfig entries and annotation OVM writes on a VM
// made from spec, created at created.
func identity(spec hypervisor.CreateSpec, created time.Time) ([]types.BaseOptionValue, string) {
	opts := []types.BaseOptionValue{
		&types.OptionValue{Key: KeyID, Value: string(spec.ID)},
		&types.OptionValue{Key: KeyVDC, Value: string(spec.VDCID)},
		&types.OptionValue{Key: KeyImage, Value: string(spec.Spec.Image.Format) + ":" + spec.Spec.Image.Name},
		&types.OptionValue{Key: KeyCreated, Value: created.UTC().Format(time.RFC3339Nano)},
	}
	for k, v := range spec.Spec.Labels {
		opts = append(opts, &types.OptionValue{Key: KeyLabelPrefix + k, Value: v})
	}
	for _, n := range spec.NICs {
		if n.IP.IsValid() {
			opts = append(opts, &types.OptionValue{Key: KeyNetPrefix + string(n.Network.ID), Value: n.IP.String()})
		}
	}
	opts = append(opts, guestInfo(spec)...)
	note := fmt.Sprintf("Managed by OVM: instance %s of VDC %s. Keep the ovm.* advanced settings.", spec.ID, spec.VDCID)
	return opts, note
}

// The guestinfo keys cloud-init's VMware datasource reads (through
// VMware Tools) for a VM's meta-data and user-data.
const (
	KeyGuestMetadata = "guestinfo.metadata"
	KeyGuestUserData = "guestinfo.userdata"
	guestEncoding    = ".encoding"
)

// guestInfo returns the guestinfo entries of a VM whose spec has
// user-data: its cloud-init meta-data (instance-id, local-hostname) and
// user-data, base64-encoded as the datasource reads them.
func guestInfo(spec hypervisor.CreateSpec) []types.BaseOptionValue {
	if spec.Spec.UserData == "" {
		return nil
	}
	meta, _ := json.Marshal(map[string]string{"instance-id": string(spec.ID), "local-hostname": cmp.Or(spec.Spec.Hostname, spec.Name)})
	b64 := base64.StdEncoding.EncodeToString
	return []types.BaseOptionValue{
		&types.OptionValue{Key: KeyGuestMetadata, Value: b64(meta)},
		&types.OptionValue{Key: KeyGuestMetadata + guestEncoding, Value: "base64"},
		&types.OptionValue{Key: KeyGuestUserData, Value: b64([]byte(spec.Spec.UserData))},
		&types.OptionValue{Key: KeyGuestUserData + guestEncoding, Value: "base64"},
	}
}
