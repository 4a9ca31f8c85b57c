package esxi

import (
	"context"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/openovm/ovm/hypervisor"
	"github.com/openovm/ovm/ovm"
	"github.com/openovm/ovm/storage"
)

var _ storage.Attacher = (*Storage)(nil)

// diskProps are the VM properties the attacher reads.
var diskProps = []string{"config.hardware.device", "config.extraConfig", "runtime.powerState"}

// diskOf returns the disk of vm backed by the file path.
func diskOf(vm mo.VirtualMachine, path string) *types.VirtualDisk {
	if vm.Config == nil {
		return nil
	}
	for _, dev := range vm.Config.Hardware.Device {
		if disk, ok := dev.(*types.VirtualDisk); ok {
			if b, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok && b.GetVirtualDeviceFileBackingInfo().FileName == path {
				return disk
			}
		}
	}
	return nil
}

// userOf returns the VM whose disk is the file path, if any.
func (c *conn) userOf(ctx context.Context, path string) (mo.VirtualMachine, bool, error) {
	vms, err := c.allVMs(ctx, diskProps)
	if err != nil {
		return mo.VirtualMachine{}, false, c.wrap(err, "list vms")
	}
	for _, vm := range vms {
		if diskOf(vm, path) != nil {
			return vm, true, nil
		}
	}
	return mo.VirtualMachine{}, false, nil
}

// AttachVolume adds a volume's VMDK to an instance's VM on its SCSI
// controller, at the first free unit: ESXi hot-adds it to a running VM.
// Attaching it again to the same VM does nothing; a volume another VM uses
// is ovm.ErrConflict.
func (s *Storage) AttachVolume(ctx context.Context, volumeID, instanceID ovm.ID) error {
	c := s.c
	if err := c.writable(ctx, "attach volume "+string(volumeID)); err != nil {
		return err
	}
	defer c.lockID(volumeID)()
	v, _, err := c.findVolume(ctx, volumeID)
	if err != nil {
		return err
	}
	vm, err := c.lookup(ctx, hypervisor.ByID(instanceID), diskProps)
	if err != nil {
		return err
	}
	if diskOf(vm, v.NativeID) != nil {
		return nil
	}
	if other, used, err := c.userOf(ctx, v.NativeID); err != nil {
		return err
	} else if used {
		return ovm.Errorf(ovm.KindConflict, "esxi %s: volume %s is attached to vm %s", c.host, volumeID, other.Self.Value)
	}
	ctrl, unit, ok := freeUnit(vm)
	if !ok {
		return ovm.Errorf(ovm.KindConflict, "esxi %s: vm %s has no SCSI controller with a free unit", c.host, vm.Self.Value)
	}
	disk := &types.VirtualDisk{VirtualDevice: types.VirtualDevice{
		Key: -1, ControllerKey: ctrl, UnitNumber: &unit,
		Backing: &types.VirtualDiskFlatVer2BackingInfo{
			DiskMode:                     string(types.VirtualDiskModePersistent),
			VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: v.NativeID},
		},
	}}
	if err := object.NewVirtualMachine(c.client, vm.Self).AddDevice(ctx, disk); err != nil {
		return c.wrap(err, "attach volume %s to vm %s", volumeID, vm.Self.Value)
	}
	return nil
}

// DetachVolume removes a volume's VMDK from the VM that uses it, keeping
// the file; a volume no VM uses is left alone.
func (s *Storage) DetachVolume(ctx context.Context, volumeID ovm.ID) error {
	c := s.c
	if err := c.writable(ctx, "detach volume "+string(volumeID)); err != nil {
		return err
	}
	defer c.lockID(volumeID)()
	v, _, err := c.findVolume(ctx, volumeID)
	if err != nil {
		return err
	}
	vm, used, err := c.userOf(ctx, v.NativeID)
	if err != nil || !used {
		return err
	}
	if err := object.NewVirtualMachine(c.client, vm.Self).RemoveDevice(ctx, true, diskOf(vm, v.NativeID)); err != nil {
		return c.wrap(err, "detach volume %s from vm %s", volumeID, vm.Self.Value)
	}
	return nil
}

// attachedTo returns the OVM id of the VM using the file path, if any.
func (c *conn) attachedTo(ctx context.Context, path string) (ovm.ID, error) {
	vm, used, err := c.userOf(ctx, path)
	if err != nil || !used {
		return "", err
	}
	return ovm.ID(extra(vm)[KeyID]), nil
}

// freeUnit returns a SCSI controller of vm and a unit on it no device
// uses (7 is the controller's own).
func freeUnit(vm mo.VirtualMachine) (int32, int32, bool) {
	if vm.Config == nil {
		return 0, 0, false
	}
	used := map[int32]map[int32]bool{}
	var ctrls []int32
	for _, dev := range vm.Config.Hardware.Device {
		if sc, ok := dev.(types.BaseVirtualSCSIController); ok {
			ctrls = append(ctrls, sc.GetVirtualSCSIController().Key)
		}
		d := dev.GetVirtualDevice()
		if d.UnitNumber != nil {
			if used[d.ControllerKey] == nil {
				used[d.ControllerKey] = map[int32]bool{}
			}
			used[d.ControllerKey][*d.UnitNumber] = true
		}
	}
	for _, k := range ctrls {
		for u := int32(0); u < 16; u++ {
			if u != 7 && !used[k][u] {
				return k, u, true
			}
		}
	}
	return 0, 0, false
}
